//! Demo traffic: a few dozen `/chat` requests from several users and
//! sessions, four at a time, with progress on stderr.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;

use futures_util::StreamExt as _;

/// Users; `u-grace` and `u-alan` are answered by Anthropic (see the agent's config).
const USERS: &[&str] = &["u-ada", "u-grace", "u-linus", "u-margaret", "u-alan"];

const QUESTIONS: &[&str] = &[
    "How are invoices for usage above my plan calculated?",
    "Can I get a refund for a duplicate charge on my card?",
    "How do I invite a colleague as a viewer to my team?",
    "Is single sign-on available on the starter plan?",
    "How do I rotate an API key without downtime?",
    "Why am I getting 429 responses from the API?",
    "How long are webhook deliveries retried?",
    "Which region is my project's data stored in?",
    "Can I export my project data as Parquet?",
    "When does scheduled maintenance happen?",
    "Where can I see incident reports and status updates?",
    "What happens to my data if I move my project to another region?",
];

/// A question the mocks answer with a rate-limit error, so the demo has a
/// failing trace to look at.
const FAILING_QUESTION: &str = "Why do I keep hitting rate limits? [[rate-limit]]";

/// What the traffic did, as the client saw it.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Outcome {
    /// Requests sent.
    pub(crate) requests: u32,
    /// Answered with 2xx.
    pub(crate) ok: u32,
    /// Answered with an error status or not at all.
    pub(crate) failed: u32,
}

/// Request `i`: (user, session, question). Deterministic, so two demo runs
/// record the same workload.
fn request(i: u32) -> (&'static str, String, &'static str) {
    let n = USERS.len() as u32;
    let user = USERS[(i % n) as usize];
    // A user's requests come in sessions of two.
    let session = format!("s-{}-{}", user.trim_start_matches("u-"), i / (2 * n) + 1);
    let question = if i % 16 == 15 {
        FAILING_QUESTION
    } else {
        QUESTIONS[((i * 7) % QUESTIONS.len() as u32) as usize]
    };
    (user, session, question)
}

/// Sends `count` requests to the agent service at `addr`.
pub(crate) async fn drive(addr: SocketAddr, count: u32) -> Outcome {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/chat");
    let mut progress = Progress::new(count);
    let mut outcome = Outcome {
        requests: count,
        ..Outcome::default()
    };
    let mut results = futures_util::stream::iter(0..count)
        .map(|i| {
            let (user, session, question) = request(i);
            let req = client
                .post(&url)
                .header("x-user-id", user)
                .header("x-session-id", session)
                .json(&serde_json::json!({ "message": question }));
            async move {
                match req.send().await {
                    // Read the whole body: the request's span ends with it.
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        ok && resp.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        })
        .buffer_unordered(4);
    while let Some(ok) = results.next().await {
        if ok {
            outcome.ok += 1;
        } else {
            outcome.failed += 1;
        }
        progress.update(outcome);
    }
    progress.finish();
    outcome
}

/// A `\r` counter on a terminal, a few plain lines otherwise.
#[derive(Debug)]
struct Progress {
    total: u32,
    tty: bool,
    next_line: u32,
}

impl Progress {
    fn new(total: u32) -> Self {
        Self {
            total,
            tty: std::io::stderr().is_terminal(),
            next_line: total.div_ceil(4),
        }
    }

    fn update(&mut self, o: Outcome) {
        let done = o.ok + o.failed;
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = (done * width).checked_div(self.total).unwrap_or(width) as usize;
            let _ = write!(
                err,
                "\r  [{}{}] {done}/{} requests ({} failed)",
                "#".repeat(filled),
                " ".repeat(width as usize - filled),
                self.total,
                o.failed
            );
            let _ = err.flush();
        } else if done >= self.next_line || done == self.total {
            let _ = writeln!(
                err,
                "  {done}/{} requests ({} failed)",
                self.total, o.failed
            );
            self.next_line = done + self.total.div_ceil(4);
        }
    }

    fn finish(&self) {
        // Plain output already printed its last line at `total`.
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_spreads_over_users_sessions_and_includes_failures() {
        let reqs: Vec<_> = (0..36).map(request).collect();
        let users: std::collections::BTreeSet<_> = reqs.iter().map(|r| r.0).collect();
        let sessions: std::collections::BTreeSet<_> = reqs.iter().map(|r| r.1.clone()).collect();
        assert_eq!(users.len(), USERS.len());
        assert!(sessions.len() >= 2 * USERS.len(), "{sessions:?}");
        assert_eq!(reqs.iter().filter(|r| r.2 == FAILING_QUESTION).count(), 2);
        assert_eq!(request(7), request(7));
    }
}
