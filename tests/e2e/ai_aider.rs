//! End-to-end tests of the aider adapter through `pipeline run` with the real CLI against the fake model server (written by the helper owning this file).
