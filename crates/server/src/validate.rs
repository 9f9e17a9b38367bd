//! Request body validation with FastAPI's (pydantic v2's) 422 error shapes.
//!
//! The fast path is one typed parse. Only a body that fails it takes the slow path, which
//! finds every problem and reports each as FastAPI would.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use iris_api::Features;

/// Parses a predict body, or returns the `detail` list of a 422 response.
pub fn parse_features(body: &[u8]) -> Result<Features, Vec<Value>> {
    // serde would also take a positional array; pydantic wants an object.
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object
        && let Ok(f) = serde_json::from_slice::<Features>(body)
        && f.as_array().iter().all(|v| v.is_finite())
    {
        return Ok(f);
    }
    lax(body)
}

/// The slow path: pydantic's lax parse, with every validation error of the body.
fn lax(body: &[u8]) -> Result<Features, Vec<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![json!({
            "type": "missing", "loc": ["body"], "msg": "Field required", "input": null
        })]);
    }
    let fields: HashMap<String, &RawValue> = match serde_json::from_slice(body) {
        Ok(fields) => fields,
        Err(e) => {
            // Valid JSON that is not an object, or not JSON at all?
            return Err(match serde_json::from_slice::<Value>(body) {
                Ok(input) => vec![json!({
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": input,
                })],
                Err(_) => vec![json!({
                    "type": "json_invalid",
                    "loc": ["body", offset(body, e.line(), e.column())],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": { "error": e.to_string() },
                })],
            });
        }
    };
    let whole = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let mut values = [0.0; 4];
    for (slot, name) in values.iter_mut().zip(Features::NAMES) {
        let Some(raw) = fields.get(name) else {
            errors.push(json!({
                "type": "missing", "loc": ["body", name], "msg": "Field required", "input": whole()
            }));
            continue;
        };
        match float_field(raw.get()) {
            Ok(v) => *slot = v,
            Err((kind, msg)) => {
                let input = serde_json::from_str::<Value>(raw.get())
                    .unwrap_or_else(|_| Value::String(raw.get().to_string()));
                errors.push(
                    json!({ "type": kind, "loc": ["body", name], "msg": msg, "input": input }),
                );
            }
        }
    }
    if errors.is_empty() {
        let [a, b, c, d] = values;
        Ok(Features::new(a, b, c, d))
    } else {
        Err(errors)
    }
}

/// Pydantic's lax float: a JSON number or a numeric string; finite.
fn float_field(raw: &str) -> Result<f64, (&'static str, &'static str)> {
    const NOT_FINITE: (&str, &str) = ("finite_number", "Input should be a finite number");
    let raw = raw.trim();
    let value = if raw.starts_with('"') {
        let text: String = serde_json::from_str(raw).map_err(|_| {
            (
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )
        })?;
        text.trim().parse::<f64>().map_err(|_| {
            (
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )
        })?
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        // Rust parses 1e999 as infinity, where serde_json refuses it: exactly what we need.
        raw.parse::<f64>()
            .map_err(|_| ("float_type", "Input should be a valid number"))?
    } else {
        return Err(("float_type", "Input should be a valid number"));
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err(NOT_FINITE)
    }
}

/// Byte offset of a 1-based line/column, as Python's json module reports positions.
fn offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut current = 1;
    for (i, b) in body.iter().enumerate() {
        if current == line {
            return (i + column.saturating_sub(1)).min(body.len());
        }
        if *b == b'\n' {
            current += 1;
        }
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(body: &str) -> Vec<(String, Value)> {
        parse_features(body.as_bytes())
            .unwrap_err()
            .into_iter()
            .map(|e| (e["type"].as_str().unwrap().to_string(), e["loc"].clone()))
            .collect()
    }

    #[test]
    fn a_good_body_parses_fast() {
        let f = parse_features(br#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "extra": 1}"#).unwrap();
        assert_eq!(f, Features::GUIDE_SAMPLE);
    }

    #[test]
    fn numeric_strings_are_accepted_as_pydantic_does() {
        let f = parse_features(
            br#"{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}"#,
        )
        .unwrap();
        assert_eq!(f, Features::GUIDE_SAMPLE);
    }

    #[test]
    fn each_error_has_fastapis_shape() {
        assert_eq!(
            kinds(r#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}"#),
            vec![("missing".into(), json!(["body", "petal_width"]))]
        );
        assert_eq!(
            kinds(
                r#"{"sepal_length": "abc", "sepal_width": true, "petal_length": 1.4, "petal_width": 1e999}"#
            ),
            vec![
                ("float_parsing".into(), json!(["body", "sepal_length"])),
                ("float_type".into(), json!(["body", "sepal_width"])),
                ("finite_number".into(), json!(["body", "petal_width"])),
            ]
        );
        assert_eq!(kinds(""), vec![("missing".into(), json!(["body"]))]);
        assert_eq!(
            kinds("[1, 2]"),
            vec![("model_attributes_type".into(), json!(["body"]))]
        );
        let bad = kinds(r#"{"sepal_length": "#);
        assert_eq!(bad[0].0, "json_invalid");
    }
}
