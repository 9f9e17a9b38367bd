//! `/docs` (a self-contained page: no CDN, works offline) and `/openapi.json`.

use serde_json::{Value, json};

use iris_api::contract::API_VERSION;

pub const DOCS_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Iris Prediction API - Docs</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
 code, pre, textarea { font-family: ui-monospace, monospace; }
 pre { background: #f4f4f4; padding: .75rem; overflow-x: auto; }
 .op { border: 1px solid #ccc; border-radius: 6px; margin: 1rem 0; padding: .5rem 1rem; }
 .get { color: #1769aa; font-weight: bold; } .post { color: #2e7d32; font-weight: bold; }
 textarea { width: 100%; height: 7rem; }
</style>
</head>
<body>
<h1>Iris Prediction API <small>v2.0.0</small></h1>
<p>Predicts the species of an iris flower from four measurements (cm) with a multinomial
logistic regression. Machine-readable schema: <a href="/openapi.json">/openapi.json</a>.</p>

<div class="op"><p><span class="get">GET</span> <code>/</code> - welcome message, version and status.</p>
<pre>{"message": "Welcome to the Iris Prediction API! Visit /docs for more info.", "version": "2.0.0", "status": "running"}</pre></div>

<div class="op"><p><span class="get">GET</span> <code>/health</code> - runs one prediction on a fixed sample.
503 with <code>{"detail": ...}</code> when the model is not usable.</p>
<pre>{"status": "healthy", "timestamp": 1732700000.123, "model_loaded": true, "model_test_time": "0.0012s"}</pre></div>

<div class="op"><p><span class="post">POST</span> <code>/predict</code> - body with
<code>sepal_length</code>, <code>sepal_width</code>, <code>petal_length</code>, <code>petal_width</code>
(finite numbers). 422 with FastAPI's <code>detail</code> list for an invalid body, 413 over 64 KiB.</p>
<pre>{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s", "total_time": "0.0030s"}</pre>
<form id="try"><label for="body">Try it:</label>
<textarea id="body">{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}</textarea>
<button type="submit">POST /predict</button></form>
<pre id="out"></pre></div>
<script>
document.getElementById("try").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = document.getElementById("out");
  try {
    const r = await fetch("/predict", { method: "POST", headers: { "content-type": "application/json" },
                                        body: document.getElementById("body").value });
    out.textContent = r.status + "\n" + JSON.stringify(await r.json(), null, 2);
  } catch (err) { out.textContent = String(err); }
});
</script>
</body>
</html>
"#;

/// The OpenAPI 3.1 document of the API, as FastAPI would generate it.
pub fn openapi() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Iris Prediction API",
            "description": "Predicts iris species from sepal and petal measurements.",
            "version": API_VERSION
        },
        "paths": paths(),
        "components": { "schemas": schemas() }
    })
}

/// The three routes, their bodies and their answers.
fn paths() -> Value {
    let detail_error = json!({ "$ref": "#/components/schemas/HTTPValidationError" });
    let json_of =
        |schema: Value| json!({ "content": { "application/json": { "schema": schema } } });
    json!({
        "/": { "get": {
            "summary": "Root", "operationId": "root__get",
            "responses": { "200": json_of(json!({ "$ref": "#/components/schemas/RootResponse" })) }
        }},
        "/health": { "get": {
            "summary": "Health Check", "operationId": "health_check_health_get",
            "responses": {
                "200": json_of(json!({ "$ref": "#/components/schemas/HealthResponse" })),
                "503": json_of(json!({ "$ref": "#/components/schemas/Detail" }))
            }
        }},
        "/predict": { "post": {
            "summary": "Predict", "operationId": "predict_predict_post",
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IrisFeatures" } } }
            },
            "responses": {
                "200": json_of(json!({ "$ref": "#/components/schemas/PredictionResponse" })),
                "413": json_of(json!({ "$ref": "#/components/schemas/Detail" })),
                "422": json_of(detail_error)
            }
        }}
    })
}

/// The request and response schemas the routes name.
fn schemas() -> Value {
    json!({
        "IrisFeatures": {
            "type": "object", "title": "IrisFeatures",
            "required": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
            "properties": {
                "sepal_length": { "type": "number", "title": "Sepal Length" },
                "sepal_width": { "type": "number", "title": "Sepal Width" },
                "petal_length": { "type": "number", "title": "Petal Length" },
                "petal_width": { "type": "number", "title": "Petal Width" }
            }
        },
        "PredictionResponse": {
            "type": "object", "title": "PredictionResponse",
            "required": ["predicted_species", "prediction_probability", "inference_time", "total_time"],
            "properties": {
                "predicted_species": { "type": "string", "enum": ["setosa", "versicolor", "virginica"] },
                "prediction_probability": { "type": "number" },
                "inference_time": { "type": "string", "pattern": "^[0-9]+\\.[0-9]{4}s$" },
                "total_time": { "type": "string", "pattern": "^[0-9]+\\.[0-9]{4}s$" }
            }
        },
        "RootResponse": {
            "type": "object", "title": "RootResponse",
            "required": ["message", "version", "status"],
            "properties": {
                "message": { "type": "string" }, "version": { "type": "string" }, "status": { "type": "string" }
            }
        },
        "HealthResponse": {
            "type": "object", "title": "HealthResponse",
            "required": ["status", "timestamp", "model_loaded", "model_test_time"],
            "properties": {
                "status": { "type": "string" }, "timestamp": { "type": "number" },
                "model_loaded": { "type": "boolean" }, "model_test_time": { "type": "string" }
            }
        },
        "Detail": {
            "type": "object", "title": "Detail", "required": ["detail"],
            "properties": { "detail": { "type": "string" } }
        },
        "HTTPValidationError": {
            "type": "object", "title": "HTTPValidationError",
            "properties": { "detail": { "type": "array", "items": { "$ref": "#/components/schemas/ValidationError" } } }
        },
        "ValidationError": {
            "type": "object", "title": "ValidationError", "required": ["loc", "msg", "type"],
            "properties": {
                "loc": { "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } },
                "msg": { "type": "string" }, "type": { "type": "string" }
            }
        }
    })
}
