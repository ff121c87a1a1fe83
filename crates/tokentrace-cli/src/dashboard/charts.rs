//! Chart geometry for the statistics page, drawn as inline SVG by `stats.html`.
//!
//! Bars only: horizontal bars for categories (optionally stacked or overlaid),
//! columns for a time series. Coordinates are computed here so the template
//! only places elements; labels are escaped by the template like any text.

use serde::Serialize;
use tokentrace_store::StatsRow;

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

/// One column of a time series.
#[derive(Debug, Serialize)]
pub(crate) struct Column {
    pub(crate) x: f64,
    pub(crate) w: f64,
    pub(crate) y: f64,
    pub(crate) h: f64,
    pub(crate) label: String,
    pub(crate) value_label: String,
    /// Whether to print the date under this column (every few when crowded).
    pub(crate) show_label: bool,
}

/// A column chart over time.
#[derive(Debug, Serialize)]
pub(crate) struct ColumnChart {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) baseline: f64,
    pub(crate) max_label: String,
    pub(crate) columns: Vec<Column>,
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

/// Cost per day as columns, oldest first (the rows are per day, ordered by key).
pub(crate) fn cost_over_time(id: &str, title: &str, days: &[StatsRow]) -> ColumnChart {
    // The last 60 days with data.
    let days = &days[days.len().saturating_sub(60)..];
    let height = 200.0;
    let baseline = 170.0;
    let plot_h = 150.0;
    let left = 90.0;
    let plot_w = WIDTH - left - 10.0;
    let max = days.iter().map(|d| d.cost_usd).fold(0.0, f64::max);
    let n = days.len().max(1) as f64;
    let slot = plot_w / n;
    let every = (days.len() / 8).max(1);
    let columns = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = if max > 0.0 {
                d.cost_usd / max * plot_h
            } else {
                0.0
            };
            Column {
                x: round1((i as f64).mul_add(slot, left) + slot * 0.15),
                w: round1((slot * 0.7).max(1.0)),
                y: round1(baseline - h),
                h: round1(h),
                label: d.key.clone(),
                value_label: format!(
                    "{}: {} over {} traces",
                    d.key,
                    output::cost(d.cost_usd),
                    d.count
                ),
                show_label: i % every == 0 || i + 1 == days.len(),
            }
        })
        .collect();
    ColumnChart {
        id: id.to_owned(),
        title: title.to_owned(),
        width: WIDTH,
        height,
        baseline,
        max_label: output::cost(max),
        columns,
    }
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
    fn columns_fill_the_plot_height_at_the_maximum() {
        let c = cost_over_time(
            "d",
            "Cost",
            &[row("2025-01-01", 2.0, 0, 0), row("2025-01-02", 1.0, 0, 0)],
        );
        assert_eq!(c.columns[0].h, 150.0);
        assert_eq!(c.columns[1].h, 75.0);
        assert_eq!(c.columns[0].y + c.columns[0].h, c.baseline);
    }
}
