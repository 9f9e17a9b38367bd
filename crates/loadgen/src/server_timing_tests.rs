use proptest::prelude::*;

use super::*;

fn names(value: &str) -> Vec<(String, Option<f64>, Option<String>)> {
    metrics(value.as_bytes())
        .into_iter()
        .map(|m| (m.name.to_string(), m.dur, m.desc.map(|d| d.into_owned())))
        .collect()
}

#[test]
fn the_specifications_examples_parse() {
    assert_eq!(
        names(r#"miss, db;dur=53, app;dur=47.2"#),
        vec![
            ("miss".into(), None, None),
            ("db".into(), Some(53.0), None),
            ("app".into(), Some(47.2), None),
        ]
    );
    assert_eq!(
        names(r#"customView, dc;desc=atl , cache;desc="Cache Read";dur=23.2"#),
        vec![
            ("customView".into(), None, None),
            ("dc".into(), None, Some("atl".into())),
            ("cache".into(), Some(23.2), Some("Cache Read".into())),
        ]
    );
    assert_eq!(
        names(r#"total;dur=123.4"#),
        vec![("total".into(), Some(123.4), None)]
    );
}

#[test]
fn quoted_strings_keep_commas_and_escapes() {
    assert_eq!(
        names(r#"a;desc="x, \"y\"; z";dur=1, b;dur=2"#),
        vec![
            ("a".into(), Some(1.0), Some(r#"x, "y"; z"#.into())),
            ("b".into(), Some(2.0), None),
        ]
    );
    // The first dur counts; a dur that is no number is none.
    assert_eq!(
        names("a;dur=1;dur=2, b;dur=abc, c;DUR=\"3\""),
        vec![
            ("a".into(), Some(1.0), None),
            ("b".into(), None, None),
            ("c".into(), Some(3.0), None),
        ]
    );
}

#[test]
fn garbage_is_skipped_up_to_the_next_metric() {
    assert_eq!(
        names(r#"@@@, a;dur=1 x, "q,q", b;dur=2, ;;, c;desc="open"#),
        vec![("b".into(), Some(2.0), None)]
    );
    assert!(names("").is_empty());
    assert!(names(" ,, ").is_empty());
}

#[test]
fn inference_and_total_are_recognised_by_their_usual_names() {
    let t = recognise([b"inference;dur=0.012, total;dur=0.034".as_slice()]).unwrap();
    assert_eq!(t.inference, Some(Duration::from_nanos(12_000)));
    assert_eq!(t.total, Some(Duration::from_nanos(34_000)));
    // Synonyms, case, several fields, other metrics around them.
    let t = recognise([b"db;dur=3, Model;dur=5".as_slice(), b"APP;dur=9".as_slice()]).unwrap();
    assert_eq!(t.inference, Some(Duration::from_millis(5)));
    assert_eq!(t.total, Some(Duration::from_millis(9)));
    // Only a total, as `serve` sends on /health.
    let t = recognise([b"total;dur=0.5".as_slice()]).unwrap();
    assert_eq!(
        (t.inference, t.total),
        (None, Some(Duration::from_micros(500)))
    );
    // Nothing usable: no timing at all (the body remains the fallback).
    assert_eq!(
        recognise([b"db;dur=3, total, model;dur=-1".as_slice()]),
        None
    );
    assert_eq!(recognise(std::iter::empty()), None);
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

/// A metric, and how it is written.
fn metric() -> impl Strategy<Value = ((String, Option<f64>, Option<String>), String)> {
    (
        token(),
        proptest::option::of(0u32..10_000_000),
        proptest::option::of("[ -~\t]{0,16}"),
        ows(),
        ows(),
        any::<bool>(),
    )
        .prop_map(|(name, dur, desc, a, b, desc_first)| {
            let dur = dur.map(|d| f64::from(d) / 1000.0);
            let mut params = Vec::new();
            if let Some(d) = dur {
                params.push(format!("dur{a}={b}{d}"));
            }
            if let Some(text) = &desc {
                let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
                params.push(format!("desc={a}\"{escaped}\""));
            }
            if desc_first {
                params.reverse();
            }
            let mut written = name.clone();
            for p in params {
                written.push_str(&format!("{a};{b}{p}"));
            }
            ((name, dur, desc), written)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let found = metrics(&bytes);
        prop_assert!(found.iter().all(|m| !m.name.is_empty()));
        let _ = recognise([bytes.as_slice()]);
    }

    #[test]
    fn written_metrics_parse_back(list in proptest::collection::vec(metric(), 0..6), sep in ows()) {
        let text = list.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>().join(&format!("{sep},{sep}"));
        let want: Vec<_> = list.into_iter().map(|(m, _)| m).collect();
        prop_assert_eq!(names(&text), want);
    }

    #[test]
    fn a_broken_metric_costs_only_itself(
        before in proptest::collection::vec(metric(), 0..3),
        garbage in "[^,\" \tA-Za-z0-9!#$%&'*+.^_`|~-][^,\"]{0,20}",
        after in proptest::collection::vec(metric(), 0..3),
    ) {
        let written: Vec<&str> = before
            .iter()
            .map(|(_, w)| w.as_str())
            .chain(std::iter::once(garbage.as_str()))
            .chain(after.iter().map(|(_, w)| w.as_str()))
            .collect();
        let text = written.join(", ");
        let want: Vec<_> = before.iter().chain(&after).map(|(m, _)| m.clone()).collect();
        prop_assert_eq!(names(&text), want);
    }
}
