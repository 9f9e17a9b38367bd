//! One keep-alive HTTP/1.1 connection per virtual user, plain or TLS (rustls, verified unless
//! `--insecure`).
//!
//! A thin client on `httparse`: a user's connection is its socket and one small buffer that
//! holds the request, then the response, and no task or channel of its own. hyper's client
//! connection costs ~24 KiB before the first request (an 8 KiB header buffer, a dispatch
//! channel, a task), which is too much for tens of thousands of users; this costs ~2 KiB.

use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Method;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::LoadgenError as Error;
use super::response::{Limits, read_response};
use super::{Micros, Phases, ServerTiming};
use iris_api::Failure;
use iris_base::usage::UsageError;

const USER_AGENT: &str = concat!("iris-lab/", env!("CARGO_PKG_VERSION"));
/// Buffer a user starts with; it grows for large responses and shrinks back afterwards.
const INITIAL_BUFFER: usize = 1024;
const SHRINK_ABOVE: usize = 64 * 1024;

/// Where requests go: addresses resolved once, before the run.
pub struct Target {
    pub url: reqwest::Url,
    pub addrs: Vec<SocketAddr>,
    /// How long resolving the host took (once, before the run).
    pub resolved_in: Duration,
    authority: String,
    base_path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    source_ports: Option<SourcePorts>,
    limits: Limits,
}

/// Local ports handed out by the load generator itself. Linux's `connect()` searches the
/// ephemeral range for a free port, which becomes slow (a CPU-bound scan per connection) once
/// more than half of the range is in use towards one target; binding a port we pick first
/// keeps each connect O(1).
struct SourcePorts {
    first: u32,
    count: u32,
    next: AtomicU32,
}

impl SourcePorts {
    fn take(&self) -> u16 {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
        // first + i <= last port, which came from a u16.
        u16::try_from(self.first + i).unwrap_or(0)
    }
}

/// When a user drops its connection and opens a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPolicy {
    pub max_requests: Option<u64>,
    pub max_age: Option<Duration>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A user's open connection and its buffer.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    body: Range<usize>,
    requests: u64,
    opened: Instant,
    /// The server said `Connection: close`, or the response ended with the connection.
    closed: bool,
    /// How long the TCP connect and the TLS handshake took.
    connect: Micros,
    tls: Option<Micros>,
    /// What the last response's `Server-Timing` said.
    server_timing: Option<ServerTiming>,
}

impl Conn {
    /// Whether the policy or the server says this connection should not carry another request.
    pub fn worn_out(&self, policy: &ConnectionPolicy) -> bool {
        self.closed
            || policy.max_requests.is_some_and(|n| self.requests >= n)
            || policy
                .max_age
                .is_some_and(|age| self.opened.elapsed() >= age)
            || self.peer_closed()
    }

    /// An idle keep-alive connection the server has closed (as urllib3 checks before reuse).
    fn peer_closed(&self) -> bool {
        match &self.stream {
            // Any byte here is either EOF or data nobody asked for: both end the connection.
            Stream::Plain(tcp) => match tcp.try_read(&mut [0u8; 1]) {
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                Ok(_) => true,
            },
            // TLS may legitimately send records (session tickets) while idle.
            Stream::Tls(_) => false,
        }
    }

    /// The body of the last response.
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.body.clone()).unwrap_or_default()
    }

    /// The model's and the server's time by the last response's `Server-Timing` header.
    pub fn server_timing(&self) -> Option<ServerTiming> {
        self.server_timing
    }

    /// Puts how long opening this connection took into `phases`.
    pub fn setup_into(&self, phases: &mut Phases) {
        phases.connect = Some(self.connect);
        phases.tls = self.tls;
    }
}

