//! Terminal output: aligned tables that degrade when piped, and number formatting.
//!
//! On a terminal, tables get box-drawing rules and a bold header; when stdout is
//! not a terminal they are plain space-aligned columns (easy to `grep`/`awk`).
//! Colour is off when piped or when `NO_COLOR` is set to anything non-empty
//! (<https://no-color.org>).

use std::fmt::Write as _;
use std::io::IsTerminal;

/// How to draw: decided once from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    /// Box-drawing characters (stdout is a terminal).
    pub(crate) fancy: bool,
    /// ANSI colour (terminal and no `NO_COLOR`).
    pub(crate) colour: bool,
}

impl Style {
    /// The style for stdout in this environment.
    pub(crate) fn detect() -> Self {
        Self::for_output(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// The style for an output that is (or is not) a terminal, given
    /// `NO_COLOR`'s value: colour only on a terminal and when `NO_COLOR` is
    /// unset or empty (<https://no-color.org>).
    pub(crate) fn for_output(tty: bool, no_color: Option<&std::ffi::OsStr>) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Self {
            fancy: tty,
            colour: tty && !no_color,
        }
    }

    /// Plain text: no box characters, no colour.
    #[cfg(test)]
    pub(crate) const PLAIN: Self = Self {
        fancy: false,
        colour: false,
    };

    /// `s` in bold when colour is on.
    pub(crate) fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }

    /// `s` dimmed when colour is on.
    pub(crate) fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }

    /// `s` in red when colour is on.
    pub(crate) fn red(self, s: &str) -> String {
        self.paint("31", s)
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table of strings rendered with aligned columns.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    header: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
    /// Cells (row, column) shown in red: painted after the control-character
    /// filter, so tokentrace's own colour is not mangled by it.
    red: Vec<(usize, usize)>,
}

impl Table {
    /// A table with these column titles and alignments.
    pub(crate) fn new(header: &[(&str, Align)]) -> Self {
        Self {
            header: header.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect(),
            rows: Vec::new(),
            red: Vec::new(),
        }
    }

    /// Shows cell `col` of the last row in red (when colour is on).
    pub(crate) fn red_last(&mut self, col: usize) {
        if let Some(row) = self.rows.len().checked_sub(1) {
            self.red.push((row, col));
        }
    }

    /// Appends a row (missing cells are empty, extra cells are ignored).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The table as text ending in a newline.
    pub(crate) fn render(&self, style: Style) -> String {
        let n = self.header.len();
        let cell = |row: &[String], i: usize| -> String {
            row.get(i).map(|c| sanitize(c)).unwrap_or_default()
        };
        let mut widths: Vec<usize> = self.header.iter().map(|(h, _)| width(h)).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(width(&cell(row, i)));
            }
        }
        let sep = if style.fancy { " │ " } else { "  " };
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String, header: bool, row: Option<usize>| {
            let mut text = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    text.push_str(sep);
                }
                let pad = widths[i].saturating_sub(width(c));
                let last = i + 1 == n;
                let painted = match row {
                    Some(r) if self.red.contains(&(r, i)) => style.red(c),
                    _ => c.clone(),
                };
                match self.header[i].1 {
                    Align::Right => {
                        text.push_str(&" ".repeat(pad));
                        text.push_str(&painted);
                    }
                    Align::Left => {
                        text.push_str(&painted);
                        if !last {
                            text.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            let text = text.trim_end().to_owned();
            let _ = writeln!(out, "{}", if header { style.bold(&text) } else { text });
        };
        line(
            self.header.iter().map(|(h, _)| h.clone()).collect(),
            &mut out,
            true,
            None,
        );
        if style.fancy {
            let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
            let _ = writeln!(out, "{}", style.dim(&rule.join("─┼─")));
        }
        for (r, row) in self.rows.iter().enumerate() {
            line(
                (0..n).map(|i| cell(row, i)).collect(),
                &mut out,
                false,
                Some(r),
            );
        }
        out
    }
}

