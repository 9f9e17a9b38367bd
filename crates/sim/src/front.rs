//! The Service's external address: a TCP front on 127.0.0.1 that sends each new connection to
//! one of the ready pods, chosen at random as kube-proxy's iptables rules do. A connection
//! stays on its pod for its life (keep-alive included); with no ready pod it is closed.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use rand::Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The ready pods' addresses, by pod name (the Service's endpoints).
#[derive(Debug, Clone, Default)]
pub struct Endpoints(Arc<RwLock<Vec<(String, SocketAddr)>>>);

impl Endpoints {
    pub fn add(&self, pod: &str, addr: SocketAddr) {
        let mut list = self.0.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|(p, _)| p != pod);
        list.push((pod.to_string(), addr));
    }

    pub fn remove(&self, pod: &str) {
        let mut list = self.0.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|(p, _)| p != pod);
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn pick(&self) -> Option<SocketAddr> {
        let list = self.0.read().unwrap_or_else(|e| e.into_inner());
        if list.is_empty() {
            return None;
        }
        Some(list[rand::rng().random_range(0..list.len())].1)
    }
}

/// Accepts on `listener` until `stop`, relaying each connection to a ready pod.
pub async fn run(listener: TcpListener, endpoints: Endpoints, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((client, _)) = accepted else {
            // Out of descriptors: let connections close before the next accept.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Some(pod) = endpoints.pick() else {
            drop(client);
            continue;
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(mut upstream) = TcpStream::connect(pod).await else {
                return;
            };
            let _ = upstream.set_nodelay(true);
            let mut client = client;
            tokio::select! {
                () = stop.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_reach_ready_pods_and_stay_on_theirs() {
        let pod = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pod_addr = pod.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = pod.accept().await.unwrap();
            let mut buf = [0u8; 4];
            for _ in 0..2 {
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            }
        });
        let endpoints = Endpoints::default();
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = front.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(run(front, endpoints.clone(), stop.clone()));

        // No ready pod: the connection is closed.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(c.read(&mut buf).await.unwrap_or(0), 0);

        endpoints.add("p", pod_addr);
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        // The pod leaves the endpoints: the open connection stays on it.
        endpoints.remove("p");
        c.write_all(b"pong").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        stop.cancel();
    }
}
