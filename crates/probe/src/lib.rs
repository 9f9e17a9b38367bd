//! One-off calls to the Iris API: a typed client (reqwest) and Phase 1.3's smoke test. The
//! contract's types and the pure response checks they use are `iris_api`'s.

pub mod client;
pub mod smoke;

pub use client::{ApiClient, Exchange, TransportError};
