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
        .map(|doc| T::deserialize(doc).map_err(|e| yaml_error(path, e)))
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

/// Parses YAML text that came from `path` (used in error messages only).
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    serde_yaml::from_str(text).map_err(|e| yaml_error(path, e))
}

fn yaml_error(path: &Path, e: serde_yaml::Error) -> ConfigError {
    {
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
            message,
        }
    }
}
