//! https targets: rustls, verified unless --insecure. The certificate is a self-signed one made
//! with the openssl command for 127.0.0.1.

use crate::support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use iris_lab::api::Failure;
use iris_lab::pipeline as load;
use iris_lab::pipeline::RunError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

fn self_signed(dir: &std::path::Path) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("these tests need the openssl command to make a certificate");
    assert!(status.success());
    let certs = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (certs, PrivateKeyDer::from_pem_file(&key).unwrap())
}

/// An https server answering every path like a healthy API.
async fn tls_api(dir: &std::path::Path) -> reqwest::Url {
    tls_api_after(dir, std::time::Duration::ZERO).await
}

/// Like [`tls_api`], waiting `delay` after accepting each connection before the handshake.
async fn tls_api_after(dir: &std::path::Path, delay: std::time::Duration) -> reqwest::Url {
    let (certs, key) = self_signed(dir);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = match req.uri().path() {
                        "/health" => r#"{"status": "healthy"}"#,
                        "/predict" => support::PREDICT_OK,
                        _ => r#"{"version": "2.0.0"}"#,
                    };
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(body.as_bytes()),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    format!("https://{addr}").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_insecure_and_an_unverified_certificate_is_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let host = tls_api(dir.path()).await;

    let mut opts = support::options(host.clone(), dir.path(), 3, 1.0, "HighLoadUser");
    opts.plan.insecure = true;
    let r = load::run(&opts.plan, &opts.site, &mut support::Recorder::default())
        .await
        .unwrap()
        .record;
    assert!(r.aggregate.requests > 3);
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);

    let opts = support::options(host, dir.path(), 3, 1.0, "HighLoadUser");
    match load::run(&opts.plan, &opts.site, &mut support::Recorder::default()).await {
        Err(
            e @ RunError::Unreachable {
                failure: Failure::Tls,
                ..
            },
        ) => {
            assert!(e.to_string().contains("--insecure"), "{e}");
        }
        other => panic!(
            "expected a TLS refusal, got {:?}",
            other.map(|r| r.record.aggregate.requests)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handshake_shows_as_tls_not_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let delay = std::time::Duration::from_millis(300);
    let host = tls_api_after(dir.path(), delay).await;
    let mut opts = support::options(host, dir.path(), 2, 1.5, "HighLoadUser");
    opts.plan.insecure = true;
    let r = load::run(&opts.plan, &opts.site, &mut support::Recorder::default())
        .await
        .unwrap()
        .record;
    assert_eq!(r.aggregate.failures, 0, "{:?}", r.failures);
    let p = &r.phases.as_ref().unwrap().aggregate;
    let (connect, tls) = (p.connect.as_ref().unwrap(), p.tls.as_ref().unwrap());
    // One connection per user, kept alive.
    assert_eq!((connect.count, tls.count), (2, 2));
    assert!(tls.p50_ms >= 240.0, "{tls:?}");
    assert!(connect.p50_ms < 100.0, "{connect:?}");
    // Requests on the open connections did not wait for a handshake.
    assert!(p.waiting.as_ref().unwrap().p50_ms < 100.0, "{p:?}");
}
