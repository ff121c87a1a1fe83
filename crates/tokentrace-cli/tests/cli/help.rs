//! `--help` snapshots (`tests/cli/*.stdout`) and `docs/cli.md`, which embeds them.
//!
//! `TOKENTRACE_BLESS=1 cargo test -p tokentrace-cli --test cli help` rewrites both.

use std::path::{Path, PathBuf};

use crate::support::{run, stdout};

/// Every command whose help is snapshotted, with its snapshot name.
const COMMANDS: &[(&str, &[&str])] = &[
    ("tokentrace", &[]),
    ("serve", &["serve"]),
    ("traces", &["traces"]),
    ("show", &["show"]),
    ("stats", &["stats"]),
    ("clear", &["clear"]),
    ("prices", &["prices"]),
    ("prices-check", &["prices", "check"]),
    ("budgets", &["budgets"]),
    ("demo", &["demo"]),
];

const BEGIN: &str =
    "<!-- BEGIN GENERATED HELP: tests/cli/help.rs; TOKENTRACE_BLESS=1 to update -->";
const END: &str = "<!-- END GENERATED HELP -->";

fn bless() -> bool {
    std::env::var_os("TOKENTRACE_BLESS").is_some_and(|v| v == "1")
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli")
}

fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let o = run(&all);
    assert!(o.status.success(), "{all:?}");
    stdout(&o)
}

/// Compares `actual` with the file, or rewrites it when blessing.
fn check(path: &Path, actual: &str) {
    if bless() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} is out of date; rerun with TOKENTRACE_BLESS=1 and review the diff.\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn help_output_matches_the_snapshots() {
    for (name, args) in COMMANDS {
        check(&here().join(format!("{name}.stdout")), &help(args));
    }
}

#[test]
fn docs_cli_md_embeds_the_help_snapshots() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/cli.md exists");
    let (before, rest) = doc
        .split_once(BEGIN)
        .expect("docs/cli.md has the BEGIN marker");
    let (_, after) = rest
        .split_once(END)
        .expect("docs/cli.md has the END marker");
    let mut generated = String::new();
    for (name, args) in COMMANDS {
        let title = if args.is_empty() {
            "tokentrace".to_owned()
        } else {
            format!("tokentrace {}", args.join(" "))
        };
        let _ = name;
        generated.push_str(&format!("\n### `{title}`\n\n```text\n{}```\n", help(args)));
    }
    let expected = format!("{before}{BEGIN}\n{generated}\n{END}{after}");
    check(&doc_path, &expected);
}

#[test]
fn version_is_printed() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("tokentrace {}", env!("CARGO_PKG_VERSION"))
    );
}
