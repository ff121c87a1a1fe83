//! UTC time parsing (`--since`) and formatting, in Unix epoch nanoseconds.
//!
//! The civil-date arithmetic is [`tokentrace_core::civil`]; no time-zone
//! database is needed because everything the store holds and the CLI shows is
//! UTC.

use std::time::{SystemTime, UNIX_EPOCH};

use tokentrace_core::civil::{civil_from_days, days_from_civil};

const NS_PER_SEC: i64 = 1_000_000_000;

/// Now, in Unix epoch nanoseconds.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Parses `--since`: a duration back from `now_ns` (`90s`, `30m`, `1h`, `7d`, `2w`)
/// or a UTC date / date-time (`2026-11-01`, `2026-11-01T09:30:00Z`, `2026-11-01 09:30`).
pub(crate) fn parse_since(s: &str, now_ns: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Some(d) = parse_duration_ns(s) {
        return Ok(now_ns.saturating_sub(d));
    }
    parse_datetime_ns(s).ok_or_else(|| {
        format!(
            "invalid time {s:?}: expected a duration like 30m, 1h, 7d or a UTC date like 2026-11-01 or 2026-11-01T09:30:00Z"
        )
    })
}

fn parse_duration_ns(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs)?.checked_mul(NS_PER_SEC)
}

fn parse_datetime_ns(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let mut hms = t.split(':');
        let h: i64 = hms.next()?.parse().ok()?;
        let min: i64 = hms.next()?.parse().ok()?;
        let sec: i64 = match hms.next() {
            Some(v) => v.split('.').next()?.parse().ok()?,
            None => 0,
        };
        if hms.next().is_some() || h > 23 || min > 59 || sec > 60 || h < 0 || min < 0 || sec < 0 {
            return None;
        }
        secs += h * 3600 + min * 60 + sec;
    }
    Some(secs.saturating_mul(NS_PER_SEC))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2026-11-01 09:30:05` (UTC) for a Unix epoch nanosecond time.
pub(crate) fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_735_689_600 * NS_PER_SEC; // 2025-01-01T00:00:00Z

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_since("1h", T).unwrap(), T - 3600 * NS_PER_SEC);
        assert_eq!(parse_since("30m", T).unwrap(), T - 1800 * NS_PER_SEC);
        assert_eq!(parse_since("7d", T).unwrap(), T - 7 * 86_400 * NS_PER_SEC);
        assert_eq!(parse_since("2w", T).unwrap(), T - 14 * 86_400 * NS_PER_SEC);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(parse_since("2025-01-01", 0).unwrap(), T);
        assert_eq!(
            parse_since("2025-01-01T01:02:03Z", 0).unwrap(),
            T + 3723 * NS_PER_SEC
        );
        assert_eq!(
            parse_since("2025-01-01 01:02", 0).unwrap(),
            T + 3720 * NS_PER_SEC
        );
        assert_eq!(parse_since("1970-01-01", 0).unwrap(), 0);
        assert_eq!(
            parse_since("2024-02-29", 0).unwrap(),
            T - (366 - 31 - 28) * 86_400 * NS_PER_SEC
        );
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in [
            "",
            "h",
            "1y",
            "yesterday",
            "2025-13-01",
            "2025-02-30",
            "2023-02-29",
            "2025-01-01T25:00",
        ] {
            assert!(parse_since(bad, T).is_err(), "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips_dates() {
        assert_eq!(format_ns(T + 3723 * NS_PER_SEC + 5), "2025-01-01 01:02:03");
        assert_eq!(format_ns(0), "1970-01-01 00:00:00");
        for day in [-1000_i64, 0, 59, 10_000, 20_000, 30_000] {
            let s = format_ns(day * 86_400 * NS_PER_SEC);
            let date = &s[..10];
            assert_eq!(
                parse_since(date, 0).unwrap(),
                day * 86_400 * NS_PER_SEC,
                "{s}"
            );
        }
    }
}
