//! `tokentrace demo --no-serve`: the whole stack against the mock providers,
//! its summary checked against the store it wrote.

use tokentrace_store::{GroupBy, Store, TraceFilter};

use crate::support::{stderr, stdout, tokentrace};

#[test]
fn demo_summary_matches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("traces.db");
    let out = tokentrace()
        .args([
            "demo",
            "--no-serve",
            "--json",
            "--requests",
            "16",
            "--store",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}): {}", stdout(&out)));
    let u = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));

    // 16 requests; the 16th asks the failing question (its embeddings call
    // is rate-limited), the others make three LLM calls and one query each.
    assert_eq!(summary["requests"]["requests"], 16);
    assert_eq!(summary["requests"]["ok"], 15);
    assert_eq!(summary["requests"]["failed"], 1);
    assert_eq!(u(&summary, "traces"), 16);
    assert_eq!(u(&summary, "error_traces"), 1);
    assert_eq!(u(&summary, "llm_calls"), 15 * 3 + 1);
    assert_eq!(u(&summary, "vector_calls"), 15);
    assert_eq!(u(&summary, "earlier_traces"), 0);
    let tokens = u(&summary, "total_tokens");
    let cost = summary["cost_usd"].as_f64().unwrap();
    assert!(tokens > 0 && cost > 0.0, "{summary}");
    assert_eq!(
        u(&summary, "input_tokens") + u(&summary, "output_tokens"),
        tokens
    );

    // The store, read independently.
    let store = Store::open(&path).unwrap();
    let page = store.traces(&TraceFilter::new().page(1000, 0)).unwrap();
    assert_eq!(page.total, 16);
    let store_tokens: u64 = page.items.iter().map(|t| t.total_tokens).sum();
    let store_cost: f64 = page.items.iter().map(|t| t.cost_usd).sum();
    assert_eq!(store_tokens, tokens);
    assert!(
        (store_cost - cost).abs() < 1e-9,
        "store {store_cost} vs summary {cost}"
    );

    let by_model = store.stats(GroupBy::Model).unwrap();
    for model in summary["by_model"].as_array().unwrap() {
        let key = model["key"].as_str().unwrap();
        let row = by_model
            .iter()
            .find(|r| r.key == key)
            .unwrap_or_else(|| panic!("model {key} not in store stats {by_model:?}"));
        assert_eq!(u(model, "count"), row.count, "{key}");
        assert_eq!(u(model, "total_tokens"), row.total_tokens, "{key}");
        assert!(
            (model["cost_usd"].as_f64().unwrap() - row.cost_usd).abs() < 1e-9,
            "{key}"
        );
    }
    let models: Vec<&str> = summary["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    for expected in [
        "gpt-4o-mini-2024-07-18",
        "claude-sonnet-4-5-20250929",
        "gemini-2.5-flash",
        "text-embedding-3-small",
    ] {
        assert!(
            models.contains(&expected),
            "{expected} missing from {models:?}"
        );
    }
    let model_calls: u64 = summary["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| u(m, "count"))
        .sum();
    assert_eq!(model_calls, u(&summary, "llm_calls"));

    let by_user = store.stats(GroupBy::User).unwrap();
    let users = summary["by_user"].as_array().unwrap();
    assert_eq!(users.len(), 5);
    for user in users {
        let key = user["key"].as_str().unwrap();
        let row = by_user.iter().find(|r| r.key == key).unwrap();
        assert_eq!(u(user, "count"), row.count, "{key}");
        assert_eq!(u(user, "total_tokens"), row.total_tokens, "{key}");
    }
    assert!(store.sessions().unwrap().len() >= 5);
}

#[test]
fn demo_table_totals_line_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let out = tokentrace()
        .args(["demo", "--no-serve", "--requests", "3", "--store"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let text = stdout(&out);
    let store = Store::open(&path).unwrap();
    let page = store.traces(&TraceFilter::new()).unwrap();
    let tokens: u64 = page.items.iter().map(|t| t.total_tokens).sum();
    let total = text
        .lines()
        .find(|l| l.starts_with("Total:"))
        .unwrap_or_else(|| panic!("no totals line in:\n{text}"));
    let formatted = tokens
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    assert!(total.contains("3 traces"), "{total}");
    assert!(total.contains("9 LLM calls"), "{total}");
    assert!(total.contains(&format!("{formatted} tokens")), "{total}");
    for header in ["workflow", "model", "user"] {
        assert!(
            text.lines().any(|l| l.starts_with(header)),
            "no {header} table:\n{text}"
        );
    }
    // Progress went to stderr, not into the table.
    assert!(stderr(&out).contains("3/3 requests"));
}
