//! Scopes, windows and the numbered buckets a window counts.

use serde::Deserialize;

use crate::civil;

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// The end user (`user.id`: `metadata!(user_id = ..)`, `WorkflowLayer::user_header`).
    User,
    /// The session (`session.id`).
    Session,
    /// The innermost workflow's name (`#[workflow]`, `traced_run`).
    Workflow,
    /// A gateway client key, by its id (never the key itself).
    ApiKey,
    /// The request model.
    Model,
    /// Every call.
    Global,
}

impl Scope {
    /// The scope's name in configuration and keys.
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Session => "session",
            Self::Workflow => "workflow",
            Self::ApiKey => "api_key",
            Self::Model => "model",
            Self::Global => "global",
        }
    }
}

/// How far back a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The current UTC clock hour.
    Hour,
    /// The current UTC day.
    Day,
    /// The current UTC calendar month.
    Month,
    /// The last `secs` seconds, counted in [`ROLLING_BUCKETS`] buckets (so the
    /// span actually counted is between `secs * (1 - 1/ROLLING_BUCKETS)` and `secs`).
    Rolling {
        /// Length of the window in seconds (at least [`ROLLING_BUCKETS`]).
        secs: u64,
    },
    /// The whole lifetime of a session (kept [`SESSION_TTL_SECS`] after its last call).
    Session,
}

/// Buckets a rolling window is split into.
pub const ROLLING_BUCKETS: u32 = 12;
/// How long a session-lifetime window is kept after its last write: 30 days.
pub const SESSION_TTL_SECS: u64 = 30 * 86_400;

/// The buckets a window counts at one instant: `index` is the current one,
/// the `count` buckets `index - count + 1 ..= index` are summed; `ttl_secs`
/// is how long a bucket must be kept after its last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// The current bucket's number.
    pub index: i64,
    /// How many buckets (ending with the current one) the window sums.
    pub count: u32,
    /// How long a bucket must outlive its last write, in seconds.
    pub ttl_secs: u64,
}

impl Window {
    /// A rolling window of `secs` seconds (raised to [`ROLLING_BUCKETS`]).
    pub const fn rolling_secs(secs: u64) -> Self {
        Self::Rolling {
            secs: if secs < ROLLING_BUCKETS as u64 {
                ROLLING_BUCKETS as u64
            } else {
                secs
            },
        }
    }

    /// The window's buckets at `now_ms` (milliseconds since the Unix epoch, UTC).
    pub fn buckets(self, now_ms: i64) -> Buckets {
        let secs = now_ms.div_euclid(1000);
        match self {
            Self::Hour => Buckets {
                index: secs.div_euclid(3600),
                count: 1,
                ttl_secs: 2 * 3600,
            },
            Self::Day => Buckets {
                index: secs.div_euclid(86_400),
                count: 1,
                ttl_secs: 2 * 86_400,
            },
            Self::Month => {
                let (y, m, _) = civil::civil_from_days(secs.div_euclid(86_400));
                Buckets {
                    index: y * 12 + i64::from(m) - 1,
                    count: 1,
                    ttl_secs: 32 * 86_400,
                }
            }
            Self::Rolling { secs: len } => {
                let len = i64::try_from(len).unwrap_or(i64::MAX);
                let bucket = (len + i64::from(ROLLING_BUCKETS) - 1) / i64::from(ROLLING_BUCKETS);
                Buckets {
                    index: secs.div_euclid(bucket.max(1)),
                    count: ROLLING_BUCKETS,
                    ttl_secs: u64::try_from(len + bucket).unwrap_or(u64::MAX),
                }
            }
            Self::Session => Buckets {
                index: 0,
                count: 1,
                ttl_secs: SESSION_TTL_SECS,
            },
        }
    }

    /// The window's name in configuration (`hour`, `day`, `month`,
    /// `session`, `rolling:{secs}s`).
    pub fn name(self) -> String {
        match self {
            Self::Hour => "hour".into(),
            Self::Day => "day".into(),
            Self::Month => "month".into(),
            Self::Session => "session".into(),
            Self::Rolling { secs } => format!("rolling:{secs}s"),
        }
    }

    /// Parse `hour`, `day`, `month`, `session`, or `rolling:N{s,m,h,d}`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" | "hourly" => Some(Self::Hour),
            "day" | "daily" => Some(Self::Day),
            "month" | "monthly" => Some(Self::Month),
            "session" => Some(Self::Session),
            _ => {
                let d = s.strip_prefix("rolling:")?.trim();
                let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit())?);
                let n: u64 = n.parse().ok()?;
                let mult = match unit {
                    "s" => 1,
                    "m" => 60,
                    "h" => 3600,
                    "d" => 86_400,
                    _ => return None,
                };
                Some(Self::rolling_secs(n.checked_mul(mult)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil;

    #[test]
    fn calendar_windows_number_hours_days_and_months() {
        // 2026-12-06T17:30:00Z
        let ms = (civil::days_from_civil(2026, 12, 6) * 86_400 + 17 * 3600 + 1800) * 1000;
        let day = Window::Day.buckets(ms);
        assert_eq!(day.index, civil::days_from_civil(2026, 12, 6));
        assert_eq!(day.count, 1);
        assert_eq!(Window::Hour.buckets(ms).index, day.index * 24 + 17);
        assert_eq!(Window::Month.buckets(ms).index, 2026 * 12 + 11);
        let jan = (civil::days_from_civil(2027, 1, 1) * 86_400) * 1000;
        assert_eq!(Window::Month.buckets(jan).index, 2027 * 12);
        assert_eq!(Window::Month.buckets(jan - 1).index, 2026 * 12 + 11);
    }

    #[test]
    fn rolling_windows_are_twelve_buckets() {
        let w = Window::parse("rolling:1h").unwrap();
        assert_eq!(w, Window::Rolling { secs: 3600 });
        let b = w.buckets(3_600_000);
        assert_eq!(
            b,
            Buckets {
                index: 12,
                count: 12,
                ttl_secs: 3900
            }
        );
        assert_eq!(
            Window::parse("rolling:2d"),
            Some(Window::rolling_secs(172_800))
        );
        assert_eq!(Window::parse("rolling:5x"), None);
        assert_eq!(Window::parse("weekly"), None);
    }
}
