//! The page beside one run of `iris-lab load --web`: the same page and feed, the run started
//! from flags (the form cannot start another), its users changed and stopped from the page.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Guard, Hub, PageInfo, Start, WebMonitor};
use iris_output as output;
use iris_pipeline::{LoadResult, RunControl, RunPlan, RunSite};

/// A page serving one run; the server stops when this is dropped.
pub struct AttachedPage {
    pub hub: Arc<Hub>,
    pub id: u32,
    pub url: String,
    shutdown: CancellationToken,
}

impl AttachedPage {
    /// Binds `addr`, says where the page is (and the token, when one was made), registers the
    /// run; returns the page, the monitor to tee beside the terminal's and the run's control.
    pub async fn start(
        addr: SocketAddr,
        guard: Guard,
        generated_token: bool,
        plan: &RunPlan,
        site: &RunSite,
    ) -> std::io::Result<(Self, WebMonitor, RunControl)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let url = format!("http://{local}/");
        output::note(&format!("web: the run's page is at {url}"));
        if generated_token && let Some(token) = &guard.token {
            output::note(&format!(
                "web: listening beyond loopback: changes need this token (the page asks for \
                 it): {token}"
            ));
        }
        let load = &plan.load;
        let info = PageInfo {
            token_required: guard.token.is_some(),
            can_start: false,
            default_host: Some(site.host.to_string()),
            classes: vec![load.class.name.clone()],
            scenarios: plan
                .scenario
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            default_users: load.users,
            default_spawn_rate: Some(load.spawn_rate),
        };
        let hub = Hub::new(info, None);
        let distributed = !matches!(plan.mode, iris_pipeline::RunMode::OneProcess);
        let (id, control) = hub.attach(Start::of(plan, site, distributed));
        let shutdown = CancellationToken::new();
        tokio::spawn(super::serve(listener, hub.clone(), guard, shutdown.clone()));
        let monitor = WebMonitor::new(hub.clone(), id);
        let page = Self {
            hub,
            id,
            url,
            shutdown,
        };
        Ok((page, monitor, control))
    }

    pub fn finished(&self, result: &LoadResult) {
        self.hub.finished(self.id, result);
    }

    pub fn failed(&self, error: String) {
        self.hub.failed(self.id, error);
    }
}

impl Drop for AttachedPage {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
