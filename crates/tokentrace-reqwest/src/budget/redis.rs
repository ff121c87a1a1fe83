//! Budget state in Redis, shared by every process (or gateway replica)
//! pointed at the same server.
//!
//! A minimal RESP2 client of our own over tokio (the protocol is a few
//! dozen lines; a full client would add far more dependencies than it
//! saves). Each reservation is one `EVAL` of a Lua script, which Redis runs
//! atomically: the checks of every limit and the increments happen with no
//! other command in between, across every process. Buckets are hashes
//! (`s`: settled micro-dollars, `r`: reserved) with an expiry.
//!
//! Every operation is bounded by a timeout; a failure drops the connection
//! and is counted ([`RedisStore::errors`]); [`Budgets`](super::Budgets)
//! then applies its [`StorePolicy`](tokentrace_core::budget::StorePolicy).
//!
//! ```no_run
//! # async fn f() {
//! use std::time::Duration;
//! use tokentrace_core::budget::{BudgetConfig, Limit, Scope, StorePolicy, Window};
//! use tokentrace_reqwest::budget::{Budgets, redis::RedisStore};
//!
//! let store = RedisStore::new("127.0.0.1:6379").timeout(Duration::from_millis(100));
//! let config = BudgetConfig::new()
//!     .limit(Limit::new(Scope::User, 5.0, Window::Day).name("user-daily"))
//!     .on_store_error(StorePolicy::FailClosed);
//! let budgets = Budgets::with_store(config, store);
//! # let _ = budgets;
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokentrace_core::budget::Micros;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use super::store::{BucketState, BudgetStore, ReserveOutcome, Slot, StoreError, StoreFuture};

/// Longest bulk string or array accepted in a reply (a bound against a
/// confused or hostile server).
const MAX_REPLY_LEN: i64 = 16 * 1024 * 1024;
/// Connections kept idle for reuse.
const MAX_IDLE: usize = 32;
/// How long refusal counters are kept: 32 days.
const REFUSALS_TTL_SECS: u64 = 32 * 86_400;

const RESERVE: &str = r"
local amount = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local n = tonumber(ARGV[3])
local k = 1
local a = 5
local before = {}
local currents = {}
local ttls = {}
for i = 1, n do
  local nw = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local ttl = tonumber(ARGV[a + 2])
  a = a + 3
  local total = 0
  for j = 0, nw - 1 do
    local v = redis.call('HMGET', KEYS[k + j], 's', 'r')
    total = total + (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
  end
  currents[i] = KEYS[k]
  ttls[i] = ttl
  local refusals = KEYS[k + nw]
  k = k + nw + 1
  if limit >= 0 and total + amount > limit then
    if not dry then
      redis.call('INCR', refusals)
      redis.call('EXPIRE', refusals, tonumber(ARGV[4]))
    end
    return {0, i, total}
  end
  before[i] = total
end
if not dry then
  for i = 1, n do
    redis.call('HINCRBY', currents[i], 'r', amount)
    redis.call('EXPIRE', currents[i], ttls[i])
  end
end
local out = {1}
for i = 1, n do out[i + 1] = before[i] end
return out
";

const SETTLE: &str = r"
for i, key in ipairs(KEYS) do
  local r = redis.call('HINCRBY', key, 'r', ARGV[1])
  if r < 0 then redis.call('HSET', key, 'r', 0) end
  redis.call('HINCRBY', key, 's', ARGV[2])
  redis.call('EXPIRE', key, ARGV[2 + i])
end
return 1
";

const READ: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 's', 'r')
  out[2 * i - 1] = tonumber(v[1]) or 0
  out[2 * i] = tonumber(v[2]) or 0
end
return out
";

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Self>>),
}

struct Conn {
    io: BufStream<TcpStream>,
}

