//! The cluster room's errors: each is one line that says what to do. Mapped to exit codes at
//! the edge (`crate::error`).

/// What a request to the Kubernetes API was doing, to name it in errors (`list pods`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub verb: &'static str,
    /// Plural resource, with its group when not core: `pods`, `deployments.apps/scale`.
    pub resource: String,
    pub name: Option<String>,
    pub namespace: String,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        write!(f, " in namespace {}", self.namespace)
    }
}

/// Problems reaching or using the Kubernetes cluster. Each is one line that says what to do;
/// none ever carries a credential (tokens, plugin output, auth headers).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no kubeconfig found ({searched}): pass --kubeconfig FILE or set KUBECONFIG; on GKE run \
         `gcloud container clusters get-credentials CLUSTER --region REGION`"
    )]
    NoKubeconfig { searched: String },

    #[error("could not read kubeconfig {path}")]
    KubeconfigUnreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("kubeconfig {path} is not valid: {message}")]
    KubeconfigInvalid { path: String, message: String },

    #[error(
        "context {name:?} is not in the kubeconfig (contexts: {available}); pass --context with one of them"
    )]
    UnknownContext { name: String, available: String },

    #[error("the kubeconfig names no current context (contexts: {available}); pass --context NAME")]
    NoContext { available: String },

    #[error("could not run the credential plugin `{command}`: {detail}{hint}")]
    CredentialPlugin {
        command: String,
        detail: String,
        hint: &'static str,
    },

    #[error("could not get credentials from the kubeconfig: {0}")]
    Credentials(String),

    #[error(
        "cannot reach the Kubernetes API server at {server}: {detail}; check the cluster is up, the VPN/network, and the kubeconfig's server address"
    )]
    Unreachable { server: String, detail: String },

    #[error(
        "the API server at {server} did not answer within {after} (to {access}); check the cluster's health, or raise --kube-timeout"
    )]
    Timeout {
        server: String,
        access: Box<Access>,
        after: String,
    },

    #[error(
        "the API server at {server} rejected the credentials (401 Unauthorized): they are expired or invalid; refresh them (GKE: `gcloud auth login` and `gcloud container clusters get-credentials CLUSTER`)"
    )]
    Unauthorized { server: String },

    #[error(
        "forbidden (403): you may not {verb} {resource} in namespace {namespace}; ask for RBAC access (check with `kubectl auth can-i {can_i} -n {namespace}`)"
    )]
    Forbidden {
        verb: &'static str,
        resource: String,
        namespace: String,
        /// The arguments of `kubectl auth can-i` for it.
        can_i: String,
    },

    #[error(
        "{kind} {name:?} not found in namespace {namespace} (404); check --app / --namespace / --context"
    )]
    NotFound {
        kind: &'static str,
        name: String,
        namespace: String,
    },

    #[error("the API server refused to {access}: {code} {reason}: {message}")]
    Api {
        access: Box<Access>,
        code: u16,
        reason: String,
        message: String,
    },

    #[error("unexpected answer from the API server to {access}: {detail}")]
    Protocol { access: Box<Access>, detail: String },

    #[error(
        "missing permissions in namespace {namespace} to run distributed workers (each says no: {can_i}); ask for RBAC access (`--dry-run` prints the Role they need)"
    )]
    MissingPermissions {
        namespace: String,
        /// `kubectl auth can-i ...` for each missing permission, separated by "; ".
        can_i: String,
    },
}

impl ClusterError {
    /// Errors of configuration (exit 2) rather than of the cluster (exit 1).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ClusterError::NoKubeconfig { .. }
                | ClusterError::KubeconfigUnreadable { .. }
                | ClusterError::KubeconfigInvalid { .. }
                | ClusterError::UnknownContext { .. }
                | ClusterError::NoContext { .. }
        )
    }
}
