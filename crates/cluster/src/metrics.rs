//! Pod CPU and memory from metrics.k8s.io (what `kubectl top pods` shows).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::{Deserialize, Serialize};

use super::Cluster;
use super::ClusterError;
use super::checks::{cpu_millis, memory_bytes, pod_cpu_request_millis};

/// The body of a `metrics.k8s.io/v1beta1` PodMetrics besides its metadata.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodMetricsData {
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
    /// The window the usage was averaged over (metrics-server's resolution), e.g. `15s`.
    #[serde(default)]
    pub window: Option<String>,
    /// When the window ended (RFC 3339).
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}

/// One row of the `top` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodUsage {
    pub pod: String,
    pub cpu_millis: f64,
    /// CPU as a share of the pod's CPU request, when it has one.
    pub cpu_percent_of_request: Option<f64>,
    pub memory_bytes: f64,
    /// Seconds the usage was averaged over (the PodMetrics' `window`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// When that window ended (the PodMetrics' `timestamp`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<jiff::Timestamp>,
}

fn pod_metrics_resource() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// Sums a PodMetrics' containers into one row; `requests` gives CPU requests by pod name.
pub fn usage_row(name: &str, data: &PodMetricsData, request_millis: Option<f64>) -> PodUsage {
    let sum = |key: &str, parse: fn(&str) -> Option<f64>| {
        data.containers
            .iter()
            .filter_map(|c| c.usage.get(key))
            .filter_map(|q| parse(&q.0))
            .sum::<f64>()
    };
    let cpu = sum("cpu", cpu_millis);
    PodUsage {
        pod: name.to_string(),
        cpu_millis: cpu,
        cpu_percent_of_request: request_millis.filter(|r| *r > 0.0).map(|r| cpu / r * 100.0),
        memory_bytes: sum("memory", memory_bytes),
        window_s: data
            .window
            .as_deref()
            .and_then(|w| iris_base::units::parse_duration(w).ok())
            .map(|w| w.as_secs_f64())
            .filter(|w| *w > 0.0),
        window_end: data.timestamp.as_deref().and_then(|t| t.parse().ok()),
    }
}

impl Cluster {
    /// `kubectl top pods -l SELECTOR`: usage of each pod, sorted by name.
    pub async fn top(&self, pods: &[Pod]) -> Result<Vec<PodUsage>, ClusterError> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.namespace,
            &pod_metrics_resource(),
        );
        let lp = ListParams::default().labels(&self.names.selector);
        let access = self.access("list", "pods.metrics.k8s.io", None);
        let list = self.call(access, "PodMetrics", api.list(&lp)).await?;
        let mut rows: Vec<PodUsage> = list
            .items
            .into_iter()
            .filter_map(|obj| {
                let name = obj.metadata.name.clone()?;
                let data: PodMetricsData = serde_json::from_value(obj.data).ok()?;
                let request = pods
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == Some(name.as_str()))
                    .and_then(pod_cpu_request_millis);
                Some(usage_row(&name, &data, request))
            })
            .collect();
        rows.sort_by(|a, b| a.pod.cmp(&b.pod));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_read_as_metrics_server_writes_it() {
        for (text, secs) in [
            ("15s", Some(15.0)),
            ("10.085s", Some(10.085)),
            ("1m0s", Some(60.0)),
            ("500ms", Some(0.5)),
            ("0s", None),
            ("soon", None),
        ] {
            let data = PodMetricsData {
                window: Some(text.into()),
                ..PodMetricsData::default()
            };
            let w = usage_row("p", &data, None).window_s;
            assert!(
                w.zip(secs).is_none_or(|(w, s)| (w - s).abs() < 1e-9)
                    && w.is_some() == secs.is_some(),
                "{text}: {w:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_window_text_reads_without_panic(text in "\\PC{0,12}", secs in 0u32..100_000, millis in 0u32..1000) {
            let data = PodMetricsData { window: Some(text), ..PodMetricsData::default() };
            let w = usage_row("p", &data, None).window_s;
            proptest::prop_assert!(w.is_none_or(|w| w.is_finite() && w > 0.0));
            let go = format!("{secs}.{millis:03}s");
            let data = PodMetricsData { window: Some(go), ..PodMetricsData::default() };
            let want = f64::from(secs) + f64::from(millis) / 1000.0;
            let w = usage_row("p", &data, None).window_s;
            let read_back = if want > 0.0 {
                w.is_some_and(|w| (w - want).abs() < 1e-6)
            } else {
                w.is_none()
            };
            proptest::prop_assert!(read_back, "{want}: {w:?}");
        }
    }

    #[test]
    fn a_row_sums_containers_and_relates_cpu_to_the_request() {
        let data: PodMetricsData = serde_json::from_value(serde_json::json!({
            "timestamp": "2026-01-01T00:00:00Z", "window": "15s",
            "containers": [
                {"name": "a", "usage": {"cpu": "100m", "memory": "64Mi"}},
                {"name": "b", "usage": {"cpu": "20000000n", "memory": "1024Ki"}}
            ]
        }))
        .unwrap();
        let row = usage_row("p", &data, Some(200.0));
        assert_eq!(row.cpu_millis, 120.0);
        assert_eq!(row.cpu_percent_of_request, Some(60.0));
        assert_eq!(row.memory_bytes, 65.0 * 1048576.0);
        assert_eq!(usage_row("p", &data, None).cpu_percent_of_request, None);
        assert_eq!(row.window_s, Some(15.0));
        assert_eq!(
            row.window_end,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
    }
}
