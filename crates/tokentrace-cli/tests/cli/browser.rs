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
        self.screenshot_at(url, name, 1280);
    }

    /// A screenshot `width` pixels wide (the trace page puts span details
    /// beside the waterfall from 1200 px, below it under that).
    fn screenshot_at(&self, url: &str, name: &str, width: u32) {
        let file = screenshot_dir().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        self.run(
            &[
                format!("--screenshot={}", file.display()),
                format!("--window-size={width},900"),
            ],
            url,
        );
        let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "screenshot {} was not written", file.display());
    }
}

/// The text of the `<dd>` of the `data-field="{key}"` fact in `html`, tags stripped.
fn dd(html: &str, key: &str) -> Option<String> {
    let at = html.find(&format!("data-field=\"{key}\""))?;
    let open = html[at..].find("<dd")? + at;
    let open = html[open..].find('>')? + open + 1;
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

    // The script ran (it marks the document) and the rows are foldable.
    assert!(
        dom.contains("<html lang=\"en\" class=\"js\">"),
        "app.js ran"
    );
    assert!(dom.contains("class=\"twisty\""));
    assert!(
        !dom.contains(" hidden\" data-span-id"),
        "nothing folded by default"
    );

    // A fully instrumented call: header breakdown, span details as fields,
    // messages, and the raw JSON without mirrors or float noise.
    let rich = format!("{base}/traces/{:032x}", 0xa2);
    let url = format!("{rich}#span-{:016x}", 0xa204);
    let dom = browser.dom(&url);
    let header = &dom[..dom.find("class=\"trace-layout\"").expect("the layout grid")];
    for (key, value) in [
        ("user", "bob"),
        ("session", "sess-2"),
        ("input_tokens", "900"),
        ("output_tokens", "250"),
        ("cached_tokens", "600"),
        ("reasoning_tokens", "64"),
        ("cost", "$0.001485"),
    ] {
        assert_eq!(dd(header, key).as_deref(), Some(value), "header {key}");
    }
    let panel = &dom[dom
        .find(&format!("id=\"span-{:016x}\"", 0xa204))
        .expect("the span panel")..];
    for (key, value) in [
        ("cached_tokens", "600"),
        ("reasoning_tokens", "64"),
        ("reasoning_cost", "$0.000256"),
        ("finish_reason", "end_turn"),
        ("time_to_first_token", "250.0 ms"),
    ] {
        assert_eq!(dd(panel, key).as_deref(), Some(value), "span {key}");
    }
    assert!(panel.contains("<pre>What does the pro plan cost?</pre>"));
    assert!(panel.contains("<pre>The pro plan is $20 a month.</pre>"));
    assert!(!panel.contains("6.749999"), "float noise");
    assert!(
        !panel.contains("&quot;llm.cost.total&quot;</span>"),
        "a mirrored name"
    );
    browser.screenshot_at(&url, "trace-details", 1280);
    browser.screenshot_at(&url, "trace-details-1024", 1024);

    // Folded from the URL; the script keeps the server's folding.
    let url = format!("{rich}?collapse=all");
    let dom = browser.dom(&url);
    assert_eq!(
        dom.matches(" hidden\" data-span-id").count(),
        1,
        "the vector query"
    );
    assert!(dom.contains(&format!("collapsed\" data-span-id=\"{:016x}\"", 0xa202)));
    browser.screenshot(&url, "trace-collapsed");

    // Statistics: every chart drawn, with bars.
    let dom = browser.dom(&format!("{base}/stats"));
    assert_eq!(dom.matches("<svg class=\"chart").count(), 11);
    assert!(dom.matches("<rect class=\"bar ").count() >= 12);
    browser.screenshot(&format!("{base}/stats"), "stats");

    // Sessions: paged and filtered.
    let dom = browser.dom(&format!("{base}/sessions"));
    assert!(dom.contains("sess-1"));
    let url = format!("{base}/sessions?limit=2");
    let dom = browser.dom(&url);
    assert_eq!(dom.matches("class=\"session-row\"").count(), 2);
    assert!(dom.contains("Sessions 1–2 of 4"));
    assert!(dom.contains("rel=\"next\" href=\"/sessions?limit=2&amp;offset=2\""));
    browser.screenshot(&url, "sessions");
    let dom = browser.dom(&format!("{base}/sessions?q=ess-3"));
    assert_eq!(dom.matches("class=\"session-row\"").count(), 1);
    assert!(dom.contains("data-session-id=\"sess-3\""));

    // A session as a conversation: turns in order with their input and output.
    let url = format!("{base}/sessions/sess-1");
    let dom = browser.dom(&url);
    assert_eq!(dom.matches("<li class=\"turn").count(), 2);
    let first = dom
        .find(&format!("data-trace-id=\"{:032x}\"", 0xa1))
        .unwrap();
    let second = dom
        .find(&format!("data-trace-id=\"{:032x}\"", 0xa3))
        .unwrap();
    assert!(first < second);
    assert!(dom[first..second].contains("<pre>how do I reset?</pre>"));
    assert!(dom[first..second].contains("<pre>Hold the button for 5 s.</pre>"));
    assert!(dom[second..].contains("No captured input or output"));
    browser.screenshot(&url, "session");

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
