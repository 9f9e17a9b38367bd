//! The Iris API's contract: its types and the pure checks of its responses (no network: the
//! client that calls it is `iris_probe`'s).

pub mod checks;
pub mod contract;

pub use checks::Failure;
pub use contract::{Features, Species};
