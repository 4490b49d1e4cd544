use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

use super::*;

/// The embedded files' size budget (issue: "total embedded assets under 1.5 MiB").
const BUDGET_BYTES: usize = 1536 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `docs/THIRD_PARTY.lock`: `SHA256  PATH  PACKAGE@VERSION  LICENCE` per vendored file.
fn lock() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(root().join("docs/THIRD_PARTY.lock"))
        .expect("docs/THIRD_PARTY.lock");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(
                fields.len(),
                4,
                "lock line `{l}`: SHA256 PATH PACKAGE@VERSION LICENCE"
            );
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[2].to_owned(),
                fields[3].to_owned(),
            )
        })
        .collect()
}

fn files_under(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let relative = path.strip_prefix(root()).unwrap();
            out.insert(relative.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_vendored_file_matches_its_locked_hash() {
    let lock = lock();
    assert!(!lock.is_empty());
    let mut mismatches = Vec::new();
    for (hash, path, _, _) in &lock {
        let bytes = std::fs::read(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if &actual != hash {
            mismatches.push(format!("{path}: locked {hash}, file {actual}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "vendored files changed (scripts/vendor-dashboard.sh re-vendors them and rewrites the lock):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_vendored_file_is_locked_and_listed_in_third_party_md() {
    let mut on_disk = BTreeSet::new();
    files_under(&root().join("dashboard/vendor"), &mut on_disk);
    files_under(&root().join("tests/browser/vendor"), &mut on_disk);
    let locked: BTreeSet<String> = lock().into_iter().map(|(_, path, _, _)| path).collect();
    assert_eq!(
        on_disk, locked,
        "files under the vendor directories and docs/THIRD_PARTY.lock differ"
    );

    let third_party = std::fs::read_to_string(root().join("docs/THIRD_PARTY.md")).unwrap();
    for (_, path, package, licence) in lock() {
        let (name, version) = package.rsplit_once('@').unwrap();
        let line = third_party
            .lines()
            .find(|l| l.contains(&format!("`{path}`")))
            .unwrap_or_else(|| panic!("docs/THIRD_PARTY.md does not list `{path}`"));
        for expected in [name, version, licence.as_str()] {
            assert!(
                line.contains(expected),
                "docs/THIRD_PARTY.md's line for {path} lacks {expected}: {line}"
            );
        }
    }
}

#[test]
fn the_embedded_files_stay_within_the_size_budget_and_are_all_servable() {
    let files = files();
    assert!(files.iter().any(|(name, _)| name == "index.html"));
    let total: usize = files.iter().map(|(_, size)| size).sum();
    assert!(
        total < BUDGET_BYTES,
        "the dashboard embeds {total} bytes, over the budget of {BUDGET_BYTES}: {files:?}"
    );
    for (name, _) in &files {
        assert!(
            content_type(name).is_some(),
            "{name} has no content type the server sends"
        );
    }
}

#[test]
fn etags_are_quoted_hex_and_if_none_match_compares_weakly() {
    let tag = etag(&[0xab; 32]);
    assert_eq!(tag, format!("\"{}\"", "ab".repeat(16)));
    let mut headers = HeaderMap::new();
    assert!(!if_none_match(&headers, &tag));
    headers.insert(
        header::IF_NONE_MATCH,
        HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap(),
    );
    assert!(if_none_match(&headers, &tag));
    headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
    assert!(if_none_match(&headers, &tag));
    headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
    assert!(!if_none_match(&headers, &tag));
}

#[test]
fn paths_that_leave_the_dashboard_or_name_hidden_files_are_not_served() {
    let headers = HeaderMap::new();
    for path in [
        "../Cargo.toml",
        "vendor/../../Cargo.toml",
        ".hidden",
        "vendor//x.mjs",
        "",
    ] {
        assert_eq!(serve(path, &headers).status(), 404, "{path}");
    }
    assert_eq!(serve("index.html", &headers).status(), 200);
}
