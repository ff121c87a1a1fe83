//! Every listing subcommand against the seeded store, `--json` parsed back.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::{json_on, run_on, seeded, stderr, stdout};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn traces_json_lists_the_seed_newest_first_with_totals() {
    let s = seeded();
    let page = json_on(&s.path, &["traces", "--json"]);
    assert_eq!(page["total"], s.traces.len());
    let items = page["items"].as_array().unwrap();
    let mut expected: Vec<&crate::support::SeedTrace> = s.traces.iter().collect();
    expected.sort_by_key(|t| t.age_ns);
    assert_eq!(items.len(), expected.len());
    for (item, t) in items.iter().zip(expected) {
        assert_eq!(item["trace_id"], t.trace_id());
        assert_eq!(item["workflow"], t.workflow);
        assert_eq!(item["user_id"], t.user);
        assert_eq!(item["session_id"], t.session);
        assert_eq!(item["span_count"], t.span_count());
        assert_eq!(item["total_tokens"], t.total_tokens());
        assert_eq!(item["error_count"], t.errors());
        assert!(close(item["cost_usd"].as_f64().unwrap(), t.cost()));
    }
}

#[test]
fn traces_filters_narrow_the_listing() {
    let s = seeded();
    let count = |args: &[&str]| -> u64 {
        let mut all = vec!["traces", "--json"];
        all.extend_from_slice(args);
        json_on(&s.path, &all)["total"].as_u64().unwrap()
    };
    let by = |f: &dyn Fn(&crate::support::SeedTrace) -> bool| {
        s.traces.iter().filter(|t| f(t)).count() as u64
    };
    assert_eq!(
        count(&["--workflow", "summarise"]),
        by(&|t| t.workflow == "summarise")
    );
    assert_eq!(count(&["--user", "alice"]), by(&|t| t.user == "alice"));
    assert_eq!(
        count(&["--session", "sess-1"]),
        by(&|t| t.session == "sess-1")
    );
    assert_eq!(
        count(&["--model", "gpt-4o-mini"]),
        by(&|t| t.calls.iter().any(|c| c.model == "gpt-4o-mini"))
    );
    assert_eq!(
        count(&["--provider", "anthropic"]),
        by(&|t| t.calls.iter().any(|c| c.provider == "anthropic"))
    );
    assert_eq!(count(&["--errors"]), by(&|t| t.errors() > 0));
    assert_eq!(
        count(&["--since", "1h"]),
        by(&|t| t.age_ns < 3_600_000_000_000)
    );
    assert_eq!(
        count(&["--since", "2d"]),
        by(&|t| t.age_ns < 48 * 3_600_000_000_000)
    );
    assert_eq!(count(&["--search", "Globex"]), 1);
    assert_eq!(count(&["--since", "1970-01-01"]), s.traces.len() as u64);
    assert_eq!(count(&["--since", "2999-01-01"]), 0);
    let page = json_on(
        &s.path,
        &["traces", "--json", "--limit", "2", "--offset", "1"],
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["offset"], 1);
}

#[test]
fn filter_values_that_look_like_sql_are_data() {
    let s = seeded();
    for args in [
        ["--workflow", "' OR 1=1 --"],
        ["--user", "' OR '1'='1"],
        ["--session", "x'; DROP TABLE spans; --"],
        ["--model", "\" OR \"\"=\""],
        ["--search", "' OR 1=1 --"],
    ] {
        let mut all = vec!["traces", "--json"];
        all.extend_from_slice(&args);
        let page = json_on(&s.path, &all);
        assert_eq!(page["total"], 0, "{args:?}");
    }
    let page = json_on(&s.path, &["traces", "--json"]);
    assert_eq!(page["total"], s.traces.len(), "nothing was dropped");
}

