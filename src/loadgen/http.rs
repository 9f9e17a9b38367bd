//! One keep-alive HTTP/1.1 connection per virtual user (hyper's low-level client), plain or
//! TLS (rustls, verified unless `--insecure`). A connection costs a few KiB, so tens of
//! thousands of users fit in memory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::api::Failure;
use crate::error::Error;

/// Where requests go: addresses resolved once, before the run.
pub struct Target {
    pub url: reqwest::Url,
    pub addrs: Vec<SocketAddr>,
    host_header: HeaderValue,
    base_path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// When a user drops its connection and opens a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConnectionPolicy {
    pub max_requests: Option<u64>,
    pub max_age: Option<Duration>,
}

/// The answer to one request.
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// A user's open connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    requests: u64,
    opened: Instant,
}

impl Conn {
    /// Whether the policy or the server says this connection should not carry another request.
    pub fn worn_out(&self, policy: &ConnectionPolicy) -> bool {
        self.sender.is_closed()
            || policy.max_requests.is_some_and(|n| self.requests >= n)
            || policy
                .max_age
                .is_some_and(|age| self.opened.elapsed() >= age)
    }
}

impl Target {
    /// Resolves the host and prepares TLS. Fails with one clear line when either cannot work.
    pub async fn resolve(url: &reqwest::Url, insecure: bool) -> Result<Self, Error> {
        let host = url
            .host_str()
            .ok_or_else(|| Error::Usage(format!("--host {url} has no host name")))?
            .to_string();
        let https = url.scheme() == "https";
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|source| Error::Resolve {
                host: host.clone(),
                source,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host,
                source: std::io::Error::other("no addresses"),
            });
        }
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let host_header = HeaderValue::from_str(&authority)
            .map_err(|_| Error::Usage(format!("--host {url}: invalid host name")))?;
        let tls = if https {
            let name = ServerName::try_from(bare)
                .map_err(|_| Error::Usage(format!("--host {url}: invalid TLS server name")))?;
            Some((TlsConnector::from(Arc::new(tls_config(insecure)?)), name))
        } else {
            None
        };
        Ok(Self {
            url: url.clone(),
            addrs,
            host_header,
            base_path: url.path().trim_end_matches('/').to_string(),
            tls,
        })
    }

    /// Opens a connection for user `user` (users spread over the resolved addresses).
    pub async fn connect(&self, user: usize) -> Result<Conn, Failure> {
        let addr = self.addrs[user % self.addrs.len()];
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|_| Failure::Connect)?;
        let _ = tcp.set_nodelay(true);
        let mut builder = http1::Builder::new();
        // Responses of this API are small: a modest read buffer keeps users cheap.
        builder.read_buf_exact_size(Some(4096));
        let sender = match &self.tls {
            None => {
                let (sender, conn) = builder
                    .handshake(TokioIo::new(tcp))
                    .await
                    .map_err(|_| Failure::Connect)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| Failure::Tls)?;
                let (sender, conn) = builder
                    .handshake(TokioIo::new(tls))
                    .await
                    .map_err(|_| Failure::Connect)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
        };
        Ok(Conn {
            sender,
            requests: 0,
            opened: Instant::now(),
        })
    }

    /// Sends one request on `conn` and reads the whole response.
    pub async fn send(
        &self,
        conn: &mut Conn,
        method: &Method,
        path: &str,
        body: Bytes,
        traceparent: HeaderValue,
    ) -> Result<Response, Failure> {
        let uri = if self.base_path.is_empty() {
            path.to_string()
        } else {
            format!("{}{path}", self.base_path)
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(HOST, self.host_header.clone())
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .header("traceparent", traceparent);
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|_| Failure::Connect)?;
        conn.requests += 1;
        conn.sender
            .ready()
            .await
            .map_err(|_| Failure::Disconnected)?;
        let response = conn
            .sender
            .send_request(request)
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| classify(&e))?
            .to_bytes();
        Ok(Response { status, body })
    }
}

const USER_AGENT_VALUE: &str = concat!("iris-lab/", env!("CARGO_PKG_VERSION"));

fn classify(e: &hyper::Error) -> Failure {
    // Every other hyper error means the exchange broke off: reset, closed, or garbled.
    if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Disconnected
    }
}

fn tls_config(insecure: bool) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(Error::Tls)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `--insecure`: accepts any certificate (signatures are still checked for well-formedness).
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
