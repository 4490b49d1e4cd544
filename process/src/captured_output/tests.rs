//! Unit tests of `captured_output`.

use super::BoundedBuffer;

#[test]
fn keeps_the_first_bytes_and_notes_the_rest() {
    let mut buffer = BoundedBuffer::new(5);
    buffer.push(b"abc");
    assert!(!buffer.truncated);
    buffer.push(b"defg");
    buffer.push(b"h");
    assert_eq!(buffer.bytes, b"abcde");
    assert!(buffer.truncated);
}
