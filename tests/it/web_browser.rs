//! The page in a real headless Chromium (Debian's `chromium` and `chromium-driver`, through
//! WebDriver with `fantoccini`): 20 users started from the form, the statistics rows and the
//! charts updating, a change to 40 users that the users chart follows, the stop, and the CSV
//! downloaded from the page compared with the one the run saved. With `IRIS_LAB_SCREENSHOTS`
//! set to a directory, a PNG of each tab is written there (`bench/screenshot.sh web`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::web::WebProcess;
use crate::support::{ServeProcess, on_own_runtime};

/// The flags Chromium runs with: headless, as root, and without any traffic of its own.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
/// How long the page may take to show what is asked (a debug build on a busy machine).
const LIMIT: Duration = Duration::from_secs(60);

/// `chromedriver --port=P`, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is missing: apt-get install chromium chromium-driver");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn session(driver: &Driver, profile: &Path) -> Client {
    session_with(driver, profile, &[]).await
}

async fn session_with(driver: &Driver, profile: &Path, extra: &[&str]) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.extend(extra.iter().map(|f| f.to_string()));
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push("--window-size=1400,1000".into());
    let caps = json!({"goog:chromeOptions": {"args": args}});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let start = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(e) if start.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

/// Evaluates `expr` (a JS expression) until it is truthy; returns its value.
async fn wait_js(c: &Client, what: &str, expr: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = c
            .execute(&format!("return ({expr});"), vec![])
            .await
            .expect("script");
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return v;
        }
        assert!(
            start.elapsed() < LIMIT,
            "the page did not show {what} within {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.expect(css);
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("click");
}

async fn tab(c: &Client, name: &str, shots: Option<&PathBuf>) {
    click(c, &format!("#tabs button[data-tab=\"{name}\"]")).await;
    if let Some(dir) = shots {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("web-{name}.png")), png).expect("write PNG");
    }
}

const AGGREGATED: &str = "[...document.querySelectorAll('#stats-table tbody tr.total td')]\
    .map(td => td.textContent)";

#[test]
fn the_page_starts_changes_and_stops_a_run_in_chromium() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let web = WebProcess::start(dir.path());
    let driver = Driver::start();
    let (url, host) = (web.url.clone(), api.url.clone());
    let root = dir.path().to_path_buf();
    let shots = std::env::var_os("IRIS_LAB_SCREENSHOTS").map(PathBuf::from);
    on_own_runtime(move || async move {
        let c = session(&driver, &root.join("profile")).await;
        c.goto(&url).await.expect("open the page");
        wait_js(&c, "the form", "document.querySelector('#classes option')").await;
        fill(&c, "#users", "20").await;
        fill(&c, "#spawn_rate", "40").await;
        fill(&c, "#host", &host).await;
        click(&c, "#start").await;

        // Statistics: Locust's rows, the aggregate counting up.
        let first = wait_js(&c, "statistics rows", &format!(
            "(() => {{ const r = {AGGREGATED}; return r.length && Number(r[2].replace(/,/g, '')) > 0 && r; }})()"
        )).await;
        let rows = wait_js(&c, "endpoint rows", "document.querySelectorAll('#stats-table tbody tr').length > 1 && document.querySelectorAll('#stats-table tbody tr').length").await;
        assert!(rows.as_u64().unwrap() >= 3, "{rows}");
        wait_js(&c, "the aggregate growing", &format!(
            "(() => {{ const r = {AGGREGATED}; return Number(r[2].replace(/,/g, '')) > {}; }})()",
            first[2].as_str().unwrap().replace(',', "")
        )).await;

        // Charts: points arriving, the users chart at 20.
        tab(&c, "charts", None).await;
        wait_js(&c, "20 users on the chart", "document.querySelector('#chart-users').dataset.last === '20'").await;
        let before = wait_js(&c, "requests/s plotted", "Number(document.querySelector('#chart-rps').dataset.points) >= 2 && document.querySelector('#chart-rps path[data-key=rps]').getAttribute('d')").await;
        wait_js(&c, "the chart moving on", &format!(
            "document.querySelector('#chart-rps path[data-key=rps]').getAttribute('d') !== {before}"
        )).await;

        // Change to 40 users: the users chart follows.
        fill(&c, "#users", "40").await;
        click(&c, "#change").await;
        wait_js(&c, "40 users on the chart", "document.querySelector('#chart-users').dataset.last === '40'").await;
        if let Some(dir) = &shots {
            std::fs::create_dir_all(dir).expect("screenshot dir");
            for name in ["stats", "charts", "failures", "cluster", "phases"] {
                tab(&c, name, Some(dir)).await;
            }
        }

        click(&c, "#stop").await;
        wait_js(&c, "the run interrupted, as its record says", "document.querySelector('#k-status').textContent === 'interrupted'").await;
        tab(&c, "download", shots.as_ref()).await;
        // The page's download link, fetched by the page itself, is the CSV the run saved.
        let href = wait_js(&c, "the CSV link", "document.querySelector('#dl-stats-csv') && document.querySelector('#dl-stats-csv').href").await;
        assert!(href.as_str().unwrap().ends_with("/stats.csv"), "{href}");
        let script = "const done = arguments[arguments.length - 1]; \
            fetch(document.querySelector('#dl-stats-csv').href) \
            .then(r => r.text()).then(done, e => done('ERROR ' + e));";
        let csv = c.execute_async(script, vec![]).await.expect("download");
        let saved = std::fs::read_to_string(root.join("run_stats.csv")).expect("saved CSV");
        assert_eq!(csv.as_str().unwrap(), saved);
        assert!(saved.lines().count() >= 3, "{saved}");
        c.close().await.expect("close the session");
    })
    .join()
    .unwrap();
}

