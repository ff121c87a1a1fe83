//! Handler tests: the router called with `tower::ServiceExt::oneshot` over a seeded store.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value as Json;
use tokentrace_store::{Page, Store, Trace, TraceSummary};
use tower::ServiceExt as _;

use super::{AppState, CONTENT_SECURITY_POLICY, router};
use tokentrace_test_support::seed::{XSS_IMG, XSS_SCRIPT, seed};

struct Fixture {
    _dir: tempfile::TempDir,
    app: axum::Router,
    seed: Vec<tokentrace_test_support::seed::SeedTrace>,
    now_ns: i64,
}

fn fixture(token: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let (seed, now_ns) = seed(&path);
    let state = AppState::new(Store::open(&path).unwrap()).unwrap();
    Fixture {
        _dir: dir,
        app: router(state, token),
        seed,
        now_ns,
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn traces_page_lists_every_seeded_trace_newest_first() {
    let f = fixture(None);
    let (status, headers, body) = get(&f.app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let mut positions = Vec::new();
    for t in &f.seed {
        let pos = body
            .find(&format!("data-trace-id=\"{}\"", t.trace_id()))
            .unwrap_or_else(|| panic!("trace {} missing", t.trace_id()));
        positions.push((t.age_ns, pos));
    }
    // Younger traces (smaller age) come first.
    positions.sort_by_key(|(age, _)| *age);
    assert!(
        positions.windows(2).all(|w| w[0].1 < w[1].1),
        "{positions:?}"
    );
    assert_eq!(body.matches("class=\"trace-row").count(), f.seed.len());
}

#[tokio::test]
async fn traces_page_filters_and_paginates() {
    let f = fixture(None);
    let (_, _, body) = get(&f.app, "/?workflow=summarise").await;
    assert_eq!(body.matches("class=\"trace-row").count(), 2);
    let (_, _, body) = get(&f.app, "/?errors=1").await;
    let failing = f.seed.iter().filter(|t| t.errors() > 0).count();
    assert!(failing > 0);
    assert_eq!(body.matches("class=\"trace-row").count(), failing);
    let (_, _, body) = get(&f.app, "/?limit=2").await;
    assert_eq!(body.matches("class=\"trace-row").count(), 2);
    // minijinja escapes `/` as well; the browser decodes it back.
    assert!(
        body.contains("href=\"&#x2f;?limit=2&amp;offset=2\""),
        "next link keeps the filters"
    );
    let (_, _, body) = get(&f.app, "/?q=Globex").await;
    assert_eq!(body.matches("class=\"trace-row").count(), 1);
    let (status, _, _) = get(&f.app, "/?since=yesterday-ish").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn trace_page_draws_one_bar_per_span_and_escapes_everything() {
    let f = fixture(None);
    for t in &f.seed {
        let (status, _, body) = get(&f.app, &format!("/traces/{}", t.trace_id())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body.matches("<rect class=\"bar ").count(),
            t.span_count(),
            "{}",
            t.trace_id()
        );
        assert_eq!(
            body.matches("class=\"span-detail\"").count(),
            t.span_count()
        );
        assert_eq!(
            body.matches("<span class=\"tag llm\">").count(),
            t.calls.len()
        );
        for c in &t.calls {
            assert!(body.contains(c.model));
        }
    }
    let hostile = f.seed.iter().find(|t| t.template == XSS_SCRIPT).unwrap();
    let (_, _, body) = get(&f.app, &format!("/traces/{}", hostile.trace_id())).await;
    assert!(!body.contains(XSS_SCRIPT), "raw script in the page");
    assert!(!body.contains("<img"), "injected element in the page");
    assert!(!body.contains("<script>"), "raw script tag in the page");
    assert!(
        body.contains("&lt;script&gt;document.title="),
        "template shown as text"
    );
    assert!(!body.contains(XSS_IMG));
    assert!(body.contains("class=\"prompt-template\""));
    // The only script tag is the external one.
    assert_eq!(body.matches("<script").count(), 1);
    assert!(body.contains("<script src=\"/assets/app.js\" defer></script>"));
}

/// The text of the `<dd>` of the `data-field="{key}"` fact in `html`, tags stripped.
fn field(html: &str, key: &str) -> Option<String> {
    let at = html.find(&format!("data-field=\"{key}\""))?;
    let dd = html[at..].find("<dd")? + at;
    let open = html[dd..].find('>')? + dd + 1;
    let close = html[open..].find("</dd>")? + open;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[open..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

/// The detail panel of span `span_id` in a trace page.
fn span_panel(body: &str, span_id: u64) -> &str {
    let marker = format!("<section class=\"span-detail\" id=\"span-{span_id:016x}\">");
    let start = body.find(&marker).expect("the span's panel");
    let end = body[start..]
        .find("</section>")
        .map_or(body.len(), |e| start + e);
    &body[start..end]
}

#[tokio::test]
async fn trace_header_names_user_session_models_and_the_token_breakdown() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa2)).await;
    assert_eq!(status, StatusCode::OK);
    let header = &body[..body.find("class=\"trace-layout\"").unwrap()];
    assert_eq!(field(header, "user").as_deref(), Some("bob"));
    assert!(header.contains("href=\"&#x2f;?user=bob\""), "{header}");
    assert_eq!(field(header, "session").as_deref(), Some("sess-2"));
    assert!(header.contains("href=\"&#x2f;sessions&#x2f;sess-2\""));
    assert_eq!(
        field(header, "models").as_deref(),
        Some("claude-haiku-4-5-20251001, gpt-4o-mini")
    );
    assert_eq!(field(header, "input_tokens").as_deref(), Some("900"));
    assert_eq!(field(header, "output_tokens").as_deref(), Some("250"));
    assert_eq!(field(header, "cached_tokens").as_deref(), Some("600"));
    assert_eq!(field(header, "reasoning_tokens").as_deref(), Some("64"));
    assert_eq!(field(header, "tokens").as_deref(), Some("1,150"));
    assert_eq!(field(header, "cost").as_deref(), Some("$0.001485"));
    // Details sit beside the waterfall (one layout grid holding both).
    let layout = body.find("class=\"trace-layout\"").unwrap();
    let waterfall = body.find("class=\"waterfall\"").unwrap();
    let details = body.find("class=\"span-details\"").unwrap();
    assert!(layout < waterfall && waterfall < details);
    assert_eq!(body[details..].matches("class=\"span-detail\"").count(), 5);
    // A trace without user or session says so instead of leaving a gap.
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa4)).await;
    assert_eq!(field(&body, "cached_tokens").as_deref(), Some("0"));
    assert_eq!(field(&body, "user").as_deref(), Some("carol"));
}

#[tokio::test]
async fn waterfall_rows_carry_what_collapsing_needs() {
    let f = fixture(None);
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa2)).await;
    // Root: 4 spans beneath; the retrieve step: its vector query; the calls: none.
    for (span, depth, below) in [
        (0xa201_u64, 0, 4),
        (0xa202, 1, 1),
        (0xa203, 2, 0),
        (0xa204, 1, 0),
        (0xa205, 1, 0),
    ] {
        let row = format!(
            "data-span-id=\"{span:016x}\" data-depth=\"{depth}\" data-descendants=\"{below}\""
        );
        assert!(body.contains(&row), "{row}");
    }
    assert_eq!(
        body.matches("<button type=\"button\" class=\"twisty\"")
            .count(),
        2
    );
    assert!(body.contains("data-collapse=\"all\""));
    assert!(body.contains("data-collapse=\"none\""));
    assert!(!body.contains(" hidden\" data-span-id"));

    // Folded on the server (`?collapse=`): the rows beneath are hidden.
    let row_class = |body: &str, span: u64| -> String {
        let at = body
            .find(&format!("data-span-id=\"{span:016x}\" data-depth"))
            .unwrap();
        let start = body[..at].rfind("class=\"wf-row").unwrap();
        body[start..at].to_owned()
    };
    let url = format!("/traces/{:032x}?collapse={:016x}", 0xa2, 0xa202);
    let (_, _, body) = get(&f.app, &url).await;
    assert!(row_class(&body, 0xa202).contains(" collapsed"));
    assert!(row_class(&body, 0xa203).contains(" hidden"));
    for visible in [0xa201, 0xa202, 0xa204, 0xa205] {
        assert!(!row_class(&body, visible).contains("hidden"), "{visible:x}");
    }
    assert!(body.contains("class=\"twisty\" aria-expanded=\"false\""));
    // `all` folds every subtree but the root's.
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}?collapse=all", 0xa2)).await;
    assert!(!row_class(&body, 0xa201).contains("collapsed"));
    assert!(row_class(&body, 0xa202).contains(" collapsed"));
    assert!(row_class(&body, 0xa203).contains(" hidden"));
    assert!(!row_class(&body, 0xa204).contains("hidden"));
}

