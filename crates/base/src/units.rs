//! The bottom room: the value types that flags and the config file take (durations, rates,
//! percents, counts, think time, the API's URL) and their text forms.
//!
//! Each type parses once, in `FromStr`: clap takes it as a flag's value, and its `Deserialize`
//! reads a string or a number from `iris-lab.yaml` through the same parser, so a flag and its
//! key accept the same text and say the same thing about a bad one. This room imports no other.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// A scalar as written in YAML: text or a number, handed to the type's parser as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(t) => t,
            Scalar::Unsigned(n) => n.to_string(),
            Scalar::Signed(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
        }
    }
}

/// `Deserialize` through `FromStr`, for a string or a number.
macro_rules! deserialize_with_from_str {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Scalar::deserialize(d)?
                    .into_text()
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_with_from_str!(
    HumanDuration,
    PositiveDuration,
    Millis,
    Rate,
    Percent,
    Share,
    Users,
    Count,
    Replicas,
    Wait,
    Host
);

/// Parses a duration the way Locust's `--run-time` and k6's `--duration` take them (with
/// humantime): `90s`, `5m`, `1h30m`, `500ms`, `1.5s`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: use e.g. 90s, 5m, 1h30m".into());
    }
    let secs = match text.parse::<f64>() {
        Ok(secs) => secs,
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| duration_error(text, e))?
            .as_secs_f64(),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!(
            "invalid duration {text:?}: must be between 0 and 1e9 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// humantime's error, in the words of this tool's flags.
fn duration_error(text: &str, e: humantime::DurationError) -> String {
    match e {
        humantime::DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("invalid duration {text:?}: {value} needs a unit (ms, s, m, h)")
        }
        humantime::DurationError::UnknownUnit { unit, .. } => {
            format!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h)")
        }
        other => format!("invalid duration {text:?}: {other}; use e.g. 90s, 5m, 1h30m"),
    }
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

/// A duration, zero allowed (`--wait 0` does not wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        parse_duration(text).map(HumanDuration)
    }
}

/// A duration above zero (a run's length, a request's time limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PositiveDuration(pub Duration);

impl FromStr for PositiveDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let d = parse_duration(text)?;
        if d.is_zero() {
            return Err("must be longer than 0".into());
        }
        Ok(PositiveDuration(d))
    }
}

/// A latency limit: a bare number is milliseconds, otherwise a duration (`500ms`, `1.5s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub Duration);

impl FromStr for Millis {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms > 0.0 && ms < 1e12 => {
                Ok(Millis(Duration::from_secs_f64(ms / 1e3)))
            }
            Ok(_) => Err(format!("{text:?} must be above 0 ms")),
            Err(_) => text.parse::<PositiveDuration>().map(|d| Millis(d.0)),
        }
    }
}

/// A rate above zero (users started per second).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate(r)),
            Ok(_) => Err("must be a number above 0".into()),
            Err(_) => Err(format!("{text:?} is not a number")),
        }
    }
}

/// A percentage, `1%` or `0.5%`, kept as a ratio (0.01). The `%` is required so that `1`
/// cannot be read as 100%.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    pub fn ratio(self) -> f64 {
        self.0
    }
}

impl FromStr for Percent {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let number = text
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("{text:?} is not a percentage: use e.g. 1% or 0.5%"))?;
        match number.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Percent(p / 100.0)),
            _ => Err(format!("{text:?} must be between 0% and 100%")),
        }
    }
}

/// A share of requests: a fraction `0.01` or a percentage `1%`, kept as a ratio in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Share(pub f64);

impl FromStr for Share {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim().ends_with('%') {
            return text.parse::<Percent>().map(|p| Share(p.0));
        }
        match text.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => Ok(Share(f)),
            _ => Err(format!(
                "{text:?} is not a share of requests: use a fraction from 0 to 1 (0.01) or a \
                 percentage (1%, 100%)"
            )),
        }
    }
}

/// A number of virtual users, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Users(pub u32);

