//! `POST /predict` of the reference API over arbitrary bodies: never a 5xx, every 200 in the
//! contract's response schema, every 4xx in FastAPI's error shape. The many cases go through
//! the router in process (tower's `oneshot`); a few go over a real socket.

use crate::support;

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

const FIELDS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// The body from issue 8 that got `500 {"detail":"Prediction failed: model returned no probability"}`.
const OVERFLOWING: &str = r#"{"sepal_length": 8512355599961433.0, "sepal_width": 1.18e16, "petal_length": 1.7976931348623155e+308, "petal_width": -3.9e15}"#;

fn router() -> Router {
    static MODEL: OnceLock<iris_lab::server::Model> = OnceLock::new();
    let model = MODEL.get_or_init(|| iris_lab::server::Model::train().expect("train"));
    iris_lab::server::router(model.clone())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Posts `body` to `/predict` through the router; the status and the body's bytes.
fn post(body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    runtime().block_on(async {
        let request = Request::post("/predict")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = router().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body");
        (status, bytes.to_bytes().to_vec())
    })
}

/// `^[0-9]+\.[0-9]{4}s$`, the pattern of the time strings in the contract.
fn is_timing(v: &Value) -> bool {
    let Some(text) = v.as_str().and_then(|t| t.strip_suffix('s')) else {
        return false;
    };
    let Some((whole, decimals)) = text.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.len() == 4
        && decimals.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a response against the contract (200) or FastAPI's error shapes (4xx).
fn check_response(status: StatusCode, bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    prop_assert!(!status.is_server_error(), "{status} {text}");
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
    if status == StatusCode::OK {
        let o = v.as_object().expect("an object");
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort_unstable();
        prop_assert_eq!(
            keys,
            [
                "inference_time",
                "predicted_species",
                "prediction_probability",
                "total_time"
            ]
        );
        prop_assert!(
            matches!(
                o["predicted_species"].as_str(),
                Some("setosa" | "versicolor" | "virginica")
            ),
            "{text}"
        );
        let p = o["prediction_probability"].as_f64();
        prop_assert!(
            p.is_some_and(|p| (1.0 / 3.0 - 1e-4..=1.0).contains(&p)),
            "{text}"
        );
        prop_assert!(is_timing(&o["inference_time"]), "{text}");
        prop_assert!(is_timing(&o["total_time"]), "{text}");
        return Ok(());
    }
    prop_assert!(status.is_client_error(), "{status} {text}");
    let detail = &v["detail"];
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        let errors = detail.as_array().expect("422 detail is a list");
        prop_assert!(!errors.is_empty(), "{text}");
        for e in errors {
            let loc = e["loc"].as_array().expect("loc is a list");
            prop_assert_eq!(loc.first(), Some(&json!("body")), "{}", text);
            prop_assert!(loc.iter().all(|l| l.is_string() || l.is_u64()), "{text}");
            prop_assert!(e["msg"].is_string() && e["type"].is_string(), "{text}");
        }
    } else {
        prop_assert!(detail.is_string(), "{status} {text}");
    }
    Ok(())
}

/// Any finite double, weighted toward the extremes where arithmetic overflows.
fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        (1e300..=f64::MAX, any::<bool>()).prop_map(|(v, neg)| if neg { -v } else { v }),
        -1e20..1e20,
        0.0..10.0,
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        finite().prop_map(|v| Value::String(v.to_string())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,14}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with each field present or missing, its value a number or any JSON, plus extras.
fn predict_shaped() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        3 => finite().prop_map(|v| Some(Value::from(v))),
        1 => json_value().prop_map(Some),
        1 => Just(None),
    ];
    (
        prop::array::uniform4(field),
        prop::collection::btree_map("[a-z_]{1,14}", json_value(), 0..3),
    )
        .prop_map(|(values, extra)| {
            let mut o: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in FIELDS.iter().zip(values) {
                match value {
                    Some(v) => o.insert((*name).to_string(), v),
                    None => o.remove(*name),
                };
            }
            serde_json::to_vec(&Value::Object(o)).expect("encode")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_finite_body_gets_a_prediction(x in prop::array::uniform4(finite())) {
        let body = json!({
            "sepal_length": x[0], "sepal_width": x[1], "petal_length": x[2], "petal_width": x[3]
        });
        let (status, bytes) = post(serde_json::to_vec(&body).expect("encode"));
        prop_assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        check_response(status, &bytes)?;
    }

    #[test]
    fn predict_shaped_bodies_get_200_or_fastapis_422(body in predict_shaped()) {
        let (status, bytes) = post(body);
        check_response(status, &bytes)?;
    }

    #[test]
    fn any_json_gets_200_or_fastapis_422(body in json_value()) {
        let (status, bytes) = post(serde_json::to_vec(&body).expect("encode"));
        check_response(status, &bytes)?;
    }

    #[test]
    fn any_bytes_get_fastapis_error_shape(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let (status, bytes) = post(body);
        check_response(status, &bytes)?;
    }
}

#[test]
fn the_body_that_got_500_gets_a_prediction() {
    let (status, bytes) = post(OVERFLOWING.as_bytes().to_vec());
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["prediction_probability"], 1.0, "{v}");
    check_response(status, &bytes).unwrap();
}

#[test]
fn openapi_promises_no_5xx_for_predict() {
    let doc = iris_lab::server::docs::openapi();
    let responses = doc["paths"]["/predict"]["post"]["responses"]
        .as_object()
        .unwrap();
    assert!(
        responses.keys().all(|code| !code.starts_with('5')),
        "{responses:?}"
    );
}

/// A few of the cases above over a real socket, through `serve`'s own connection handling.
#[tokio::test]
async fn over_a_real_socket_the_same_holds() {
    let base = support::servers::reference_api().await;
    let client = reqwest::Client::new();
    let url = base.join("predict").unwrap();
    let bodies: [&[u8]; 6] = [
        OVERFLOWING.as_bytes(),
        br#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}"#,
        br#"{"sepal_length": -1.7976931348623157e308, "sepal_width": 1.7976931348623157e308, "petal_length": 5e-324, "petal_width": 0}"#,
        br#"{"sepal_length": 1e999, "sepal_width": [1], "petal_length": {"a": null}}"#,
        b"\xff\xfe{not json",
        b"",
    ];
    for body in bodies {
        let response = client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let bytes = response.bytes().await.unwrap();
        check_response(status, &bytes).unwrap();
    }
}