/// Display width, counting each `char` as one column (good enough for ids, names, numbers).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// Control characters in stored data (a newline in a span name, an ANSI escape
/// in an attribute) must not break the table or drive the terminal.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// `$0.01234` with enough digits for sub-cent costs.
pub(crate) fn cost(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_owned()
    } else if usd.abs() >= 1.0 {
        format!("${usd:.2}")
    } else if usd.abs() >= 0.000_01 {
        format!("${usd:.6}")
    } else {
        // Embedding calls cost fractions of a micro-dollar: keep them visible.
        let s = format!("{usd:.10}");
        format!("${}", s.trim_end_matches('0'))
    }
}

/// `12 ms`, `1.25 s`.
pub(crate) fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// `12,345`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `Some(s)` or `-`.
pub(crate) fn opt(s: Option<&str>) -> String {
    s.unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tables_align_columns_without_box_characters() {
        let mut t = Table::new(&[("name", Align::Left), ("cost", Align::Right)]);
        t.row(vec!["a".into(), "$1.00".into()]);
        t.row(vec!["longer".into(), "$10.00".into()]);
        let text = t.render(Style::PLAIN);
        assert_eq!(text, "name      cost\na        $1.00\nlonger  $10.00\n");
        assert!(!text.contains('│'));
    }

    #[test]
    fn fancy_tables_have_rules_and_colour_only_when_asked() {
        let mut t = Table::new(&[("k", Align::Left), ("v", Align::Right)]);
        t.row(vec!["x".into(), "1".into()]);
        let fancy = t.render(Style {
            fancy: true,
            colour: false,
        });
        assert!(fancy.contains('│') && fancy.contains('┼'));
        assert!(!fancy.contains('\x1b'));
        let coloured = t.render(Style {
            fancy: true,
            colour: true,
        });
        assert!(coloured.contains("\x1b[1m"));
    }

    /// Regression: the red error count went through the control-character
    /// filter and printed as `\u{fffd}[31m3\u{fffd}[0m` on a terminal.
    #[test]
    fn own_colours_survive_while_stored_escapes_do_not() {
        let mut t = Table::new(&[("name", Align::Left), ("errors", Align::Right)]);
        t.row(vec!["evil\x1b[32m".into(), "3".into()]);
        t.red_last(1);
        t.row(vec!["fine".into(), "0".into()]);
        let tty = Style::for_output(true, None);
        let text = t.render(tty);
        assert!(text.contains("\x1b[31m3\x1b[0m"), "{text:?}");
        assert!(!text.contains("\u{fffd}[31m"), "{text:?}");
        assert!(text.contains("evil\u{fffd}[32m"), "{text:?}");
        assert!(!text.contains("\x1b[32m"));
        // Columns stay aligned: the escape sequences take no width.
        let lines: Vec<&str> = text.lines().collect();
        let strip = |l: &str| {
            l.replace("\x1b[31m", "")
                .replace("\x1b[0m", "")
                .replace("\x1b[1m", "")
        };
        assert_eq!(
            strip(lines[2]).chars().count(),
            strip(lines[3]).chars().count()
        );
        // NO_COLOR (non-empty) and non-terminal output: no escape at all.
        for style in [
            Style::for_output(true, Some(std::ffi::OsStr::new("1"))),
            Style::for_output(false, None),
        ] {
            assert!(!t.render(style).contains('\x1b'), "{style:?}");
        }
        // An empty NO_COLOR does not turn colour off (no-color.org).
        assert!(Style::for_output(true, Some(std::ffi::OsStr::new(""))).colour);
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a\u{fffd}b\u{fffd}[31m");
    }

    #[test]
    fn numbers_format_for_humans() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(cost(0.000_123), "$0.000123");
        assert_eq!(cost(12.345), "$12.35");
        assert_eq!(cost(0.000_000_18), "$0.00000018");
        assert_eq!(millis(1500.0), "1.50 s");
        assert_eq!(millis(12.0), "12.0 ms");
    }
}