impl FromStr for Users {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        at_least_one(text, " of users").map(Users)
    }
}

/// A whole number of at least 1; `noun` completes "is not a whole number".
fn at_least_one<T: FromStr + Default + PartialEq>(text: &str, noun: &str) -> Result<T, String> {
    match text.trim().parse::<T>() {
        Ok(n) if n == T::default() => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number{noun}")),
    }
}

/// A count of at least 1 (requests per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count(pub u64);

impl FromStr for Count {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        at_least_one(text, "").map(Count)
    }
}

/// A Deployment's replica count, 0 to 10000 (the same type as a flag and in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Replicas(pub i32);

impl Replicas {
    pub const MAX: i32 = 10_000;
}

impl FromStr for Replicas {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().parse::<i64>() {
            Ok(n) if (0..=i64::from(Self::MAX)).contains(&n) => Ok(Replicas(n as i32)),
            Ok(_) => Err(format!("{} is not in 0..={}", text.trim(), Self::MAX)),
            Err(_) => Err(format!("{text:?} is not a whole number of replicas")),
        }
    }
}

/// Think time slept after each task: uniform in `[min, max]` seconds (Locust's `between`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wait {
    pub min: f64,
    pub max: f64,
}

impl Wait {
    pub fn new(min: f64, max: f64) -> Result<Self, String> {
        if !(min.is_finite() && max.is_finite() && min >= 0.0) {
            return Err("wait times must be finite and not negative".into());
        }
        if min > max {
            return Err(format!("A..B needs A <= B, got {min}..{max}"));
        }
        Ok(Self { min, max })
    }

    pub fn mean(&self) -> f64 {
        (self.min + self.max) / 2.0
    }

    pub fn sample(&self, rng: &mut impl rand::Rng) -> Duration {
        let secs = if self.max > self.min {
            self.min + rng.random::<f64>() * (self.max - self.min)
        } else {
            self.min
        };
        Duration::from_secs_f64(secs)
    }
}

/// `A..B` in seconds (units allowed: `100ms..1s`); a single value means a fixed wait.
impl FromStr for Wait {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (a, b) = text.split_once("..").unwrap_or((text, text));
        let a = parse_duration(a)?;
        let b = parse_duration(b)?;
        Wait::new(a.as_secs_f64(), b.as_secs_f64())
    }
}

/// One stage of a load shape: ramp linearly to `target` (users, or arrivals per second) over
/// `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// A load shape, k6's `stages`: `1m:150,3m:150,2m:0` (duration:target, comma-separated). In
/// YAML also a list of `"1m:150"` strings or of `{duration: 1m, target: 150}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stages(pub Vec<Stage>);

impl Stages {
    /// The length of the whole shape.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }

    /// The highest target of any stage.
    pub fn peak(&self) -> f64 {
        self.0.iter().map(|s| s.target).fold(0.0, f64::max)
    }

    fn validated(stages: Vec<Stage>) -> Result<Self, String> {
        if stages.is_empty() {
            return Err("no stages: use e.g. 1m:150,3m:150,1m:0".into());
        }
        let stages = Stages(stages);
        if stages.total().is_zero() {
            return Err("the stages last 0 s in all: give at least one a duration".into());
        }
        Ok(stages)
    }
}

impl Stage {
    /// A stage of exactly `duration`, with the target checked as the text form checks it.
    fn exact(duration: Duration, target: f64) -> Result<Self, String> {
        if target.is_finite() && (0.0..=1e7).contains(&target) {
            Ok(Stage { duration, target })
        } else {
            Err(format!(
                "stage target {target} must be a number from 0 to 1e7"
            ))
        }
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (d, t) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("stage {text:?} is not DURATION:TARGET, e.g. 1m:150"))?;
        let duration = parse_duration(d)?;
        let target = match t.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && (0.0..=1e7).contains(&n) => n,
            _ => {
                return Err(format!(
                    "stage {text:?}: target {t:?} must be a number from 0 to 1e7"
                ));
            }
        };
        Ok(Stage { duration, target })
    }
}

