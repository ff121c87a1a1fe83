//! The dashboard in headless Chromium (Debian's `chromium`): pages render with
//! the seeded data, and hostile span content stays text.
//!
//! Fails when `CI` is set and Chromium is missing; otherwise skips with a message.
//! Screenshots of each page are kept in `<target>/tokentrace-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, XSS_IMG, XSS_SCRIPT, seeded, serve};

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

fn screenshot_dir() -> PathBuf {
    // <target>/debug/tokentrace -> <target>/tokentrace-screenshots
    let bin = Path::new(env!("CARGO_BIN_EXE_tokentrace"));
    let dir = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in <target>/<profile>/")
        .join("tokentrace-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Browser {
    exe: PathBuf,
}

impl Browser {
    fn run(&self, extra: &[String], url: &str) -> String {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--virtual-time-budget=3000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
            s
        });
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if start.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s for {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        reader.join().unwrap()
    }

    fn dom(&self, url: &str) -> String {
        let dom = self.run(&["--dump-dom".to_owned()], url);
        assert!(dom.contains("</html>"), "no DOM for {url}: {dom}");
        dom
    }

    fn screenshot(&self, url: &str, name: &str) {
        let file = screenshot_dir().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        self.run(
            &[
                format!("--screenshot={}", file.display()),
                "--window-size=1280,900".to_owned(),
            ],
            url,
        );
        let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "screenshot {} was not written", file.display());
    }
}

fn title(dom: &str) -> &str {
    let start = dom.find("<title>").expect("a title") + "<title>".len();
    let end = dom[start..].find("</title>").expect("a closed title") + start;
    &dom[start..end]
}

#[test]
fn dashboard_pages_render_in_headless_chromium() {
    let Some(exe) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is missing: install Debian's `chromium` package (.ci/run does)"
        );
        eprintln!(
            "SKIPPED dashboard_pages_render_in_headless_chromium: no chromium (apt-get install chromium)"
        );
        return;
    };
    let browser = Browser { exe };
    let s = seeded();
    let server: Server = serve(&s.path, &["--bind", "127.0.0.1:0"]);
    let base = format!("http://{}", server.addr);

    // Traces: every seeded trace listed.
    let dom = browser.dom(&format!("{base}/"));
    assert_eq!(title(&dom), "tokentrace · Traces");
    assert_eq!(dom.matches("class=\"trace-row").count(), s.traces.len());
    for t in &s.traces {
        assert!(
            dom.contains(&format!("data-trace-id=\"{}\"", t.trace_id())),
            "{}",
            t.trace_id()
        );
    }
    browser.screenshot(&format!("{base}/"), "traces");

    // A trace: one waterfall bar per span.
    let t = s.traces.iter().max_by_key(|t| t.span_count()).unwrap();
    let url = format!("{base}/traces/{}", t.trace_id());
    let dom = browser.dom(&url);
    assert_eq!(dom.matches("<rect class=\"bar ").count(), t.span_count());
    assert_eq!(dom.matches("class=\"tag llm\"").count(), t.calls.len());
    browser.screenshot(&url, "trace");

    // Statistics: every chart drawn, with bars.
    let dom = browser.dom(&format!("{base}/stats"));
    assert_eq!(dom.matches("<svg class=\"chart").count(), 11);
    assert!(dom.matches("<rect class=\"bar ").count() >= 12);
    browser.screenshot(&format!("{base}/stats"), "stats");

    // Sessions.
    let dom = browser.dom(&format!("{base}/sessions"));
    assert!(dom.contains("sess-1"));
    browser.screenshot(&format!("{base}/sessions/sess-1"), "session");

    // Hostile content: shown as text, no script run, no element injected.
    let hostile = s.traces.iter().find(|t| t.user == XSS_IMG).unwrap();
    let expected_title = format!("tokentrace · Trace {}", hostile.trace_id());
    for url in [
        format!("{base}/traces/{}", hostile.trace_id()),
        format!("{base}/?q=pwned"),
        format!("{base}/stats"),
        format!("{base}/sessions"),
        format!("{base}/sessions/sess-x"),
    ] {
        let dom = browser.dom(&url);
        let t = title(&dom);
        assert!(!t.contains("pwned"), "a script ran on {url}: title {t:?}");
        assert!(!dom.contains("<img"), "an element was injected on {url}");
        assert_eq!(dom.matches("<script").count(), 1, "only app.js on {url}");
    }
    let llm_span = format!("{:x}", ((hostile.n as u64) << 8) + 2);
    let url = format!("{base}/traces/{}#span-{llm_span:0>16}", hostile.trace_id());
    let dom = browser.dom(&url);
    assert_eq!(title(&dom), expected_title);
    let as_text = XSS_SCRIPT.replace('<', "&lt;").replace('>', "&gt;");
    assert!(dom.contains(&as_text), "template shown as text");
    assert!(
        dom.contains("\"&gt;&lt;img src=x onerror="),
        "metadata shown as text"
    );
    browser.screenshot(&url, "trace-hostile");
}
