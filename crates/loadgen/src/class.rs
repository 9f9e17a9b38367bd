//! User classes: the built-in Locust classes of the guide and custom ones from a scenario file.

use std::path::Path;

use bytes::Bytes;
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::LoadgenError as Error;
use iris_api::{Features, Species};
use iris_base::units::{Stages, Wait};
use iris_base::usage::UsageError;
use iris_base::yaml::ConfigError;
use iris_base::yaml::{parse_yaml, parse_yaml_file};

/// The built-in classes, as in the guide's locustfile.
pub const BUILTIN_CLASSES: [&str; 3] = ["IrisPredictionAPIUser", "HighLoadUser", "StressTestUser"];

/// How a task's response is judged; the contract's failure rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Locust's default: only an HTTP error status (>= 400) or no response fails.
    None,
    /// The status must be 200.
    Status,
    /// 200 and a JSON body.
    Json,
    /// 200, JSON, and each of these top-level fields present.
    Fields(Vec<String>),
    /// 200, JSON, `"status": "healthy"`.
    Health,
    /// 200, JSON, the four predict fields (server timings are recorded).
    Predict,
}

/// What a task sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    /// A fixed JSON document.
    Json(Bytes),
    /// The guide's generator: a random species, each feature uniform in its range, 1 decimal.
    Iris,
}

impl Body {
    pub fn render(&self, rng: &mut impl Rng) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::Json(bytes) => bytes.clone(),
            Body::Iris => Bytes::from(features_json(&random_features(rng))),
        }
    }
}

/// `serde_json::to_vec(features)`, written directly: this runs once per request, and the
/// generator's values (one decimal) need no float formatting.
pub fn features_json(f: &Features) -> Vec<u8> {
    let values = [f.sepal_length, f.sepal_width, f.petal_length, f.petal_width];
    let mut out = Vec::with_capacity(96);
    for (i, (name, v)) in Features::NAMES.iter().zip(values).enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        let tenths = (v * 10.0).round();
        if (0.0..1e6).contains(&tenths) && tenths / 10.0 == v {
            // Exact to one decimal: the shortest form that reads back is `int.digit`.
            let tenths = tenths as u32;
            push_decimal(&mut out, tenths / 10);
            out.push(b'.');
            out.push(b'0' + (tenths % 10) as u8);
        } else {
            let _ = serde_json::to_writer(&mut out, &v);
        }
    }
    out.push(b'}');
    out
}

fn push_decimal(out: &mut Vec<u8>, n: u32) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(b'0' + (n % 10) as u8);
}

/// A body of the guide's load test: a random species, each feature drawn from its range.
pub fn random_features(rng: &mut impl Rng) -> Features {
    let species = Species::ALL[rng.random_range(0..Species::ALL.len())];
    let f = species
        .feature_ranges()
        .map(|(lo, hi)| (rng.random_range(lo..=hi) * 10.0).round() / 10.0);
    Features::new(f[0], f[1], f[2], f[3])
}

/// One request a user makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub method: http::Method,
    pub path: String,
    /// The name statistics are grouped by (Locust's `name=`), the path unless given.
    pub name: String,
    pub body: Body,
    pub check: Check,
    pub weight: u32,
    /// Index of (method, name) in [`UserClass::endpoints`]; set by [`UserClass::new`].
    pub endpoint: usize,
}

impl Task {
    pub fn new(method: http::Method, path: &str, body: Body, check: Check, weight: u32) -> Self {
        Self {
            method,
            path: path.to_string(),
            name: path.to_string(),
            body,
            check,
            weight,
            endpoint: 0,
        }
    }
}

/// A user class: what a virtual user does, in Locust's terms.
///
/// Serialized in the scenario file's own shape (one entry of its `classes:`), and read back
/// through the same checks: a settled plan carries its class, a scenario's included, to the
/// workers of a distributed run, which never read the file.
#[derive(Debug, Clone, PartialEq)]
pub struct UserClass {
    pub name: String,
    pub wait: Wait,
    pub on_start: Vec<Task>,
    pub tasks: Vec<Task>,
    /// Distinct (method, name) pairs in order of first appearance: the rows of the statistics.
    pub endpoints: Vec<(String, String)>,
    cumulative: Vec<u32>,
}