#[tokio::test]
async fn span_details_show_usage_cost_call_facts_and_messages_as_fields() {
    let f = fixture(None);
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa2)).await;
    let p = span_panel(&body, 0xa204);
    for (key, value) in [
        ("input_tokens", "800"),
        ("cached_tokens", "600"),
        ("output_tokens", "200"),
        ("reasoning_tokens", "64"),
        ("total_tokens", "1,000"),
        ("cost", "$0.001440"),
        ("input_cost", "$0.000640"),
        ("cache_read_cost", "$0.000060"),
        ("output_cost", "$0.000800"),
        ("reasoning_cost", "$0.000256"),
        ("cost_source", "catalogue"),
        ("price_entry", "claude-haiku-4-5"),
        ("finish_reason", "end_turn"),
        ("time_to_first_token", "250.0 ms"),
        ("streamed", "yes"),
    ] {
        assert_eq!(field(p, key).as_deref(), Some(value), "{key}");
    }
    // No cache-write part was reported: no empty field for it.
    assert_eq!(field(p, "cache_write_cost"), None);
    // Messages: system and user in, assistant out, as text.
    assert_eq!(p.matches("class=\"message input").count(), 2);
    assert!(p.contains("<div class=\"message input role-system\"><div class=\"role\">system</div><pre>Be brief.</pre>"));
    assert!(p.contains("<pre>What does the pro plan cost?</pre>"));
    assert!(p.contains("<div class=\"message output role-assistant\">"));
    assert!(p.contains("<pre>The pro plan is $20 a month.</pre>"));
    // Plain input.value / output.value make a panel too.
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa1)).await;
    let p = span_panel(&body, 0xa104);
    assert!(p.contains("<pre>how do I reset?</pre>"));
    assert!(p.contains("<pre>Hold the button for 5 s.</pre>"));
    // An unpriced model says why there is no cost.
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa4)).await;
    let p = span_panel(&body, 0xa402);
    assert_eq!(
        field(p, "cost").as_deref(),
        Some("unknown: no price for this model")
    );
    // A workflow span has no usage or cost section.
    let p = span_panel(&body, 0xa401);
    assert!(!p.contains("<h3>Tokens</h3>") && !p.contains("<h3>Cost</h3>"));
}

