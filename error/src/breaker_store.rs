//! Persistence of circuit-breaker states, so that they hold across parallel steps, runs and
//! crashes.
//!
//! The executor implements `BreakerStore` on SQLite (table `circuit_breakers`, one JSON or
//! column-mapped `BreakerState` per tool) and overrides `update` with one transaction
//! (`BEGIN IMMEDIATE`), so that two steps admitting at once see each other's changes.
//! `InMemoryBreakerStore` is the reference implementation for tests and single-process use.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::circuit_breaker::{Admission, BreakerState, CircuitBreaker};
use crate::error_class::ErrorClass;

/// Loads and saves breaker states by tool name.
pub trait BreakerStore {
    /// The store's error (e.g. a SQLite error).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The state of `tool`'s breaker, `None` if never saved.
    ///
    /// # Errors
    /// The store could not be read.
    fn load(&self, tool: &str) -> Result<Option<BreakerState>, Self::Error>;

    /// Saves `state` (keyed by `state.tool`), replacing any earlier one.
    ///
    /// # Errors
    /// The store could not be written.
    fn save(&self, state: &BreakerState) -> Result<(), Self::Error>;

    /// Every saved state, ordered by tool (for `pipeline breakers`).
    ///
    /// # Errors
    /// The store could not be read.
    fn all(&self) -> Result<Vec<BreakerState>, Self::Error>;

    /// Loads `tool`'s state (a new closed one if none), applies `change`, saves it and
    /// returns it. The default is load-then-save; a store shared between threads or
    /// processes must override it to do all three atomically.
    ///
    /// # Errors
    /// As `load` and `save`.
    fn update(
        &self,
        tool: &str,
        now: SystemTime,
        change: &mut dyn FnMut(&mut BreakerState),
    ) -> Result<BreakerState, Self::Error> {
        let mut state = self
            .load(tool)?
            .unwrap_or_else(|| BreakerState::new(tool, now));
        change(&mut state);
        self.save(&state)?;
        Ok(state)
    }
}

impl CircuitBreaker {
    /// `admit` on the stored state of `tool`, saved back.
    ///
    /// # Errors
    /// The store's error.
    pub fn admit_in<S: BreakerStore + ?Sized>(
        &self,
        store: &S,
        tool: &str,
        now: SystemTime,
    ) -> Result<Admission, S::Error> {
        let mut admission = Admission::Allowed;
        store.update(tool, now, &mut |state| admission = self.admit(state, now))?;
        Ok(admission)
    }

    /// `record_success` on the stored state of `tool`, saved back.
    ///
    /// # Errors
    /// The store's error.
    pub fn record_success_in<S: BreakerStore + ?Sized>(
        &self,
        store: &S,
        tool: &str,
        now: SystemTime,
    ) -> Result<BreakerState, S::Error> {
        store.update(tool, now, &mut |state| self.record_success(state, now))
    }

    /// `record_failure` on the stored state of `tool`, saved back.
    ///
    /// # Errors
    /// The store's error.
    pub fn record_failure_in<S: BreakerStore + ?Sized>(
        &self,
        store: &S,
        tool: &str,
        class: &ErrorClass,
        summary: &str,
        now: SystemTime,
    ) -> Result<BreakerState, S::Error> {
        store.update(tool, now, &mut |state| {
            self.record_failure(state, class, summary, now)
        })
    }

    /// `reset` on the stored state of `tool`, saved back.
    ///
    /// # Errors
    /// The store's error.
    pub fn reset_in<S: BreakerStore + ?Sized>(
        &self,
        store: &S,
        tool: &str,
        now: SystemTime,
    ) -> Result<BreakerState, S::Error> {
        store.update(tool, now, &mut |state| self.reset(state, now))
    }
}

/// Breaker states in memory, behind a mutex; `update` is atomic.
#[derive(Debug, Default)]
pub struct InMemoryBreakerStore {
    states: Mutex<BTreeMap<String, BreakerState>>,
}

impl InMemoryBreakerStore {
    /// An empty store.
    pub fn new() -> InMemoryBreakerStore {
        InMemoryBreakerStore::default()
    }

    fn states(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BreakerState>> {
        // A panic while holding the lock leaves whole states behind (each write replaces
        // one value), so the data is still consistent.
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl BreakerStore for InMemoryBreakerStore {
    type Error = Infallible;

    fn load(&self, tool: &str) -> Result<Option<BreakerState>, Infallible> {
        Ok(self.states().get(tool).cloned())
    }

    fn save(&self, state: &BreakerState) -> Result<(), Infallible> {
        self.states().insert(state.tool.clone(), state.clone());
        Ok(())
    }

    fn all(&self) -> Result<Vec<BreakerState>, Infallible> {
        Ok(self.states().values().cloned().collect())
    }

    fn update(
        &self,
        tool: &str,
        now: SystemTime,
        change: &mut dyn FnMut(&mut BreakerState),
    ) -> Result<BreakerState, Infallible> {
        let mut states = self.states();
        let state = states
            .entry(tool.to_string())
            .or_insert_with(|| BreakerState::new(tool, now));
        change(state);
        Ok(state.clone())
    }
}