impl Target {
    /// Resolves the host and prepares TLS. Fails with one clear line when either cannot work.
    pub async fn resolve(url: &reqwest::Url, insecure: bool) -> Result<Self, Error> {
        let host = url
            .host_str()
            .ok_or_else(|| Error::Usage(UsageError::HostWithoutName(url.to_string())))?
            .to_string();
        let https = url.scheme() == "https";
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let resolving = Instant::now();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|source| Error::Resolve {
                host: host.clone(),
                source,
            })?
            .collect();
        let resolved_in = resolving.elapsed();
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
        let tls = if https {
            let name = ServerName::try_from(bare)
                .map_err(|_| Error::Usage(UsageError::TlsServerName(url.to_string())))?;
            Some((TlsConnector::from(Arc::new(tls_config(insecure)?)), name))
        } else {
            None
        };
        Ok(Self {
            url: url.clone(),
            addrs,
            resolved_in,
            authority,
            base_path: url.path().trim_end_matches('/').to_string(),
            tls,
            source_ports: None,
            limits: Limits::default(),
        })
    }

    /// Makes connections bind local ports from `first..=last` themselves (see [`SourcePorts`]).
    pub fn use_source_ports(&mut self, first: u16, last: u16) {
        if first <= last {
            self.source_ports = Some(SourcePorts {
                first: u32::from(first),
                count: u32::from(last - first) + 1,
                next: AtomicU32::new(0),
            });
        }
    }

    async fn connect_tcp(&self, addr: SocketAddr) -> Result<TcpStream, Failure> {
        if let Some(ports) = &self.source_ports {
            // SO_REUSEADDR lets a port serve connections to other destinations (and reuse
            // TIME_WAIT where the kernel allows); a 4-tuple in use fails the connect with
            // AddrNotAvailable: then try the next port.
            for _ in 0..64 {
                let socket = match addr {
                    SocketAddr::V4(_) => TcpSocket::new_v4(),
                    SocketAddr::V6(_) => TcpSocket::new_v6(),
                }
                .map_err(|_| Failure::Connect)?;
                let _ = socket.set_reuseaddr(true);
                let local = SocketAddr::new(
                    match addr {
                        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
                    },
                    ports.take(),
                );
                if socket.bind(local).is_err() {
                    continue;
                }
                match socket.connect(addr).await {
                    Ok(tcp) => return Ok(tcp),
                    Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => continue,
                    Err(_) => return Err(Failure::Connect),
                }
            }
        }
        TcpStream::connect(addr).await.map_err(|_| Failure::Connect)
    }

    /// Opens a connection for user `user` (users spread over the resolved addresses).
    pub async fn connect(&self, user: usize) -> Result<Conn, Failure> {
        let addr = self.addrs[user % self.addrs.len()];
        let started = Instant::now();
        let tcp = self.connect_tcp(addr).await?;
        let connected = Instant::now();
        let _ = tcp.set_nodelay(true);
        let (stream, tls) = match &self.tls {
            None => (Stream::Plain(tcp), None),
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| Failure::Tls)?;
                (
                    Stream::Tls(Box::new(tls)),
                    Some(Micros::of(connected.elapsed())),
                )
            }
        };
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(INITIAL_BUFFER),
            body: 0..0,
            requests: 0,
            opened: Instant::now(),
            closed: false,
            connect: Micros::of(connected - started),
            tls,
            server_timing: None,
        })
    }

    /// Sends one request on `conn` and reads the whole response; returns its status, the body
    /// is then in [`Conn::body`]. Sending, waiting and receiving go into `phases` as each ends.
    pub async fn send(
        &self,
        conn: &mut Conn,
        method: &Method,
        path: &str,
        body: &[u8],
        traceparent: &str,
        phases: &mut Phases,
    ) -> Result<u16, Failure> {
        let started = Instant::now();
        conn.requests += 1;
        conn.body = 0..0;
        conn.server_timing = None;
        if conn.buf.capacity() > SHRINK_ABOVE {
            conn.buf = Vec::with_capacity(INITIAL_BUFFER);
        }
        conn.buf.clear();
        write_request(
            &mut conn.buf,
            method,
            &self.authority,
            &self.base_path,
            path,
            body,
            traceparent,
        );
        conn.stream
            .write_all(&conn.buf)
            .await
            .map_err(|_| Failure::Disconnected)?;
        conn.stream
            .flush()
            .await
            .map_err(|_| Failure::Disconnected)?;
        let sent = Instant::now();
        phases.sending = Some(Micros::of(sent - started));
        conn.buf.clear();
        let response = read_response(
            &mut conn.stream,
            &mut conn.buf,
            method == Method::HEAD,
            self.limits,
        )
        .await?;
        let first_byte = response.first_byte.max(sent);
        phases.waiting = Some(Micros::of(first_byte - sent));
        phases.receiving = Some(Micros::of(first_byte.elapsed()));
        conn.body = response.body;
        conn.server_timing = response.server_timing;
        // A response that runs until the connection ends also ends the connection.
        conn.closed |= response.close;
        Ok(response.status)
    }
}

