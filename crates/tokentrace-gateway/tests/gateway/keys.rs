//! Upstream keys held by the gateway, clients authenticated with
//! gateway-issued keys.

use axum::Router;
use axum::routing::any;
use serde_json::Value;
use tokentrace_gateway::{Gateway, GatewayConfig, UpstreamConfig, issue_client_key};

use crate::proxy::echo;
use crate::support::{Otel, attrs, gateway, run, serve};

/// A key file of our own in the temp directory, removed on drop.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(tag: &str, key: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tokentrace-gateway-test-{}-{tag}.key",
            std::process::id()
        ));
        std::fs::write(&path, format!("{key}\n")).unwrap();
        Self(path)
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn held(url: String, provider: &str, file: &KeyFile) -> UpstreamConfig {
    UpstreamConfig {
        url: Some(url),
        provider: Some(provider.to_owned()),
        api_key_file: Some(file.0.clone()),
        ..UpstreamConfig::default()
    }
}

#[test]
fn held_keys_replace_gateway_keys_and_stay_unrecorded() {
    let otel = Otel::install();
    run(async {
        let up = serve(Router::new().route("/{*p}", any(echo))).await;
        let file = KeyFile::new("held", "sk-upstream-held-secret");
        let client_key = issue_client_key().unwrap();
        let mut cfg = GatewayConfig::default()
            .upstream("oai", held(format!("http://{up}"), "openai", &file))
            .upstream("ant", held(format!("http://{up}"), "anthropic", &file))
            .upstream("gem", held(format!("http://{up}"), "gemini", &file));
        cfg.client_keys = vec![client_key.clone()];
        let gw = gateway(cfg).await;
        let http = reqwest::Client::new();
        let body = r#"{"model":"gpt-4o-mini","messages":[]}"#;

        // No key, a wrong key: 401 in the provider's shape; nothing sent upstream.
        for auth in [None, Some("Bearer ttgw-not-a-real-key-000000000000")] {
            let mut rb = http
                .post(format!("http://{gw}/oai/v1/chat/completions"))
                .body(body);
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            let res = rb.send().await.unwrap();
            assert_eq!(res.status(), 401);
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["error"]["code"], "invalid_api_key");
        }
        let res = http
            .post(format!("http://{gw}/ant/v1/messages"))
            .header("x-api-key", "wrong-key-wrong-key")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["type"], "authentication_error");

        // The right key, where each SDK sends it: replaced by the held key.
        let res = http
            .post(format!("http://{gw}/oai/v1/chat/completions"))
            .header("authorization", format!("Bearer {client_key}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v["headers"]["authorization"],
            "Bearer sk-upstream-held-secret"
        );
        let res = http
            .post(format!("http://{gw}/ant/v1/messages"))
            .header("x-api-key", &client_key)
            .body(body)
            .send()
            .await
            .unwrap();
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["headers"]["x-api-key"], "sk-upstream-held-secret");
        assert!(v["headers"].get("authorization").is_none());
        let res = http
            .post(format!(
                "http://{gw}/gem/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key={client_key}"
            ))
            .body("{}")
            .send()
            .await
            .unwrap();
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["query"], "alt=sse");
        assert_eq!(v["headers"]["x-goog-api-key"], "sk-upstream-held-secret");

        for s in otel.spans() {
            for (k, v) in attrs(&s) {
                assert!(
                    !v.contains("sk-upstream-held") && !v.contains(&client_key),
                    "{k} = {v}"
                );
            }
        }
    });
}

#[test]
fn a_held_key_needs_client_keys_unless_opened_explicitly() {
    let file = KeyFile::new("open", "sk-upstream");
    let cfg = GatewayConfig::default()
        .upstream("oai", held("http://127.0.0.1:9".into(), "openai", &file));
    let err = Gateway::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("client keys"), "{err}");
    let mut open = cfg.clone();
    open.allow_unauthenticated = true;
    assert!(Gateway::new(&open).is_ok());
    let mut short = cfg;
    short.client_keys = vec!["short".into()];
    assert!(Gateway::new(&short).is_err());
    let missing = GatewayConfig::from_toml(
        "[upstreams.x]\nurl = \"http://127.0.0.1:9\"\napi_key_env = \"TOKENTRACE_GATEWAY_TEST_UNSET_VAR\"\n",
    )
    .unwrap();
    assert!(
        Gateway::new(&missing)
            .unwrap_err()
            .to_string()
            .contains("not set")
    );
}

#[test]
fn issued_keys_are_long_random_and_url_safe() {
    let a = issue_client_key().unwrap();
    let b = issue_client_key().unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("ttgw-"));
    assert_eq!(a.len(), 5 + 43);
    assert!(
        a[5..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}
