//! A kube client built from the kubeconfig the way kubectl chooses one, and the translation of
//! kube's errors into [`ClusterError`]s that say what to do (and never carry a credential).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::client::AuthError;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::error::{Access, ClusterError};
use super::{ClusterOptions, TargetNames};
use iris_base::chain::one_line;

/// How long to wait for a TCP connection to the API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a one-shot request (get, list, patch) may take unless `--kube-timeout` says.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A connection to the cluster, the namespace in use and the objects iris-lab looks at.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
    pub names: TargetNames,
    /// The API server's URL, for error messages.
    pub server: String,
    /// Time limit of each one-shot request.
    pub request_timeout: Duration,
    /// The exec credential plugin of the context's user, if any (e.g. gke-gcloud-auth-plugin).
    exec_command: Option<String>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Where the kubeconfig comes from: the flag, else KUBECONFIG, else ~/.kube/config.
/// Also says which file(s) it read, for error messages.
fn read_kubeconfig(explicit: Option<&Path>) -> Result<(Kubeconfig, PathBuf), ClusterError> {
    if let Some(path) = explicit {
        return Ok((read_file(path)?, path.to_path_buf()));
    }
    if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            return Err(ClusterError::NoKubeconfig {
                searched: format!(
                    "KUBECONFIG={} names no existing file",
                    value.to_string_lossy()
                ),
            });
        }
        let mut merged = Kubeconfig::default();
        for path in &existing {
            merged = merged
                .merge(read_file(path)?)
                .map_err(|e| invalid(path, &e))?;
        }
        return Ok((merged, PathBuf::from(value)));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.map(|h| h.join(".kube").join("config")) {
        Some(path) if path.exists() => Ok((read_file(&path)?, path)),
        Some(path) => Err(ClusterError::NoKubeconfig {
            searched: format!(
                "no --kubeconfig, KUBECONFIG unset, {} does not exist",
                path.display()
            ),
        }),
        None => Err(ClusterError::NoKubeconfig {
            searched: "no --kubeconfig, KUBECONFIG unset, HOME unset".into(),
        }),
    }
}

fn read_file(path: &Path) -> Result<Kubeconfig, ClusterError> {
    Kubeconfig::read_from(path).map_err(|e| match e {
        KubeconfigError::ReadConfig(source, _) if source.kind() == std::io::ErrorKind::NotFound => {
            ClusterError::NoKubeconfig {
                searched: format!("{} does not exist", path.display()),
            }
        }
        KubeconfigError::ReadConfig(source, _) => ClusterError::KubeconfigUnreadable {
            path: path.display().to_string(),
            source,
        },
        other => invalid(path, &other),
    })
}

fn invalid(path: &Path, e: &KubeconfigError) -> ClusterError {
    let message = match e {
        // A YAML error can quote the document, and the document can hold tokens: say less.
        KubeconfigError::Parse(_) => "it is not a kubeconfig YAML document".to_string(),
        other => other.to_string(),
    };
    ClusterError::KubeconfigInvalid {
        path: path.display().to_string(),
        message,
    }
}

/// Connects as kubectl would: the kubeconfig, the context, then the namespace.
pub async fn connect(opts: &ClusterOptions, names: &TargetNames) -> Result<Cluster, ClusterError> {
    let (kubeconfig, path) = read_kubeconfig(opts.kubeconfig.as_deref())?;
    let available = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let available = if available.is_empty() {
        "none".to_string()
    } else {
        available
    };
    let context_name = match opts
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    {
        Some(name) => name,
        None => return Err(ClusterError::NoContext { available }),
    };
    let Some(context) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
    else {
        return Err(ClusterError::UnknownContext {
            name: context_name,
            available,
        });
    };
    let user = context.user.clone();
    let exec_command = kubeconfig
        .auth_infos
        .iter()
        .find(|a| Some(&a.name) == user.as_ref())
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref())
        .and_then(|e| e.command.clone());
    let options = KubeConfigOptions {
        context: Some(context_name),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| invalid(&path, &e))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // No read timeout: a quiet watch is normal. One-shot requests are limited in `call`.
    // kube retries 429/503 for minutes by default; an unavailable metrics API must answer now.
    config.default_retry = false;
    let namespace = opts
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    // kube runs an exec credential plugin here, for the first token.
    let client = kube::Client::try_from(config).map_err(|e| match e {
        kube::Error::Auth(auth) => auth_error(exec_command.as_deref(), auth),
        other => ClusterError::KubeconfigInvalid {
            path: path.display().to_string(),
            message: format!("could not set up the connection: {}", safe_detail(&other)),
        },
    })?;
    Ok(Cluster {
        client,
        request_timeout: opts.request_timeout.unwrap_or(REQUEST_TIMEOUT),
        namespace,
        names: names.clone(),
        server,
        exec_command,
    })
}

