//! `tokentrace serve` on a real socket: refusal without a token beyond loopback,
//! the token check, and the pages and API over HTTP.

use crate::support::{http_get, run, seeded, serve, stderr};

#[test]
fn serving_beyond_loopback_without_a_token_is_refused() {
    let s = seeded();
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let o = run(&["serve", "--store", s.path.to_str().unwrap(), "--bind", bind]);
        assert!(!o.status.success(), "{bind}");
        let err = stderr(&o);
        assert!(
            err.contains("refusing to serve") && err.contains("--token"),
            "{err}"
        );
    }
    let o = run(&[
        "serve",
        "--store",
        s.path.to_str().unwrap(),
        "--bind",
        "0.0.0.0:0",
        "--token",
        "bad token",
    ]);
    assert!(!o.status.success());
}

#[test]
fn beyond_loopback_every_request_needs_the_token() {
    let s = seeded();
    let server = serve(
        &s.path,
        &["--bind", "0.0.0.0:0", "--token", "t0ken-for-tests"],
    );
    for path in [
        "/",
        "/api/traces",
        "/stats",
        "/assets/app.js",
        "/traces/00000000000000000000000000000000",
    ] {
        let (status, head, _) = http_get(server.addr, path, &[]);
        assert_eq!(status, 401, "{path}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
    }
    let (status, _, _) = http_get(
        server.addr,
        "/api/traces",
        &[("Authorization", "Bearer wrong")],
    );
    assert_eq!(status, 401);
    let (status, _, body) = http_get(
        server.addr,
        "/api/traces",
        &[("Authorization", "Bearer t0ken-for-tests")],
    );
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["total"], s.traces.len());
    let (status, head, _) = http_get(server.addr, "/?token=t0ken-for-tests", &[]);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("set-cookie: tokentrace_token=")
    );
}

#[test]
fn loopback_serves_pages_and_api_without_a_token() {
    let s = seeded();
    let server = serve(&s.path, &["--bind", "127.0.0.1:0"]);
    let (status, head, body) = http_get(server.addr, "/", &[]);
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("referrer-policy: no-referrer"));
    for t in &s.traces {
        assert!(body.contains(&t.trace_id()));
    }
    let (status, _, body) = http_get(
        server.addr,
        &format!("/api/traces/{}", s.traces[0].trace_id()),
        &[],
    );
    assert_eq!(status, 200);
    let trace: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        trace["spans"].as_array().unwrap().len(),
        s.traces[0].span_count()
    );
}