#[tokio::test]
async fn raw_json_keeps_one_naming_scheme_without_float_noise() {
    let f = fixture(None);
    let (_, _, body) = get(&f.app, &format!("/traces/{:032x}", 0xa2)).await;
    let p = span_panel(&body, 0xa204);
    let json = &p[p.find("<h3>Attributes</h3>").unwrap()..p.find("<h3>Events").unwrap()];
    for kept in [
        "gen_ai.usage.input_tokens",
        "cost.total_usd",
        "gen_ai.response.model",
        "llm.cost.prompt_details.input",
    ] {
        assert!(json.contains(&format!("&quot;{kept}&quot;")), "{kept} kept");
    }
    for mirror in [
        "llm.cost.total",
        "gen_ai.usage.cost",
        "llm.token_count.prompt",
        "llm.model_name",
    ] {
        assert!(
            !json.contains(&format!("<span class=\"jk\">&quot;{mirror}&quot;")),
            "{mirror} repeated"
        );
    }
    assert!(json.contains("Not repeated here (4,"));
    // 6.749999999999999e-5 reads as the value it stands for.
    assert!(!json.contains("6.749999"), "float noise shown");
    assert!(
        json.contains("<span class=\"jnumber\">0.0000675</span>"),
        "{json}"
    );
}

