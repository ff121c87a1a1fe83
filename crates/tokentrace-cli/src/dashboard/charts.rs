//! Chart geometry for the statistics page, drawn as inline SVG by `stats.html`.
//!
//! Bars only: horizontal bars for categories (optionally stacked or overlaid),
//! columns for a time series. Coordinates are computed here so the template
//! only places elements; labels are escaped by the template like any text.

use serde::Serialize;
use tokentrace_store::{Interval, StatsRow, TimeBucket};

use super::view::round1;
use crate::output;

/// Width of every chart's SVG coordinate system.
const WIDTH: f64 = 840.0;
/// Where bars start (labels are right-aligned before it).
const BAR_X: f64 = 190.0;
/// Longest bar.
const BAR_MAX: f64 = 440.0;
/// Height of one row.
const ROW: f64 = 24.0;
/// Categories shown per chart (the largest).
const TOP: usize = 12;

/// A coloured part of a bar.
#[derive(Debug, Serialize)]
pub(crate) struct Segment {
    pub(crate) x: f64,
    pub(crate) w: f64,
    /// CSS class: the colour.
    pub(crate) class: &'static str,
    /// Tooltip.
    pub(crate) title: String,
}

/// One category row.
#[derive(Debug, Serialize)]
pub(crate) struct Bar {
    /// The full key (the label may be shortened).
    pub(crate) key: String,
    /// Where clicking the row leads (the traces of that group), if anywhere.
    pub(crate) href: Option<String>,
    pub(crate) label: String,
    pub(crate) value_label: String,
    /// Where the value label starts: just past the longest segment.
    pub(crate) value_x: f64,
    pub(crate) y: f64,
    pub(crate) segments: Vec<Segment>,
}

/// One legend entry.
#[derive(Debug, Serialize)]
pub(crate) struct Legend {
    pub(crate) class: &'static str,
    pub(crate) label: &'static str,
}

/// A horizontal bar chart.
#[derive(Debug, Serialize)]
pub(crate) struct BarChart {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) label_x: f64,
    pub(crate) bars: Vec<Bar>,
    pub(crate) legend: Vec<Legend>,
    /// Categories left out (beyond the top ones).
    pub(crate) more: usize,
}

/// How a bar chart turns a stats row into segments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Measure {
    /// Cost in USD.
    Cost,
    /// Input and output tokens, stacked.
    Tokens,
    /// p95 latency with p50 overlaid.
    Latency,
    /// Error rate, on a 0–100 % scale.
    ErrorRate,
}

impl Measure {
    fn value(self, r: &StatsRow) -> f64 {
        match self {
            Self::Cost => r.cost_usd,
            Self::Tokens => (r.input_tokens + r.output_tokens) as f64,
            Self::Latency => r.latency_p95_ms,
            Self::ErrorRate => r.error_rate,
        }
    }
}

