//! The reference API, endpoint by endpoint, against the contract, with each error shape.

use crate::support;

use serde_json::{Value, json};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn start() -> Self {
        Self {
            base: support::spawn_reference_api(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        Self::unpack(r).await
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        Self::unpack(r).await
    }

    async fn unpack(r: reqwest::Response) -> (u16, String, String) {
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ctype, r.text().await.unwrap())
    }

    async fn predict(&self, f: [f64; 4]) -> Value {
        let body = json!({"sepal_length": f[0], "sepal_width": f[1], "petal_length": f[2], "petal_width": f[3]});
        let (status, _, text) = self.post("/predict", body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The `type` and `loc` of each 422 error.
    async fn errors(&self, body: impl Into<reqwest::Body>) -> Vec<(String, Value)> {
        let (status, ctype, text) = self.post("/predict", body).await;
        assert_eq!(status, 422, "{text}");
        assert_eq!(ctype, "application/json");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["detail"]
            .as_array()
            .unwrap_or_else(|| panic!("detail is not a list: {text}"))
            .iter()
            .map(|e| {
                assert!(e["msg"].is_string(), "{e}");
                (e["type"].as_str().unwrap().to_string(), e["loc"].clone())
            })
            .collect()
    }
}

fn is_timing(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_suffix('s'))
        .is_some_and(|n| {
            n.len() >= 6 && n.parse::<f64>().is_ok() && n.split('.').nth(1).map(str::len) == Some(4)
        })
}

#[tokio::test]
async fn root_says_welcome_version_and_status() {
    let api = Api::start();
    let (status, ctype, text) = api.get("/").await;
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({"message": "Welcome to the Iris Prediction API! Visit /docs for more info.", "version": "2.0.0", "status": "running"})
    );
}

#[tokio::test]
async fn health_is_healthy_with_a_timestamp_and_a_timing() {
    let api = Api::start();
    let (status, _, text) = api.get("/health").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["model_loaded"], true);
    assert!(is_timing(&v["model_test_time"]), "{v}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((v["timestamp"].as_f64().unwrap() - now).abs() < 60.0);
}

#[tokio::test]
async fn predictions_match_the_guides_samples() {
    let api = Api::start();
    for (features, species) in [
        ([5.1, 3.5, 1.4, 0.2], "setosa"),
        ([6.7, 3.0, 5.2, 2.3], "virginica"),
        ([5.9, 3.0, 4.2, 1.5], "versicolor"),
    ] {
        let v = api.predict(features).await;
        assert_eq!(v["predicted_species"], species, "{features:?}");
        let p = v["prediction_probability"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
        assert_eq!((p * 1e4).round() / 1e4, p, "rounded to 4 decimals");
        assert!(
            is_timing(&v["inference_time"]) && is_timing(&v["total_time"]),
            "{v}"
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{v}");
    }
}

#[tokio::test]
async fn a_missing_field_is_422_missing() {
    let api = Api::start();
    let errors = api
        .errors(r#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}"#)
        .await;
    assert_eq!(
        errors,
        [("missing".to_string(), json!(["body", "petal_width"]))]
    );
}

#[tokio::test]
async fn a_wrong_type_is_422_per_field() {
    let api = Api::start();
    let errors = api
        .errors(r#"{"sepal_length": "long", "sepal_width": [3.5], "petal_length": null, "petal_width": 0.2}"#)
        .await;
    assert_eq!(
        errors,
        [
            ("float_parsing".to_string(), json!(["body", "sepal_length"])),
            ("float_type".to_string(), json!(["body", "sepal_width"])),
            ("float_type".to_string(), json!(["body", "petal_length"])),
        ]
    );
}

#[tokio::test]
async fn malformed_json_is_422_json_invalid() {
    let api = Api::start();
    let errors = api.errors(r#"{"sepal_length": 5.1,"#).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "json_invalid");
    assert_eq!(errors[0].1[0], "body");
    assert!(
        errors[0].1[1].is_u64(),
        "position of the error: {:?}",
        errors[0].1
    );
}

#[tokio::test]
async fn an_empty_body_is_422_missing_body() {
    let api = Api::start();
    assert_eq!(
        api.errors("").await,
        [("missing".to_string(), json!(["body"]))]
    );
}

#[tokio::test]
async fn a_non_object_body_is_422() {
    let api = Api::start();
    assert_eq!(
        api.errors("[5.1, 3.5, 1.4, 0.2]").await,
        [("model_attributes_type".to_string(), json!(["body"]))]
    );
}

#[tokio::test]
async fn a_non_finite_feature_is_422_finite_number() {
    let api = Api::start();
    let errors = api
        .errors(r#"{"sepal_length": 1e999, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": "nan"}"#)
        .await;
    assert_eq!(
        errors,
        [
            ("finite_number".to_string(), json!(["body", "sepal_length"])),
            ("finite_number".to_string(), json!(["body", "petal_width"])),
        ]
    );
}

#[tokio::test]
async fn a_70_kb_body_is_413() {
    let api = Api::start();
    let padding = "x".repeat(70 * 1024);
    let body = format!(
        r#"{{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "pad": "{padding}"}}"#
    );
    let (status, ctype, text) = api.post("/predict", body).await;
    assert_eq!((status, ctype.as_str()), (413, "application/json"));
    assert!(serde_json::from_str::<Value>(&text).unwrap()["detail"].is_string());

    // Also when the size is not announced up front (chunked transfer encoding).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..70 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading it all: a failed write is fine.
    let _ = conn.write_all(&request).await;
    let mut response = vec![0u8; 256];
    let n = conn.read(&mut response).await.unwrap();
    assert!(
        response[..n].starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&response[..n])
    );
}

#[tokio::test]
async fn a_wrong_method_is_405_and_an_unknown_path_404() {
    let api = Api::start();
    let (status, _, text) = api.get("/predict").await;
    assert_eq!(status, 405);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"detail": "Method Not Allowed"})
    );
    let (status, _, _) = api.post("/health", "").await;
    assert_eq!(status, 405);
    let (status, _, text) = api.get("/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"detail": "Not Found"})
    );
}

#[tokio::test]
async fn docs_are_self_contained_and_openapi_describes_the_endpoints() {
    let api = Api::start();
    let (status, ctype, html) = api.get("/docs").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"));
    assert!(html.contains("/predict"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN or external link"
    );

    let (status, _, text) = api.get("/openapi.json").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(v["info"]["version"], "2.0.0");
    for path in ["/", "/health", "/predict"] {
        assert!(v["paths"][path].is_object(), "{path}");
    }
}
