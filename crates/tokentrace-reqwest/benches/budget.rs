//! Added cost per call of a budget check: reserve (check every limit that
//! applies, atomically) plus settle, with three limits applying (user,
//! model, global), in process and (with `--features redis` and
//! `redis-server` on PATH, scripts/setup-redis) against Redis on loopback.
//!
//! Run with `cargo bench -p tokentrace-reqwest --features redis --bench budget`.

use std::time::Duration;

use criterion::Criterion;
use tokentrace_core::budget::{BudgetConfig, Limit, Scope, Window};
use tokentrace_reqwest::budget::{BudgetKeys, Budgets};

fn config() -> BudgetConfig {
    BudgetConfig::new()
        .limit(Limit::new(Scope::User, 1e9, Window::Day).soft(0.8))
        .limit(Limit::new(Scope::Model, 1e9, Window::rolling_secs(3600)))
        .limit(Limit::new(Scope::Global, 1e9, Window::Month))
}

fn bench_one(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, budgets: &Budgets) {
    let mut i = 0u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            let keys = BudgetKeys::new()
                .user(format!("u-{}", i % 1000))
                .model("gpt-4o-mini");
            rt.block_on(async {
                budgets
                    .reserve(&keys, 0.001)
                    .await
                    .expect("far below the caps")
                    .settle(0.0005);
            });
        });
    });
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    bench_one(
        &mut c,
        "budget/in-process reserve+settle",
        &rt,
        &Budgets::new(config()),
    );

    #[cfg(feature = "redis")]
    redis_bench(&mut c, &rt);

    c.final_summary();
}

#[cfg(feature = "redis")]
fn redis_bench(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    use tokentrace_reqwest::budget::redis::RedisStore;
    let Ok(server) = tokentrace_test_support::RedisServer::start() else {
        eprintln!("redis-server not found: skipping the Redis bench (scripts/setup-redis)");
        return;
    };
    let store = RedisStore::new(server.addr());
    let budgets = Budgets::with_store(config(), store);
    bench_one(c, "budget/redis reserve+settle", rt, &budgets);
    drop(server);
}
