//! Label and field selectors of list and watch requests (`app=x,tier!=db,env in (a,b)`,
//! `metadata.name=x,involvedObject.uid=u`), over the objects' JSON.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether an object matches the request's `labelSelector` and `fieldSelector`.
pub fn selected(object: &Value, q: &BTreeMap<String, String>) -> bool {
    let labels = &object["metadata"]["labels"];
    let label_ok = q
        .get("labelSelector")
        .is_none_or(|sel| split_terms(sel).iter().all(|term| label_term(labels, term)));
    let field_ok = q.get("fieldSelector").is_none_or(|sel| {
        sel.split(',')
            .filter(|t| !t.is_empty())
            .all(|t| field_term(object, t))
    });
    label_ok && field_ok
}

fn field_term(object: &Value, term: &str) -> bool {
    let (path, want, negate) = if let Some((p, v)) = term.split_once("!=") {
        (p, v, true)
    } else if let Some((p, v)) = term.split_once("==") {
        (p, v, false)
    } else if let Some((p, v)) = term.split_once('=') {
        (p, v, false)
    } else {
        return false;
    };
    let mut v = object;
    for part in path.trim().split('.') {
        v = &v[part];
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    (text == want.trim()) != negate
}

/// Splits on commas outside parentheses: `a=b,c in (x,y)`.
fn split_terms(sel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for ch in sel.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn label_term(labels: &Value, term: &str) -> bool {
    let get = |k: &str| labels[k.trim()].as_str().map(str::to_string);
    if let Some((k, v)) = term.split_once("!=") {
        return get(k).as_deref() != Some(v.trim());
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = term.split_once(op) {
            let values: Vec<&str> = set
                .trim()
                .trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .map(str::trim)
                .collect();
            let hit = get(k).is_some_and(|v| values.contains(&v.as_str()));
            return hit != negate;
        }
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return get(k).as_deref() == Some(v.trim());
    }
    match term.strip_prefix('!') {
        Some(k) => get(k).is_none(),
        None => get(term).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn q(label: Option<&str>, field: Option<&str>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(l) = label {
            m.insert("labelSelector".into(), l.into());
        }
        if let Some(f) = field {
            m.insert("fieldSelector".into(), f.into());
        }
        m
    }

    #[test]
    fn label_and_field_selectors() {
        let pod = json!({"metadata": {"name": "p1", "labels": {"app": "iris", "tier": "web"}},
                         "involvedObject": {"uid": "u1"}});
        assert!(selected(&pod, &q(Some("app=iris"), None)));
        assert!(selected(&pod, &q(Some("app=iris,tier in (web,api)"), None)));
        assert!(!selected(&pod, &q(Some("app=iris,tier notin (web)"), None)));
        assert!(selected(&pod, &q(Some("!gone,tier"), None)));
        assert!(!selected(&pod, &q(Some("app!=iris"), None)));
        assert!(selected(
            &pod,
            &q(None, Some("metadata.name=p1,involvedObject.uid=u1"))
        ));
        assert!(!selected(&pod, &q(None, Some("metadata.name!=p1"))));
        assert!(selected(&pod, &q(None, None)));
    }

    proptest! {
        #[test]
        fn any_selector_text_is_answered_without_panicking(label in ".{0,40}", field in ".{0,40}") {
            let pod = json!({"metadata": {"name": "p1", "labels": {"app": "iris"}}});
            let _ = selected(&pod, &q(Some(&label), Some(&field)));
        }
    }
}
