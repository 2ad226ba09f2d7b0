//! Operability of the daemon: the Prometheus metrics and the interceptor that
//! counts AWS requests. Every metric name is declared in [`metrics`]; no
//! other file holds a string that names a metric.

mod aws;
pub mod metrics;

pub use aws::aws_interceptor;
pub use metrics::{DurationTimer, Metrics, PassResult, RequestOutcome, Snapshot, Step, snapshot};
