//! `iris-lab web`: the live page, idle until a run is started from it (Locust's web UI). Each
//! run is `load`'s pipeline with the page as its monitor; its options come from the form the
//! way `load`'s come from flags (over the config file's `load:` section).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{LoadArgs, WebArgs};
use crate::config::Settings;
use crate::error::{Error, Outcome};
use crate::loadgen::BUILTIN_CLASSES;
use crate::output;
use crate::pipeline::{RunMode, RunPlan, RunSite};
use crate::units::{Host, PositiveDuration, Rate, Stages, Users};
use crate::web::{self, Guard, Hub, PageInfo, Starter, SwarmForm};

/// Where the page listens unless told otherwise: Locust's port.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8089);
/// A run started without a duration runs until stopped, at most this long.
pub const UNTIL_STOPPED: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long Ctrl-C waits for a running run to save its record.
const SAVE_WAIT: Duration = Duration::from_secs(15);

/// How `load` settles its (layered) arguments into a run's plan; the edge (`lib.rs`) hands it
/// in, so that commands do not import commands and the form is settled as flags are.
pub type PlanOf = fn(&Settings, &LoadArgs) -> Result<RunPlan, Error>;

pub async fn run(settings: &Settings, args: &WebArgs, plan_of: PlanOf) -> Result<Outcome, Error> {
    let addr = args.addr.unwrap_or(DEFAULT_ADDR);
    let (guard, generated) = Guard::for_addr(addr, args.web_token.clone());
    let listener = bind(addr).await?;
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let shutdown_signal = crate::signals::shutdown();
    output::write_stdout(&format!("web: http://{local}/\n"))?;
    if generated {
        output::note(&format!(
            "web: listening beyond loopback: changes need this token (the page asks for it): {}",
            guard.token.as_deref().unwrap_or_default()
        ));
    }
    let default_host = default_host(settings, args).await;
    let info = page_info(
        settings,
        &guard,
        default_host.as_ref().map(|h| h.to_string()),
    );
    let starter = FormStarter {
        plan_of,
        settings: settings.clone(),
        args: args.clone(),
        default_host,
    };
    let hub = Hub::new(info, Some(Arc::new(starter)));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(web::serve(listener, hub.clone(), guard, shutdown.clone()));
    shutdown_signal.await;
    output::note("web: stopping; a running run saves its record first");
    let _ = hub.stop();
    let deadline = tokio::time::Instant::now() + SAVE_WAIT;
    while hub.is_running() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    match server.await {
        Ok(result) => result.map_err(Error::Serve)?,
        Err(e) => return Err(Error::Serve(std::io::Error::other(e))),
    }
    Ok(Outcome::Success)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// `--host`, else the Service's external IP when a cluster is found (quietly none).
async fn default_host(settings: &Settings, args: &WebArgs) -> Option<reqwest::Url> {
    if settings.host.is_some() || !args.no_cluster {
        let found = tokio::time::timeout(Duration::from_secs(10), super::require_host(settings));
        if let Ok(Ok(url)) = found.await {
            return Some(url);
        }
    }
    settings.host.clone()
}

fn page_info(settings: &Settings, guard: &Guard, default_host: Option<String>) -> PageInfo {
    let file = &settings.file.load;
    PageInfo {
        token_required: guard.token.is_some(),
        can_start: true,
        default_host,
        classes: BUILTIN_CLASSES.iter().map(|c| c.to_string()).collect(),
        scenarios: file
            .scenario
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        default_users: file.users.map_or(150, |u| u.0),
        default_spawn_rate: file.spawn_rate.map(|r| r.0),
    }
}

/// The form -> `load`'s arguments -> `load`'s options.
struct FormStarter {
    plan_of: PlanOf,
    settings: Settings,
    args: WebArgs,
    default_host: Option<reqwest::Url>,
}

/// A form field parsed as the flag of the same value would be, its error naming the field.
fn parse<T: std::str::FromStr<Err = String>>(
    value: &Option<String>,
    name: &str,
) -> Result<Option<T>, String> {
    SwarmForm::field(value)
        .map(|text| {
            text.parse::<T>()
                .map_err(|e| format!("{name} {text:?}: {e}"))
        })
        .transpose()
}

impl Starter for FormStarter {
    fn plan(&self, form: &SwarmForm) -> Result<(RunPlan, RunSite), String> {
        let stages: Option<Stages> = parse(&form.stages, "stages")?;
        let users: Option<Users> = parse(&form.user_count, "user_count")?;
        if users.is_none() && stages.is_none() {
            return Err("user_count is missing: the number of users to start, e.g. 150".into());
        }
        let duration = match parse::<PositiveDuration>(&form.run_time, "run_time")? {
            Some(d) => Some(d),
            None => parse(&form.duration, "duration")?,
        };
        let form_args = LoadArgs {
            users,
            spawn_rate: parse::<Rate>(&form.spawn_rate, "spawn_rate")?,
            duration: duration.or(Some(PositiveDuration(UNTIL_STOPPED))),
            user_class: SwarmForm::field(&form.user_class).map(String::from),
            scenario: SwarmForm::field(&form.scenario).map(std::path::PathBuf::from),
            stages,
            out_dir: self.args.out_dir.clone(),
            csv: self.args.csv.clone(),
            no_cluster: self.args.no_cluster,
            ..LoadArgs::default()
        };
        // The config file's `load:` section under the form, as under load's flags; the page
        // runs every user in this process.
        let mut args = self.settings.layer(&form_args, |f| &f.load);
        (args.workers, args.local, args.web) = (None, false, None);
        let host = match parse::<Host>(&form.host, "host")? {
            Some(h) => h.0,
            None => self.default_host.clone().ok_or(
                "host is missing: the API's base URL, e.g. http://34.1.2.3 (no cluster was \
                 found to read it from)",
            )?,
        };
        let plan = (self.plan_of)(&self.settings, &args).map_err(|e| crate::error::one_line(&e))?;
        if !matches!(plan.mode, RunMode::OneProcess) {
            return Err("the page runs every user in this process: no workers".into());
        }
        let site = RunSite {
            cluster: Some((self.settings.cluster.clone(), self.settings.names.clone())),
            signals: false,
            ..RunSite::new(host)
        };
        Ok((plan, site))
    }
}