impl FromStr for Stages {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let stages = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Stage>, String>>()?;
        Stages::validated(stages)
    }
}

/// A stage as written in YAML: `"1m:150"` or `{duration: 1m, target: 150}`; or as
/// [`Stage`] serializes itself (`duration: {secs, nanos}`), so that a settled plan sent as
/// JSON reads back exactly.
#[derive(Deserialize)]
#[serde(untagged)]
enum StageText {
    Text(String),
    Fields { duration: Scalar, target: f64 },
    Exact { duration: Duration, target: f64 },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StagesText {
    Text(String),
    List(Vec<StageText>),
}

impl<'de> Deserialize<'de> for Stages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let stages = match StagesText::deserialize(d)? {
            StagesText::Text(t) => return t.parse().map_err(D::Error::custom),
            StagesText::List(list) => list
                .into_iter()
                .map(|s| match s {
                    StageText::Text(t) => t.parse::<Stage>(),
                    StageText::Fields { duration, target } => {
                        format!("{}:{target}", duration.into_text()).parse()
                    }
                    StageText::Exact { duration, target } => Stage::exact(duration, target),
                })
                .collect::<Result<Vec<Stage>, String>>()
                .map_err(D::Error::custom)?,
        };
        Stages::validated(stages).map_err(D::Error::custom)
    }
}

/// The API's base URL. A bare `host[:port]` gets `http://`, as in the guide where the Service's
/// external IP is used as-is; only http and https are accepted, and no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(pub url::Url);

