//! Reachability of the API from this machine, step by step as a client goes: name resolution,
//! TCP connect, the TLS handshake (https), then `GET /health`. Each step is timed; the first
//! that fails is named, and the ones after it are not tried. [`probe`] does the I/O;
//! [`checks`] turns what it saw into verdicts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::{Check, Section};
use iris_probe::ApiClient;

const S: Section = Section::Reachability;

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No answer within the time limit (packets dropped: a firewall, or nothing routes there).
    TimedOut,
    /// Actively refused (RST): reachable, nothing listens on that port.
    Refused,
    /// No route to the host or network.
    Unreachable,
    Other(String),
}

/// One step: how long it took, and what it gave or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Step<T> {
    pub took: Duration,
    pub result: Result<T, Problem>,
}

/// What the steps saw; a step after a failed one is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub url: Url,
    pub host: String,
    pub port: u16,
    /// `None` when the host is an IP address (nothing to resolve).
    pub dns: Option<Step<Vec<SocketAddr>>>,
    pub tcp: Option<Step<SocketAddr>>,
    /// Only for https.
    pub tls: Option<Step<String>>,
    /// `GET /health`: its status and the first bytes of its body.
    pub http: Option<Step<(u16, String)>>,
}

fn io_problem(e: &std::io::Error) -> Problem {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Problem::Refused,
        K::TimedOut => Problem::TimedOut,
        K::HostUnreachable | K::NetworkUnreachable => Problem::Unreachable,
        _ => Problem::Other(e.to_string()),
    }
}

async fn timed<T, F>(limit: Duration, fut: F) -> Step<T>
where
    F: std::future::Future<Output = Result<T, Problem>>,
{
    let start = Instant::now();
    let result = match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Problem::TimedOut),
    };
    Step {
        took: start.elapsed(),
        result,
    }
}

/// Walks the steps against `url`, each within `limit`.
pub async fn probe(url: &Url, limit: Duration, insecure: bool) -> Probe {
    let host = url.host_str().unwrap_or_default().to_string();
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = url.scheme() == "https";
    let port = url.port_or_known_default().unwrap_or(80);
    let mut p = Probe {
        url: url.clone(),
        host: host.clone(),
        port,
        dns: None,
        tcp: None,
        tls: None,
        http: None,
    };
    let addrs: Vec<SocketAddr> = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let step = timed(limit, async {
                let found: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
                    .await
                    .map_err(|e| Problem::Other(e.to_string()))?
                    .collect();
                if found.is_empty() {
                    Err(Problem::Other("no addresses".into()))
                } else {
                    Ok(found)
                }
            })
            .await;
            let found = step.result.clone().unwrap_or_default();
            p.dns = Some(step);
            if found.is_empty() {
                return p;
            }
            found
        }
    };
    let addr = addrs[0];
    let mut stream = None;
    let step = timed(limit, async {
        let s = TcpStream::connect(addr).await.map_err(|e| io_problem(&e))?;
        stream = Some(s);
        Ok(addr)
    })
    .await;
    let connected = step.result.is_ok();
    p.tcp = Some(step);
    let Some(tcp) = stream.filter(|_| connected) else {
        return p;
    };
    if https {
        let step = timed(limit, handshake(tcp, bare.clone(), insecure)).await;
        let ok = step.result.is_ok();
        p.tls = Some(step);
        if !ok {
            return p;
        }
    } else {
        drop(tcp);
    }
    p.http = Some(health(url, limit, insecure).await);
    p
}

async fn handshake(tcp: TcpStream, name: String, insecure: bool) -> Result<String, Problem> {
    let config = iris_loadgen::http::tls_config(insecure)
        .map_err(|e| Problem::Other(iris_base::chain::one_line(&e)))?;
    let server = ServerName::try_from(name).map_err(|e| Problem::Other(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server, tcp)
        .await
        .map_err(|e| {
            let inner = e
                .get_ref()
                .map(|i| i.to_string())
                .unwrap_or_else(|| e.to_string());
            Problem::Other(inner)
        })?;
    let version = tls
        .get_ref()
        .1
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "TLS".into());
    Ok(version)
}

