//! A typed HTTP client of the Iris API for one-off calls (smoke). TLS is verified unless the
//! user asked for `--insecure`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use iris_api::checks::Failure;

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub latency: Duration,
    pub body: Bytes,
}

/// A request that got no complete response: its typed failure, a one-line detail and when it
/// gave up.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub failure: Failure,
    pub detail: String,
    pub latency: Duration,
}

#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: reqwest::Url,
}

impl ApiClient {
    pub fn new(
        base: reqwest::Url,
        timeout: Duration,
        insecure: bool,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .dns_resolver(SystemResolver)
            .timeout(timeout)
            .connect_timeout(timeout)
            .tls_danger_accept_invalid_certs(insecure)
            .user_agent(concat!("iris-lab/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base })
    }

    pub fn base(&self) -> &reqwest::Url {
        &self.base
    }

    fn url(&self, path: &str) -> reqwest::Url {
        // Paths are our own constants ("/health"); joining cannot fail for an http(s) base.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    pub async fn get(&self, path: &str) -> Result<Exchange, TransportError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_json<T: Serialize>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<Exchange, TransportError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Exchange, TransportError> {
        let started = Instant::now();
        let fail = |e: reqwest::Error| TransportError {
            failure: classify(&e),
            detail: describe(&e),
            latency: started.elapsed(),
        };
        let response = request.send().await.map_err(fail)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(fail)?;
        Ok(Exchange {
            status,
            latency: started.elapsed(),
            body,
        })
    }
}

/// The host name did not resolve: a type of our own in the error chain, so a failed lookup is
/// told from a failed connection by type, not by message.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {source}")]
pub struct ResolveError {
    pub host: String,
    #[source]
    pub source: std::io::Error,
}

/// The system's resolver (getaddrinfo, as reqwest's default), failing with [`ResolveError`].
#[derive(Debug, Clone, Copy)]
struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(|addrs| addrs.collect::<Vec<std::net::SocketAddr>>());
            match found {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(source) => Err(Box::new(ResolveError { host, source }) as _),
            }
        })
    }
}

fn causes(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
}

/// The kind of a transport failure, from the error's cause chain.
pub fn classify(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout;
    }
    for cause in causes(e) {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return Failure::Tls;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return Failure::Tls;
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Failure::Timeout;
            }
        }
        if cause.is::<ResolveError>() {
            return Failure::Dns;
        }
    }
    Failure::Connect
}

/// The most specific message in the chain, without the URL reqwest puts in front.
pub fn describe(e: &reqwest::Error) -> String {
    let deepest = causes(e).last().map(|c| c.to_string()).unwrap_or_default();
    match classify(e) {
        Failure::Timeout => "no complete response within the timeout".to_string(),
        Failure::Dns => format!("could not resolve the host name ({deepest})"),
        Failure::Tls => {
            format!("TLS: {deepest} (use --insecure only for a test endpoint you trust)")
        }
        _ => deepest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_dns_failure() {
        // `.invalid` never resolves (RFC 6761).
        let base: reqwest::Url = "http://nonexistent.invalid:8000/".parse().unwrap();
        let client = ApiClient::new(base, Duration::from_secs(10), false).unwrap();
        let e = client.get("/health").await.unwrap_err();
        assert_eq!(e.failure, Failure::Dns, "{}", e.detail);
        assert!(
            e.detail.starts_with("could not resolve the host name"),
            "{}",
            e.detail
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_not_a_dns_failure() {
        // A socket bound but not listening holds the port (no other process can take it) and
        // refuses connections to it.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        let base: reqwest::Url = format!("http://localhost:{port}/").parse().unwrap();
        let client = ApiClient::new(base, Duration::from_secs(10), false).unwrap();
        let e = client.get("/health").await.unwrap_err();
        assert_eq!(e.failure, Failure::Connect, "{}", e.detail);
        drop(socket);
    }
}
