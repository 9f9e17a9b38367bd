//! The rules of ARCHITECTURE.md that Cargo cannot check. Between crates, Cargo already refuses a
//! cycle or an arrow upwards (a crate lists only the crates below it); here: inside the top
//! package, no cycles between its modules (`src/cli`, `src/commands`, `config.rs`, `error.rs`),
//! no command importing another command, nothing below the settings reaching `cli`; and, from
//! `Cargo.lock`, no network crate anywhere under the analysis crates. Reads every
//! `src/**/*.rs`, collects its `crate::ROOM` references (`use crate::a::B`, `use crate::{a,
//! b::c}`, paths in expressions) and fails naming the offence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The room a file is in: `src/cli/load.rs` -> `cli`, `src/config.rs` -> `config`; the crate
/// root (`lib.rs`, `main.rs`) and this test are in none.
fn room_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let room = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(room, "lib" | "main" | "rooms_tests")).then(|| room.to_string())
}

/// The text without `//` comments (doc comments name other rooms in prose).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string (an URL) is rare in paths we care about; a comment is cut.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level names after each `crate::`: `crate::a::B` -> a, `crate::{a, b::{c, d}}` ->
/// a, b.
pub fn crate_references(text: &str) -> BTreeSet<String> {
    names_after(&strip_comments(text), "crate::")
}

/// The first names of the paths after each `prefix` (not inside a longer identifier):
/// `P::a::B` -> a, `P::{a, b::{c, d}}` -> a, b.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        // `iris_crate::x` is not a crate path.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = rest.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        start = true;
                        continue;
                    }
                    _ => {}
                }
                if start && depth == 0 && !c.is_whitespace() {
                    let name = ident(&group[j..]);
                    if !name.is_empty() && name != "self" {
                        out.insert(name.to_string());
                    }
                    start = false;
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() && name != "self" {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The other commands a file of `src/commands/` names (`crate::commands::x`, `super::x`);
/// `mod.rs` holds what commands share and is not a command.
pub fn command_references(text: &str, commands: &BTreeSet<String>, own: &str) -> Vec<String> {
    let text = strip_comments(text);
    let mut names = names_after(&text, "crate::commands::");
    names.extend(names_after(&text, "super::"));
    names
        .into_iter()
        .filter(|n| n != own && commands.contains(n))
        .collect()
}

/// The rooms `from` reaches through its references, itself excluded.
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(room) = todo.pop() {
        for next in graph.get(&room).into_iter().flatten() {
            if next != from && seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// room -> the other rooms it names.
fn room_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let rooms: BTreeSet<String> = files.iter().filter_map(|f| room_of(src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let Some(room) = room_of(src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(room.clone()).or_default();
        for name in crate_references(&text) {
            if name != room && rooms.contains(&name) {
                edges.insert(name);
            }
        }
    }
    graph
}

/// A cycle, as the rooms on it with the first repeated at the end, if there is one.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn references_are_read_from_paths_and_groups() {
    let text = "use crate::a::B;\nuse crate::{c, d::{e, f}, self};\n// crate::comment\n\
                fn x() { crate::g::h(); let _ = iris_crate::z; }\n";
    let found: Vec<_> = crate_references(text).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "g"]);
}

#[test]
fn a_cycle_is_found_and_named() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "c", "a"]);
}