impl UserClass {
    pub fn new(
        name: &str,
        wait: Wait,
        on_start: Vec<Task>,
        tasks: Vec<Task>,
    ) -> Result<Self, String> {
        if tasks.is_empty() {
            return Err(format!("user class {name} has no tasks"));
        }
        let mut endpoints: Vec<(String, String)> = Vec::new();
        let mut index = |t: &mut Task| {
            let key = (t.method.to_string(), t.name.clone());
            t.endpoint = match endpoints.iter().position(|e| *e == key) {
                Some(i) => i,
                None => {
                    endpoints.push(key);
                    endpoints.len() - 1
                }
            };
        };
        let mut on_start = on_start;
        let mut tasks = tasks;
        on_start.iter_mut().for_each(&mut index);
        tasks.iter_mut().for_each(&mut index);
        let mut total = 0u32;
        let mut cumulative = Vec::with_capacity(tasks.len());
        for t in &tasks {
            if t.weight == 0 {
                return Err(format!("user class {name}: task {} has weight 0", t.name));
            }
            total = total.saturating_add(t.weight);
            cumulative.push(total);
        }
        Ok(Self {
            name: name.to_string(),
            wait,
            on_start,
            tasks,
            endpoints,
            cumulative,
        })
    }

    /// A task drawn with probability proportional to its weight.
    pub fn pick(&self, rng: &mut impl Rng) -> &Task {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.tasks[i.min(self.tasks.len() - 1)]
    }

    /// One of the guide's classes by name.
    pub fn builtin(name: &str) -> Option<Self> {
        let wait = match name {
            "IrisPredictionAPIUser" => Wait { min: 0.5, max: 2.0 },
            "HighLoadUser" => Wait { min: 0.1, max: 0.5 },
            "StressTestUser" => Wait {
                min: 0.05,
                max: 0.2,
            },
            _ => return None,
        };
        use http::Method;
        let health = || Task::new(Method::GET, "/health", Body::Empty, Check::Health, 2);
        let mut tasks = vec![
            Task::new(Method::POST, "/predict", Body::Iris, Check::Predict, 10),
            health(),
            Task::new(Method::GET, "/", Body::Empty, Check::Status, 1),
            Task::new(Method::GET, "/docs", Body::Empty, Check::Status, 1),
        ];
        if name == "StressTestUser" {
            tasks.push(Task::new(
                Method::POST,
                "/predict",
                Body::Iris,
                Check::None,
                15,
            ));
        }
        Self::new(name, wait, vec![health()], tasks).ok()
    }

    /// The class named `name` (or the file's only class) from a scenario file, else a built-in.
    pub fn resolve(name: Option<&str>, scenario: Option<&Path>) -> Result<Self, Error> {
        Self::resolve_with_stages(name, scenario).map(|(class, _)| class)
    }

    /// As [`UserClass::resolve`], with the scenario file's `stages:` when it has them.
    pub fn resolve_with_stages(
        name: Option<&str>,
        scenario: Option<&Path>,
    ) -> Result<(Self, Option<Stages>), Error> {
        let Some(path) = scenario else {
            let name = name.unwrap_or(BUILTIN_CLASSES[0]);
            return Self::builtin(name).map(|c| (c, None)).ok_or_else(|| {
                Error::Usage(UsageError::unknown_user_class(name, &BUILTIN_CLASSES))
            });
        };
        Self::choose(parse_yaml_file(path)?, name, path)
    }

    /// A scenario's class (the one named, or its only one) and its stages, from the scenario's
    /// YAML text as a caller without a file has it (a web page); `origin` names it in errors.
    /// The same checks as `--scenario FILE`.
    pub fn from_scenario(
        name: Option<&str>,
        origin: &Path,
        text: &str,
    ) -> Result<(Self, Option<Stages>), Error> {
        Self::choose(parse_yaml(origin, text)?, name, origin)
    }

    fn choose(
        file: ScenarioFile,
        name: Option<&str>,
        path: &Path,
    ) -> Result<(Self, Option<Stages>), Error> {
        let invalid = |message: String| {
            Error::Scenario(ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })
        };
        let names: Vec<&str> = file.classes.iter().map(|c| c.name.as_str()).collect();
        let chosen = match name {
            Some(n) => match file.classes.iter().find(|c| c.name == n) {
                Some(c) => c,
                None => {
                    return Self::builtin(n).map(|c| (c, file.stages)).ok_or_else(|| {
                        invalid(format!(
                            "no user class {n:?} here; it defines {}",
                            names.join(", ")
                        ))
                    });
                }
            },
            None if file.classes.len() == 1 => &file.classes[0],
            None => {
                return Err(invalid(format!(
                    "it defines {} classes ({}): choose one with --user-class",
                    names.len(),
                    names.join(", ")
                )));
            }
        };
        let class = chosen.to_class().map_err(invalid)?;
        Ok((class, file.stages.clone()))
    }
}

