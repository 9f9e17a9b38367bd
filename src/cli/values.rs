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

/// A positive user count.
pub fn parse_users(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number of users")),
    }
}

/// A positive count (requests per connection).
pub fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// A positive rate (users per second).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        Ok(_) => Err("must be a number above 0".into()),
        Err(_) => Err(format!("{text:?} is not a number")),
    }
}

/// A duration above zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be longer than 0".into());
    }
    Ok(d)
}

/// A percentage, `1%` or `0.5%`, returned as a ratio (0.01). The `%` is required so that
/// `1` cannot be read as 100%.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("{text:?} is not a percentage: use e.g. 1% or 0.5%"))?;
    match number.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("{text:?} must be between 0% and 100%")),
    }
}

/// A share of requests: a fraction `0.01` or a percentage `1%`, returned as a ratio in 0..=1.
pub fn parse_sample(text: &str) -> Result<f64, String> {
    if text.trim().ends_with('%') {
        return parse_percent(text);
    }
    match text.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "{text:?} is not a share of requests: use a fraction from 0 to 1 (0.01) or a percentage (1%, 100%)"
        )),
    }
}

/// Milliseconds: a bare number is milliseconds, otherwise a duration (`500ms`, `1.5s`).
pub fn parse_millis(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms > 0.0 && ms < 1e12 => Ok(Duration::from_secs_f64(ms / 1e3)),
        Ok(_) => Err(format!("{text:?} must be above 0 ms")),
        Err(_) => parse_positive_duration(text),
    }
}

/// Think time `A..B` in seconds (units allowed: `100ms..1s`); a single value means a fixed wait.
pub fn parse_wait(text: &str) -> Result<crate::loadgen::Wait, String> {
    let text = text.trim();
    let (a, b) = text.split_once("..").unwrap_or((text, text));
    let a = parse_duration(a)?;
    let b = parse_duration(b)?;
    crate::loadgen::Wait::new(a.as_secs_f64(), b.as_secs_f64())
}

#[cfg(test)]
mod load_value_tests {
    use super::*;

    #[test]
    fn percentages_need_a_percent_sign() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
        assert!(parse_percent("1").unwrap_err().contains("percentage"));
        assert!(parse_percent("150%").is_err());
    }

    #[test]
    fn millis_take_numbers_or_durations() {
        assert_eq!(parse_millis("500"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_millis("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_millis("0").is_err());
    }

    #[test]
    fn waits_are_ranges_with_a_at_most_b() {
        let w = parse_wait("0.5..2").unwrap();
        assert_eq!((w.min, w.max), (0.5, 2.0));
        let w = parse_wait("100ms..1s").unwrap();
        assert_eq!((w.min, w.max), (0.1, 1.0));
        assert_eq!(parse_wait("0").unwrap().max, 0.0);
        assert!(parse_wait("2..1").unwrap_err().contains("<="));
        assert!(parse_wait("a..b").is_err());
    }

    #[test]
    fn counts_and_rates_are_positive() {
        assert_eq!(parse_users("150"), Ok(150));
        assert!(parse_users("0").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("nan").is_err());
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_count("0").is_err());
    }

    #[test]
    fn trace_sample_is_a_fraction_or_a_percentage() {
        assert_eq!(parse_sample("0.25"), Ok(0.25));
        assert_eq!(parse_sample("1%"), Ok(0.01));
        assert_eq!(parse_sample("100%"), Ok(1.0));
        assert_eq!(parse_sample("0"), Ok(0.0));
        assert!(parse_sample("1.5").is_err());
        assert!(parse_sample("150%").is_err());
        assert!(parse_sample("some").is_err());
    }
}
