//! A fast path for the `/predict` body, which the load generator checks on every response:
//! the plain shape servers send (one flat object of the four fields, UTF-8 strings without
//! escapes, a short unsigned decimal number) read by a direct scan, at a fraction of serde's
//! cost. Anything else (escapes, other fields, `null`, exponents, long numbers, duplicates,
//! any syntax error) gives `None`, and the caller reads the body with serde instead: the
//! scan only answers where serde's answer is certain to be the same.

use std::borrow::Cow;

use super::{RawPredict, Text};

/// Digits a number may have here: with at most 15, serde's `significand / 10^k` is exact
/// in both operands and rounds once, as `str::parse` does; the result is the same value.
const MAX_DIGITS: usize = 15;
/// 10^0..=10^15, all exact in f64.
const POW10: [f64; MAX_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The fields' names as they appear, quoted; the order is that of [`scan_predict`]'s match.
const KEYS: [&[u8]; 4] = [
    b"\"predicted_species\"",
    b"\"prediction_probability\"",
    b"\"inference_time\"",
    b"\"total_time\"",
];

struct Scan<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    /// Skips JSON whitespace; returns the next byte, if any.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.text.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Which of [`KEYS`] comes next, with its quotes; `None` for any other string.
    fn key(&mut self) -> Option<usize> {
        self.peek()?;
        let rest = &self.text[self.pos..];
        let i = KEYS.iter().position(|k| rest.starts_with(k))?;
        self.pos += KEYS[i].len();
        Some(i)
    }

    /// A string without escapes or control characters, which serde borrows as it is once
    /// it is valid UTF-8.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = self.text[start..]
            .iter()
            .position(|&b| b == b'"' || b < 0x20 || b == b'\\')?;
        let end = start + len;
        if self.text[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        std::str::from_utf8(&self.text[start..end]).ok()
    }

    /// `0` or `[1-9][0-9]*`, then optionally `.` and digits: at most [`MAX_DIGITS`] digits in
    /// all, no sign and no exponent.
    fn number(&mut self) -> Option<f64> {
        self.peek()?;
        let mut significand: u64 = 0;
        let mut digits = 0;
        let mut fraction = 0;
        let mut seen_point = false;
        while let Some(&b) = self.text.get(self.pos) {
            match b {
                b'0'..=b'9' => {
                    // A leading zero is followed by the point or nothing.
                    if digits == 1 && significand == 0 && !seen_point {
                        return None;
                    }
                    significand = significand * 10 + u64::from(b - b'0');
                    digits += 1;
                    fraction += usize::from(seen_point);
                    if digits > MAX_DIGITS {
                        return None;
                    }
                }
                b'.' if !seen_point && digits > 0 => seen_point = true,
                b'e' | b'E' | b'.' | b'-' | b'+' => return None,
                _ => break,
            }
            self.pos += 1;
        }
        if digits == 0 || (seen_point && fraction == 0) {
            return None;
        }
        // Precision loss impossible: below 10^15 < 2^53.
        #[allow(clippy::cast_precision_loss)]
        let value = significand as f64;
        Some(if fraction == 0 {
            value
        } else {
            value / POW10[fraction]
        })
    }
}

/// A string field's value, unless the field came before.
fn text<'a>(s: &mut Scan<'a>, slot: &Option<Text<'a>>) -> Option<Option<Text<'a>>> {
    if slot.is_some() {
        return None;
    }
    s.string().map(|t| Some(Text(Cow::Borrowed(t))))
}

