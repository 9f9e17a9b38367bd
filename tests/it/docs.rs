//! The documents stay true to the binary: every subcommand has its page `docs/COMMAND.md`
//! naming every long flag its `--help` shows (walked from clap's definition, no hand list) and
//! every key of its config-file section (read from the config parser's own "expected one of"),
//! the shared flags and top-level keys are on `docs/configuration.md`, and every relative link
//! in README.md, ARCHITECTURE.md and docs/*.md points to a file that exists.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `text` names `--flag` as a whole flag (`--users` is not found in `--users-file`).
fn names_flag(text: &str, long: &str) -> bool {
    let needle = format!("--{long}");
    text.match_indices(&needle).any(|(at, _)| {
        let after = text[at + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// The long flags a command's `--help` shows that the command itself defines (the shared,
/// global flags are the top command's; hidden flags are not shown).
fn own_long_flags(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
        .filter_map(|a| a.get_long().map(String::from))
        .filter(|long| long != "help" && long != "version")
        .collect()
}

/// Every subcommand (nested ones as `parent-child`), with its long flags.
fn subcommands(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, Vec<String>)>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{prefix}{}", sub.get_name());
        out.push((name.clone(), own_long_flags(sub)));
        subcommands(sub, &format!("{name}-"), out);
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[test]
fn every_subcommand_has_a_page_naming_every_flag_of_its_help() {
    let cli = iris_lab::cli::Cli::command();
    let mut commands = Vec::new();
    subcommands(&cli, "", &mut commands);
    assert!(
        commands.len() >= 10,
        "too few subcommands found: {commands:?}"
    );
    let mut problems = Vec::new();
    for (name, flags) in &commands {
        let page = root().join("docs").join(format!("{name}.md"));
        match read(&page) {
            Err(e) => problems.push(format!("`iris-lab {name}` has no page: {e}")),
            Ok(text) => problems.extend(
                flags
                    .iter()
                    .filter(|long| !names_flag(&text, long))
                    .map(|long| format!("docs/{name}.md does not name --{long}")),
            ),
        }
    }
    let shared: Vec<String> = cli
        .get_arguments()
        .filter(|a| a.is_global_set() && !a.is_hide_set())
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    assert!(!shared.is_empty(), "no shared flags found");
    match read(&root().join("docs/configuration.md")) {
        Err(e) => problems.push(format!("the shared flags have no page: {e}")),
        Ok(text) => problems.extend(
            shared
                .iter()
                .filter(|long| !names_flag(&text, long))
                .map(|long| format!("docs/configuration.md does not name the shared --{long}")),
        ),
    }
    assert!(
        problems.is_empty(),
        "{}\n(see docs/README.md, \"How to add a flag\")",
        problems.join("\n")
    );
}

/// The keys the config file accepts at `prefix` (e.g. `"load:\n  "`), as its parser names them
/// when it refuses an unknown one.
fn config_keys(dir: &Path, prefix: &str) -> Result<Vec<String>, String> {
    let path = dir.join("iris-lab.yaml");
    std::fs::write(&path, format!("{prefix}zz_not_a_key: 1\n")).map_err(|e| e.to_string())?;
    let message = match iris_lab::config::load(&path) {
        Ok(_) => return Err(format!("{prefix:?}zz_not_a_key was accepted")),
        Err(e) => e.to_string(),
    };
    // "unknown key `zz_not_a_key`: the known ones are a, b, c" (maybe ", did you mean ...").
    let known = message
        .split_once("the known ones are ")
        .ok_or_else(|| format!("no known keys in: {message}"))?
        .1;
    let known = known.split(['(', ';']).next().unwrap_or(known);
    Ok(known
        .split(',')
        .map(|k| k.trim().trim_matches('`').trim_end_matches('.').to_string())
        .filter(|k| !k.is_empty() && !k.contains(' '))
        .collect())
}

#[test]
fn every_config_key_is_on_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let top = config_keys(dir.path(), "").unwrap();
    let cli = iris_lab::cli::Cli::command();
    let commands: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    let (sections, shared): (Vec<&String>, Vec<&String>) =
        top.iter().partition(|k| commands.contains(&k.as_str()));
    assert!(sections.len() >= 5, "too few sections found: {top:?}");
    let mut problems = Vec::new();
    let mut pages = vec![(
        "configuration".to_string(),
        shared.into_iter().cloned().collect(),
    )];
    for section in sections {
        pages.push((
            section.clone(),
            config_keys(dir.path(), &format!("{section}:\n  ")).unwrap(),
        ));
    }
    for (page, keys) in pages {
        let text = read(&root().join("docs").join(format!("{page}.md"))).unwrap_or_default();
        problems.extend(
            keys.iter()
                .filter(|key| !text.contains(&format!("`{key}`")))
                .map(|key| format!("docs/{page}.md does not name the config key `{key}`")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The targets of a markdown text's inline links `[text](target)` and `![alt](target)`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| rest[..end].trim())
        })
        .map(|target| target.split_whitespace().next().unwrap_or(""))
        .collect()
}

/// A relative link's file, or None for links elsewhere (a scheme, or an anchor on the page).
fn local_file(page: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('#').next().unwrap_or("");
    if path.is_empty() || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    Some(page.parent().unwrap_or(root()).join(path))
}

fn documents() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    let docs = std::fs::read_dir(root().join("docs")).expect("docs/ exists");
    pages.extend(
        docs.filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    pages
}

#[test]
fn every_relative_link_points_to_a_file() {
    let pages = documents();
    assert!(pages.len() > 10, "too few documents: {pages:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = read(page).unwrap();
        for target in link_targets(&text) {
            if let Some(file) = local_file(page, target) {
                checked += 1;
                if !file.exists() {
                    let from = page.strip_prefix(root()).unwrap_or(page);
                    broken.push(format!("{}: ({target}) does not exist", from.display()));
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} relative links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checks_find_what_they_look_for() {
    assert!(names_flag("use `--users 5`", "users"));
    assert!(names_flag("`--users`.", "users"));
    assert!(!names_flag("use `--users-file`", "users"));
    assert!(!names_flag("use --user", "users"));
    let page = root().join("docs/load.md");
    let links = link_targets("see [a](b.md#x), ![c](../d.png \"t\") and [e](https://f)");
    assert_eq!(links, ["b.md#x", "../d.png", "https://f"]);
    assert_eq!(local_file(&page, "https://f"), None);
    assert_eq!(local_file(&page, "#here"), None);
    assert_eq!(
        local_file(&page, "b.md#x"),
        Some(root().join("docs").join("b.md"))
    );
}
