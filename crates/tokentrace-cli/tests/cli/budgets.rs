//! `tokentrace budgets` against a real `redis-server` (scripts/setup-redis)
//! holding state written by the budget API, and without Redis.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokentrace_core::budget::BudgetConfig;
use tokentrace_reqwest::budget::redis::RedisStore;
use tokentrace_reqwest::budget::{BudgetKeys, Budgets};

use crate::support::{run, stdout};

const CONFIG: &str = r#"
[[limit]]
name = "user-daily"
scope = "user"
usd = 1.0
window = "day"

[[limit]]
name = "everything"
scope = "global"
usd = 50.0
window = "month"
mode = "warn"
"#;

#[tokio::test]
async fn budgets_shows_spend_reservations_and_refusals_from_redis() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("budgets.toml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let server = tokentrace_test_support::redis_server();
    let addr = server.addr().to_owned();
    let store = RedisStore::new(addr.clone());
    let budgets = Budgets::with_store(BudgetConfig::from_toml_str(CONFIG).unwrap(), store);
    let u1 = BudgetKeys::new().user("u-1");
    budgets.reserve(&u1, 0.5).await.unwrap().settle(0.25);
    let _held = budgets.reserve(&u1, 0.5).await.unwrap();
    assert!(budgets.reserve(&u1, 0.5).await.is_err());
    budgets
        .reserve(&BudgetKeys::new().user("u-2"), 0.1)
        .await
        .unwrap()
        .settle(0.1);
    // Settlements land in the background.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let cfg = config_path.to_str().unwrap();
    let o = run(&["budgets", "--config", cfg, "--redis", &addr, "--json"]);
    assert!(o.status.success(), "{o:?}");
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let find = |limit: &str, key: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["limit"] == limit && r["key"] == key)
            .unwrap_or_else(|| panic!("no row {limit} {key} in {rows}"))
            .clone()
    };
    let r = find("user-daily", "user:u-1");
    assert_eq!(
        (r["spent_usd"].as_f64(), r["reserved_usd"].as_f64()),
        (Some(0.25), Some(0.5))
    );
    assert_eq!(r["refusals"], 1);
    assert_eq!(r["mode"], "enforce");
    assert_eq!(
        find("user-daily", "user:u-2")["spent_usd"].as_f64(),
        Some(0.1)
    );
    let g = find("everything", "global");
    assert_eq!(g["spent_usd"].as_f64(), Some(0.35));
    assert_eq!(
        (g["mode"].as_str(), g["window"].as_str()),
        (Some("warn"), Some("month"))
    );

    let table = stdout(&run(&["budgets", "--config", cfg, "--redis", &addr]));
    let line = table.lines().find(|l| l.contains("user:u-1")).unwrap();
    assert!(line.contains("25.0%"), "{table}");

    // Without Redis: the limits alone.
    let o = run(&["budgets", "--config", cfg, "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows[0]["key"], "user (each)");
    assert!(rows[0]["spent_usd"].is_null());

    // Redis gone: an error, not a hang.
    drop(server);
    let start = Instant::now();
    let o = run(&["budgets", "--config", cfg, "--redis", &addr]);
    assert!(!o.status.success());
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// `tokentrace gateway --budgets FILE`: a call over the cap gets the 429
/// from the gateway itself; the upstream (nothing listens there) is never
/// contacted, which would have been a 502.
#[test]
fn gateway_enforces_the_budget_file_given_on_the_command_line() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let dir = tempfile::tempdir().unwrap();
    let budgets = dir.path().join("budgets.toml");
    std::fs::write(
        &budgets,
        "[[limit]]\nname = \"tiny\"\nscope = \"global\"\nusd = 0.00001\nwindow = \"day\"\n",
    )
    .unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "[upstreams.openai]\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let store = dir.path().join("traces.db");
    let mut child = crate::support::tokentrace()
        .args(["gateway", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--budgets")
        .arg(&budgets)
        .arg("--store")
        .arg(&store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 || line.starts_with("Press Ctrl-C") {
            break;
        }
        banner.push_str(&line);
    }
    assert!(
        banner.contains(&format!("Budgets from {}", budgets.display())),
        "{banner}"
    );
    assert!(banner.contains("state in this process"), "{banner}");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let body = r#"{"model":"gpt-4o-mini","max_tokens":1000,"messages":[]}"#;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
    assert!(raw.contains("x-tt-gateway-error: budget_exceeded"), "{raw}");
    let json: serde_json::Value =
        serde_json::from_str(raw.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(json["error"]["code"], "budget_exceeded");
    assert!(json["error"]["message"].as_str().unwrap().contains("tiny"));

    // `--redis` needs `--budgets`: a usage error.
    let o = run(&["gateway", "--redis", "127.0.0.1:6379"]);
    assert!(!o.status.success());
    // A budget file that does not exist: refused at start, with its name.
    let o = run(&["gateway", "--budgets", "/nonexistent/b.toml", "--no-store"]);
    assert!(!o.status.success());
    assert!(
        crate::support::stderr(&o).contains("/nonexistent/b.toml"),
        "{o:?}"
    );
}
