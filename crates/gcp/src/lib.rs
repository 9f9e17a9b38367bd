//! Google Cloud from the client's side: credentials ([`auth`]) and the Cloud Trace API v1 list
//! endpoint ([`cloud_trace`], wire format in [`wire`]).
//!
//! ## Why `gcp_auth` and not `google-cloud-auth`
//! Both were compared at their crates.io versions (gcp_auth 0.12.7, google-cloud-auth 1.19.0):
//! - `gcp_auth` follows Application Default Credentials in the order the guide's users have them:
//!   `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key whose JWT bearer grant is posted to
//!   the key's own `token_uri`), `~/.config/gcloud/application_default_credentials.json` from
//!   `gcloud auth application-default login`, the GCE/GKE metadata server, then
//!   `gcloud auth print-access-token`. Its TLS is hyper-rustls with an `aws-lc-rs` feature, the
//!   provider this project already uses, and it is small (~800 lines; hyper, which we have).
//! - `google-cloud-auth` (the official SDK's crate) signs a self-signed JWT for service-account
//!   keys instead of calling `token_uri`, so a key file's `token_uri` is not honoured (nor testable
//!   against a fake token endpoint); it has no `gcloud` fallback; and it brings the SDK's
//!   `google-cloud-gax` and a second `base64` major version.
//!
//! Each ADC step is a public `gcp_auth` provider; [`auth::Credentials::discover`] calls them in
//! order itself so that "no credentials" can say what was tried, and adds the
//! `GOOGLE_OAUTH_ACCESS_TOKEN` override first. Tokens and keys are never printed, logged or saved:
//! [`auth::Secret`] has no `Display` and a redacted `Debug`.

pub mod auth;
pub mod cloud_trace;
pub mod compute;
pub mod fetch;
pub mod wire;

pub use auth::Credentials;
pub use cloud_trace::{ListQuery, Listed, TraceApi};

/// The permission and role `trace` needs, named in access errors.
pub const PERMISSION: &str = "cloudtrace.traces.list";
pub const ROLE: &str = "roles/cloudtrace.user";

/// What can go wrong talking to Google Cloud; each is one readable line.
#[derive(Debug, thiserror::Error)]
pub enum GcpError {
    #[error(
        "no Google credentials found; tried in order: {}. Run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file",
        tried.join("; ")
    )]
    NoCredentials { tried: Vec<String> },

    #[error("could not get an access token from {account}: {detail}")]
    Token { account: String, detail: String },

    #[error(
        "Cloud Trace refused {account} (HTTP {status}) on project {project}: it needs permission {PERMISSION} (role {ROLE}){message}"
    )]
    Denied {
        status: u16,
        account: String,
        project: String,
        message: String,
    },

    #[error(
        "Cloud Trace has no project {project} (HTTP 404): check --gcp-project (the project id, not its name or number){message}"
    )]
    NoProject { project: String, message: String },

    #[error(
        "Cloud Trace still answered HTTP {status} after {attempts} attempts{message}; try again later or fetch fewer traces with --max-traces"
    )]
    Throttled {
        status: u16,
        attempts: u32,
        message: String,
    },

    #[error("Cloud Trace answered HTTP {status}{message}")]
    Status { status: u16, message: String },

    #[error("could not reach Cloud Trace at {url}: {detail}")]
    Unreachable { url: String, detail: String },

    #[error(
        "Cloud Trace has no traces in project {project} from {start} to {end} (filter `{filter}`): usually the requests were not sampled (run `load --trace-sample`, and check the service's sampler follows the parent's sampled flag), the service's exporter did not send them (its Cloud Trace exporter and roles/cloudtrace.agent), or the window is wrong (spans take a minute or two to appear; check the project and the filter)"
    )]
    NoTraces {
        project: String,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        filter: String,
    },

    /// Traces to fetch, but no project to fetch them from.
    #[error(
        "{file} has no saved traces: pass --gcp-project PROJECT (or set GOOGLE_CLOUD_PROJECT) to fetch them from Cloud Trace"
    )]
    ProjectNotGiven { file: String },

    #[error(transparent)]
    Save(#[from] iris_record::WriteError),

    #[error("Cloud Trace sent a response this tool cannot read: {0}")]
    BadResponse(String),

    #[error(
        "IRIS_LAB_CLOUD_TRACE_URL is not a URL ({0}); give e.g. https://cloudtrace.googleapis.com"
    )]
    BadBaseUrl(String),
}

impl GcpError {
    /// Whether the user must give something they did not (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, GcpError::ProjectNotGiven { .. })
    }
}

/// The deepest cause of an error, one line: what a person needs, not the wrapper chain.
pub fn deepest(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let (top, bottom) = (err.to_string(), last.to_string());
    if top.contains(&bottom) {
        top
    } else {
        format!("{top}: {bottom}")
    }
    .replace('\n', " ")
}
