//! Credentials as gcloud users already have them: `GOOGLE_OAUTH_ACCESS_TOKEN`, then Application
//! Default Credentials through `gcp_auth` (see the module doc of `crate` for the choice).

use std::path::Path;
use std::sync::Arc;

use gcp_auth::TokenProvider;
use serde::Deserialize;

use super::{GcpError, deepest};

/// The only scope `trace` asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/trace.readonly";
pub const TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
pub const KEY_FILE_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// An access token. It has no `Display`, and its `Debug` hides it, so it cannot end up in a
/// message or a log by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

enum Source {
    Fixed(Secret),
    Provider(Arc<dyn TokenProvider>),
}

/// Where tokens come from, and who they speak for (for error messages).
pub struct Credentials {
    source: Source,
    account: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// The parts of a service-account key file worth naming (never the key itself).
#[derive(Deserialize)]
struct KeyFileIdentity {
    client_email: String,
}

impl Credentials {
    /// A fixed token (e.g. from `gcloud auth print-access-token`).
    pub fn from_token(token: String, account: impl Into<String>) -> Credentials {
        Credentials {
            source: Source::Fixed(Secret(token)),
            account: account.into(),
        }
    }

    /// `GOOGLE_OAUTH_ACCESS_TOKEN`, else Application Default Credentials in their order. A key
    /// file named by `GOOGLE_APPLICATION_CREDENTIALS` that cannot be used is an error of its own
    /// (the user asked for it); the other steps fall through to the next.
    pub async fn discover() -> Result<Credentials, GcpError> {
        if let Some(token) = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            return Ok(Self::from_token(
                token.trim().to_string(),
                format!("the token in {TOKEN_ENV}"),
            ));
        }
        let mut tried = vec![format!("{TOKEN_ENV} (not set)")];
        match std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            Some(path) => return Self::key_file(Path::new(&path)),
            None => tried.push(format!("{KEY_FILE_ENV} (not set)")),
        }
        match gcp_auth::ConfigDefaultCredentials::new().await {
            Ok(p) => {
                return Ok(Credentials {
                    source: Source::Provider(Arc::new(p)),
                    account: "your `gcloud auth application-default login` user".into(),
                });
            }
            Err(e) => tried.push(format!(
                "~/.config/gcloud/application_default_credentials.json ({})",
                deepest(&e)
            )),
        }
        match gcp_auth::MetadataServiceAccount::new().await {
            Ok(p) => {
                return Ok(Credentials {
                    source: Source::Provider(Arc::new(p)),
                    account: "the GCE/GKE metadata server's service account".into(),
                });
            }
            Err(e) => tried.push(format!("the GCE/GKE metadata server ({})", deepest(&e))),
        }
        match gcp_auth::GCloudAuthorizedUser::new().await {
            Ok(p) => {
                return Ok(Credentials {
                    source: Source::Provider(Arc::new(p)),
                    account: "your gcloud account (`gcloud auth print-access-token`)".into(),
                });
            }
            Err(e) => tried.push(format!(
                "`gcloud auth print-access-token` ({})",
                deepest(&e)
            )),
        }
        Err(GcpError::NoCredentials { tried })
    }

    /// A service-account key file: its JWT assertion goes to the file's own `token_uri`.
    fn key_file(path: &Path) -> Result<Credentials, GcpError> {
        let shown = format!("{KEY_FILE_ENV}={}", path.display());
        let invalid = |detail: String| GcpError::Token {
            account: shown.clone(),
            detail,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read the key file: {e}")))?;
        let identity: KeyFileIdentity = serde_json::from_str(&text).map_err(|e| {
            invalid(format!(
                "not a service-account key file (line {}, column {}); create one with `gcloud iam service-accounts keys create`",
                e.line(),
                e.column()
            ))
        })?;
        let provider = gcp_auth::CustomServiceAccount::from_json(&text)
            .map_err(|e| invalid(format!("the key file cannot be used: {}", deepest(&e))))?;
        Ok(Credentials {
            source: Source::Provider(Arc::new(provider)),
            account: format!(
                "the service account {} (from {KEY_FILE_ENV})",
                identity.client_email
            ),
        })
    }

    /// Who the tokens speak for, for error messages.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// A token with the trace.readonly scope (cached by the provider for its lifetime).
    pub async fn token(&self) -> Result<Secret, GcpError> {
        self.token_for(SCOPE).await
    }

    /// A token with `scope` (`GOOGLE_OAUTH_ACCESS_TOKEN` is used as it is).
    pub async fn token_for(&self, scope: &str) -> Result<Secret, GcpError> {
        match &self.source {
            Source::Fixed(t) => Ok(t.clone()),
            Source::Provider(p) => p
                .token(&[scope])
                .await
                .map(|t| Secret(t.as_str().to_string()))
                .map_err(|e| GcpError::Token {
                    account: self.account.clone(),
                    detail: deepest(&e),
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        let c = Credentials::from_token("ya29.very-secret".into(), "me");
        assert!(!format!("{c:?}").contains("very-secret"));
        assert_eq!(format!("{:?}", Secret("x".into())), "Secret(***)");
    }

    #[test]
    fn a_broken_key_file_is_one_line_without_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(
            &path,
            r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nSECRET"#,
        )
        .unwrap();
        let err = Credentials::key_file(&path).unwrap_err().to_string();
        assert!(err.contains("not a service-account key file"), "{err}");
        assert!(!err.contains("SECRET") && !err.contains('\n'), "{err}");
    }
}