/// Every visible text (HTML and SVG) against the background it is drawn on: the elements whose
/// WCAG contrast ratio is under 4.5 ("tag.class: text ratio"), and the body's luminance.
const CONTRAST: &str = r##"(() => {
  const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c || ""); if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
    return { r: 255, g: 255, b: 255, a: 1 }; };
  const bad = []; let checked = 0;
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest("[hidden]") || e.matches(":disabled") || !e.getClientRects().length) continue;
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const st = getComputedStyle(e);
    const fg = parse(e instanceof SVGElement ? st.fill : st.color);
    if (!fg) continue;
    const [a, b] = [lum(fg), lum(bg(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked++;
    if (ratio < 4.5) bad.push(e.tagName.toLowerCase() + "#" + e.id + ": " + e.textContent.trim().slice(0, 30) + " " + ratio.toFixed(2));
  }
  return { dark: matchMedia("(prefers-color-scheme: dark)").matches, body: lum(bg(document.body)), checked, bad };
})()"##;

/// The page in the light and the dark colour scheme (Chromium's `--force-dark-mode` makes
/// `prefers-color-scheme: dark` match), with a run's rows, charts and failures on it: on every
/// tab each visible text has a WCAG AA contrast (4.5:1) against its background. With
/// `IRIS_LAB_SCREENSHOTS`, a PNG of each tab in each scheme (`web-light-stats.png`, ...).
#[test]
fn the_page_is_readable_in_the_light_and_the_dark_scheme() {
    let api = ServeProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let web = WebProcess::start(dir.path());
    let driver = Driver::start();
    let (url, host) = (web.url.clone(), api.url.clone());
    let root = dir.path().to_path_buf();
    let shots = std::env::var_os("IRIS_LAB_SCREENSHOTS").map(PathBuf::from);
    on_own_runtime(move || async move {
        // A short run with failures (an unknown path in no class: a wrong host port), stopped.
        let (status, answer) = crate::support::web::swarm(
            &url,
            &[
                ("user_count", "5"),
                ("spawn_rate", "50"),
                ("host", &host),
                ("run_time", "3s"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        crate::support::web::wait_state(&url, LIMIT, |s| s["latest"]["status"] == "completed")
            .await;
        for (scheme, flags) in [("light", vec![]), ("dark", vec!["--force-dark-mode"])] {
            let c = session_with(&driver, &root.join(format!("profile-{scheme}")), &flags).await;
            c.goto(&url).await.expect("open the page");
            wait_js(
                &c,
                "the rows",
                "document.querySelectorAll('#stats-table tbody tr').length > 1",
            )
            .await;
            if scheme == "light" {
                bad_forms_say_why_on_the_page(&c, &host).await;
            }
            for name in [
                "stats", "charts", "failures", "cluster", "phases", "download",
            ] {
                click(&c, &format!("#tabs button[data-tab=\"{name}\"]")).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let v = c
                    .execute(&format!("return {CONTRAST};"), vec![])
                    .await
                    .expect("script");
                assert_eq!(v["dark"], scheme == "dark", "{scheme}: {v}");
                let body = v["body"].as_f64().unwrap();
                assert!(
                    if scheme == "dark" {
                        body < 0.05
                    } else {
                        body > 0.8
                    },
                    "{scheme} background: {v}"
                );
                assert!(v["checked"].as_u64().unwrap() > 10, "{scheme} {name}: {v}");
                assert_eq!(v["bad"], json!([]), "{scheme} {name}: texts under 4.5:1");
                if let Some(dir) = &shots {
                    std::fs::create_dir_all(dir).expect("screenshot dir");
                    let png = c.screenshot().await.expect("screenshot");
                    std::fs::write(dir.join(format!("web-{scheme}-{name}.png")), png)
                        .expect("write PNG");
                }
            }
            c.close().await.expect("close the session");
        }
    })
    .join()
    .unwrap();
}

/// Bad input from the form: one line in red on the page, and no run started. Negative users
/// do not leave the browser (the field's minimum is 0): the field is invalid.
async fn bad_forms_say_why_on_the_page(c: &Client, host: &str) {
    let cases = [
        ("NoSuchUser", "", host, "unknown user class \"NoSuchUser\""),
        ("", "no-such.yaml", host, "no-such.yaml"),
        (
            "",
            "",
            "http://no-such-host.invalid:8000",
            "does not resolve",
        ),
    ];
    fill(c, "#users", "5").await;
    for (class, scenario, to, says) in cases {
        fill(c, "#user_class", class).await;
        fill(c, "#scenario", scenario).await;
        fill(c, "#host", to).await;
        click(c, "#start").await;
        let shown = wait_js(c, says, &format!(
            "document.querySelector('#message.error') && document.querySelector('#message').textContent.includes({says:?}) && document.querySelector('#message').textContent"
        )).await;
        assert!(!shown.as_str().unwrap().contains('\n'), "{shown}");
    }
    fill(c, "#users", "-5").await;
    fill(c, "#host", host).await;
    click(c, "#start").await;
    let valid = c
        .execute(
            "return document.querySelector('#users').validity.valid;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        valid,
        Value::Bool(false),
        "-5 users is refused by the field"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs = c
        .execute(
            "return document.querySelectorAll('#run-select option').length;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(runs, json!(1), "no run started");
    fill(c, "#users", "150").await;
}
