//! What the runs mean, decided from their records alone (no network, no rendering): each run
//! as a [`RunView`], the comparison tables, the findings, the timing breakdown, the pods'
//! errors, and the autoscaling analysis (capacity fit, scale-up anatomy, the HPA's replay,
//! recommendations, `predict`). `iris_report` renders it; `iris_delta` compares runs with it.

pub mod autoscaling;
pub mod breakdown;
pub mod compare;
pub mod findings;
pub mod from_record;
pub mod pod_errors;
pub mod table;
pub mod view;

pub use findings::{Finding, Verdict};
pub use table::Table;
pub use view::RunView;