impl Serialize for UserClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ClassFile::of(self)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for UserClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ClassFile::deserialize(d)?
            .to_class()
            .map_err(serde::de::Error::custom)
    }
}

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    classes: Vec<ClassFile>,
    /// The load's shape, as `--stages` takes it (the flag wins).
    #[serde(default)]
    stages: Option<Stages>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    name: String,
    /// `A..B` seconds, as `--wait` takes it.
    wait: WaitText,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    on_start: Vec<TaskFile>,
    tasks: Vec<TaskFile>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum WaitText {
    Text(String),
    Number(f64),
    /// `{min: 0.5, max: 2}`: how a class serializes its wait (exactly).
    Range {
        min: f64,
        max: f64,
    },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    #[serde(default = "default_method")]
    method: String,
    path: String,
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<BodyFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<CheckFile>,
    #[serde(default = "default_weight")]
    weight: u32,
}

fn default_method() -> String {
    "GET".into()
}
fn default_weight() -> u32 {
    1
}

/// `body: iris` (the guide's random flower) or `body: {json: ...}` (a fixed document).
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum BodyFile {
    Generator(String),
    Json { json: serde_json::Value },
}

/// `check: none|status|json|health|predict` or `check: {fields: [a, b]}`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum CheckFile {
    Named(String),
    Fields { fields: Vec<String> },
}

impl ClassFile {
    /// The class as a scenario file would define it (a JSON body must be JSON).
    fn of(class: &UserClass) -> Result<Self, String> {
        let tasks = |tasks: &[Task]| -> Result<Vec<TaskFile>, String> {
            tasks.iter().map(TaskFile::of).collect()
        };
        Ok(Self {
            name: class.name.clone(),
            wait: WaitText::Range {
                min: class.wait.min,
                max: class.wait.max,
            },
            on_start: tasks(&class.on_start)?,
            tasks: tasks(&class.tasks)?,
        })
    }

    fn to_class(&self) -> Result<UserClass, String> {
        let wait = match &self.wait {
            WaitText::Text(t) => t.parse::<Wait>(),
            WaitText::Number(n) => Wait::new(*n, *n),
            WaitText::Range { min, max } => Wait::new(*min, *max),
        }
        .map_err(|e| format!("class {}: wait: {e}", self.name))?;
        let convert = |tasks: &[TaskFile]| -> Result<Vec<Task>, String> {
            tasks.iter().map(|t| t.to_task(&self.name)).collect()
        };
        UserClass::new(
            &self.name,
            wait,
            convert(&self.on_start)?,
            convert(&self.tasks)?,
        )
    }
}

impl TaskFile {
    fn of(task: &Task) -> Result<Self, String> {
        let body = match &task.body {
            Body::Empty => None,
            Body::Iris => Some(BodyFile::Generator("iris".into())),
            Body::Json(bytes) => Some(BodyFile::Json {
                json: serde_json::from_slice(bytes)
                    .map_err(|e| format!("task {}: the body is not JSON: {e}", task.name))?,
            }),
        };
        let named = |name: &str| Some(CheckFile::Named(name.into()));
        let check = match &task.check {
            Check::None => None,
            Check::Status => named("status"),
            Check::Json => named("json"),
            Check::Health => named("health"),
            Check::Predict => named("predict"),
            Check::Fields(fields) => Some(CheckFile::Fields {
                fields: fields.clone(),
            }),
        };
        Ok(Self {
            method: task.method.to_string(),
            path: task.path.clone(),
            name: (task.name != task.path).then(|| task.name.clone()),
            body,
            check,
            weight: task.weight,
        })
    }

