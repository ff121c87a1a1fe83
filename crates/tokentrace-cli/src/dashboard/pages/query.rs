//! The listing pages' query: filters as the form submits them, turned into
//! a store filter, links and the form's values.

use serde::{Deserialize, Serialize};
use tokentrace_store::{TraceFilter, TraceSort};

use crate::dashboard::Failure;
use crate::dashboard::view;
use crate::timefmt;

/// Rows per page of the trace listing unless `?limit=` says otherwise.
const PAGE: u32 = 50;

/// The trace listing's filters, as the form submits them (empty fields are unset).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct TracesQuery {
    pub(crate) workflow: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) errors: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) offset: Option<String>,
    pub(crate) sort: Option<String>,
    /// `/stats`: `hour` or `day` buckets (default: hours when the data spans at most 3 days).
    pub(crate) interval: Option<String>,
    /// `/stats`: what the spend chart stacks by (`model`, `user`, `workflow`, `step`, `provider`).
    pub(crate) stack: Option<String>,
}

/// A time bound of the filters: a duration back from now starts on the hour
/// (so the statistics come from the hourly aggregates), a date is exact.
fn time_bound(v: &str, now_ns: i64) -> Result<i64, Failure> {
    let t = timefmt::parse_since(v, now_ns).map_err(Failure::BadRequest)?;
    let relative = !v.contains('-') && !v.contains(':');
    Ok(if relative {
        t.div_euclid(HOUR_NS) * HOUR_NS
    } else {
        t
    })
}

const HOUR_NS: i64 = 3_600_000_000_000;

pub(super) fn non_empty(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl TracesQuery {
    /// The store filter; a malformed value is a 400, not a silent no-op.
    pub(crate) fn filter(&self, now_ns: i64) -> Result<TraceFilter, Failure> {
        let limit = match non_empty(self.limit.as_ref()) {
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| Failure::BadRequest(format!("limit {v:?} is not a number")))?
                .clamp(1, 1000),
            None => PAGE,
        };
        let offset = match non_empty(self.offset.as_ref()) {
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| Failure::BadRequest(format!("offset {v:?} is not a number")))?,
            None => 0,
        };
        let mut f = TraceFilter::new()
            .page(limit, offset)
            .errors_only(non_empty(self.errors.as_ref()).is_some_and(|v| v != "0" && v != "false"));
        if let Some(v) = non_empty(self.workflow.as_ref()) {
            f = f.workflow(v);
        }
        if let Some(v) = non_empty(self.user.as_ref()) {
            f = f.user_id(v);
        }
        if let Some(v) = non_empty(self.session.as_ref()) {
            f = f.session_id(v);
        }
        if let Some(v) = non_empty(self.model.as_ref()) {
            f = f.model(v);
        }
        if let Some(v) = non_empty(self.provider.as_ref()) {
            f = f.provider(v);
        }
        if let Some(v) = non_empty(self.q.as_ref()) {
            f = f.text(v);
        }
        let since = non_empty(self.since.as_ref())
            .map(|v| time_bound(&v, now_ns))
            .transpose()?;
        let until = non_empty(self.until.as_ref())
            .map(|v| time_bound(&v, now_ns))
            .transpose()?;
        f = f.time_range(since, until);
        if let Some(v) = non_empty(self.sort.as_ref()) {
            f = f.sort(TraceSort::parse(&v).ok_or_else(|| {
                Failure::BadRequest(format!(
                    "sort {v:?} is not one of {}",
                    TraceSort::ALL.map(TraceSort::as_str).join(", ")
                ))
            })?);
        }
        Ok(f)
    }

    /// The filter fields as query pairs (without paging, sort or chart options).
    pub(super) fn filter_pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("workflow", non_empty(self.workflow.as_ref())),
            ("user", non_empty(self.user.as_ref())),
            ("session", non_empty(self.session.as_ref())),
            ("model", non_empty(self.model.as_ref())),
            ("provider", non_empty(self.provider.as_ref())),
            ("since", non_empty(self.since.as_ref())),
            ("until", non_empty(self.until.as_ref())),
            ("q", non_empty(self.q.as_ref())),
            ("errors", non_empty(self.errors.as_ref())),
        ]
    }

    /// The trace listing of this filter with `key` set to `value` (a click-through).
    pub(super) fn traces_href(&self, key: &str, value: &str) -> String {
        let mut pairs = self.filter_pairs();
        pairs.retain(|(k, _)| *k != key);
        pairs.push((
            if key == "step" { "workflow" } else { key },
            Some(value.to_owned()),
        ));
        format!("/{}", view::query_string(&pairs))
    }

    pub(super) fn form(&self) -> FormValues {
        FormValues {
            workflow: non_empty(self.workflow.as_ref()).unwrap_or_default(),
            user: non_empty(self.user.as_ref()).unwrap_or_default(),
            session: non_empty(self.session.as_ref()).unwrap_or_default(),
            model: non_empty(self.model.as_ref()).unwrap_or_default(),
            provider: non_empty(self.provider.as_ref()).unwrap_or_default(),
            since: non_empty(self.since.as_ref()).unwrap_or_default(),
            until: non_empty(self.until.as_ref()).unwrap_or_default(),
            q: non_empty(self.q.as_ref()).unwrap_or_default(),
            errors: non_empty(self.errors.as_ref()).is_some_and(|v| v != "0" && v != "false"),
            sort: non_empty(self.sort.as_ref()).unwrap_or_default(),
            interval: non_empty(self.interval.as_ref()).unwrap_or_default(),
            stack: non_empty(self.stack.as_ref()).unwrap_or_default(),
        }
    }

    /// This query with another offset, as a link.
    pub(super) fn href(&self, offset: u64) -> String {
        let q = view::query_string(&[
            ("workflow", non_empty(self.workflow.as_ref())),
            ("user", non_empty(self.user.as_ref())),
            ("session", non_empty(self.session.as_ref())),
            ("model", non_empty(self.model.as_ref())),
            ("provider", non_empty(self.provider.as_ref())),
            ("since", non_empty(self.since.as_ref())),
            ("until", non_empty(self.until.as_ref())),
            ("q", non_empty(self.q.as_ref())),
            ("errors", non_empty(self.errors.as_ref())),
            ("sort", non_empty(self.sort.as_ref())),
            ("limit", non_empty(self.limit.as_ref())),
            ("offset", (offset > 0).then(|| offset.to_string())),
        ]);
        format!("/{q}")
    }
}

#[derive(Serialize, Default)]
pub(super) struct FormValues {
    workflow: String,
    user: String,
    session: String,
    model: String,
    provider: String,
    since: String,
    until: String,
    q: String,
    errors: bool,
    sort: String,
    interval: String,
    stack: String,
}