#[test]
fn no_cycles_between_rooms() {
    let graph = room_graph(&src_dir());
    assert!(graph.len() >= 4, "rooms found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = graph
            .iter()
            .map(|(room, to)| {
                format!(
                    "  {room} -> {}",
                    to.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        panic!(
            "rooms import each other: {}\n(see ARCHITECTURE.md for which room owns what)\n{}",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Commands that may name another command: none. Nothing may be added here.
const KNOWN_COMMAND_IMPORTS: &[(&str, &str)] = &[];

/// `file -> command` for each command file naming another command, known ones left out.
fn commands_importing_commands(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let stem = |f: &PathBuf| f.file_stem().unwrap().to_string_lossy().into_owned();
    let commands: BTreeSet<String> = files
        .iter()
        .map(stem)
        .filter(|n| n != "mod" && !n.ends_with("_tests"))
        .collect();
    let mut offences = Vec::new();
    for file in &files {
        let own = stem(file);
        if own == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for other in command_references(&text, &commands, &own) {
            if !KNOWN_COMMAND_IMPORTS.contains(&(own.as_str(), other.as_str())) {
                offences.push(format!("commands/{own}.rs -> commands::{other}"));
            }
        }
    }
    offences
}

#[test]
fn commands_do_not_import_commands() {
    let offences = commands_importing_commands(&src_dir().join("commands"));
    assert!(
        offences.is_empty(),
        "a command imports another command: {}\n(what two commands share belongs in the room \
         that owns it: record locations in record, span fetching in gcp, ...)",
        offences.join(", ")
    );
}

/// The rooms above the command line's types: only they may reach `cli`.
const ABOVE_CLI: &[&str] = &["commands", "config", "cli"];

#[test]
fn only_commands_and_settings_reach_the_command_line() {
    let graph = room_graph(&src_dir());
    let offences: Vec<String> = graph
        .keys()
        .filter(|room| !ABOVE_CLI.contains(&room.as_str()))
        .filter(|room| reachable(&graph, room).contains("cli"))
        .cloned()
        .collect();
    assert!(
        offences.is_empty(),
        "rooms below the settings reach `cli`: {} (engines take their own option types; \
         config builds them from the flags)",
        offences.join(", ")
    );
}

#[test]
fn the_layer_diagram_names_every_room() {
    let architecture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let rule = architecture
        .split("## The rule")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("ARCHITECTURE.md has a layer diagram under `## The rule`");
    let named: BTreeSet<&str> = rule
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    let missing: Vec<String> = room_graph(&src_dir())
        .into_keys()
        .filter(|room| !named.contains(room.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's layer diagram does not name: {}",
        missing.join(", ")
    );
}

#[test]
fn command_imports_are_read_from_paths_groups_and_super() {
    let commands: BTreeSet<String> = ["load", "report", "trace", "demo"].map(String::from).into();
    let text = "use crate::commands::{load, require_host};\nuse super::report::x;\n\
                // use crate::commands::trace;\nfn f() { super::demo::y(); }\n";
    assert_eq!(
        command_references(text, &commands, "demo"),
        ["load", "report"]
    );
}

#[test]
fn reaching_follows_every_step() {
    let mut g = Graph::new();
    g.entry("engine".into())
        .or_default()
        .insert("config".into());
    g.entry("config".into()).or_default().insert("cli".into());
    g.entry("cli".into()).or_default().insert("units".into());
    let reached: Vec<_> = reachable(&g, "engine").into_iter().collect();
    assert_eq!(reached, ["cli", "config", "units"]);
}

/// The crates that decide from data alone: nothing under them may reach the network.
const OFFLINE_CRATES: &[&str] = &[
    "iris-hpa",
    "iris-record",
    "iris-trace",
    "iris-report",
    "iris-delta",
];

/// Crates that open sockets or speak a network protocol.
const NETWORK_CRATES: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "kube",
    "kube-client",
    "axum",
    "tokio-rustls",
    "rustls",
    "gcp_auth",
    "socket2",
    "mio",
];

/// package -> its dependencies' names, from `Cargo.lock`.
fn lock_graph() -> Graph {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let mut graph = Graph::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string())
            .unwrap();
        let deps = package
            .split("dependencies = [")
            .nth(1)
            .map(|d| d.split(']').next().unwrap_or(""))
            .unwrap_or("");
        let edges = graph.entry(name).or_default();
        for dep in deps.split(',') {
            // `"name"` or `"name version"` when two versions are locked.
            let dep = dep.trim().trim_matches('"');
            if let Some(n) = dep.split_whitespace().next() {
                edges.insert(n.to_string());
            }
        }
    }
    graph
}

#[test]
fn analysis_never_reaches_the_network() {
    let graph = lock_graph();
    let mut offences = Vec::new();
    for krate in OFFLINE_CRATES {
        assert!(graph.contains_key(*krate), "{krate} is not in Cargo.lock");
        let reached = reachable(&graph, krate);
        for net in NETWORK_CRATES.iter().filter(|n| reached.contains(**n)) {
            offences.push(format!("{krate} -> {net}"));
        }
    }
    assert!(
        offences.is_empty(),
        "an analysis crate depends on a network crate: {} (analysis decides from data; the \
         network belongs to cluster, gcp, loadgen, pipeline)",
        offences.join(", ")
    );
}

#[test]
fn the_lock_graph_sees_network_crates_where_they_are() {
    let graph = lock_graph();
    assert!(reachable(&graph, "iris-cluster").contains("kube"));
    assert!(reachable(&graph, "iris-loadgen").contains("tokio-rustls"));
}
