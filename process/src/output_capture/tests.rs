//! Unit tests of `output_capture`.

use super::OutputCapture;
use crate::process_outcome::Termination;
use crate::process_spec::{OutputLimits, ProcessSpec};
use crate::redactor::REDACTED;
use std::time::Duration;

#[test]
fn log_and_tail_never_show_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("attempt.log");
    let mut spec = ProcessSpec::new("tool", ["--key", "sk-live-9876"], dir.path());
    spec.secrets = vec!["sk-live-9876".to_owned()];
    let mut capture = OutputCapture::create(&log, &OutputLimits::default()).unwrap();
    capture.write_header(&spec);
    capture.record(b"Incorrect API key provided: sk-li");
    capture.record(b"ve-9876. Check it.\n");
    let summary = capture
        .finish(Termination::Exited(0), (None, None), Duration::ZERO)
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("sk-live-9876"), "{text}");
    assert!(
        text.contains(&format!("provided: {REDACTED}. Check it.")),
        "{text}"
    );
    assert!(text.contains(&format!("--key {REDACTED}")), "{text}");
    assert!(!summary.tail.contains("sk-live"), "{}", summary.tail);
    assert!(summary.tail.contains(REDACTED), "{}", summary.tail);
}
