//! YAML files -> typed values: the only module that parses YAML (the config file, scenario
//! files, Kubernetes manifests) or writes it (`load --dry-run`). Errors say the file, line and
//! column.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Problems with the configuration file (and the YAML files it names, such as scenarios).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads a YAML file into `T`, with the path, line and column of any error.
pub fn parse_yaml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(path, &text)
}

/// Every document of a multi-document YAML text (Kubernetes manifests), each as `T`.
pub fn parse_yaml_documents<T: DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<Vec<T>, ConfigError> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| T::deserialize(doc).map_err(|e| yaml_error(path, e, None)))
        .collect()
}

/// A value as a YAML document (what `load --dry-run` prints).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    serde_yaml::to_string(value).map_err(|e| ConfigError::Parse {
        path: PathBuf::from("<output>"),
        line: 1,
        column: 1,
        message: e.to_string(),
    })
}

/// Parses YAML text that came from `path` (used in error messages only); an error names the
/// key it is about by its whole path (`load.users`).
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        yaml_error(path, e.into_inner(), Some(key))
    })
}

fn yaml_error(path: &Path, e: serde_yaml::Error, key: Option<String>) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    // serde_yaml appends " at line L column C" to the message: we say it in front.
    let message = e.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message: readable(&message, key.as_deref()),
    }
}

/// serde's words for a user: the key's whole path in front (serde_yaml says only the
/// enclosing mapping's), "a number" for a Rust type, the closest known key for an unknown one.
fn readable(message: &str, key: Option<&str>) -> String {
    // serde_yaml's own path ("load: ...") goes: the full one replaces it.
    let bare = match message.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(' ') && !prefix.contains('`') => rest,
        _ => message,
    };
    let bare = plain_types(bare);
    let (bare, key) = match unknown_key(&bare) {
        Some((name, said)) => (said, key.map(|k| parent_of(k, name))),
        None => (bare, key),
    };
    match key.filter(|k| !k.is_empty() && *k != ".") {
        Some(k) => format!("{k}: {bare}"),
        None => bare,
    }
}

/// `load.usres` -> `load` (the path of an unknown key may or may not include the key).
fn parent_of<'a>(key: &'a str, name: &str) -> &'a str {
    match key.rsplit_once('.') {
        Some((parent, last)) if last == name => parent,
        None if key == name => "",
        _ => key,
    }
}

/// `expected f64` -> `expected a number`, `expected u32` -> `expected a whole number`.
fn plain_types(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, plain) in [
        ("f64", "a number"),
        ("f32", "a number"),
        ("u8", "a whole number"),
        ("u16", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("usize", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
    ] {
        for word in ["expected ", "expected a ", "expected an "] {
            out = out.replace(&format!("{word}{rust}"), &format!("expected {plain}"));
        }
        out = out.replace(&format!("integer `{rust}`"), plain);
    }
    out
}

/// serde's "unknown field `x`, expected one of `a`, `b`" as "unknown key `x`: did you mean
/// `a`?" when a known key is close (Jaro-Winkler, as clap suggests flags), else with the list.
fn unknown_key(message: &str) -> Option<(&str, String)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, known) = rest.split_once('`')?;
    let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    let what = if message.starts_with("unknown field") {
        "key"
    } else {
        "value"
    };
    let closest = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let said = match closest {
        Some((_, k)) => format!("unknown {what} `{name}`: did you mean `{k}`?"),
        None if known.is_empty() => format!("unknown {what} `{name}`: none is known here"),
        None => format!(
            "unknown {what} `{name}`: the known ones are {}",
            known.join(", ")
        ),
    };
    Some((name, said))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Load {
        users: crate::units::Users,
        spawn_rate: Option<f64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct File {
        load: Option<Load>,
        time_scale: Option<f64>,
    }

    fn error(text: &str) -> String {
        parse_yaml::<File>(Path::new("c.yaml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_key_in_plain_words() {
        assert_eq!(
            error("load:\n  users: 0\n"),
            "config file c.yaml, line 2, column 3: load.users: must be at least 1"
        );
        let e = error("time_scale: fast\n");
        assert!(
            e.ends_with("time_scale: invalid type: string \"fast\", expected a number"),
            "{e}"
        );
        assert!(!e.contains("f64"), "{e}");
    }

    #[test]
    fn an_unknown_key_gets_the_closest_known_one() {
        let e = error("load:\n  usres: 5\n");
        assert!(
            e.ends_with("load: unknown key `usres`: did you mean `users`?"),
            "{e}"
        );
        let e = error("lod:\n  users: 5\n");
        assert!(
            e.ends_with("unknown key `lod`: did you mean `load`?"),
            "{e}"
        );
        let e = error("zzzzzz: 1\n");
        assert!(
            e.ends_with("unknown key `zzzzzz`: the known ones are load, time_scale"),
            "{e}"
        );
    }
}