    fn to_task(&self, class: &str) -> Result<Task, String> {
        let method = http::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("class {class}: {:?} is not an HTTP method", self.method))?;
        if !self.path.starts_with('/') {
            return Err(format!(
                "class {class}: path {:?} must start with /",
                self.path
            ));
        }
        if self.path.parse::<http::uri::PathAndQuery>().is_err() {
            return Err(format!(
                "class {class}: path {:?} is not a valid URL path",
                self.path
            ));
        }
        let body = match &self.body {
            None => Body::Empty,
            Some(BodyFile::Generator(g)) if g == "iris" => Body::Iris,
            Some(BodyFile::Generator(g)) => {
                return Err(format!(
                    "class {class}: unknown body generator {g:?}: use `iris` or `{{json: ...}}`"
                ));
            }
            Some(BodyFile::Json { json }) => Body::Json(Bytes::from(json.to_string())),
        };
        let check = match &self.check {
            None => Check::None,
            Some(CheckFile::Named(n)) => match n.as_str() {
                "none" => Check::None,
                "status" => Check::Status,
                "json" => Check::Json,
                "health" => Check::Health,
                "predict" => Check::Predict,
                other => {
                    return Err(format!(
                        "class {class}: unknown check {other:?}: use none, status, json, health, predict or {{fields: [...]}}"
                    ));
                }
            },
            Some(CheckFile::Fields { fields }) => Check::Fields(fields.clone()),
        };
        let mut task = Task::new(method, &self.path, body, check, self.weight);
        if let Some(name) = &self.name {
            task.name = name.clone();
        }
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn builtin_classes_match_the_contract() {
        let c = UserClass::builtin("IrisPredictionAPIUser").unwrap();
        assert_eq!(c.wait, Wait { min: 0.5, max: 2.0 });
        let weights: Vec<_> = c
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(
            weights,
            [("/predict", 10), ("/health", 2), ("/", 1), ("/docs", 1)]
        );
        assert_eq!(c.on_start.len(), 1);
        assert_eq!(c.endpoints[0], ("GET".to_string(), "/health".to_string()));
        let s = UserClass::builtin("StressTestUser").unwrap();
        assert_eq!(s.tasks.len(), 5);
        assert_eq!(
            s.tasks[0].endpoint, s.tasks[4].endpoint,
            "both predicts share a row"
        );
        assert!(UserClass::builtin("Nope").is_none());
    }

