//! What iris-lab looks at in a cluster and how to reach it: the inputs of [`super::connect`],
//! built by the settings (`config`) from flags and file.

use std::path::PathBuf;
use std::time::Duration;

/// The Kubernetes objects iris-lab looks at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetNames {
    pub deployment: String,
    pub service: String,
    pub hpa: String,
    /// Label selector of the pods, `app=NAME`.
    pub selector: String,
}

impl TargetNames {
    pub fn for_app(app: &str) -> Self {
        Self {
            deployment: app.to_string(),
            service: format!("{app}-service"),
            hpa: format!("{app}-hpa"),
            selector: format!("app={app}"),
        }
    }
}

/// How to reach the cluster; `None` means "as kubectl would choose".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    /// Time limit of each request (not of watches).
    pub request_timeout: Option<Duration>,
}
