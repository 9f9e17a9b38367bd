//! Where requests' time went, as the client measured it (connect, TLS, sending, waiting,
//! receiving) and as the server reported it (`Server-Timing` or the body's fields): typed
//! fields of the record, absent in records made before them.

use serde::{Deserialize, Serialize};

use super::Distribution;

/// Name resolution, once before the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub ms: f64,
    /// How many addresses the name resolved to (users spread over them).
    pub addresses: usize,
}

/// A distribution per phase (ms, with its histogram in us); each absent when no request went
/// through that phase (`tls` on http, `connect` when every connection was reused...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseDistributions {
    /// TCP connect, of requests that opened their connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Distribution>,
    /// TLS handshake, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Distribution>,
    /// Writing the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending: Option<Distribution>,
    /// From the request sent to the first byte of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Distribution>,
    /// From the first byte to the end of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving: Option<Distribution>,
    /// The server's total by its `Server-Timing` header (else `/predict`'s `total_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Distribution>,
    /// The model's time, likewise (`inference_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Distribution>,
}

impl PhaseDistributions {
    /// Each phase with its name for people, in the order a request goes through them.
    pub fn named(&self) -> [(&'static str, Option<&Distribution>); 7] {
        [
            ("Connect (TCP)", self.connect.as_ref()),
            ("TLS handshake", self.tls.as_ref()),
            ("Sending", self.sending.as_ref()),
            ("Waiting (to first byte)", self.waiting.as_ref()),
            ("Receiving", self.receiving.as_ref()),
            ("Server total", self.server.as_ref()),
            ("Model", self.model.as_ref()),
        ]
    }
}

/// The phases of one (method, name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointPhases {
    pub method: String,
    pub name: String,
    #[serde(flatten)]
    pub phases: PhaseDistributions,
}

/// The phases of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasesRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Sorted by name then method, as the endpoints are.
    pub endpoints: Vec<EndpointPhases>,
    pub aggregate: PhaseDistributions,
}

impl PhasesRecord {
    /// The phases of `method name`.
    pub fn endpoint(&self, method: &str, name: &str) -> Option<&PhaseDistributions> {
        self.endpoints
            .iter()
            .find(|e| e.method == method && e.name == name)
            .map(|e| &e.phases)
    }
}

/// One second's connections: how many were opened, their median connect time and the median
/// time to first byte, of all requests and of those on a new connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPhases {
    pub new_connections: u64,
    pub connect_p50_ms: Option<f64>,
    pub waiting_p50_ms: Option<f64>,
    pub new_waiting_p50_ms: Option<f64>,
}