fn write_request(
    buf: &mut Vec<u8>,
    method: &Method,
    authority: &str,
    base_path: &str,
    path: &str,
    body: &[u8],
    traceparent: &str,
) {
    // Piece by piece rather than with `write!`: this runs once per request.
    for part in [
        method.as_str(),
        " ",
        base_path,
        path,
        " HTTP/1.1\r\nHost: ",
        authority,
        "\r\nUser-Agent: ",
        USER_AGENT,
        "\r\nAccept: */*\r\ntraceparent: ",
        traceparent,
        "\r\n",
    ] {
        buf.extend_from_slice(part.as_bytes());
    }
    if !body.is_empty() {
        buf.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
        // Writing into a Vec cannot fail.
        let _ = write!(buf, "{}", body.len());
        buf.extend_from_slice(b"\r\n");
    } else if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        buf.extend_from_slice(b"Content-Length: 0\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(body);
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub fn tls_config(insecure: bool) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?;
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if insecure {
        Arc::new(AcceptAnyCert(provider))
    } else {
        Arc::new(rustls_platform_verifier::Verifier::new(provider).map_err(Error::Tls)?)
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `--insecure`: accepts any certificate (handshake signatures are still checked).
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn requests_are_plain_http_1_1() {
        let mut buf = Vec::new();
        write_request(
            &mut buf,
            &Method::POST,
            "h:80",
            "/api",
            "/predict",
            b"{}",
            "00-a-b-01",
        );
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.starts_with("POST /api/predict HTTP/1.1\r\nHost: h:80\r\n"),
            "{text}"
        );
        assert!(text.contains("traceparent: 00-a-b-01\r\n"));
        assert!(text.ends_with("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));
        let mut buf = Vec::new();
        write_request(&mut buf, &Method::GET, "h", "", "/", b"", "t");
        assert!(!String::from_utf8(buf).unwrap().contains("Content-Length"));
    }

    /// `GET /` on `conn`.
    async fn get(target: &Target, conn: &mut Conn) -> Result<u16, Failure> {
        target
            .send(conn, &Method::GET, "/", b"", "t", &mut Phases::default())
            .await
    }

    /// A server that answers each connection's requests with the given raw responses.
    async fn canned(responses: Vec<&'static [u8]>) -> Target {
        canned_server(responses).await.0
    }

    /// [`canned`], and the server's task: it ends, closing its connection, after the last
    /// response.
    async fn canned_server(responses: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            for r in responses {
                let _ = socket.read(&mut buf).await;
                // Misbehaviour, not synchronisation: the response arrives in two writes, a
                // moment apart, so the client usually has to assemble it (it must work either way).
                let (a, b) = r.split_at(r.len() / 2);
                socket.write_all(a).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                socket.write_all(b).await.unwrap();
            }
        });
        let url: reqwest::Url = format!("http://{addr}").parse().unwrap();
        (Target::resolve(&url, false).await.unwrap(), server)
    }

    #[tokio::test]
    async fn bodies_by_length_chunks_and_end_of_connection() {
        let target = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        ])
        .await;
        let mut conn = target.connect(0).await.unwrap();
        assert_eq!(get(&target, &mut conn).await, Ok(200));
        assert_eq!(conn.body(), b"hello world");
        assert_eq!(get(&target, &mut conn).await, Ok(201));
        assert_eq!(conn.body(), b"hello world");
        assert_eq!(get(&target, &mut conn).await, Ok(204));
        assert_eq!(conn.body(), b"");
        assert!(!conn.worn_out(&ConnectionPolicy::default()));
        assert_eq!(get(&target, &mut conn).await, Ok(200));
        assert_eq!(conn.body(), b"until the end");
        assert!(conn.worn_out(&ConnectionPolicy::default()));
    }

    #[tokio::test]
    async fn a_short_body_is_a_disconnect_and_garbage_is_bad_http() {
        let target = canned(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort"]).await;
        let mut conn = target.connect(0).await.unwrap();
        assert_eq!(get(&target, &mut conn).await, Err(Failure::Disconnected));
        let target = canned(vec![b"SSH-2.0-OpenSSH\r\n\r\n"]).await;
        let mut conn = target.connect(0).await.unwrap();
        assert_eq!(get(&target, &mut conn).await, Err(Failure::BadHttp));
    }

    #[tokio::test]
    async fn ambiguous_lengths_on_the_wire_are_typed_failures() {
        use iris_api::checks::Framing;
        let cases: [(&'static [u8], Framing); 3] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 14\r\n\r\n{}HTTP/1.1 200 ",
                Framing::DifferingContentLengths,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2, 14\r\n\r\n{}HTTP/1.1 200 ",
                Framing::DifferingContentLengths,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                Framing::ContentLengthWithTransferEncoding,
            ),
        ];
        for (response, framing) in cases {
            let target = canned(vec![response]).await;
            let mut conn = target.connect(0).await.unwrap();
            assert_eq!(
                get(&target, &mut conn).await,
                Err(Failure::AmbiguousLength(framing))
            );
        }
        // Repeating the same length is not ambiguous.
        let target = canned(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}"]).await;
        let mut conn = target.connect(0).await.unwrap();
        assert_eq!(get(&target, &mut conn).await, Ok(200));
        assert_eq!(conn.body(), b"{}");
    }

    #[tokio::test]
    async fn a_request_fills_its_phases_and_keeps_the_server_timing() {
        let target = canned(vec![
            b"HTTP/1.1 200 OK\r\nServer-Timing: inference;dur=0.5, total;dur=2\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        ])
        .await;
        let mut conn = target.connect(0).await.unwrap();
        let mut phases = Phases::default();
        conn.setup_into(&mut phases);
        let sent = target
            .send(&mut conn, &Method::GET, "/", b"", "t", &mut phases)
            .await;
        assert_eq!(sent, Ok(200));
        assert!(phases.connect.is_some() && phases.tls.is_none());
        // The canned server sends the response in two halves 5 ms apart: receiving spans them.
        assert!(
            phases.receiving.unwrap().duration() >= Duration::from_millis(4),
            "{phases:?}"
        );
        assert!(phases.sending.is_some() && phases.waiting.is_some());
        let timing = conn.server_timing().unwrap();
        assert_eq!(timing.inference, Some(Duration::from_micros(500)));
        assert_eq!(timing.total, Some(Duration::from_millis(2)));
        // The next response has none: nothing is carried over.
        assert_eq!(get(&target, &mut conn).await, Ok(200));
        assert_eq!(conn.server_timing(), None);
    }

    #[tokio::test]
    async fn policies_wear_connections_out() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (target, server) = canned_server(vec![ok, ok]).await;
        let mut conn = target.connect(0).await.unwrap();
        get(&target, &mut conn).await.unwrap();
        let by_count = |n| ConnectionPolicy {
            max_requests: Some(n),
            max_age: None,
        };
        assert!(conn.worn_out(&by_count(1)));
        let by_age = |age| ConnectionPolicy {
            max_requests: None,
            max_age: Some(age),
        };
        assert!(conn.worn_out(&by_age(Duration::ZERO)));
        // While the server waits for the next request, nothing else wears the connection out.
        assert!(!conn.worn_out(&by_count(2)));
        assert!(!conn.worn_out(&by_age(Duration::from_secs(3600))));
        assert!(!conn.worn_out(&ConnectionPolicy::default()));
        // The canned server closes its side after its last response: the idle check notices
        // once the end of the stream has arrived.
        get(&target, &mut conn).await.unwrap();
        server.await.unwrap();
        if let Stream::Plain(tcp) = &conn.stream {
            tokio::time::timeout(Duration::from_secs(5), tcp.readable())
                .await
                .expect("the server's close arrives")
                .unwrap();
        }
        assert!(conn.worn_out(&ConnectionPolicy::default()));
    }
}