impl Cluster {
    /// Names a request for error messages.
    pub fn access(&self, verb: &'static str, resource: &str, name: Option<&str>) -> Access {
        Access {
            verb,
            resource: resource.to_string(),
            name: name.map(str::to_string),
            namespace: self.namespace.clone(),
        }
    }

    /// Runs one request within the time limit, turning its errors into [`ClusterError`]s.
    pub async fn call<T>(
        &self,
        access: Access,
        kind: &'static str,
        request: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(result) => result.map_err(|e| self.fail(access, kind, e)),
            Err(_) => Err(ClusterError::Timeout {
                server: self.server.clone(),
                access: Box::new(access),
                after: iris_base::units::format_duration(self.request_timeout),
            }),
        }
    }

    /// Turns a kube error on `access` into one line that says what to do. `kind` names the
    /// object for a 404 (`Deployment`).
    pub fn fail(&self, access: Access, kind: &'static str, err: kube::Error) -> ClusterError {
        match err {
            kube::Error::Api(status) => match status.code {
                401 => ClusterError::Unauthorized {
                    server: self.server.clone(),
                },
                403 => ClusterError::Forbidden {
                    verb: access.verb,
                    resource: access.resource.clone(),
                    namespace: access.namespace.clone(),
                    can_i: match access.resource.split_once('/') {
                        Some((resource, sub)) => {
                            format!("{} {resource} --subresource={sub}", access.verb)
                        }
                        None => format!("{} {}", access.verb, access.resource),
                    },
                },
                404 => ClusterError::NotFound {
                    kind,
                    name: access
                        .name
                        .clone()
                        .unwrap_or_else(|| access.resource.clone()),
                    namespace: access.namespace.clone(),
                },
                code => ClusterError::Api {
                    access: Box::new(access),
                    code,
                    reason: status.reason.clone(),
                    message: status.message.clone(),
                },
            },
            kube::Error::Auth(auth) => auth_error(self.exec_command.as_deref(), auth),
            kube::Error::HyperError(_) | kube::Error::Service(_) => ClusterError::Unreachable {
                server: self.server.clone(),
                detail: safe_detail(&err),
            },
            kube::Error::SerdeError(e) => ClusterError::Protocol {
                access: Box::new(access),
                detail: format!("the JSON did not decode: {e}"),
            },
            other => ClusterError::Protocol {
                access: Box::new(access),
                detail: safe_detail(&other),
            },
        }
    }
}

/// A credential error in words, never with the plugin's stdout (where the token lives).
fn auth_error(command: Option<&str>, err: AuthError) -> ClusterError {
    let command = command.unwrap_or("exec").to_string();
    let hint = if command.contains("gke-gcloud-auth-plugin") {
        "; install it with `gcloud components install gke-gcloud-auth-plugin` and run `gcloud auth login`"
    } else {
        ""
    };
    let plugin = |detail: String| ClusterError::CredentialPlugin {
        command: command.clone(),
        detail,
        hint,
    };
    match err {
        AuthError::AuthExecStart(e) => plugin(e.to_string()),
        AuthError::AuthExecRun { out, .. } => {
            // Only stderr: stdout of a credential plugin is where the token lives.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let said = if first.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", first.trim())
            };
            plugin(format!("it exited with {}{said}", out.status))
        }
        AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed => {
            plugin("its output is not an ExecCredential with a status".into())
        }
        AuthError::MalformedTokenExpirationDate(_) => {
            plugin("the token's expirationTimestamp is malformed".into())
        }
        AuthError::AuthExec(_) | AuthError::AuthExecSerialize(_) => {
            plugin("the plugin could not be run as configured".into())
        }
        AuthError::InvalidBearerToken(_) | AuthError::InvalidBasicAuth(_) => {
            ClusterError::Credentials("the token or password is not a valid header value".into())
        }
        AuthError::ReadTokenFile(e, path) => {
            ClusterError::Credentials(format!("cannot read token file {}: {e}", path.display()))
        }
        _ => ClusterError::Credentials(
            "the kubeconfig's user entry could not be used (unsupported auth provider?)".into(),
        ),
    }
}

/// The cause chain of a transport error, without kube's debug dumps.
fn safe_detail(err: &kube::Error) -> String {
    match err {
        kube::Error::Service(e) => one_line(e.as_ref()),
        kube::Error::HyperError(e) => one_line(e),
        other => {
            let text = one_line(other);
            text.split(" (").next().unwrap_or(&text).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_explicit_kubeconfig_names_the_file_and_the_way_out() {
        let err = read_kubeconfig(Some(Path::new("/nonexistent/kube.yaml"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/nonexistent/kube.yaml does not exist"),
            "{text}"
        );
        assert!(text.contains("--kubeconfig"), "{text}");
        assert!(err.is_config());
    }

    #[test]
    fn a_broken_kubeconfig_is_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "users: [ {token: s3cr3t-token\n").unwrap();
        let text = read_file(&path).unwrap_err().to_string();
        assert!(text.contains("is not valid"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
