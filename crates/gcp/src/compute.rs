//! The Compute Engine API v1 `firewalls.list` endpoint, read only: the VPC firewall rules of a
//! project, page by page (`nextPageToken`, bounded), with the `compute.readonly` scope. The
//! wire format is parsed into [`Firewall`]s; what the rules admit is decided in
//! `doctor::firewall`.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::auth::Credentials;
use super::{deepest, wire};

/// The API's base URL unless `IRIS_LAB_COMPUTE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://compute.googleapis.com";
pub const BASE_URL_ENV: &str = "IRIS_LAB_COMPUTE_URL";
pub const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";
pub const PERMISSION: &str = "compute.firewalls.list";
/// Pages read at most (500 rules each): 10,000 rules.
const MAX_PAGES: usize = 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One VPC firewall rule, as the API sends it (fields this tool reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Firewall {
    pub name: String,
    /// The network's URL (`.../global/networks/default`).
    #[serde(default)]
    pub network: String,
    /// Lower wins; the API's default is 1000.
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// `INGRESS` (the default) or `EGRESS`.
    #[serde(default = "ingress")]
    pub direction: String,
    #[serde(default)]
    pub source_ranges: Vec<String>,
    #[serde(default)]
    pub source_tags: Vec<String>,
    #[serde(default)]
    pub target_tags: Vec<String>,
    #[serde(default)]
    pub target_service_accounts: Vec<String>,
    #[serde(default)]
    pub allowed: Vec<Protocols>,
    #[serde(default)]
    pub denied: Vec<Protocols>,
    #[serde(default)]
    pub disabled: bool,
}

fn default_priority() -> i64 {
    1000
}

fn ingress() -> String {
    "INGRESS".into()
}

/// `{"IPProtocol": "tcp", "ports": ["80", "8000-8100"]}`; no ports means every port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Protocols {
    #[serde(rename = "IPProtocol")]
    pub ip_protocol: String,
    #[serde(default)]
    pub ports: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: Vec<serde_json::Value>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// One page of rules; an item that is not a rule is skipped and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct FirewallPage {
    pub rules: Vec<Firewall>,
    pub next_page_token: Option<String>,
    pub skipped: usize,
}

/// Parses one page of `firewalls.list`; an error is the reason in a few words.
pub fn parse_page(body: &[u8]) -> Result<FirewallPage, String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut rules = Vec::with_capacity(page.items.len());
    let mut skipped = 0;
    for item in page.items {
        match serde_json::from_value::<Firewall>(item) {
            Ok(rule) => rules.push(rule),
            Err(_) => skipped += 1,
        }
    }
    Ok(FirewallPage {
        rules,
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        skipped,
    })
}

/// What can go wrong listing firewall rules; each is one readable line.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error(transparent)]
    Auth(#[from] super::GcpError),

    #[error(
        "the Compute API refused {account} (HTTP {status}) on project {project}: it needs permission {PERMISSION} (e.g. roles/compute.networkViewer){message}"
    )]
    Denied {
        status: u16,
        account: String,
        project: String,
        message: String,
    },

    #[error("the Compute API answered HTTP {status} for project {project}{message}")]
    Status {
        status: u16,
        project: String,
        message: String,
    },

    #[error("could not reach the Compute API at {url}: {detail}")]
    Unreachable { url: String, detail: String },

    #[error("the Compute API sent a response this tool cannot read: {0}")]
    BadResponse(String),

    #[error("{BASE_URL_ENV} is not a URL ({0}); give e.g. https://compute.googleapis.com")]
    BadBaseUrl(String),
}

/// Every firewall rule of a project, and how many items could not be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub rules: Vec<Firewall>,
    pub skipped: usize,
}

pub struct ComputeApi {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
}

