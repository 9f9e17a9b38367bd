//! The Iris API from the client's side: the contract's types, pure response checks, and a
//! typed client.

pub mod checks;
pub mod client;
pub mod contract;
pub mod smoke;

pub use checks::Failure;
pub use client::{ApiClient, Exchange, TransportError};
pub use contract::{Features, Species};
