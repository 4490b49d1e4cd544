//! Unit tests of `line_splitter`.

use super::{LineSplitter, MAX_LINE_BYTES};

fn split(chunks: &[&[u8]]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut splitter = LineSplitter::default();
    for chunk in chunks {
        splitter.feed(chunk, &mut |line| lines.push(line.to_owned()));
    }
    splitter.finish(&mut |line| lines.push(line.to_owned()));
    lines
}

#[test]
fn joins_lines_across_chunks_and_strips_line_ends() {
    assert_eq!(
        split(&[b"one\r\ntw", b"o\nthr", b"ee"]),
        vec!["one", "two", "three"]
    );
}

#[test]
fn cuts_over_long_lines() {
    let long = vec![b'x'; MAX_LINE_BYTES * 3];
    let lines = split(&[&long, b"\nnext\n"]);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), MAX_LINE_BYTES);
    assert_eq!(lines[1], "next");
}
