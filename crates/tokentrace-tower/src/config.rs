//! The shared, read-only configuration of a [`WorkflowLayer`](crate::WorkflowLayer)
//! and the services it builds.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderName;
use http::request::Parts;

use crate::extract::Bounds;

/// A hook that names the route template of a request (`/users/{id}`).
pub(crate) type RouteFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// Shared, read-only configuration of a [`WorkflowLayer`] and its services.
pub(crate) struct Config {
    pub(crate) enabled: bool,
    pub(crate) user_header: Option<HeaderName>,
    pub(crate) session_header: Option<HeaderName>,
    pub(crate) tags_header: Option<HeaderName>,
    pub(crate) metadata_headers: Vec<(HeaderName, String)>,
    pub(crate) workflow_name: Option<String>,
    pub(crate) bounds: Bounds,
    pub(crate) read_baggage: bool,
    pub(crate) continue_trace: bool,
    pub(crate) trace_id_header: Option<HeaderName>,
    pub(crate) enter_in_body: bool,
    /// Exact paths that get no span (health checks). A short list compared
    /// linearly: cheaper than hashing for the handful of entries apps use.
    pub(crate) skip_paths: Vec<String>,
    pub(crate) route: Option<RouteFn>,
    /// Values dropped for breaking [`Bounds`], across every request of this
    /// layer and its clones.
    pub(crate) dropped: Arc<AtomicU64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            user_header: None,
            session_header: None,
            tags_header: None,
            metadata_headers: Vec::new(),
            workflow_name: None,
            bounds: Bounds::DEFAULT,
            read_baggage: false,
            continue_trace: true,
            trace_id_header: None,
            enter_in_body: true,
            skip_paths: Vec::new(),
            route: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Clone for Config {
    fn clone(&self) -> Self {
        Self {
            enabled: self.enabled,
            user_header: self.user_header.clone(),
            session_header: self.session_header.clone(),
            tags_header: self.tags_header.clone(),
            metadata_headers: self.metadata_headers.clone(),
            workflow_name: self.workflow_name.clone(),
            bounds: self.bounds,
            read_baggage: self.read_baggage,
            continue_trace: self.continue_trace,
            trace_id_header: self.trace_id_header.clone(),
            enter_in_body: self.enter_in_body,
            skip_paths: self.skip_paths.clone(),
            route: self.route.clone(),
            dropped: Arc::clone(&self.dropped),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("enabled", &self.enabled)
            .field("user_header", &self.user_header)
            .field("session_header", &self.session_header)
            .field("tags_header", &self.tags_header)
            .field("metadata_headers", &self.metadata_headers)
            .field("workflow_name", &self.workflow_name)
            .field("bounds", &self.bounds)
            .field("read_baggage", &self.read_baggage)
            .field("continue_trace", &self.continue_trace)
            .field("trace_id_header", &self.trace_id_header)
            .field("enter_in_body", &self.enter_in_body)
            .field("skip_paths", &self.skip_paths)
            .field("route", &self.route.as_ref().map(|_| "<fn>"))
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}
