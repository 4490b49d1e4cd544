//! End-to-end tests of the codex adapter through `pipeline run` with the real CLI against the fake model server (written by the helper owning this file).