#[test]
fn canonical_attributes_drops_only_equal_mirrors() {
    let attrs = serde_json::json!({
        "gen_ai.usage.input_tokens": 10,
        "llm.token_count.prompt": 10,
        "cost.prompt_tokens": 12,
        "cost.total_usd": 0.3,
        "llm.cost.total": 0.1_f64 + 0.2,
        "llm.token_count.completion": 5,
        "langfuse.observation.cost_details": "{}",
        "performance.latency_ms": 3.971_615_000_000_000_3,
    });
    let (kept, removed) = super::view::canonical_attributes(&attrs);
    assert_eq!(
        removed,
        [
            "langfuse.observation.cost_details",
            "llm.cost.total",
            "llm.token_count.prompt"
        ]
    );
    // A mirror with another value, or without its canonical name, stays.
    assert_eq!(kept["cost.prompt_tokens"], 12);
    assert_eq!(kept["llm.token_count.completion"], 5);
    assert_eq!(kept["performance.latency_ms"].to_string(), "3.971615");
}

#[tokio::test]
async fn bad_and_unknown_trace_ids_are_400_and_404() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, "/traces/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid trace id"));
    let (status, _, _) = get(&f.app, &format!("/traces/{:032x}", 0xdead_u128)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = get(&f.app, "/api/traces/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(serde_json::from_str::<Json>(&body).unwrap()["error"].is_string());
    let (status, _, _) = get(&f.app, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_page_renders_every_chart() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, "/stats?interval=day").await;
    assert_eq!(status, StatusCode::OK);
    for id in [
        "spend-over-time",
        "latency-over-time",
        "errors-over-time",
        "cost-by-model",
        "tokens-by-model",
        "cost-by-workflow",
        "latency-by-workflow",
        "errors-by-model",
        "cost-by-user",
        "cost-by-session",
    ] {
        assert!(body.contains(&format!("id=\"{id}\"")), "chart {id} missing");
    }
    assert_eq!(body.matches("<svg class=\"chart").count(), 11);
    // One column per UTC day from the first to the last trace (gaps included),
    // in each of the three time charts.
    let day = |t: &tokentrace_test_support::seed::SeedTrace| {
        (f.now_ns - t.age_ns).div_euclid(86_400_000_000_000)
    };
    let first = f.seed.iter().map(day).min().unwrap();
    let last = f.seed.iter().map(day).max().unwrap();
    let days = usize::try_from(last - first + 1).unwrap();
    assert_eq!(body.matches("<g class=\"bucket\">").count(), 3 * days);
    // Bars click through to the traces of their group.
    let user = f.seed[0].user;
    assert!(
        body.contains(&format!("href=\"&#x2f;?user={user}\"")),
        "no link to {user}"
    );
    assert!(!body.contains("<img"));
    assert!(!body.contains("<script>"));
}

#[tokio::test]
async fn stats_page_follows_the_filters() {
    let f = fixture(None);
    let user = f.seed[0].user;
    let (status, _, body) = get(&f.app, &format!("/stats?user={user}&stack=user")).await;
    assert_eq!(status, StatusCode::OK);
    let n = f.seed.iter().filter(|t| t.user == user).count();
    assert!(
        body.contains(&format!("<dd id=\"total-traces\">{n}</dd>")),
        "{n} traces of {user}"
    );
    let cost: f64 = f
        .seed
        .iter()
        .filter(|t| t.user == user)
        .map(|t| t.cost())
        .sum();
    assert!(body.contains(&format!(
        "<dd id=\"total-cost\">{}</dd>",
        crate::output::cost(cost)
    )));
    // Stacked by user: every spend block belongs to the one user.
    assert!(body.contains(&format!("<span class=\"legend s0\">{user}</span>")));
    assert!(!body.contains("legend s1"));
    // A click-through keeps the filter.
    assert!(body.contains(&format!("href=\"&#x2f;?user={user}&amp;model=")));
    // A range with nothing in it.
    let (status, _, body) = get(&f.app, "/stats?until=1970-01-02").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<dd id=\"total-traces\">0</dd>"));
}