/// A horizontal bar chart of the largest `TOP` rows by `measure`.
pub(crate) fn bar_chart(id: &str, title: &str, rows: &[StatsRow], measure: Measure) -> BarChart {
    let mut rows: Vec<&StatsRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        measure
            .value(b)
            .total_cmp(&measure.value(a))
            .then_with(|| a.key.cmp(&b.key))
    });
    let more = rows.len().saturating_sub(TOP);
    rows.truncate(TOP);
    let max = match measure {
        Measure::ErrorRate => 1.0,
        _ => rows.iter().map(|r| measure.value(r)).fold(0.0, f64::max),
    };
    let len = |v: f64| {
        if max > 0.0 {
            round1(v / max * BAR_MAX)
        } else {
            0.0
        }
    };
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let y = round1((i as f64).mul_add(ROW, 4.0));
            let (segments, value_label) = match measure {
                Measure::Cost => (
                    vec![Segment {
                        x: BAR_X,
                        w: len(r.cost_usd),
                        class: "cost",
                        title: format!("{}: {}", r.key, output::cost(r.cost_usd)),
                    }],
                    output::cost(r.cost_usd),
                ),
                Measure::Tokens => {
                    let wi = len(r.input_tokens as f64);
                    let wo = len(r.output_tokens as f64);
                    (
                        vec![
                            Segment {
                                x: BAR_X,
                                w: wi,
                                class: "input",
                                title: format!(
                                    "{}: {} input tokens",
                                    r.key,
                                    output::count(r.input_tokens)
                                ),
                            },
                            Segment {
                                x: round1(BAR_X + wi),
                                w: wo,
                                class: "output",
                                title: format!(
                                    "{}: {} output tokens",
                                    r.key,
                                    output::count(r.output_tokens)
                                ),
                            },
                        ],
                        format!(
                            "{} in · {} out",
                            output::count(r.input_tokens),
                            output::count(r.output_tokens)
                        ),
                    )
                }
                Measure::Latency => (
                    vec![
                        Segment {
                            x: BAR_X,
                            w: len(r.latency_p95_ms),
                            class: "p95",
                            title: format!("{}: p95 {}", r.key, output::millis(r.latency_p95_ms)),
                        },
                        Segment {
                            x: BAR_X,
                            w: len(r.latency_p50_ms),
                            class: "p50",
                            title: format!("{}: p50 {}", r.key, output::millis(r.latency_p50_ms)),
                        },
                    ],
                    format!(
                        "p50 {} · p95 {}",
                        output::millis(r.latency_p50_ms),
                        output::millis(r.latency_p95_ms)
                    ),
                ),
                Measure::ErrorRate => (
                    vec![Segment {
                        x: BAR_X,
                        w: len(r.error_rate),
                        class: "error",
                        title: format!("{}: {} of {} failed", r.key, r.errors, r.count),
                    }],
                    format!("{:.1}% ({}/{})", r.error_rate * 100.0, r.errors, r.count),
                ),
            };
            let end = segments.iter().map(|s| s.x + s.w).fold(BAR_X, f64::max);
            Bar {
                key: r.key.clone(),
                href: None,
                label: truncate(&r.key, 28),
                value_label,
                value_x: round1(end + 6.0),
                y,
                segments,
            }
        })
        .collect::<Vec<_>>();
    let legend = match measure {
        Measure::Tokens => vec![
            Legend {
                class: "input",
                label: "input",
            },
            Legend {
                class: "output",
                label: "output",
            },
        ],
        Measure::Latency => vec![
            Legend {
                class: "p50",
                label: "p50",
            },
            Legend {
                class: "p95",
                label: "p95",
            },
        ],
        _ => Vec::new(),
    };
    BarChart {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height: (bars.len().max(1) as f64).mul_add(ROW, 8.0),
        label_x: BAR_X - 8.0,
        bars,
        legend,
        more,
    }
}

/// A coloured part of a time-series column.
#[derive(Debug, Serialize)]
pub(crate) struct Block {
    pub(crate) y: f64,
    pub(crate) h: f64,
    /// CSS class: the colour (`s0`..`s6` for stacked series).
    pub(crate) class: String,
    /// Tooltip.
    pub(crate) title: String,
}

/// One time bucket of a [`TimeChart`].
#[derive(Debug, Serialize)]
pub(crate) struct TimeColumn {
    pub(crate) x: f64,
    pub(crate) w: f64,
    /// The bucket's time, as printed under the axis.
    pub(crate) label: String,
    pub(crate) show_label: bool,
    pub(crate) blocks: Vec<Block>,
}

/// A legend entry of a [`TimeChart`].
#[derive(Debug, Serialize)]
pub(crate) struct Series {
    pub(crate) class: String,
    pub(crate) label: String,
}

/// Columns over time, stacked (spend by model) or overlaid (latency p50 over p95).
#[derive(Debug, Serialize)]
pub(crate) struct TimeChart {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) baseline: f64,
    pub(crate) max_label: String,
    pub(crate) zero_label: String,
    pub(crate) columns: Vec<TimeColumn>,
    pub(crate) legend: Vec<Series>,
}

/// Stacked series drawn in their own colour; the rest are summed as "other".
const SERIES: usize = 6;
const PLOT_LEFT: f64 = 90.0;
const PLOT_H: f64 = 150.0;
const BASELINE: f64 = 170.0;

/// How a bucket start is labelled: `MM-DD` for days, `MM-DD HH:00` for hours.
fn bucket_label(start_ns: i64, interval: Interval) -> String {
    let full = crate::timefmt::format_ns(start_ns);
    // format_ns gives `YYYY-MM-DD HH:MM:SS`.
    match interval {
        Interval::Hour => format!("{}:00", full.get(5..13).unwrap_or(&full)),
        _ => full.get(5..10).unwrap_or(&full).to_owned(),
    }
}

