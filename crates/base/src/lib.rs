//! iris-lab's bottom layer: value types of flags and file, exit outcomes, signals, keys, error chains, the one YAML parser, usage errors.

pub mod chain;
pub mod keys;
pub mod outcome;
pub mod signals;
pub mod units;
pub mod usage;
pub mod yaml;