#[tokio::test]
async fn a_bad_filter_is_an_inline_400_that_keeps_the_form() {
    let f = fixture(None);
    for (uri, field) in [
        ("/stats?since=yesterday&user=u-keep", "since"),
        ("/stats?interval=minute&user=u-keep", "interval"),
        ("/stats?stack=day&user=u-keep", "stack"),
        ("/?sort=sideways&user=u-keep", "sort"),
        ("/?until=never&user=u-keep", "until"),
    ] {
        let (status, _, body) = get(&f.app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains("id=\"filter-error\""), "{uri}");
        assert!(
            body.contains("<form class=\"filters\""),
            "{uri}: the form stays"
        );
        assert!(body.contains("value=\"u-keep\""), "{uri}: with its values");
        assert!(body.contains("<nav>"), "{uri}: inside the page");
        let msg = body.split("id=\"filter-error\"").nth(1).unwrap();
        assert!(
            msg.contains(field) || msg.contains("invalid"),
            "{uri}: {msg}"
        );
    }
}

#[tokio::test]
async fn traces_page_sorts_and_totals_the_filtered_set() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, "/?sort=cost_desc").await;
    assert_eq!(status, StatusCode::OK);
    let mut by_cost: Vec<&tokentrace_test_support::seed::SeedTrace> = f.seed.iter().collect();
    by_cost.sort_by(|a, b| b.cost().total_cmp(&a.cost()));
    let first_row = body.split("data-trace-id=\"").nth(1).unwrap();
    assert!(
        first_row.starts_with(&by_cost[0].trace_id()),
        "most expensive first"
    );
    // The cost header now sorts ascending; the others descending.
    assert!(body.contains("data-sort=\"cost\" href=\"&#x2f;?sort=cost_asc\">cost ↓</a>"));
    assert!(body.contains("data-sort=\"latency\" href=\"&#x2f;?sort=latency_desc\">latency</a>"));
    let total: f64 = f.seed.iter().map(|t| t.cost()).sum();
    assert!(body.contains(&format!(
        "<dd id=\"totals-cost\">{}</dd>",
        crate::output::cost(total)
    )));
    // Auto-refresh is off unless switched on.
    assert!(body.contains("<input type=\"checkbox\" id=\"live\">"));
}