async fn health(url: &Url, limit: Duration, insecure: bool) -> Step<(u16, String)> {
    let start = Instant::now();
    let result = match ApiClient::new(url.clone(), limit, insecure) {
        Err(e) => Err(Problem::Other(iris_base::chain::one_line(&e))),
        Ok(client) => match client.get("/health").await {
            Ok(x) => {
                let body = String::from_utf8_lossy(&x.body);
                let body: String = body.chars().take(200).collect();
                Ok((x.status, body.trim().to_string()))
            }
            Err(e) if e.failure == iris_api::Failure::Timeout => Err(Problem::TimedOut),
            Err(e) => Err(Problem::Other(e.detail)),
        },
    };
    Step {
        took: start.elapsed(),
        result,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn firewall_hint(port: u16) -> String {
    format!(
        "a VPC firewall rule must admit tcp:{port} from this machine to the nodes (GKE creates k8s-fw-* rules for a LoadBalancer Service; `gcloud compute firewall-rules list --filter=\"allowed[].ports:{port}\"`, or run doctor with --gcp-project to check them)"
    )
}

/// The verdict of each step that was tried. Pure.
pub fn checks(p: &Probe) -> Vec<Check> {
    let mut out = vec![dns_check(p)];
    out.extend(p.tcp.as_ref().map(|step| tcp_check(p, step)));
    out.extend(p.tls.as_ref().map(tls_check));
    out.extend(p.http.as_ref().map(http_check));
    out
}

fn dns_check(p: &Probe) -> Check {
    match &p.dns {
        None => Check::pass(S, "Name resolution", format!("{} is an IP address", p.host)),
        Some(step) => match &step.result {
            Ok(addrs) => Check::pass(
                S,
                "Name resolution",
                format!(
                    "{} -> {} in {}",
                    p.host,
                    addrs
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    ms(step.took)
                ),
            ),
            Err(e) => Check::fail(
                S,
                "Name resolution",
                format!(
                    "{} does not resolve after {}: {}",
                    p.host,
                    ms(step.took),
                    problem(e)
                ),
                "check the host name (a typo, or a DNS record not created yet); use the Service's external IP with --host http://IP",
            ),
        },
    }
}

fn tcp_check(p: &Probe, step: &Step<SocketAddr>) -> Check {
    let port = p.port;
    match &step.result {
        Ok(addr) => Check::pass(S, "TCP connect", format!("{addr} in {}", ms(step.took))),
        Err(Problem::Refused) => Check::fail(
            S,
            "TCP connect",
            format!(
                "{}:{port} refused the connection after {}",
                p.host,
                ms(step.took)
            ),
            format!(
                "the address answers but nothing listens on port {port}: check the Service's port (and --host's port), and that the load balancer has healthy backends"
            ),
        ),
        Err(Problem::TimedOut) => Check::fail(
            S,
            "TCP connect",
            format!(
                "no answer from {}:{port} within {} (packets dropped)",
                p.host,
                ms(step.took)
            ),
            firewall_hint(port),
        ),
        Err(e) => Check::fail(
            S,
            "TCP connect",
            format!("{}:{port}: {} after {}", p.host, problem(e), ms(step.took)),
            format!(
                "check this machine's network route to {} (VPN, proxy); {}",
                p.host,
                firewall_hint(port)
            ),
        ),
    }
}

fn tls_check(step: &Step<String>) -> Check {
    match &step.result {
        Ok(v) => Check::pass(
            S,
            "TLS handshake",
            format!(
                "{v} in {}, certificate verified unless --insecure",
                ms(step.took)
            ),
        ),
        Err(e) => Check::fail(
            S,
            "TLS handshake",
            format!("failed after {}: {}", ms(step.took), problem(e)),
            "the certificate is not valid for this name or not trusted here: fix the certificate, use the name it was issued for, or --insecure for a test endpoint you trust",
        ),
    }
}

fn http_check(step: &Step<(u16, String)>) -> Check {
    match &step.result {
        Ok((200, body)) => Check::pass(
            S,
            "HTTP GET /health",
            format!("200 in {}: {body}", ms(step.took)),
        ),
        Ok((code, body)) => Check::fail(
            S,
            "HTTP GET /health",
            format!("{code} in {}: {body}", ms(step.took)),
            "the API answers but is not healthy: see the pods' logs (`kubectl logs -l app=... --tail 50`) and that the model loaded",
        ),
        Err(e) => Check::fail(
            S,
            "HTTP GET /health",
            format!("no response after {}: {}", ms(step.took), problem(e)),
            "the connection opens but the API does not answer: the pods may be overloaded or hung; see the pods below",
        ),
    }
}

fn problem(p: &Problem) -> String {
    match p {
        Problem::TimedOut => "timed out".into(),
        Problem::Refused => "connection refused".into(),
        Problem::Unreachable => "no route to host".into(),
        Problem::Other(s) => s.clone(),
    }
}

/// Why reachability was not checked: no address to check.
pub fn not_checked(reason: &str) -> Check {
    Check::warn(
        S,
        "Reachability",
        format!("not checked: {reason}"),
        "pass --host URL, or wait for the Service's external address (--wait 5m)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step<T>(ms: u64, result: Result<T, Problem>) -> Step<T> {
        Step {
            took: Duration::from_millis(ms),
            result,
        }
    }

    fn probe(host: &str) -> Probe {
        Probe {
            url: format!("http://{host}/").parse().unwrap(),
            host: host.into(),
            port: 80,
            dns: None,
            tcp: None,
            tls: None,
            http: None,
        }
    }

    #[test]
    fn a_timeout_on_connect_points_at_the_firewall() {
        let mut p = probe("34.1.2.3");
        p.tcp = Some(step(5000, Err(Problem::TimedOut)));
        let c = checks(&p);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].verdict, super::super::Verdict::Pass);
        assert_eq!(c[1].name, "TCP connect");
        assert_eq!(c[1].verdict, super::super::Verdict::Fail);
        assert!(
            c[1].evidence.contains("within 5000.0 ms"),
            "{}",
            c[1].evidence
        );
        assert!(
            c[1].fix
                .as_ref()
                .unwrap()
                .contains("firewall rule must admit tcp:80")
        );
    }

    #[test]
    fn a_refused_connection_says_nothing_listens() {
        let mut p = probe("34.1.2.3");
        p.tcp = Some(step(3, Err(Problem::Refused)));
        let c = checks(&p);
        assert!(
            c[1].fix
                .as_ref()
                .unwrap()
                .contains("nothing listens on port 80")
        );
    }

    #[test]
    fn each_step_that_passed_is_timed() {
        let mut p = probe("api.example.com");
        p.dns = Some(step(12, Ok(vec!["10.0.0.1:80".parse().unwrap()])));
        p.tcp = Some(step(20, Ok("10.0.0.1:80".parse().unwrap())));
        p.http = Some(step(30, Ok((200, "{\"status\":\"healthy\"}".into()))));
        let c = checks(&p);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["Name resolution", "TCP connect", "HTTP GET /health"]
        );
        assert!(c.iter().all(|c| c.verdict == super::super::Verdict::Pass));
        assert_eq!(c[0].evidence, "api.example.com -> 10.0.0.1 in 12.0 ms");
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_and_later_steps_are_not_tried() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        let url: Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let p = super::probe(&url, Duration::from_secs(5), false).await;
        assert_eq!(p.tcp.as_ref().unwrap().result, Err(Problem::Refused));
        assert!(p.http.is_none());
        drop(socket);
    }
}
