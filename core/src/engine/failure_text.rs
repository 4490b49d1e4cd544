//! The error text recorded for a failed step: what failed, plus the end of its output.

/// At most this many trailing lines of output go into a step's recorded error.
const TAIL_LINES: usize = 12;
/// And at most this many bytes.
const TAIL_BYTES: usize = 2000;

/// `headline`, followed by the last non-empty lines of `output` (at most 12 lines and
/// 2000 bytes), indented, so `pipeline status` shows why without opening the log.
pub(crate) fn step_error_text(headline: &str, output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return headline.to_string();
    }
    let mut tail: Vec<&str> = lines[lines.len().saturating_sub(TAIL_LINES)..].to_vec();
    while tail.iter().map(|l| l.len() + 3).sum::<usize>() > TAIL_BYTES && tail.len() > 1 {
        tail.remove(0);
    }
    let mut out = headline.to_string();
    for l in tail {
        out.push_str("\n  | ");
        if l.len() > TAIL_BYTES {
            let mut cut = TAIL_BYTES;
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&l[..cut]);
        } else {
            out.push_str(l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_only() {
        let output: String = (1..=40).map(|i| format!("line {i}\n\n")).collect();
        let text = step_error_text("tool failed: exit 1", &output);
        assert!(
            text.starts_with("tool failed: exit 1\n  | line 29"),
            "{text}"
        );
        assert!(text.ends_with("  | line 40"));
        assert_eq!(step_error_text("x", "\n \n"), "x");
    }
}