#[tokio::test]
async fn sessions_page_paginates_and_filters() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, "/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.matches("class=\"session-row\"").count(), 4);
    assert!(body.contains("Sessions 1–4 of 4"));
    // Most recently active first: sess-x (10 min ago) … sess-1 (25 h ago).
    let order: Vec<usize> = ["sess-x", "sess-3", "sess-1", "sess-2"]
        .iter()
        .map(|s| body.find(&format!("data-session-id=\"{s}\"")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    let (_, _, body) = get(&f.app, "/sessions?limit=2").await;
    assert_eq!(body.matches("class=\"session-row\"").count(), 2);
    assert!(body.contains("Sessions 1–2 of 4"));
    assert!(body.contains("href=\"&#x2f;sessions?limit=2&amp;offset=2\""));
    assert!(!body.contains("rel=\"prev\""));
    let (_, _, body) = get(&f.app, "/sessions?limit=2&offset=2").await;
    assert!(body.contains("Sessions 3–4 of 4"));
    assert!(body.contains("data-session-id=\"sess-1\""));
    assert!(body.contains("data-session-id=\"sess-2\""));
    assert!(body.contains("rel=\"prev\" href=\"&#x2f;sessions?limit=2\""));
    assert!(!body.contains("rel=\"next\""));

    // Substring of the session id, the user exactly, the time range.
    let rows = |body: &str| body.matches("class=\"session-row\"").count();
    let (_, _, body) = get(&f.app, "/sessions?q=ess-3").await;
    assert_eq!(rows(&body), 1);
    assert!(body.contains("data-session-id=\"sess-3\""));
    assert!(
        body.contains("value=\"ess-3\""),
        "the form keeps the filter"
    );
    let (_, _, body) = get(&f.app, "/sessions?user=alice").await;
    assert_eq!(rows(&body), 1);
    assert!(body.contains("data-session-id=\"sess-1\""));
    let (_, _, body) = get(&f.app, "/sessions?since=4h").await;
    assert_eq!(
        rows(&body),
        2,
        "sess-3 and sess-x were active in the last 4 h"
    );
    let (_, _, body) = get(&f.app, "/sessions?q=nobody").await;
    assert_eq!(rows(&body), 0);
    assert!(body.contains("No session matches these filters."));
    // A bad value is an inline 400 that keeps the form.
    let (status, _, body) = get(&f.app, "/sessions?since=yesterdayish&q=sess").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("class=\"error-message\""));
    assert!(body.contains("value=\"yesterdayish\""));
}

#[tokio::test]
async fn a_session_page_is_the_conversation_turn_by_turn() {
    let f = fixture(None);
    let (status, _, body) = get(&f.app, "/sessions/sess-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.matches("<li class=\"turn").count(), 2);
    let a1 = body
        .find(&format!("class=\"turn\" data-trace-id=\"{:032x}\"", 0xa1))
        .unwrap();
    let a3 = body
        .find(&format!(
            "class=\"turn has-error\" data-trace-id=\"{:032x}\"",
            0xa3
        ))
        .unwrap();
    assert!(a1 < a3, "turns in the order they started");
    let first = &body[a1..a3];
    assert!(first.contains("<span class=\"turn-n\">#1</span>"));
    assert_eq!(field_span(first, "cost").as_deref(), Some("$0.000360"));
    assert_eq!(field_span(first, "latency").as_deref(), Some("165.0 ms"));
    assert!(first.contains("<pre>how do I reset?</pre>"));
    assert!(first.contains("<pre>Hold the button for 5 s.</pre>"));
    let second = &body[a3..];
    assert!(second.contains("<span class=\"turn-n\">#2</span>"));
    assert_eq!(field_span(second, "cost").as_deref(), Some("$0.000075"));
    assert!(second.contains("No captured input or output"));
    assert!(second.contains("1 error"));
    assert_eq!(field(&body, "turns").as_deref(), Some("2"));
    assert_eq!(field(&body, "cost").as_deref(), Some("$0.000435"));
    assert_eq!(field(&body, "user").as_deref(), Some("alice"));

    // Captured messages: the turn's new user message, not the system prompt.
    let (_, _, body) = get(&f.app, "/sessions/sess-2").await;
    assert!(body.contains("<div class=\"message input role-user\"><div class=\"role\">user</div><pre>What does the pro plan cost?</pre>"));
    assert!(!body.contains("Be brief."));
    assert!(body.contains("<pre>The pro plan is $20 a month.</pre>"));
    let (status, _, _) = get(&f.app, "/sessions/no-such-session").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The text of the `<span data-field="{key}">` in `html`.