#[allow(clippy::too_many_arguments)] // one call site per chart kind
fn time_chart(
    id: &str,
    title: &str,
    buckets: &[TimeBucket],
    interval: Interval,
    max: f64,
    max_label: String,
    zero_label: &str,
    blocks: impl Fn(&TimeBucket, &dyn Fn(f64) -> f64) -> Vec<Block>,
    legend: Vec<Series>,
) -> TimeChart {
    let plot_w = WIDTH - PLOT_LEFT - 10.0;
    let n = buckets.len().max(1) as f64;
    let slot = plot_w / n;
    let every = (buckets.len() / 8).max(1);
    let scale = |v: f64| if max > 0.0 { v / max * PLOT_H } else { 0.0 };
    let columns = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| TimeColumn {
            x: round1((i as f64).mul_add(slot, PLOT_LEFT) + slot * 0.1),
            w: round1((slot * 0.8).max(1.0)),
            label: bucket_label(b.start_ns, interval),
            show_label: i % every == 0,
            blocks: blocks(b, &scale),
        })
        .collect();
    TimeChart {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height: 200.0,
        baseline: BASELINE,
        max_label,
        zero_label: zero_label.to_owned(),
        columns,
        legend,
    }
}

/// Spend per bucket, stacked by the buckets' `stack` keys: the six most
/// expensive keys over the whole range get a colour each, the rest are "other".
pub(crate) fn spend_over_time(
    id: &str,
    title: &str,
    buckets: &[TimeBucket],
    interval: Interval,
) -> TimeChart {
    let mut totals: Vec<(String, f64)> = Vec::new();
    for b in buckets {
        for (k, c) in &b.stack {
            match totals.iter_mut().find(|(x, _)| x == k) {
                Some(t) => t.1 += c,
                None => totals.push((k.clone(), *c)),
            }
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let named: Vec<String> = totals.iter().take(SERIES).map(|t| t.0.clone()).collect();
    let has_other = totals.len() > SERIES;
    let stacked_cost = |b: &TimeBucket| -> f64 {
        if b.stack.is_empty() {
            b.cost_usd
        } else {
            b.stack.iter().map(|s| s.1).sum()
        }
    };
    let max = buckets.iter().map(stacked_cost).fold(0.0, f64::max);
    let mut legend: Vec<Series> = named
        .iter()
        .enumerate()
        .map(|(i, k)| Series {
            class: format!("s{i}"),
            label: k.clone(),
        })
        .collect();
    if has_other {
        legend.push(Series {
            class: "s6".to_owned(),
            label: "other".to_owned(),
        });
    }
    let when = |b: &TimeBucket| bucket_label(b.start_ns, interval);
    time_chart(
        id,
        title,
        buckets,
        interval,
        max,
        output::cost(max),
        "$0",
        |b, scale| {
            let mut parts: Vec<(String, String, f64)> = Vec::new();
            if b.stack.is_empty() {
                if b.cost_usd > 0.0 {
                    parts.push(("cost".to_owned(), "total".to_owned(), b.cost_usd));
                }
            } else {
                let mut other = 0.0;
                for (k, c) in &b.stack {
                    match named.iter().position(|n| n == k) {
                        Some(i) => parts.push((format!("s{i}"), k.clone(), *c)),
                        None => other += c,
                    }
                }
                parts.sort_by(|a, b| a.0.cmp(&b.0));
                if other > 0.0 {
                    parts.push(("s6".to_owned(), "other".to_owned(), other));
                }
            }
            let mut y = BASELINE;
            parts
                .into_iter()
                .map(|(class, key, c)| {
                    let h = scale(c);
                    y -= h;
                    Block {
                        y: round1(y),
                        h: round1(h),
                        class,
                        title: format!("{} · {key}: {}", when(b), output::cost(c)),
                    }
                })
                .collect()
        },
        legend,
    )
}

/// Trace latency p95 per bucket with p50 overlaid.
pub(crate) fn latency_over_time(
    id: &str,
    title: &str,
    buckets: &[TimeBucket],
    interval: Interval,
) -> TimeChart {
    let max = buckets.iter().map(|b| b.latency_p95_ms).fold(0.0, f64::max);
    let when = |b: &TimeBucket| bucket_label(b.start_ns, interval);
    time_chart(
        id,
        title,
        buckets,
        interval,
        max,
        output::millis(max),
        "0",
        |b, scale| {
            if b.traces == 0 {
                return Vec::new();
            }
            [("p95", b.latency_p95_ms), ("p50", b.latency_p50_ms)]
                .into_iter()
                .map(|(class, v)| Block {
                    y: round1(BASELINE - scale(v)),
                    h: round1(scale(v)),
                    class: class.to_owned(),
                    title: format!("{} · {class} {}", when(b), output::millis(v)),
                })
                .collect()
        },
        vec![
            Series {
                class: "p50".to_owned(),
                label: "p50".to_owned(),
            },
            Series {
                class: "p95".to_owned(),
                label: "p95".to_owned(),
            },
        ],
    )
}

/// Traces per bucket with the failed ones overlaid.
pub(crate) fn errors_over_time(
    id: &str,
    title: &str,
    buckets: &[TimeBucket],
    interval: Interval,
) -> TimeChart {
    let max = buckets.iter().map(|b| b.traces).max().unwrap_or(0) as f64;
    let when = |b: &TimeBucket| bucket_label(b.start_ns, interval);
    time_chart(
        id,
        title,
        buckets,
        interval,
        max,
        output::count(max as u64),
        "0",
        |b, scale| {
            if b.traces == 0 {
                return Vec::new();
            }
            let mut v = vec![Block {
                y: round1(BASELINE - scale(b.traces as f64)),
                h: round1(scale(b.traces as f64)),
                class: "ok".to_owned(),
                title: format!("{} · {} traces", when(b), b.traces),
            }];
            if b.errors > 0 {
                v.push(Block {
                    y: round1(BASELINE - scale(b.errors as f64)),
                    h: round1(scale(b.errors as f64)),
                    class: "error".to_owned(),
                    title: format!("{} · {} with errors", when(b), b.errors),
                });
            }
            v
        },
        vec![
            Series {
                class: "ok".to_owned(),
                label: "traces".to_owned(),
            },
            Series {
                class: "error".to_owned(),
                label: "with errors".to_owned(),
            },
        ],
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, cost: f64, input: u64, output: u64) -> StatsRow {
        StatsRow {
            key: key.to_owned(),
            count: 2,
            errors: 1,
            error_rate: 0.5,
            latency_p50_ms: 10.0,
            latency_p95_ms: 40.0,
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
            cost_usd: cost,
        }
    }

    #[test]
    fn bars_are_scaled_to_the_largest_and_sorted_descending() {
        let c = bar_chart(
            "c",
            "Cost",
            &[row("a", 1.0, 0, 0), row("b", 4.0, 0, 0)],
            Measure::Cost,
        );
        assert_eq!(c.bars[0].label, "b");
        assert_eq!(c.bars[0].segments[0].w, BAR_MAX);
        assert_eq!(c.bars[1].segments[0].w, BAR_MAX / 4.0);
    }

    #[test]
    fn token_bars_stack_input_then_output() {
        let c = bar_chart("t", "Tokens", &[row("m", 0.0, 300, 100)], Measure::Tokens);
        let s = &c.bars[0].segments;
        assert_eq!(s[0].w + s[1].w, BAR_MAX);
        assert_eq!(s[1].x, BAR_X + s[0].w);
    }

    #[test]
    fn only_the_top_rows_are_drawn() {
        let rows: Vec<StatsRow> = (0..20)
            .map(|i| row(&format!("k{i}"), f64::from(i), 0, 0))
            .collect();
        let c = bar_chart("c", "Cost", &rows, Measure::Cost);
        assert_eq!(c.bars.len(), TOP);
        assert_eq!(c.more, 20 - TOP);
    }

    #[test]
    fn stacked_spend_fills_the_plot_height_at_the_maximum_with_other_last() {
        let bucket = |start_ns, stack: Vec<(&str, f64)>| TimeBucket {
            start_ns,
            traces: 1,
            errors: 0,
            total_tokens: 1,
            cost_usd: stack.iter().map(|s| s.1).sum(),
            latency_p50_ms: 1.0,
            latency_p95_ms: 2.0,
            stack: stack.into_iter().map(|(k, c)| (k.to_owned(), c)).collect(),
        };
        let mut many: Vec<(&str, f64)> = vec![("a", 4.0), ("b", 1.0)];
        let names = ["c", "d", "e", "f", "g", "h"];
        many.extend(names.iter().map(|n| (*n, 0.5)));
        let c = spend_over_time(
            "x",
            "t",
            &[bucket(0, many), bucket(3_600_000_000_000, vec![("a", 1.0)])],
            Interval::Hour,
        );
        // 8 keys: six named series plus "other".
        assert_eq!(c.legend.len(), 7);
        assert_eq!(c.legend[0].label, "a");
        assert_eq!(c.legend[6].label, "other");
        let first = &c.columns[0];
        assert_eq!(first.blocks[0].class, "s0");
        assert_eq!(first.blocks.last().unwrap().class, "s6");
        // Blocks stack from the baseline to the top of the plot.
        let top = first.blocks.iter().map(|b| b.y).fold(f64::MAX, f64::min);
        assert!((top - (BASELINE - PLOT_H)).abs() < 0.2, "{top}");
        let heights: f64 = first.blocks.iter().map(|b| b.h).sum();
        assert!((heights - PLOT_H).abs() < 0.5, "{heights}");
        assert_eq!(c.columns[1].blocks.len(), 1);
        assert_eq!(c.columns[1].label, "01-01 01:00");
    }
}
