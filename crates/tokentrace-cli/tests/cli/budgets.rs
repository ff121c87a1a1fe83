//! `tokentrace budgets` against a real `redis-server` (scripts/setup-redis)
//! holding state written by the budget API, and without Redis.

use std::process::{Child, Command, Stdio};
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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn budgets_shows_spend_reservations_and_refusals_from_redis() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("budgets.toml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server not found: run scripts/setup-redis"),
    );
    let addr = format!("127.0.0.1:{port}");
    let store = RedisStore::new(addr.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    drop(_server);
    let start = Instant::now();
    let o = run(&["budgets", "--config", cfg, "--redis", &addr]);
    assert!(!o.status.success());
    assert!(start.elapsed() < Duration::from_secs(10));
}
