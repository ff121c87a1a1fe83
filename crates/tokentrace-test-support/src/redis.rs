//! A throw-away `redis-server` on loopback.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child on `127.0.0.1` (no persistence), killed by pid on
/// drop. `scripts/setup-redis` installs the binary.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    addr: String,
}

/// Starts a [`RedisServer`] and waits until it answers `PING`.
///
/// # Panics
///
/// `redis-server` is not installed or did not answer within 10 s.
#[must_use]
pub fn redis_server() -> RedisServer {
    match RedisServer::start() {
        Ok(server) => server,
        Err(e) => panic!("redis-server not found or not answering ({e}): run scripts/setup-redis"),
    }
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits (at most
    /// 10 s) until it answers `PING`.
    ///
    /// # Errors
    ///
    /// `redis-server` could not be spawned (not installed) or did not answer
    /// in time (the child is then killed).
    pub fn start() -> std::io::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers_ping() {
            if Instant::now() >= deadline {
                server.kill();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "redis-server did not start",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// `127.0.0.1:{port}`.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Stops the server now (a test of what happens when Redis goes away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(&self.addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
