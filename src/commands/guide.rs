//! `iris-lab guide [PHASE]`: the testing guide, embedded from `guide/`.

/// The seven phases, in order.
pub const PHASES: [&str; 7] = [
    include_str!("../../guide/1-setup-and-verify.md"),
    include_str!("../../guide/2-load-test-setup.md"),
    include_str!("../../guide/3-baseline-150-users.md"),
    include_str!("../../guide/4-high-load-300-users.md"),
    include_str!("../../guide/5-tracing-and-timing.md"),
    include_str!("../../guide/6-analysis.md"),
    include_str!("../../guide/7-cleanup.md"),
];

/// Before Phase 1: the simulated cluster and the demo.
pub const BEFORE: &str = include_str!("../../guide/0-before-you-start.md");
/// After Phase 7: `doctor` and what points to it.
pub const TROUBLESHOOTING: &str = include_str!("../../guide/troubleshooting.md");

/// The text of one phase (1-7), or of the whole guide (with what comes before Phase 1 and
/// the troubleshooting section after Phase 7).
pub fn text(phase: Option<u8>) -> String {
    match phase {
        Some(n) => PHASES
            .get(usize::from(n).saturating_sub(1))
            .map_or_else(String::new, |p| p.to_string()),
        None => std::iter::once(BEFORE)
            .chain(PHASES)
            .chain(std::iter::once(TROUBLESHOOTING))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_a_numbered_title_and_a_command() {
        for (i, phase) in PHASES.iter().enumerate() {
            let title = phase.lines().next().unwrap_or_default();
            assert!(title.starts_with(&format!("# Phase {}", i + 1)), "{title}");
            assert!(
                phase.contains("iris-lab "),
                "phase {} names no command",
                i + 1
            );
        }
    }

    /// The commands a phase shows: lines of its code blocks and `inline code` that start with
    /// `iris-lab `.
    fn commands_shown(phase: &str) -> Vec<String> {
        let mut shown = Vec::new();
        let mut in_block = false;
        for line in phase.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            let mut snippets: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
            if in_block {
                snippets = vec![line.trim()];
            }
            for snippet in snippets {
                if let Some(rest) = snippet.strip_prefix("iris-lab ") {
                    let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                    if !name.is_empty() {
                        shown.push(name);
                    }
                }
            }
        }
        shown
    }

    /// The guide stays true: every `iris-lab COMMAND` it shows exists in this build.
    #[test]
    fn every_command_the_guide_shows_exists() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let known: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        let mut checked = 0;
        for (i, phase) in PHASES.iter().enumerate() {
            for name in commands_shown(phase) {
                checked += 1;
                assert!(
                    known.contains(&name.as_str()),
                    "phase {} shows `iris-lab {name}`, which this build does not have",
                    i + 1
                );
            }
        }
        assert!(checked >= 7, "only {checked} commands found in the guide");
        assert_eq!(
            commands_shown("run `iris-lab load --users 1` now"),
            ["load"]
        );
        assert_eq!(
            commands_shown("```sh\niris-lab watch\n```\niris-lab has"),
            ["watch"]
        );
    }

    /// The guide is the guide of this tool: every subcommand a user can call (clap's own list,
    /// hidden ones aside) is shown somewhere in it as `iris-lab NAME`.
    #[test]
    fn the_guide_names_every_subcommand() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let shown: Vec<String> = commands_shown(&text(None));
        let missing: Vec<&str> = cli
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name())
            .filter(|name| !shown.iter().any(|s| s == name))
            .collect();
        assert!(
            missing.is_empty(),
            "the guide names no `iris-lab {}`",
            missing.join("`, `iris-lab ")
        );
    }

    /// Each phase names the commands that do it, where a newcomer looks for them.
    #[test]
    fn each_phase_names_its_commands() {
        let named = |text: &str, name: &str| commands_shown(text).iter().any(|c| c == name);
        for name in ["sim", "demo"] {
            assert!(named(BEFORE, name), "before Phase 1 lacks {name}");
        }
        assert!(named(PHASES[0], "doctor"), "Phase 1 lacks doctor");
        assert!(named(TROUBLESHOOTING, "doctor"));
        for phase in [2, 3, 4] {
            assert!(named(PHASES[phase - 1], "web"), "Phase {phase} lacks web");
        }
        assert!(named(PHASES[5], "predict") && PHASES[5].contains("6.4"));
        assert!(named(PHASES[6], "compare") && PHASES[6].contains("## 7.3"));
        let whole = text(None);
        assert!(whole.starts_with("# Before Phase 1") && whole.contains("# Troubleshooting"));
    }

    #[test]
    fn no_phase_prints_all() {
        assert!(text(None).contains("# Phase 7"));
        assert!(text(Some(3)).starts_with("# Phase 3"));
    }
}
