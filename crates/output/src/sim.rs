//! What `iris-lab sim` prints when its cluster is up: where it listens, its settings, and the
//! commands to try on it.

use std::path::Path;

use super::Style;
use iris_sim::NamedSetting;

/// The started cluster, for a person: the kubeconfig, the addresses, the settings, what to run.
pub fn render_sim_started(
    kubeconfig: &Path,
    api_url: &str,
    service_url: Option<&str>,
    settings: &[NamedSetting],
    style: Style,
) -> String {
    let mut table = style.table(&["setting", "value"]);
    for s in settings {
        table.add_row(vec![s.name, s.value.as_str()]);
    }
    let k = kubeconfig.display();
    let service = service_url.unwrap_or("<pending> (--pending-address)");
    format!(
        "iris-lab sim: a simulated cluster (every figure below is invented by the simulation, not measured)\n\
         Kubernetes API  {api_url}\n\
         Service         {service} (iris-prediction-api-service, LoadBalancer)\n\
         kubeconfig      {k}\n\n\
         {table}\n\n\
         Try, in another terminal:\n\
         \x20 export KUBECONFIG={k}\n\
         \x20 iris-lab verify\n\
         \x20 iris-lab watch                      # and in a third terminal:\n\
         \x20 iris-lab load --users 300 --user-class HighLoadUser --duration 3m\n\
         \x20 iris-lab report > results.md\n\
         \x20 iris-lab cleanup\n\
         \x20 kubectl get pods,hpa,svc -w; kubectl top pods; kubectl describe hpa; kubectl scale deploy/iris-prediction-api --replicas 4\n\n\
         Ctrl-C stops the cluster.\n"
    )
}
