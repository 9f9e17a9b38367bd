//! Value parsers shared by flags and the config file, each tested beside its definition.

use std::time::Duration;

/// Parses a duration the way Locust's `--run-time` and k6's `--duration` take them:
/// `90s`, `5m`, `1h30m`, `500ms`, `1.5s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: use e.g. 90s, 5m, 1h30m".into());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return seconds(secs, text);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid duration {text:?}: use e.g. 90s, 5m, 1h30m"
            ));
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: {num:?} is not a number"))?;
        let scale = match unit {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: {num} needs a unit (ms, s, m, h)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h)"
                ));
            }
        };
        total += seconds(value * scale, text)?;
        rest = after.trim_start();
    }
    Ok(total)
}

fn seconds(secs: f64, text: &str) -> Result<Duration, String> {
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!(
            "invalid duration {text:?}: must be between 0 and 1e9 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses the API's base URL. A bare `host[:port]` gets `http://`, as in the guide where the
/// Service's external IP is used as-is; only http and https are accepted.
pub fn parse_host(text: &str) -> Result<reqwest::Url, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty host: use e.g. http://34.1.2.3 or http://127.0.0.1:8000".into());
    }
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("http://{text}")
    };
    let url =
        reqwest::Url::parse(&with_scheme).map_err(|e| format!("invalid host URL {text:?}: {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "invalid host URL {text:?}: scheme {other:?} is not http or https"
            ));
        }
    }
    if url.host_str().is_none() {
        return Err(format!("invalid host URL {text:?}: no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "invalid host URL {text:?}: credentials in the URL are not supported (they would end up in saved results)"
        ));
    }
    Ok(url)
}

/// Formats a duration the way the flags take it (`1h30m`, `90s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if secs > 0 {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_forms_locust_and_k6_take() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m 5s"), Ok(Duration::from_secs(5405)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(
            parse_duration("m5")
                .unwrap_err()
                .contains("invalid duration")
        );
        assert!(parse_duration("5m3").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("-5").is_err());
        assert!(parse_duration("inf").is_err());
    }

    #[test]
    fn durations_print_as_they_parse() {
        for text in ["1h30m", "90s", "5m", "250ms", "0s", "1h"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn hosts_get_a_scheme_and_are_checked() {
        assert_eq!(parse_host("34.1.2.3").unwrap().as_str(), "http://34.1.2.3/");
        assert_eq!(
            parse_host("https://api.example.com:8443").unwrap().as_str(),
            "https://api.example.com:8443/"
        );
        assert!(parse_host("ftp://x").unwrap_err().contains("not http"));
        assert!(parse_host("").unwrap_err().contains("empty"));
        assert!(
            parse_host("http://u:p@x")
                .unwrap_err()
                .contains("credentials")
        );
    }
}
