//! Unit tests of `tail_buffer`.

use super::TailBuffer;

#[test]
fn keeps_only_the_most_recent_bytes() {
    let mut tail = TailBuffer::new(5);
    tail.push(b"abc");
    tail.push(b"defg");
    assert_eq!(tail.to_string_lossy(), "cdefg");
    tail.push(b"0123456789");
    assert_eq!(tail.to_string_lossy(), "56789");
}

#[test]
fn drops_a_character_cut_by_the_ring() {
    let mut tail = TailBuffer::new(4);
    tail.push("xé€".as_bytes()); // x, 2 bytes, 3 bytes: ring keeps 1 byte of é + €
    assert_eq!(tail.to_string_lossy(), "€");
}

#[test]
fn zero_capacity_keeps_nothing() {
    let mut tail = TailBuffer::new(0);
    tail.push(b"abc");
    assert_eq!(tail.to_string_lossy(), "");
}