impl Conn {
    async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, StoreError> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.io.write_all(&buf).await.map_err(io_err)?;
        self.io.flush().await.map_err(io_err)?;
        let reply = read_reply(&mut self.io).await?;
        Ok(reply)
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(io_err)`
fn io_err(e: std::io::Error) -> StoreError {
    StoreError(e.to_string())
}

fn protocol(what: &str) -> StoreError {
    StoreError(format!("protocol error: {what}"))
}

async fn read_line(io: &mut BufStream<TcpStream>) -> Result<String, StoreError> {
    let mut line = Vec::new();
    let n = (&mut *io)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .await
        .map_err(io_err)?;
    if n == 0 {
        return Err(StoreError("connection closed".into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("line too long or unterminated"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| protocol("non-UTF-8 line"))
}

fn read_reply(
    io: &mut BufStream<TcpStream>,
) -> std::pin::Pin<Box<dyn Future<Output = Result<Reply, StoreError>> + Send + '_>> {
    Box::pin(async move {
        let line = read_line(io).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let len = || rest.parse::<i64>().map_err(|_| protocol("bad length"));
        match kind {
            "+" => Ok(Reply::Simple(rest.to_owned())),
            "-" => Err(StoreError(format!("redis error: {rest}"))),
            ":" => Ok(Reply::Int(len()?)),
            "$" => {
                let n = len()?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                if n > MAX_REPLY_LEN {
                    return Err(protocol("bulk string too long"));
                }
                let mut data = vec![0; usize::try_from(n).unwrap_or(0) + 2];
                io.read_exact(&mut data).await.map_err(io_err)?;
                data.truncate(data.len() - 2);
                Ok(Reply::Bulk(Some(data)))
            }
            "*" => {
                let n = len()?;
                if n < 0 {
                    return Ok(Reply::Array(None));
                }
                if n > MAX_REPLY_LEN {
                    return Err(protocol("array too long"));
                }
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(read_reply(io).await?);
                }
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(protocol("unknown reply type")),
        }
    })
}

fn ints(reply: Reply) -> Result<Vec<i64>, StoreError> {
    match reply {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|i| match i {
                Reply::Int(v) => Ok(v),
                _ => Err(protocol("expected integers")),
            })
            .collect(),
        _ => Err(protocol("expected an array")),
    }
}

struct Shared {
    addr: String,
    connect_timeout: Duration,
    timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    errors: AtomicU64,
}

/// A [`BudgetStore`] in Redis. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("addr", &self.shared.addr)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `addr` (`host:port`; no password, no TLS: keep Redis on a
    /// private network). Connects lazily. Timeouts default to 250 ms.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            shared: Arc::new(Shared {
                addr: addr.into(),
                connect_timeout: Duration::from_millis(250),
                timeout: Duration::from_millis(250),
                idle: Mutex::new(Vec::new()),
                errors: AtomicU64::new(0),
            }),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut Shared)) -> Self {
        let s = &self.shared;
        let mut shared = Shared {
            addr: s.addr.clone(),
            connect_timeout: s.connect_timeout,
            timeout: s.timeout,
            idle: Mutex::new(Vec::new()),
            errors: AtomicU64::new(0),
        };
        f(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Bound each command (write plus reply). Defaults to 250 ms.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.rebuild(|s| s.timeout = timeout)
    }

    /// Bound each connection attempt. Defaults to 250 ms.
    #[must_use]
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.rebuild(|s| s.connect_timeout = timeout)
    }

    /// Operations that failed (unreachable, timed out, bad reply), settlements included.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        let idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        if let Some(c) = idle {
            return Ok(c);
        }
        let stream = tokio::time::timeout(
            self.shared.connect_timeout,
            TcpStream::connect(self.shared.addr.as_str()),
        )
        .await
        .map_err(|_| StoreError("connect timed out".into()))?
        .map_err(io_err)?;
        // Commands are small and latency-bound.
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            io: BufStream::new(stream),
        })
    }

    /// Run one command with the timeout; a connection that failed is dropped.
    async fn run(&self, args: &[&[u8]]) -> Result<Reply, StoreError> {
        let result = tokio::time::timeout(self.shared.timeout, async {
            let mut c = self.conn().await?;
            let r = c.command(args).await;
            Ok::<_, StoreError>((c, r))
        })
        .await;
        let out = match result {
            Err(_) => Err(StoreError("timed out".into())),
            Ok(Err(e)) => Err(e),
            Ok(Ok((c, r))) => {
                // A Redis error reply leaves the connection usable.
                let mut idle = self
                    .shared
                    .idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if idle.len() < MAX_IDLE {
                    idle.push(c);
                }
                r
            }
        };
        if out.is_err() {
            self.shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        out
    }

    async fn eval(
        &self,
        script: &str,
        keys: &[&str],
        argv: &[String],
    ) -> Result<Reply, StoreError> {
        let nkeys = keys.len().to_string();
        let mut args: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), nkeys.as_bytes()];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        args.extend(argv.iter().map(String::as_bytes));
        self.run(&args).await
    }

    /// `PING`: whether the server answers within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.run(&[b"PING"]).await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            other => Err(protocol(&format!("unexpected PING reply {other:?}"))),
        }
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl BudgetStore for RedisStore {
    fn reserve<'a>(
        &'a self,
        slots: &'a [Slot],
        amount: Micros,
        dry_run: bool,
        _now_ms: i64,
    ) -> StoreFuture<'a, ReserveOutcome> {
        Box::pin(async move {
            let mut keys: Vec<&str> = Vec::new();
            let mut argv = vec![
                amount.to_string(),
                if dry_run { "1" } else { "0" }.to_owned(),
                slots.len().to_string(),
                REFUSALS_TTL_SECS.to_string(),
            ];
            for s in slots {
                keys.extend(s.window.iter().map(String::as_str));
                keys.push(&s.refusals);
                argv.push(s.window.len().to_string());
                argv.push(s.limit.unwrap_or(-1).to_string());
                argv.push(s.ttl_secs.max(1).to_string());
            }
            let v = ints(self.eval(RESERVE, &keys, &argv).await?)?;
            match v.as_slice() {
                [1, before @ ..] if before.len() == slots.len() => Ok(ReserveOutcome::Reserved {
                    before: before.to_vec(),
                }),
                [0, slot, before] if *slot >= 1 && (*slot as usize) <= slots.len() => {
                    Ok(ReserveOutcome::Refused {
                        slot: *slot as usize - 1,
                        before: *before,
                    })
                }
                _ => Err(protocol("unexpected reservation reply")),
            }
        })
    }

    fn settle(&self, buckets: Vec<(String, u64)>, reserved: Micros, actual: Micros, _now_ms: i64) {
        let this = self.clone();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // No runtime to finish it on: the reservation stays until its
            // bucket expires. Counted.
            self.shared.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        handle.spawn(async move {
            let keys: Vec<&str> = buckets.iter().map(|(k, _)| k.as_str()).collect();
            let mut argv = vec![(-reserved).to_string(), actual.to_string()];
            argv.extend(buckets.iter().map(|(_, ttl)| (*ttl).max(1).to_string()));
            // Failures are counted by `run`.
            let _ = this.eval(SETTLE, &keys, &argv).await;
        });
    }

    fn read<'a>(&'a self, keys: &'a [String], _now_ms: i64) -> StoreFuture<'a, Vec<BucketState>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let k: Vec<&str> = keys.iter().map(String::as_str).collect();
            let v = ints(self.eval(READ, &k, &[]).await?)?;
            Ok(v.chunks(2)
                .map(|c| BucketState {
                    spent: c[0],
                    reserved: c.get(1).copied().unwrap_or(0),
                })
                .collect())
        })
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<(String, BucketState)>> {
        Box::pin(async move {
            let pattern = format!("{}*", glob_escape(prefix));
            let mut cursor = "0".to_owned();
            let mut found = Vec::new();
            loop {
                let reply = self
                    .run(&[
                        b"SCAN",
                        cursor.as_bytes(),
                        b"MATCH",
                        pattern.as_bytes(),
                        b"COUNT",
                        b"1000",
                    ])
                    .await?;
                let Reply::Array(Some(mut parts)) = reply else {
                    return Err(protocol("unexpected SCAN reply"));
                };
                let (Some(Reply::Array(Some(keys))), Some(Reply::Bulk(Some(next)))) =
                    (parts.pop(), parts.pop())
                else {
                    return Err(protocol("unexpected SCAN reply"));
                };
                for k in keys {
                    if let Reply::Bulk(Some(k)) = k
                        && let Ok(k) = String::from_utf8(k)
                    {
                        found.push(k);
                    }
                }
                cursor = String::from_utf8(next).map_err(|_| protocol("bad cursor"))?;
                if cursor == "0" || found.len() > 100_000 {
                    break;
                }
            }
            found.sort();
            found.dedup();
            let states = self.read(&found, now_ms).await?;
            Ok(found.into_iter().zip(states).collect())
        })
    }

    fn refusals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            match self.run(&[b"GET", key.as_bytes()]).await? {
                Reply::Bulk(None) => Ok(0),
                Reply::Bulk(Some(v)) => std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| protocol("refusal counter is not a number")),
                _ => Err(protocol("unexpected GET reply")),
            }
        })
    }
}