impl ComputeApi {
    pub fn new(credentials: Credentials) -> Result<ComputeApi, ComputeError> {
        let base = std::env::var(BASE_URL_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base = Url::parse(base.trim()).map_err(|e| ComputeError::BadBaseUrl(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(ComputeError::BadBaseUrl(base.to_string()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("iris-lab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ComputeError::Unreachable {
                url: base.to_string(),
                detail: deepest(&e),
            })?;
        Ok(ComputeApi {
            http,
            base,
            credentials,
        })
    }

    fn url(&self, project: &str, page_token: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend([
                "compute",
                "v1",
                "projects",
                project,
                "global",
                "firewalls",
            ]);
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("maxResults", "500");
            if let Some(t) = page_token {
                q.append_pair("pageToken", t);
            }
        }
        url
    }

    /// Lists the project's firewall rules, following page tokens (bounded).
    pub async fn firewalls(&self, project: &str) -> Result<Rules, ComputeError> {
        let mut out = Rules::default();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(project, token.as_deref()).await?;
            out.rules.extend(page.rules);
            out.skipped += page.skipped;
            match page.next_page_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn page(&self, project: &str, token: Option<&str>) -> Result<FirewallPage, ComputeError> {
        let secret = self.credentials.token_for(SCOPE).await?;
        let unreachable = |e: reqwest::Error| ComputeError::Unreachable {
            url: self.base.to_string(),
            detail: deepest(&e),
        };
        let response = self
            .http
            .get(self.url(project, token))
            .bearer_auth(secret.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return parse_page(&body).map_err(ComputeError::BadResponse);
        }
        let message = wire::error_message(&body);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ComputeError::Denied {
                status: status.as_u16(),
                account: self.credentials.account().to_string(),
                project: project.to_string(),
                message,
            },
            _ => ComputeError::Status {
                status: status.as_u16(),
                project: project.to_string(),
                message,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_page_as_the_api_sends_it() {
        let body = br#"{"kind": "compute#firewallList", "id": "projects/p/global/firewalls",
          "items": [
            {"kind": "compute#firewall", "id": "1", "name": "k8s-fw-a1b2", "network": "https://www.googleapis.com/compute/v1/projects/p/global/networks/default",
             "priority": 1000, "sourceRanges": ["0.0.0.0/0"], "targetTags": ["gke-iris-node"],
             "allowed": [{"IPProtocol": "tcp", "ports": ["80"]}], "direction": "INGRESS", "disabled": false},
            {"name": "deny-all", "priority": 65534, "denied": [{"IPProtocol": "all"}], "sourceRanges": ["0.0.0.0/0"]},
            {"no": "name"}
          ],
          "nextPageToken": "t2"}"#;
        let page = parse_page(body).unwrap();
        assert_eq!(page.rules.len(), 2);
        assert_eq!(page.skipped, 1);
        assert_eq!(page.next_page_token.as_deref(), Some("t2"));
        assert_eq!(page.rules[0].allowed[0].ports, ["80"]);
        assert_eq!(page.rules[1].direction, "INGRESS");
        assert_eq!(page.rules[1].denied[0].ip_protocol, "all");
    }

    fn protocols() -> impl Strategy<Value = Protocols> {
        (
            prop_oneof![
                Just("tcp".to_string()),
                Just("all".to_string()),
                "[a-z0-9]{0,4}"
            ],
            prop::collection::vec("[0-9]{1,5}(-[0-9]{1,5})?", 0..4),
        )
            .prop_map(|(p, ports)| Protocols {
                ip_protocol: p,
                ports,
            })
    }

    fn rule() -> impl Strategy<Value = Firewall> {
        (
            "[a-z][a-z0-9-]{0,20}",
            0i64..65535,
            prop_oneof![Just("INGRESS"), Just("EGRESS")],
            prop::collection::vec("[0-9./:]{1,18}", 0..3),
            prop::collection::vec(protocols(), 0..3),
            prop::collection::vec(protocols(), 0..2),
            any::<bool>(),
        )
            .prop_map(|(name, priority, dir, ranges, allowed, denied, disabled)| {
                Firewall {
                    name,
                    network: "n".into(),
                    priority,
                    direction: dir.into(),
                    source_ranges: ranges,
                    source_tags: vec![],
                    target_tags: vec![],
                    target_service_accounts: vec![],
                    allowed,
                    denied,
                    disabled,
                }
            })
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(body in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_page(&body);
        }

        #[test]
        fn rules_come_back_as_they_were_sent(rules in prop::collection::vec(rule(), 0..5), token in proptest::option::of("[A-Za-z0-9]{1,10}")) {
            let body = serde_json::json!({"items": rules, "nextPageToken": token});
            let page = parse_page(body.to_string().as_bytes()).unwrap();
            prop_assert_eq!(page.rules, rules);
            prop_assert_eq!(page.next_page_token, token);
            prop_assert_eq!(page.skipped, 0);
        }

        #[test]
        fn items_of_any_shape_are_skipped_not_trusted(items in prop::collection::vec(prop_oneof![
            Just(serde_json::json!(null)), Just(serde_json::json!(1)), Just(serde_json::json!({"name": 5})),
            Just(serde_json::json!({"name": "x", "allowed": [{"ports": ["80"]}]})),
            "[a-z]{0,5}".prop_map(|s| serde_json::json!({"name": s}))], 0..6)) {
            let body = serde_json::json!({"items": items});
            let page = parse_page(body.to_string().as_bytes()).unwrap();
            prop_assert_eq!(page.rules.len() + page.skipped, items.len());
        }
    }
}