    #[test]
    fn weighted_picks_follow_the_weights() {
        let c = UserClass::builtin("IrisPredictionAPIUser").unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0u32; 4];
        for _ in 0..14_000 {
            let t = c.pick(&mut rng);
            let i = c.tasks.iter().position(|x| std::ptr::eq(x, t)).unwrap();
            counts[i] += 1;
        }
        // Expected 10000, 2000, 1000, 1000 (binomial sigma about 53, 41, 30, 30): the 10%
        // tolerance is 3.3 sigma for the smallest counts; the seed makes the run repeatable.
        for (got, want) in counts.iter().zip([10_000.0, 2_000.0, 1_000.0, 1_000.0]) {
            assert!((f64::from(*got) - want).abs() < want * 0.1, "{counts:?}");
        }
    }

    #[test]
    fn iris_bodies_stay_in_a_species_range() {
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..1000 {
            let f = random_features(&mut rng).as_array();
            let fits = Species::ALL.iter().any(|s| {
                s.feature_ranges().iter().zip(f).all(|((lo, hi), v)| {
                    v >= *lo - 1e-9 && v <= *hi + 1e-9 && (v * 10.0).fract().abs() < 1e-6
                })
            });
            assert!(fits, "{f:?}");
        }
    }

    #[test]
    fn waits_sample_inside_their_range() {
        let mut rng = SmallRng::seed_from_u64(3);
        let w = Wait::new(0.1, 0.5).unwrap();
        for _ in 0..100 {
            let s = w.sample(&mut rng).as_secs_f64();
            assert!((0.1..=0.5).contains(&s));
        }
        assert!(Wait::new(2.0, 1.0).is_err());
        assert_eq!(
            Wait::new(0.0, 0.0).unwrap().sample(&mut rng),
            std::time::Duration::ZERO
        );
    }

    fn scenario(yaml: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), yaml).unwrap();
        f
    }

    #[test]
    fn a_scenario_file_defines_classes() {
        let f = scenario(
            "classes:\n- name: Reader\n  wait: 0.1..0.2\n  on_start:\n  - {path: /health, check: health}\n  \
             tasks:\n  - {method: post, path: /predict, body: iris, check: predict, weight: 3}\n  \
             - {method: POST, path: /predict, name: fixed, body: {json: {sepal_length: 1}}, check: {fields: [total_time]}}\n",
        );
        let c = UserClass::resolve(None, Some(f.path())).unwrap();
        assert_eq!(c.name, "Reader");
        assert_eq!(c.tasks[0].weight, 3);
        assert_eq!(c.tasks[1].name, "fixed");
        assert_eq!(c.tasks[1].check, Check::Fields(vec!["total_time".into()]));
        assert_eq!(
            c.tasks[1].body,
            Body::Json(Bytes::from(r#"{"sepal_length":1}"#))
        );
        assert_eq!(c.endpoints.len(), 3);
        // A built-in is still reachable by name.
        assert_eq!(
            UserClass::resolve(Some("HighLoadUser"), Some(f.path()))
                .unwrap()
                .name,
            "HighLoadUser"
        );
    }

    #[test]
    fn classes_serialize_as_scenario_entries_and_read_back_exactly() {
        let f = scenario(
            "classes:\n- name: Reader\n  wait: 0.123456789..2\n  on_start:\n  - {path: /health, check: health}\n  \
             tasks:\n  - {method: patch, path: /predict?x=1, body: iris, check: predict, weight: 3}\n  \
             - {method: POST, path: /predict, name: fixed, body: {json: {b: [1, 2.5], a: null}}, check: {fields: [total_time]}}\n  \
             - {path: /, check: status}\n  - {path: /docs, check: json}\n  - {path: /x}\n",
        );
        let mut classes = vec![UserClass::resolve(None, Some(f.path())).unwrap()];
        classes.extend(
            BUILTIN_CLASSES
                .iter()
                .map(|n| UserClass::builtin(n).unwrap()),
        );
        for class in classes {
            let json = serde_json::to_string(&class).unwrap();
            let back: UserClass = serde_json::from_str(&json).unwrap();
            assert_eq!(back, class, "{json}");
        }
        // What it reads is checked as a scenario file is.
        let bad = r#"{"name":"A","wait":{"min":2,"max":1},"tasks":[{"path":"/"}]}"#;
        let e = serde_json::from_str::<UserClass>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("<="), "{e}");
    }

    #[test]
    fn a_scenario_reads_from_its_text_as_from_its_file() {
        let yaml = "classes:\n- {name: A, wait: 1, tasks: [{path: /}]}\nstages: [1s:3]\n";
        let f = scenario(yaml);
        let from_file = UserClass::resolve_with_stages(None, Some(f.path())).unwrap();
        let origin = Path::new("<web page>");
        assert_eq!(
            UserClass::from_scenario(None, origin, yaml).unwrap(),
            from_file
        );
        let e = UserClass::from_scenario(Some("B"), origin, yaml)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("<web page>") && e.contains("no user class"),
            "{e}"
        );
    }

    #[test]
    fn scenario_mistakes_are_clear() {
        let f = scenario("classes:\n- name: A\n  wait: 1..0\n  tasks: [{path: /}]\n");
        let e = UserClass::resolve(None, Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("wait") && e.contains("<="), "{e}");
        let f = scenario("classes:\n- name: A\n  wait: 1\n  tasks: [{path: x}]\n");
        assert!(
            UserClass::resolve(None, Some(f.path()))
                .unwrap_err()
                .to_string()
                .contains("must start with /")
        );
        let f = scenario(
            "classes:\n- {name: A, wait: 1, tasks: [{path: /}]}\n- {name: B, wait: 1, tasks: [{path: /}]}\n",
        );
        assert!(
            UserClass::resolve(None, Some(f.path()))
                .unwrap_err()
                .to_string()
                .contains("--user-class")
        );
        assert!(
            UserClass::resolve(Some("C"), Some(f.path()))
                .unwrap_err()
                .to_string()
                .contains("A, B")
        );
        let f = scenario("classes:\n- {name: A, wait: 1, tasks: [{path: /, wieght: 2}]}\n");
        assert!(
            UserClass::resolve(None, Some(f.path()))
                .unwrap_err()
                .to_string()
                .contains("line")
        );
        let e = UserClass::resolve(Some("Nope"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("IrisPredictionAPIUser"), "{e}");
    }

    #[test]
    fn iris_bodies_are_what_serde_json_writes() {
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..5000 {
            let f = random_features(&mut rng);
            assert_eq!(features_json(&f), serde_json::to_vec(&f).unwrap(), "{f:?}");
        }
        for f in [
            Features::new(0.0, 10.0, 123.4, 0.05),
            Features::new(-1.5, 1e300, f64::MIN_POSITIVE, 7.25),
        ] {
            assert_eq!(features_json(&f), serde_json::to_vec(&f).unwrap(), "{f:?}");
        }
    }
}
