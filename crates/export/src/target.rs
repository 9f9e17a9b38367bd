//! `--export KIND=URL` and `--export-header 'K: V'`: the values of the flags (and of the
//! config file's `load:` keys), parsed once.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// The protocols a run is pushed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Prometheus remote write 1.0 (protobuf + snappy).
    PrometheusRw,
    /// OTLP/HTTP protobuf metrics, to `URL/v1/metrics`.
    Otlp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::PrometheusRw => "prometheus-rw",
            Protocol::Otlp => "otlp",
        }
    }
}

/// One receiver: `prometheus-rw=URL` or `otlp=URL`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ExportTarget {
    pub protocol: Protocol,
    pub url: reqwest::Url,
}

impl ExportTarget {
    /// Where requests go: the URL as given for remote write; `URL/v1/metrics` for OTLP.
    pub fn endpoint(&self) -> reqwest::Url {
        match self.protocol {
            Protocol::PrometheusRw => self.url.clone(),
            Protocol::Otlp => {
                let mut url = self.url.clone();
                let path = format!("{}/v1/metrics", url.path().trim_end_matches('/'));
                url.set_path(&path);
                url
            }
        }
    }

    /// The endpoint as it may be shown and saved: no credentials, no query.
    pub fn shown(&self) -> String {
        let mut url = self.endpoint();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        url.to_string()
    }
}

impl FromStr for ExportTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, url) = s.split_once('=').ok_or_else(|| {
            format!("`{s}` is not KIND=URL (prometheus-rw=http://HOST:9090/api/v1/write or otlp=http://HOST:4318)")
        })?;
        let protocol = match kind.trim() {
            "prometheus-rw" => Protocol::PrometheusRw,
            "otlp" => Protocol::Otlp,
            other => {
                return Err(format!(
                    "unknown exporter `{other}`: use prometheus-rw=URL or otlp=URL"
                ));
            }
        };
        let url = reqwest::Url::parse(url.trim())
            .map_err(|e| format!("`{}` is not a URL: {e}", url.trim()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{url}`: an exporter's URL is http:// or https://"));
        }
        Ok(Self { protocol, url })
    }
}

impl TryFrom<String> for ExportTarget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A header sent to every receiver (their auth): `Name: value`, or `@FILE` with one such
/// line each. Its value is never shown: Debug and Display say `<redacted>`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ExportHeader {
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl fmt::Debug for ExportHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "ExportHeader({}: <redacted>)", names.join(", "))
    }
}

fn one_header(line: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = line
        .split_once(':')
        .ok_or("an export header is `Name: value` (or @FILE with one per line)")?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let mut value = http::HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("the value of header `{name}` has characters a header cannot carry")
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

impl FromStr for ExportHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let headers = match s.strip_prefix('@') {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read export headers from {path}: {e}"))?;
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(one_header)
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => vec![one_header(s)?],
        };
        Ok(Self { headers })
    }
}

impl TryFrom<String> for ExportHeader {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_hide_credentials() {
        let t: ExportTarget = "otlp=https://u:secret@example.com/otel/?k=v"
            .parse()
            .unwrap();
        assert_eq!(t.protocol, Protocol::Otlp);
        assert_eq!(t.shown(), "https://example.com/otel/v1/metrics");
        let t: ExportTarget = "prometheus-rw=http://127.0.0.1:9090/api/v1/write"
            .parse()
            .unwrap();
        assert_eq!(t.endpoint().as_str(), "http://127.0.0.1:9090/api/v1/write");
        assert!(
            "influx=http://x"
                .parse::<ExportTarget>()
                .unwrap_err()
                .contains("unknown exporter")
        );
        assert!(
            "http://x"
                .parse::<ExportTarget>()
                .unwrap_err()
                .contains("KIND=URL")
        );
        assert!("otlp=ftp://x".parse::<ExportTarget>().is_err());
    }

    #[test]
    fn headers_never_show_their_value() {
        let h: ExportHeader = "Authorization: Bearer s3cret".parse().unwrap();
        assert_eq!(h.headers[0].0.as_str(), "authorization");
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!("no colon".parse::<ExportHeader>().is_err());
    }
}
