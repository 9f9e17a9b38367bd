//! The W3C `Server-Timing` response header
//! (<https://www.w3.org/TR/server-timing/#the-server-timing-header-field>):
//!
//! ```text
//! Server-Timing             = #server-timing-metric
//! server-timing-metric      = metric-name *( OWS ";" OWS server-timing-param )
//! metric-name               = token
//! server-timing-param       = server-timing-param-name OWS "=" OWS server-timing-param-value
//! server-timing-param-value = token / quoted-string
//! ```
//!
//! Any metric names parse; [`recognise`] picks the model's time and the server's total out of
//! them by their usual names. A metric that does not follow the grammar is skipped up to the
//! next comma outside a quoted string, as browsers skip it; the others still count.

use std::borrow::Cow;
use std::time::Duration;

use super::ServerTiming;

/// Metric names taken as the model's (inference) time, compared ignoring case.
pub const INFERENCE_NAMES: [&str; 6] =
    ["inference", "infer", "model", "predict", "prediction", "ml"];
/// Metric names taken as the server's whole handling time, compared ignoring case.
pub const TOTAL_NAMES: [&str; 6] = ["total", "app", "server", "handler", "request", "backend"];

/// One metric of the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    pub name: &'a str,
    /// `dur`, in milliseconds, when present and a number.
    pub dur: Option<f64>,
    /// `desc`, unquoted.
    pub desc: Option<Cow<'a, str>>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // Token characters are ASCII: this never fails.
        std::str::from_utf8(&self.text[start..self.pos]).unwrap_or_default()
    }

    /// A quoted-string at the cursor (which is on its opening quote), unescaped; `None` when
    /// it does not end or holds bytes the grammar does not allow.
    fn quoted(&mut self) -> Option<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                    self.peek()
                        .filter(|&b| b == b'\t' || b >= b' ' && b != 0x7f)?;
                }
                b if b == b'\t' || b >= b' ' && b != 0x7f => {}
                _ => return None,
            }
            self.pos += 1;
        }
        let raw = &self.text[start..self.pos];
        self.pos += 1;
        let text = if escaped {
            let mut out = Vec::with_capacity(raw.len());
            let mut bytes = raw.iter();
            while let Some(&b) = bytes.next() {
                out.push(if b == b'\\' {
                    bytes.next().copied().unwrap_or(b'\\')
                } else {
                    b
                });
            }
            Cow::Owned(String::from_utf8_lossy(&out).into_owned())
        } else {
            String::from_utf8_lossy(raw)
        };
        Some(text)
    }

    /// One metric from the cursor up to the comma that ends it (or the end); `None` when it
    /// does not follow the grammar.
    fn metric(&mut self) -> Option<Metric<'a>> {
        let name = self.token();
        if name.is_empty() {
            return None;
        }
        let mut metric = Metric {
            name,
            dur: None,
            desc: None,
        };
        loop {
            self.skip_ows();
            match self.peek() {
                None | Some(b',') => return Some(metric),
                Some(b';') => self.pos += 1,
                Some(_) => return None,
            }
            self.skip_ows();
            let param = self.token();
            if param.is_empty() {
                return None;
            }
            self.skip_ows();
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_ows();
                if self.peek() == Some(b'"') {
                    self.quoted()?
                } else {
                    let token = self.token();
                    if token.is_empty() {
                        return None;
                    }
                    Cow::Borrowed(token)
                }
            } else {
                // A parameter without a value (allowed by browsers): an empty one.
                Cow::Borrowed("")
            };
            // The first of each parameter counts, as the W3C processing model says.
            if param.eq_ignore_ascii_case("dur") && metric.dur.is_none() {
                metric.dur = value.trim().parse::<f64>().ok().filter(|d| d.is_finite());
            } else if param.eq_ignore_ascii_case("desc") && metric.desc.is_none() {
                metric.desc = Some(value);
            }
        }
    }

    /// Moves past the rest of a broken metric: up to the next comma outside a quoted string.
    fn skip_element(&mut self) {
        let mut quoted = false;
        while let Some(b) = self.peek() {
            match b {
                b'"' => quoted = !quoted,
                b'\\' if quoted => self.pos += 1,
                b',' if !quoted => return,
                _ => {}
            }
            self.pos += 1;
        }
    }
}

/// The metrics of one header value, in order; broken metrics are left out.
pub fn metrics(value: &[u8]) -> Vec<Metric<'_>> {
    let mut cursor = Cursor {
        text: value,
        pos: 0,
    };
    let mut out = Vec::new();
    while cursor.pos < value.len() {
        cursor.skip_ows();
        if cursor.peek() == Some(b',') {
            cursor.pos += 1;
            continue;
        }
        if cursor.peek().is_none() {
            break;
        }
        let start = cursor.pos;
        match cursor.metric() {
            Some(m) => out.push(m),
            None => {
                cursor.pos = start;
                cursor.skip_element();
            }
        }
    }
    out
}

/// The model's time and the server's total from the metrics of one response's `Server-Timing`
/// fields (the first metric of each kind with a usable `dur`); `None` when neither is there.
pub fn recognise<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<ServerTiming> {
    let mut timing = ServerTiming::default();
    for value in values {
        for m in metrics(value) {
            let Some(dur) = m.dur.filter(|d| *d >= 0.0 && *d < 3.6e6) else {
                continue;
            };
            let is = |names: &[&str]| names.iter().any(|n| m.name.eq_ignore_ascii_case(n));
            let slot = if is(&INFERENCE_NAMES) {
                &mut timing.inference
            } else if is(&TOTAL_NAMES) {
                &mut timing.total
            } else {
                continue;
            };
            slot.get_or_insert(Duration::from_secs_f64(dur / 1e3));
        }
    }
    (timing.inference.is_some() || timing.total.is_some()).then_some(timing)
}

#[cfg(test)]
#[path = "server_timing_tests.rs"]
mod tests;