#[test]
fn traces_table_degrades_to_plain_columns_when_piped() {
    let s = seeded();
    let o = run_on(&s.path, &["traces"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('│') && !out.contains('\x1b'), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1 + s.traces.len());
    assert!(lines[0].starts_with("started (UTC)"));
    for t in &s.traces {
        assert!(out.contains(&t.trace_id()));
    }
    // Control characters and markup in stored values cannot reach the terminal raw.
    assert!(stderr(&o).contains(&format!("of {}", s.traces.len())));
}

#[test]
fn show_prints_the_span_tree_and_json_round_trips() {
    let s = seeded();
    let t = s.traces.iter().find(|t| t.span_count() >= 4).unwrap();
    let o = run_on(&s.path, &["show", &t.trace_id()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&t.trace_id()));
    assert!(out.contains("workflow.retrieve"));
    assert!(
        out.contains("  query docs"),
        "children are indented:\n{out}"
    );
    for c in &t.calls {
        assert!(out.contains(&format!("chat {}", c.model)));
    }
    let v = json_on(&s.path, &["show", &t.trace_id(), "--json"]);
    let spans = v["spans"].as_array().unwrap();
    assert_eq!(spans.len(), t.span_count());
    assert_eq!(v["total_tokens"], t.total_tokens());
    assert!(close(v["cost_usd"].as_f64().unwrap(), t.cost()));
    assert_eq!(spans[0]["depth"], 0);
    let depths: Vec<u64> = spans.iter().map(|s| s["depth"].as_u64().unwrap()).collect();
    assert!(
        depths.contains(&2),
        "retrieve step nests a vector query: {depths:?}"
    );
    // Upper-case ids are accepted.
    assert!(
        run_on(&s.path, &["show", &t.trace_id().to_uppercase()])
            .status
            .success()
    );
}

#[test]
fn show_rejects_unknown_and_malformed_ids() {
    let s = seeded();
    let o = run_on(&s.path, &["show", &format!("{:032x}", 0xdead_u128)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no trace"), "{}", stderr(&o));
    let o = run_on(&s.path, &["show", "xyz"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid trace id"), "{}", stderr(&o));
}

#[test]
fn stats_json_matches_the_seed_for_every_grouping() {
    let s = seeded();
    // Trace-level groupings.
    let key = |by: &str, t: &crate::support::SeedTrace| -> String {
        match by {
            "workflow" => t.workflow.to_owned(),
            "user" => t.user.to_owned(),
            _ => t.session.to_owned(),
        }
    };
    for by in ["workflow", "user", "session"] {
        let rows = json_on(&s.path, &["stats", "--by", by, "--json"]);
        let mut expected: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
        for t in &s.traces {
            let e = expected.entry(key(by, t)).or_default();
            e.0 += 1;
            e.1 += t.total_tokens();
            e.2 += t.cost();
        }
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), expected.len(), "{by}");
        for r in rows {
            let (count, tokens, cost) = expected[r["key"].as_str().unwrap()];
            assert_eq!(r["count"], count, "{by}");
            assert_eq!(r["total_tokens"], tokens, "{by}");
            assert!(close(r["cost_usd"].as_f64().unwrap(), cost), "{by}");
        }
    }
    // Span-level: per model.
    let rows = json_on(&s.path, &["stats", "--by", "model", "--json"]);
    let mut expected: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for c in s.traces.iter().flat_map(|t| &t.calls) {
        let e = expected.entry(c.model).or_default();
        e.0 += 1;
        e.1 += c.input + c.output;
    }
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for r in rows {
        let (count, tokens) = expected[r["key"].as_str().unwrap()];
        assert_eq!(r["count"], count);
        assert_eq!(r["total_tokens"], tokens);
    }
    let providers: BTreeSet<String> = json_on(&s.path, &["stats", "--by", "provider", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = s
        .traces
        .iter()
        .flat_map(|t| &t.calls)
        .map(|c| c.provider.to_owned())
        .collect();
    assert_eq!(providers, expected);
    let days = json_on(&s.path, &["stats", "--by", "day", "--json"]);
    let total: u64 = days
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, s.traces.len() as u64);
    let _ = s.now_ns;
}

#[test]
fn stats_table_has_a_row_per_group() {
    let s = seeded();
    let o = run_on(&s.path, &["stats", "--by", "workflow"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let workflows: BTreeSet<&str> = s.traces.iter().map(|t| t.workflow).collect();
    assert_eq!(out.lines().count(), 1 + workflows.len());
    assert!(out.starts_with("workflow"));
}

#[test]
fn prices_looks_up_a_model_and_names_the_entry() {
    let o = crate::support::run(&["prices", "gpt-4o-mini-2024-07-18", "--provider", "openai"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("matched") && out.contains("gpt-4o-mini"),
        "{out}"
    );
    assert!(out.contains("/ 1M tokens"));
    // LiteLLM's output limit for the model, from the catalogue.
    assert!(
        out.lines()
            .any(|l| l.starts_with("max output") && l.ends_with("16,384 tokens per call")),
        "{out}"
    );
    let o = crate::support::run(&["prices", "gpt-4o-mini", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["max_output_tokens"], 16_384);
    assert!(v["input_per_mtok"].as_f64().unwrap() > 0.0);
    assert!(v["output_per_mtok"].as_f64().unwrap() > 0.0);
    assert!(v["matched_key"].as_str().unwrap().contains("gpt-4o-mini"));
    let o = crate::support::run(&["prices", "text-embedding-3-small", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["max_output_tokens"], Value::Null);
    let o = crate::support::run(&["prices", "no-such-model-anywhere"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no price"), "{}", stderr(&o));
    let o = crate::support::run(&["prices", "gpt-4o", "--provider", "acme-ai"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown provider"));
}

#[test]
fn prices_update_writes_a_local_catalogue_that_lookups_and_the_summary_use() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("model_prices_and_context_window.json");
    std::fs::write(
        &table,
        r#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat",
                      "input_cost_per_token": 3e-06, "output_cost_per_token": 9e-06},
            "acme-brand-new": {"litellm_provider": "openai", "mode": "chat",
                      "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                      "max_output_tokens": 2048}}"#,
    )
    .unwrap();
    let local = dir.path().join("prices.json");
    let local_s = local.to_str().unwrap();
    let run = |args: &[&str]| crate::support::run(args);

    // No local catalogue yet: the summary names the built-in sources and date.
    let o = run(&["prices", "--catalogue", local_s, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["layers"].as_array().unwrap().len(), 1);
    assert_eq!(v["layers"][0]["kind"], "builtin");
    assert_eq!(v["layers"][0]["as_of"], "2026-12-06");
    assert!(
        v["layers"][0]["sources"]["litellm"]
            .as_str()
            .unwrap()
            .contains("1.110.2")
    );
    assert!(v["layers"][0]["retained"].as_u64().unwrap() > 0);
    let o = run(&["prices", "acme-brand-new", "--catalogue", local_s]);
    assert!(!o.status.success());

    let o = run(&[
        "prices",
        "update",
        "--from",
        table.to_str().unwrap(),
        "--catalogue",
        local_s,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["table"], "litellm");
    assert_eq!(v["models"], 2);
    assert!(local.exists());

    let o = run(&["prices", "acme-brand-new", "--catalogue", local_s, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input_per_mtok"], 1.0);
    assert_eq!(v["local"], true);
    assert_eq!(v["max_output_tokens"], 2048);
    let o = run(&[
        "prices",
        "gpt-4o",
        "--provider",
        "openai",
        "--catalogue",
        local_s,
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["input_per_mtok"], 3.0,
        "the local price replaces the built-in one"
    );
    // The environment variable names the same file.
    let o = crate::support::tokentrace()
        .args(["prices", "--json"])
        .env("TOKENTRACE_PRICES_CATALOGUE", &local)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["layers"][1]["kind"], "local");
    assert_eq!(v["layers"][1]["models"], 2);
    assert_eq!(
        v["layers"][1]["sources"]["litellm"],
        "model_prices_and_context_window.json"
    );
    let o = run(&["prices", "--catalogue", local_s]);
    let out = stdout(&o);
    assert!(
        out.contains("built-in catalogue: ") && out.contains("as of 2026-12-06"),
        "{out}"
    );
    assert!(
        out.contains(&format!("local catalogue {local_s}: 2 models")),
        "{out}"
    );

    // A file tokentrace did not write is never overwritten.
    let foreign = dir.path().join("mine.json");
    std::fs::write(&foreign, "{}").unwrap();
    let o = run(&[
        "prices",
        "update",
        "--from",
        table.to_str().unwrap(),
        "--catalogue",
        foreign.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not overwriting"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "{}");
    // Not a price table: a clear error, nothing written.
    let o = run(&[
        "prices",
        "update",
        "--from",
        foreign.to_str().unwrap(),
        "--catalogue",
        local_s,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid price table"), "{}", stderr(&o));
}

#[test]
fn prices_check_lists_only_unpriced_models_and_fails() {
    let s = seeded();
    let o = run_on(&s.path, &["prices", "check", "--json"]);
    assert!(!o.status.success(), "a missing price is a failed check");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let models: BTreeSet<&str> = s
        .traces
        .iter()
        .flat_map(|t| &t.calls)
        .map(|c| c.model)
        .collect();
    assert_eq!(v["models_seen"], models.len());
    let missing = v["missing"].as_array().unwrap();
    let unpriced: Vec<&str> = s
        .traces
        .iter()
        .flat_map(|t| &t.calls)
        .filter(|c| c.cost.is_none())
        .map(|c| c.model)
        .collect();
    assert_eq!(missing.len(), unpriced.len());
    assert_eq!(missing[0]["model"], unpriced[0]);
    assert_eq!(missing[0]["unpriced_spans"], 1);
    let o = run_on(&s.path, &["prices", "check"]);
    assert!(stdout(&o).contains(unpriced[0]));
    assert!(stderr(&o).contains("have no price"));
}

#[test]
fn clear_refuses_without_a_terminal_and_deletes_with_yes() {
    let s = seeded();
    let o = run_on(&s.path, &["clear"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
    assert_eq!(
        json_on(&s.path, &["traces", "--json"])["total"],
        s.traces.len()
    );
    let o = run_on(&s.path, &["clear", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let spans: usize = s.traces.iter().map(|t| t.span_count()).sum();
    assert_eq!(
        stdout(&o).split_whitespace().nth(1).unwrap(),
        spans.to_string()
    );
    assert_eq!(json_on(&s.path, &["traces", "--json"])["total"], 0);
    let o = run_on(&s.path, &["traces"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("no traces yet"));
}

#[test]
fn the_store_path_comes_from_the_environment_when_not_given() {
    let s = seeded();
    let o = crate::support::tokentrace()
        .args(["traces", "--json"])
        .env("TOKENTRACE_STORE", &s.path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], s.traces.len());
}

#[test]
fn stats_filters_by_user_model_workflow_and_time_and_sorts_by_cost() {
    let s = seeded();
    let user = s.traces[0].user;
    let rows = json_on(
        &s.path,
        &["stats", "--by", "user", "--user", user, "--json"],
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let n = s.traces.iter().filter(|t| t.user == user).count();
    assert_eq!(rows[0]["key"], user);
    assert_eq!(rows[0]["count"], n);
    // Sorted by cost, most expensive first.
    let rows = json_on(&s.path, &["stats", "--by", "model", "--json"]);
    let costs: Vec<f64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost_usd"].as_f64().unwrap())
        .collect();
    assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
    // A model filter narrows a workflow breakdown to the traces calling it.
    let model = s.traces[0].calls[0].model;
    let rows = json_on(&s.path, &["stats", "--model", model, "--json"]);
    let count: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    let want = s
        .traces
        .iter()
        .filter(|t| t.calls.iter().any(|c| c.model == model))
        .count();
    assert_eq!(count, want as u64);
    let wf = s.traces[0].workflow;
    let rows = json_on(&s.path, &["stats", "--workflow", wf, "--json"]);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // Time range: nothing is in the future, everything is since 1970.
    let rows = json_on(
        &s.path,
        &[
            "stats",
            "--since",
            "1970-01-01",
            "--until",
            "2999-01-01",
            "--json",
        ],
    );
    let count: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(count, s.traces.len() as u64);
    let rows = json_on(&s.path, &["stats", "--until", "1970-01-02", "--json"]);
    assert!(rows.as_array().unwrap().is_empty());
    let o = run_on(&s.path, &["stats", "--since", "yesterday"]);
    assert_eq!(o.status.code(), Some(1));
    // Steps: every workflow span by name.
    let o = run_on(&s.path, &["stats", "--by", "step"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("workflow step"));
}

#[test]
fn show_accepts_the_dashboards_short_id() {
    let s = seeded();
    crate::support::bulk(&s.path, 2);
    let id = format!("{:032x}", 0xb0001_u128 << 100);
    let full = json_on(&s.path, &["show", &id, "--json"]);
    assert_eq!(full["trace_id"], id);
    for prefix in [&id[..12], &id[..7].to_ascii_uppercase()] {
        let short = json_on(&s.path, &["show", prefix, "--json"]);
        assert_eq!(short["trace_id"], full["trace_id"], "{prefix}");
    }
    let o = run_on(&s.path, &["show", "fffffffffffe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no trace"), "{}", stderr(&o));
    let o = run_on(&s.path, &["show", "0000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("several traces"), "{}", stderr(&o));
}

#[test]
fn clear_shrinks_the_file() {
    let s = seeded();
    crate::support::bulk(&s.path, 300);
    let size = || {
        std::fs::metadata(&s.path).unwrap().len()
            + std::fs::metadata(s.path.with_extension("db-wal")).map_or(0, |m| m.len())
    };
    let before = size();
    let o = run_on(&s.path, &["clear", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(size() * 4 < before, "{before} -> {}", size());
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let o = crate::support::run(&["stats", "--by", "nonsense"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid value"), "{}", stderr(&o));
    let o = crate::support::run(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(1));
    let o = crate::support::run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage"));
    let o = crate::support::run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
}
