//! Integration tests of the error engine: built-in plugins on real captured tool output
//! (`tests/fixtures/`, see `scripts/capture-error-fixtures.sh`), external plugin manifests,
//! signatures, the retry decision and the circuit breaker state machine.

mod breakers;
mod builtin_plugins;
mod corpus;
mod external_plugins;
mod retry;
mod runner_plugins;
mod signatures;
mod stalled;
mod support;