/// The body's fields when it has the plain shape; `None` means: ask serde.
pub(super) fn scan_predict(body: &[u8]) -> Option<RawPredict<'_>> {
    let mut s = Scan { text: body, pos: 0 };
    let mut raw = RawPredict {
        predicted_species: None,
        prediction_probability: None,
        inference_time: None,
        total_time: None,
    };
    s.eat(b'{')?;
    if s.eat(b'}').is_none() {
        loop {
            let key = s.key()?;
            s.eat(b':')?;
            match key {
                0 => raw.predicted_species = text(&mut s, &raw.predicted_species)?,
                1 if raw.prediction_probability.is_none() => {
                    raw.prediction_probability = Some(s.number()?);
                }
                2 => raw.inference_time = text(&mut s, &raw.inference_time)?,
                3 => raw.total_time = text(&mut s, &raw.total_time)?,
                _ => return None,
            }
            match s.peek()? {
                b',' => s.pos += 1,
                b'}' => {
                    s.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    // Only whitespace may follow the object.
    s.peek().is_none().then_some(raw)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::parse_json;
    use super::*;

    /// The fields as plain values, to compare the scan with serde.
    type Fields = (Option<String>, Option<u64>, Option<String>, Option<String>);

    fn fields(raw: &RawPredict<'_>) -> Fields {
        let text = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.0.to_string());
        (
            text(&raw.predicted_species),
            raw.prediction_probability.map(f64::to_bits),
            text(&raw.inference_time),
            text(&raw.total_time),
        )
    }

    /// Whenever the scan answers, serde answers the same.
    fn agrees(body: &[u8]) -> Result<bool, TestCaseError> {
        let Some(fast) = scan_predict(body) else {
            return Ok(false);
        };
        let slow: RawPredict = parse_json(200, body).map_err(|f| {
            TestCaseError::fail(format!(
                "scan accepted what serde rejects ({f:?}): {}",
                String::from_utf8_lossy(body)
            ))
        })?;
        prop_assert_eq!(
            fields(&fast),
            fields(&slow),
            "{}",
            String::from_utf8_lossy(body)
        );
        Ok(true)
    }

    #[test]
    fn the_plain_shape_is_scanned_and_the_rest_left_to_serde() {
        let ok = br#"{"predicted_species": "setosa", "prediction_probability": 0.9791, "inference_time": "0.0012s", "total_time": "0.0030s"}"#;
        let raw = scan_predict(ok).unwrap();
        assert_eq!(raw.prediction_probability, Some(0.9791));
        assert_eq!(raw.predicted_species.unwrap().0, "setosa");
        assert!(scan_predict(b" {}\n").is_some());
        assert!(scan_predict("{\"total_time\": \"é\"}".as_bytes()).is_some());
        assert!(scan_predict(br#"{"total_time":"1s","prediction_probability":1}"#).is_some());
        for other in [
            &br#"{"predicted_species": "set\u006fsa"}"#[..],
            br#"{"predicted_species": null}"#,
            br#"{"extra": 1}"#,
            br#"{"prediction_probability": 1e-1}"#,
            br#"{"prediction_probability": -0.5}"#,
            br#"{"prediction_probability": 01}"#,
            br#"{"prediction_probability": 1.}"#,
            br#"{"prediction_probability": 0.1234567890123456}"#,
            br#"{"total_time": "1s", "total_time": "2s"}"#,
            br#"{"total_time": "1s",}"#,
            br#"{"total_time": "1s"} x"#,
            br#"{"total_time": "1s""#,
            b"{\"total_time\": \"\xff\"}",
            b"{\"total_time\": \"a\tb\"}",
        ] {
            assert!(
                scan_predict(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    /// Pieces of bodies near the plain shape, glued in any order.
    fn piece() -> impl Strategy<Value = String> {
        const TOKENS: [&str; 12] = [
            "{",
            "}",
            ",",
            ":",
            " ",
            "\"",
            "\"predicted_species\"",
            "\"prediction_probability\"",
            "\"inference_time\"",
            "\"total_time\"",
            "\"setosa\"",
            "null",
        ];
        prop_oneof![
            proptest::sample::select(&TOKENS[..]).prop_map(str::to_string),
            "\"[ -~]{0,6}\"",
            // Control characters, backslashes, quotes and non-ASCII inside a string.
            "\"[\\x00-\\x1f\\\\\"aé]{0,4}\"",
            "-?[0-9]{0,18}(\\.[0-9]{0,18})?([eE][-+]?[0-9]{1,3})?",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn any_bytes_scan_as_serde_reads_them(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            agrees(&body)?;
        }

        #[test]
        fn near_plain_bodies_scan_as_serde_reads_them(pieces in proptest::collection::vec(piece(), 0..20)) {
            agrees(pieces.concat().as_bytes())?;
        }

        #[test]
        fn plain_bodies_are_scanned_as_serde_reads_them(
            species in "[ -~]{0,12}",
            p in "(0|[1-9][0-9]{0,6})(\\.[0-9]{1,8})?",
            inference in "[0-9.]{1,8}s",
            total in "[0-9.]{1,8}s",
            space in "[ \t\r\n]{0,2}",
        ) {
            prop_assume!(!species.contains(['"', '\\']));
            let body = format!(
                "{{{space}\"predicted_species\"{space}:{space}\"{species}\",\"prediction_probability\":{p}{space},\
                 \"inference_time\": \"{inference}\", \"total_time\": \"{total}\"{space}}}{space}"
            );
            prop_assert!(agrees(body.as_bytes())?, "not scanned: {}", body);
        }

        #[test]
        fn probabilities_read_as_serde_reads_them(bits in any::<u64>(), digits in 1usize..16) {
            let p = f64::from_bits(bits).abs();
            prop_assume!(p.is_finite());
            let text = format!("{p:.*}", digits.min(15));
            let body = format!("{{\"prediction_probability\": {text}}}");
            agrees(body.as_bytes())?;
        }
    }
}