fn field_span(html: &str, key: &str) -> Option<String> {
    let at = html.find(&format!("data-field=\"{key}\">"))?;
    let open = at + format!("data-field=\"{key}\">").len();
    let close = html[open..].find("</span>")? + open;
    Some(html[open..close].to_owned())
}

#[tokio::test]
async fn api_returns_the_store_model_types() {
    let f = fixture(None);
    let (status, headers, body) = get(&f.app, "/api/traces?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let page: Page<TraceSummary> = serde_json::from_str(&body).unwrap();
    assert_eq!(page.total, f.seed.len() as u64);
    assert_eq!(page.items.len(), 3);
    let t = &f.seed[1];
    let (_, _, body) = get(&f.app, &format!("/api/traces/{}", t.trace_id())).await;
    let trace: Trace = serde_json::from_str(&body).unwrap();
    assert_eq!(trace.spans.len(), t.span_count());
    assert_eq!(trace.total_tokens, t.total_tokens());
    assert!((trace.cost_usd - t.cost()).abs() < 1e-12);
    let (_, _, body) = get(&f.app, "/api/stats?by=model").await;
    let rows: Vec<Json> = serde_json::from_str(&body).unwrap();
    assert!(rows.iter().any(|r| r["key"] == "gpt-4o-mini"));
    let (status, _, _) = get(&f.app, "/api/stats?by=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, body) = get(&f.app, "/api/changes").await;
    assert!(serde_json::from_str::<Json>(&body).unwrap()["version"].is_string());
    let (status, _, _) = get(&f.app, "/api/models").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&f.app, "/api/export-stats").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sql_in_filter_values_is_data() {
    let f = fixture(None);
    for q in [
        "workflow=%27%20OR%201%3D1%20--",
        "user=%27%20OR%201%3D1%20--",
        "session=%27%20OR%20%271%27%3D%271",
        "model=x%27%3B%20DROP%20TABLE%20spans%3B%20--",
        "q=%27%20OR%201%3D1%20--",
        "q=%25",
    ] {
        let (status, _, body) = get(&f.app, &format!("/api/traces?{q}")).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        let page: Page<TraceSummary> = serde_json::from_str(&body).unwrap();
        assert_eq!(page.total, 0, "{q} matched {page:?}");
    }
    let (status, _, _) = get(&f.app, "/api/sessions/%27%20OR%201%3D1%20--").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Still all there.
    let (_, _, body) = get(&f.app, "/api/traces").await;
    let page: Page<TraceSummary> = serde_json::from_str(&body).unwrap();
    assert_eq!(page.total, f.seed.len() as u64);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let f = fixture(None);
    for uri in ["/", "/stats", "/api/traces", "/nope", "/assets/app.js"] {
        let (_, headers, _) = get(&f.app, uri).await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY,
            "{uri}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    let (_, headers, body) = get(&f.app, "/assets/app.js").await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(body.contains("/api/changes"));
    let (_, headers, _) = get(&f.app, "/assets/app.css").await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn with_a_token_every_request_must_carry_it() {
    let f = fixture(Some("s3cret-token"));
    for uri in ["/", "/api/traces", "/assets/app.js", "/stats"] {
        let (status, headers, _) = get(&f.app, uri).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }
    let (status, _, _) = get(&f.app, "/?token=wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bearer = |t: &str| {
        Request::get("/api/traces")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&f.app, bearer("s3cret-token")).await.0, StatusCode::OK);
    assert_eq!(
        send(&f.app, bearer("s3cret-tokeN")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, headers, _) = get(&f.app, "/?token=s3cret-token").await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("tokentrace_token=s3cret-token;"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let with_cookie = Request::get("/stats")
        .header(header::COOKIE, "other=1; tokentrace_token=s3cret-token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&f.app, with_cookie).await.0, StatusCode::OK);
}
