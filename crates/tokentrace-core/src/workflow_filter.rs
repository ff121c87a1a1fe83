//! Which workflows record spans: [`WorkflowFilter`], built from
//! `TOKENTRACE_WORKFLOWS` and `TOKENTRACE_EXCLUDE_MODULES` by the facade and
//! installed process-wide with
//! [`defaults::set_workflow_filter`](crate::defaults::set_workflow_filter).

/// Which workflows record spans.
///
/// Built from two environment variables, read once at start-up by
/// `Telemetry::install` (nothing else reads them):
///
/// | variable | value | effect |
/// |---|---|---|
/// | `TOKENTRACE_WORKFLOWS` | unset, empty or `on` | every workflow records |
/// | | `off` (or `false`, `0`) | no workflow span at all: `#[workflow]`, `traced_run` and `WorkflowLayer` |
/// | | `*_workflow,*_agent` | only workflows whose name matches one pattern (`*` matches any run of characters) |
/// | `TOKENTRACE_EXCLUDE_MODULES` | `my_app::noisy,other_crate` | `#[workflow]` functions in these modules (and their submodules) do not record |
///
/// A filtered-out workflow opens no span: its children attach to the
/// enclosing span, and the call costs one atomic load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct WorkflowFilter {
    off: bool,
    patterns: Vec<String>,
    excluded_modules: Vec<String>,
}

impl WorkflowFilter {
    /// Every workflow records (the default).
    pub fn all() -> Self {
        Self::default()
    }

    /// No workflow records.
    pub fn off() -> Self {
        Self {
            off: true,
            ..Self::default()
        }
    }

    /// Parses the values of `TOKENTRACE_WORKFLOWS` and
    /// `TOKENTRACE_EXCLUDE_MODULES` (see the table above). Never
    /// fails: empty list items are ignored.
    pub fn from_env_values(workflows: Option<&str>, exclude_modules: Option<&str>) -> Self {
        let mut filter = Self::default();
        match workflows.map(str::trim) {
            None | Some("") => {}
            Some(v)
                if ["off", "false", "0", "none"]
                    .iter()
                    .any(|o| v.eq_ignore_ascii_case(o)) =>
            {
                filter.off = true;
            }
            Some(v)
                if ["on", "true", "1", "all", "*"]
                    .iter()
                    .any(|o| v.eq_ignore_ascii_case(o)) => {}
            Some(v) => filter.patterns = split_list(v),
        }
        if let Some(m) = exclude_modules {
            filter.excluded_modules = split_list(m);
        }
        filter
    }

    /// Records only workflows whose name matches one of `patterns`.
    pub fn patterns<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Records no `#[workflow]` function defined in `module` or below it.
    pub fn exclude_module(mut self, module: impl Into<String>) -> Self {
        self.excluded_modules.push(module.into());
        self
    }

    /// Whether no workflow records at all.
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Whether the workflow `name`, defined in `module` when known, records.
    pub fn allows(&self, name: &str, module: Option<&str>) -> bool {
        if self.off {
            return false;
        }
        if let Some(module) = module {
            let excluded = self.excluded_modules.iter().any(|m| {
                module == m
                    || module
                        .strip_prefix(m.as_str())
                        .is_some_and(|rest| rest.starts_with("::"))
            });
            if excluded {
                return false;
            }
        }
        self.patterns.is_empty() || self.patterns.iter().any(|p| glob(p, name))
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_prefixes_suffixes_and_middles() {
        assert!(glob("*_workflow", "pizza_workflow"));
        assert!(!glob("*_workflow", "pizza_agent"));
        assert!(glob("plan*", "planner"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("*", "anything"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn filter_parses_the_environment_values() {
        let f = WorkflowFilter::from_env_values(Some("OFF"), None);
        assert!(f.is_off() && !f.allows("x", None));
        let f = WorkflowFilter::from_env_values(Some(" *_workflow, *_agent ,"), Some("app::noisy"));
        assert!(f.allows("pizza_workflow", Some("app")));
        assert!(f.allows("answer_agent", None));
        assert!(!f.allows("helper", None));
        assert!(!f.allows("pizza_workflow", Some("app::noisy")));
        assert!(!f.allows("pizza_workflow", Some("app::noisy::deep")));
        assert!(f.allows("pizza_workflow", Some("app::noisy_not")));
        assert_eq!(
            WorkflowFilter::from_env_values(None, None),
            WorkflowFilter::all()
        );
        assert_eq!(
            WorkflowFilter::from_env_values(Some("on"), None),
            WorkflowFilter::all()
        );
    }
}
