//! The Service's external address: a TCP front on 127.0.0.1 that sends each new connection to
//! one of the ready pods, chosen at random as kube-proxy's iptables rules do. A connection
//! stays on its pod for its life (keep-alive included); with no ready pod it is closed. A pod
//! killed without grace takes its connections with it: the front resets them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rand::Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A pod's relayed connections: how many are open, and the token that resets them all.
#[derive(Debug, Clone, Default)]
struct PodConnections {
    open: Arc<AtomicU64>,
    kill: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    /// The ready pods' addresses, by pod name.
    ready: RwLock<Vec<(String, SocketAddr)>>,
    /// Every pod that has been an endpoint and is not dead: its open connections.
    connections: Mutex<HashMap<String, PodConnections>>,
}

/// The ready pods' addresses, by pod name (the Service's endpoints), and the connections the
/// front relays to each pod (which outlive its leaving the endpoints, as conntrack entries).
#[derive(Debug, Clone, Default)]
pub struct Endpoints(Arc<Inner>);

impl Endpoints {
    pub fn add(&self, pod: &str, addr: SocketAddr) {
        let mut list = self.0.ready.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|(p, _)| p != pod);
        list.push((pod.to_string(), addr));
        self.0
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(pod.to_string())
            .or_default();
    }

    pub fn remove(&self, pod: &str) {
        let mut list = self.0.ready.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|(p, _)| p != pod);
    }

    /// The pod died without grace: out of the endpoints, and every connection relayed to it
    /// reset (the client sees RST, as when a node or container vanishes). Returns how many
    /// connections were open.
    pub fn kill(&self, pod: &str) -> u64 {
        self.remove(pod);
        let gone = self
            .0
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pod);
        gone.map_or(0, |c| {
            c.kill.cancel();
            c.open.load(Ordering::Relaxed)
        })
    }

    pub fn len(&self) -> usize {
        self.0.ready.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ready pods' names.
    pub fn names(&self) -> Vec<String> {
        let list = self.0.ready.read().unwrap_or_else(|e| e.into_inner());
        list.iter().map(|(p, _)| p.clone()).collect()
    }

    fn pick(&self) -> Option<(SocketAddr, PodConnections)> {
        let list = self.0.ready.read().unwrap_or_else(|e| e.into_inner());
        if list.is_empty() {
            return None;
        }
        let (pod, addr) = &list[rand::rng().random_range(0..list.len())];
        let connections = self
            .0
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pod)
            .cloned()
            .unwrap_or_default();
        Some((*addr, connections))
    }
}

/// Counts a relayed connection open while it lives.
struct Open(Arc<AtomicU64>);

impl Open {
    fn enter(count: &Arc<AtomicU64>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
        let Some((pod, connections)) = endpoints.pick() else {
            drop(client);
            continue;
        };
        tokio::spawn(relay(client, pod, connections, stop.clone()));
    }
}

/// One connection through to its pod, until either side closes, the pod is killed (the
/// client's side is reset) or the cluster stops.
async fn relay(
    mut client: TcpStream,
    pod: SocketAddr,
    connections: PodConnections,
    stop: CancellationToken,
) {
    let _open = Open::enter(&connections.open);
    let _ = client.set_nodelay(true);
    let Ok(mut upstream) = TcpStream::connect(pod).await else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    tokio::select! {
        () = stop.cancelled() => {}
        () = connections.kill.cancelled() => {
            // Closing with SO_LINGER 0 sends RST instead of FIN.
            let _ = client.set_zero_linger();
        }
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
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
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    return;
                }
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
        // The pod is killed: its open connection is reset.
        assert_eq!(endpoints.kill("p"), 1);
        let err = c.read(&mut buf).await.expect_err("reset");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        stop.cancel();
    }
}
