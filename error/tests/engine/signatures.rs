//! Normalisation and signatures.

use pipeline_error::{AttemptFailure, PluginManager, Termination, normalize, signature_of};

use crate::support::fixture;

#[test]
fn masks_paths_numbers_hex_uuids_and_timestamps() {
    let text = "2026-11-21T05:14:03Z error at /tmp/run-42/src/main.rs:8:20 in thread 0x7ffd5e8c id 0199a213-81c0-7800-8aa1-bbab2a035a53 build failing-55b08702f42bedb7 took 0.07s";
    assert_eq!(
        normalize(text),
        "<TS> error at <PATH>:<N>:<N> in thread <HEX> id <UUID> build failing-<HEX> took <N>s"
    );
}

#[test]
fn keeps_error_codes_and_drops_ansi_and_blank_lines() {
    assert_eq!(
        normalize("\x1b[91merror\x1b[0m[E0308]:   mismatched   types\n\n  TS2322 x86_64  \n"),
        "error[E0308]: mismatched types\nTS2322 x86_64"
    );
}

#[test]
fn same_error_elsewhere_has_the_same_signature_and_a_different_error_does_not() {
    let a = signature_of(&normalize("error[E0308]: mismatched types at src/a.rs:3:5"));
    let b = signature_of(&normalize(
        "error[E0308]: mismatched types at src/b/c.rs:19:1",
    ));
    let c = signature_of(&normalize("error[E0425]: mismatched types at src/a.rs:3:5"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 16);
    assert!(a.chars().all(|ch| ch.is_ascii_hexdigit()));
}

#[test]
fn signature_is_stable_across_runs_of_the_same_failure() {
    // The test fixture embeds a thread id and a timing that change on every run.
    let failure = fixture("cargo/test-failure", "cargo-test", "cargo test");
    let mut rerun = failure.clone();
    let thread_id = regex::Regex::new(r"' \(\d+\) panicked").expect("regex");
    let timing = regex::Regex::new(r"finished in [\d.]+s").expect("regex");
    let build_hash = regex::Regex::new(r"failing-[0-9a-f]{16}").expect("regex");
    assert!(
        thread_id.is_match(&rerun.output)
            && timing.is_match(&rerun.output)
            && build_hash.is_match(&rerun.output)
    );
    rerun.output = thread_id
        .replace_all(&rerun.output, "' (31337) panicked")
        .into_owned();
    rerun.output = timing
        .replace_all(&rerun.output, "finished in 12.34s")
        .into_owned();
    rerun.output = build_hash
        .replace_all(&rerun.output, "failing-0a1b2c3d4e5f6789")
        .into_owned();
    assert_ne!(rerun.output, failure.output);
    let manager = PluginManager::builtin();
    let first = manager.classify(&failure);
    let second = manager.classify(&rerun);
    assert_eq!(first.signature, second.signature);
    assert_eq!(first.output_hash, second.output_hash);
}

#[test]
fn different_outputs_of_the_generic_plugin_differ() {
    let manager = PluginManager::builtin();
    let one = manager.classify(&AttemptFailure::new(
        "t",
        "./x",
        Termination::Exited(1),
        "config file missing",
    ));
    let two = manager.classify(&AttemptFailure::new(
        "t",
        "./x",
        Termination::Exited(1),
        "permission denied on config",
    ));
    assert_ne!(one.signature, two.signature);
    assert_ne!(one.output_hash, two.output_hash);
}