impl FromStr for Host {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
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
            url::Url::parse(&with_scheme).map_err(|e| format!("invalid host URL {text:?}: {e}"))?;
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
        Ok(Host(url))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

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
        let host = |t: &str| t.parse::<Host>().map(|h| h.0.to_string());
        assert_eq!(host("34.1.2.3").unwrap(), "http://34.1.2.3/");
        assert_eq!(
            host("https://api.example.com:8443").unwrap(),
            "https://api.example.com:8443/"
        );
        assert!(host("ftp://x").unwrap_err().contains("not http"));
        assert!(host("").unwrap_err().contains("empty"));
        assert!(host("http://u:p@x").unwrap_err().contains("credentials"));
    }

    #[test]
    fn percentages_need_a_percent_sign() {
        assert_eq!("1%".parse(), Ok(Percent(0.01)));
        assert_eq!("0.5%".parse(), Ok(Percent(0.005)));
        assert!("1".parse::<Percent>().unwrap_err().contains("percentage"));
        assert!("150%".parse::<Percent>().is_err());
    }

    #[test]
    fn millis_take_numbers_or_durations() {
        assert_eq!("500".parse(), Ok(Millis(Duration::from_millis(500))));
        assert_eq!("1.5s".parse(), Ok(Millis(Duration::from_millis(1500))));
        assert!("0".parse::<Millis>().is_err());
    }

    #[test]
    fn waits_are_ranges_with_a_at_most_b() {
        let w: Wait = "0.5..2".parse().unwrap();
        assert_eq!((w.min, w.max), (0.5, 2.0));
        let w: Wait = "100ms..1s".parse().unwrap();
        assert_eq!((w.min, w.max), (0.1, 1.0));
        assert_eq!("0".parse::<Wait>().unwrap().max, 0.0);
        assert!("2..1".parse::<Wait>().unwrap_err().contains("<="));
        assert!("a..b".parse::<Wait>().is_err());
    }

    #[test]
    fn counts_rates_and_replicas_are_checked() {
        assert_eq!("150".parse(), Ok(Users(150)));
        assert!("0".parse::<Users>().is_err());
        assert!("0".parse::<Rate>().is_err());
        assert!("nan".parse::<Rate>().is_err());
        assert_eq!("0.5".parse(), Ok(Rate(0.5)));
        assert!("0".parse::<Count>().is_err());
        assert_eq!("0".parse(), Ok(Replicas(0)));
        assert!("-1".parse::<Replicas>().is_err());
        assert!("10001".parse::<Replicas>().is_err());
        assert!("two".parse::<Replicas>().is_err());
    }

    #[test]
    fn yaml_numbers_and_strings_go_through_the_same_parser() {
        assert_eq!(de::<Users>("150"), Ok(Users(150)));
        assert_eq!(de::<Users>("'150'"), Ok(Users(150)));
        assert!(de::<Users>("0").unwrap_err().contains("at least 1"));
        assert_eq!(de::<Rate>("2.5"), Ok(Rate(2.5)));
        assert_eq!(
            de::<HumanDuration>("90"),
            Ok(HumanDuration(Duration::from_secs(90)))
        );
        assert_eq!(
            de::<HumanDuration>("5m"),
            Ok(HumanDuration(Duration::from_secs(300)))
        );
        assert_eq!(de::<Millis>("500"), Ok(Millis(Duration::from_millis(500))));
        assert_eq!(de::<Replicas>("3"), Ok(Replicas(3)));
        assert!(de::<Replicas>("-2").is_err());
        assert_eq!(de::<Percent>("1%"), Ok(Percent(0.01)));
        assert_eq!(de::<Wait>("0.1..0.5").map(|w| w.max), Ok(0.5));
        assert_eq!(de::<Wait>("1").map(|w| w.max), Ok(1.0));
        assert!(de::<Host>("ftp://x").unwrap_err().contains("not http"));
    }

    #[test]
    fn a_share_is_a_fraction_or_a_percentage() {
        let share = |s: &str| s.parse::<Share>().map(|s| s.0);
        assert_eq!(share("0.25"), Ok(0.25));
        assert_eq!(share("1%"), Ok(0.01));
        assert_eq!(share("100%"), Ok(1.0));
        assert_eq!(share("0"), Ok(0.0));
        assert!(share("1.5").is_err());
        assert!(share("150%").is_err());
        assert!(share("some").is_err());
    }

    #[test]
    fn stages_parse_from_the_flag_and_from_yaml() {
        let s: Stages = "1m:150, 3m:150,1m:300,2m:0".parse().unwrap();
        assert_eq!(s.0.len(), 4);
        assert_eq!(s.0[0].duration, Duration::from_secs(60));
        assert_eq!((s.0[2].target, s.peak()), (300.0, 300.0));
        assert_eq!(s.total(), Duration::from_secs(420));
        assert!(
            "1m".parse::<Stages>()
                .unwrap_err()
                .contains("DURATION:TARGET")
        );
        assert!("1m:-3".parse::<Stages>().unwrap_err().contains("from 0"));
        assert!("0s:5".parse::<Stages>().unwrap_err().contains("0 s"));
        assert!("".parse::<Stages>().is_err());
        let yaml = |t: &str| serde_yaml::from_str::<Stages>(t).map_err(|e| e.to_string());
        assert_eq!(yaml("1m:150,2m:0"), Ok("1m:150,2m:0".parse().unwrap()));
        assert_eq!(
            yaml("[1m:150, '30s:0']"),
            Ok("1m:150,30s:0".parse().unwrap())
        );
        assert_eq!(
            yaml("- {duration: 90, target: 10}\n- {duration: 1m, target: 0}"),
            Ok("90s:10,1m:0".parse().unwrap())
        );
        assert!(yaml("[]").is_err());
        // As a settled plan sends them: exactly what was serialized, nanoseconds included.
        let odd = Stages(vec![Stage {
            duration: Duration::new(61, 123_456_789),
            target: 12.5,
        }]);
        let json = serde_json::to_string(&odd).unwrap();
        assert_eq!(serde_json::from_str::<Stages>(&json).unwrap(), odd);
        assert!(
            serde_json::from_str::<Stages>(r#"[{"duration":{"secs":1,"nanos":0},"target":-1}]"#)
                .is_err()
        );
    }
}
