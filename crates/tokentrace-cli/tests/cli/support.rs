//! Running the binary, a seeded store, and a tiny HTTP/1.1 client.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub(crate) use tokentrace_test_support::seed::{SeedTrace, XSS_IMG, XSS_SCRIPT, bulk};

/// A temp dir holding a seeded `traces.db`.
pub(crate) struct Seeded {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) traces: Vec<SeedTrace>,
    pub(crate) now_ns: i64,
}

pub(crate) fn seeded() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.db");
    let (traces, now_ns) = tokentrace_test_support::seed::seed(&path);
    Seeded {
        _dir: dir,
        path,
        traces,
        now_ns,
    }
}

/// `tokentrace` with a clean environment: no store/token variables, no colour.
pub(crate) fn tokentrace() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokentrace"));
    c.env_remove("TOKENTRACE_STORE")
        .env_remove("TOKENTRACE_TOKEN")
        .env_remove("TOKENTRACE_PRICES_CATALOGUE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// Runs `tokentrace args...` to completion.
pub(crate) fn run(args: &[&str]) -> Output {
    tokentrace().args(args).output().unwrap()
}

/// Runs against the seeded store: `tokentrace <args> --store <path>`.
pub(crate) fn run_on(store: &Path, args: &[&str]) -> Output {
    tokentrace()
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs and parses stdout as JSON, asserting success.
pub(crate) fn json_on(store: &Path, args: &[&str]) -> serde_json::Value {
    let o = run_on(store, args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", stdout(&o)))
}

/// A running `tokentrace serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tokentrace serve --store <store> <extra...>` and waits for its URL line.
pub(crate) fn serve(store: &Path, extra: &[&str]) -> Server {
    let mut child = tokentrace()
        .arg("serve")
        .arg("--store")
        .arg(store)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let mut addr: SocketAddr = hostport.parse().unwrap();
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    Server { child, addr }
}

/// A minimal HTTP/1.1 GET: returns the status, the raw head and the body.
pub(crate) fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}
