//! Per-tool limits shared by every step of a run: `max_concurrent` (a semaphore per tool)
//! and `requests_per_minute` (a sliding one-minute window of invocation start times).
//! A step that hits a limit waits (state `waiting`) instead of calling the tool.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_adapters::ToolRegistry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits of every tool profile that declares one.
pub(crate) struct ToolLimits {
    concurrency: HashMap<String, (u32, Arc<Semaphore>)>,
    rate: HashMap<String, (u32, Mutex<VecDeque<Instant>>)>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl ToolLimits {
    pub(crate) fn new(registry: &ToolRegistry) -> ToolLimits {
        let mut concurrency = HashMap::new();
        let mut rate = HashMap::new();
        for (name, profile) in registry.profiles() {
            if let Some(n) = profile.max_concurrent {
                concurrency.insert(name.to_string(), (n, Arc::new(Semaphore::new(n as usize))));
            }
            if let Some(n) = profile.requests_per_minute {
                rate.insert(name.to_string(), (n, Mutex::new(VecDeque::new())));
            }
        }
        ToolLimits { concurrency, rate }
    }

    /// The tool's semaphore and its size, when it has `max_concurrent`.
    pub(crate) fn semaphore(&self, tool: &str) -> Option<(u32, Arc<Semaphore>)> {
        self.concurrency.get(tool).map(|(n, s)| (*n, s.clone()))
    }

    /// Takes a slot in the tool's one-minute window: `None` when the invocation may start
    /// now (and is counted), else how long to wait before asking again.
    pub(crate) fn rate_slot(&self, tool: &str) -> Option<(u32, Duration)> {
        let (limit, window) = self.rate.get(tool)?;
        let mut starts = window.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            starts.pop_front();
        }
        if (starts.len() as u32) < *limit {
            starts.push_back(now);
            return None;
        }
        let oldest = *starts.front()?;
        Some((*limit, (oldest + WINDOW).saturating_duration_since(now)))
    }
}

/// A held concurrency slot (released when dropped).
pub(crate) type ToolPermit = Option<OwnedSemaphorePermit>;
