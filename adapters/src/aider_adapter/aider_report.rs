//! What Aider said about one attempt, read line by line from its output.
//!
//! Aider exits 0 even when every model call failed, so the adapter judges an attempt
//! from these lines (Aider 0.86, `aider/coders/base_coder.py`, `aider/exceptions.py`):
//! - `Tokens: 1.2k sent, 56 received. Cost: $0.0029 message, $0.0029 session.` per
//!   model reply: usage (token counts are rounded by Aider above 1000: `1.2k`);
//! - `Applied edit to <path>`: an edit landed;
//! - `litellm.<Name>Error: ...` and the friendly lines Aider prints after it: a model API
//!   failure; `Retrying in N seconds...` means Aider is about to retry it by itself;
//! - "The LLM did not conform to the edit format.", "SEARCH/REPLACE block(s) failed to
//!   match", "Only N reflections allowed, stopping.", "Empty response received from
//!   LLM": no usable edit.
//!
//! A failure line followed by a later `Applied edit to` is not decisive (Aider recovered,
//! e.g. through a reflection). The error engine's `aider` plugin classifies the failure;
//! this module only decides success and fills [`Usage`].

use crate::invocation::Usage;

/// Lines that mean the model could not be used or produced no usable edit.
const FAILURE_MARKERS: &[&str] = &[
    "The API provider has rate limited you",
    "The API provider is not able to authenticate you",
    "The API provider's servers are down or overloaded",
    "The API provider timed out without returning a response",
    "The API provider has refused the request due to a safety policy",
    "The LLM did not conform to the edit format",
    "failed to match!",
    "reflections allowed, stopping",
    "Empty response received from LLM",
];

/// Accumulated facts from Aider's output lines.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct AiderReport {
    /// Paths from `Applied edit to <path>` lines, in order.
    pub(crate) applied: Vec<String>,
    /// The last failure line not followed by an applied edit.
    pub(crate) failure: Option<String>,
    /// True once Aider announced it retries an API error itself (`Retrying in ...`).
    pub(crate) retrying: bool,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    requests: u32,
    session_cost: Option<f64>,
}

impl AiderReport {
    /// Reads one output line.
    pub(crate) fn observe(&mut self, line: &str) {
        let line = line.trim();
        if let Some(path) = line.strip_prefix("Applied edit to ") {
            self.applied.push(path.trim().to_owned());
            self.failure = None;
        } else if line.starts_with("Tokens: ") {
            self.observe_tokens(line);
        } else if line.starts_with("Retrying in ") && line.ends_with("seconds...") {
            self.retrying = true;
        } else if is_litellm_error(line)
            || FAILURE_MARKERS.iter().any(|marker| line.contains(marker))
        {
            // Keep the exception line (it names the error class) over the friendly
            // description printed right after it.
            let friendly_after_exception =
                self.failure.as_deref().is_some_and(is_litellm_error) && !is_litellm_error(line);
            if !friendly_after_exception {
                self.failure = Some(line.to_owned());
            }
        }
    }

    /// Token and cost totals over the attempt, or `None` when Aider printed no
    /// `Tokens:` line (no model reply arrived).
    pub(crate) fn usage(&self, model: Option<&str>) -> Option<Usage> {
        (self.requests > 0).then(|| Usage {
            model: model.map(str::to_owned),
            input_tokens: Some(self.input_tokens),
            cached_input_tokens: Some(self.cached_tokens),
            output_tokens: Some(self.output_tokens),
            cost_usd: self.session_cost,
            requests: Some(self.requests),
        })
    }

    /// `Tokens: 1.2k sent, 3 cache write, 1k cache hit, 56 received. Cost: $0.01 message, $0.02 session.`
    fn observe_tokens(&mut self, line: &str) {
        let (tokens, cost) = match line.split_once(" Cost: ") {
            Some((tokens, cost)) => (tokens, Some(cost)),
            None => (line, None),
        };
        let tokens = tokens.trim_start_matches("Tokens: ").trim_end_matches('.');
        let mut seen = false;
        for part in tokens.split(", ") {
            let Some((number, what)) = part.trim().split_once(' ') else {
                continue;
            };
            let Some(count) = parse_token_count(number) else {
                continue;
            };
            match what {
                "sent" => self.input_tokens += count,
                "received" => self.output_tokens += count,
                "cache hit" => self.cached_tokens += count,
                _ => continue,
            }
            seen = true;
        }
        if seen {
            self.requests += 1;
        }
        if let Some(session) = cost
            .and_then(|cost| cost.split(", ").find(|part| part.ends_with("session.")))
            .and_then(|part| part.trim_end_matches(" session.").strip_prefix('$'))
            .and_then(|value| value.parse::<f64>().ok())
        {
            self.session_cost = Some(session);
        }
    }
}

/// `litellm.RateLimitError: ...`, `litellm.exceptions.Timeout: ...`.
fn is_litellm_error(line: &str) -> bool {
    line.strip_prefix("litellm.").is_some_and(|rest| {
        let name = rest.split(':').next().unwrap_or("");
        name.ends_with("Error") || name.ends_with("Timeout")
    })
}

/// Aider's `format_tokens`: `999`, `1.2k`, `12k`, `1.5M`.
fn parse_token_count(text: &str) -> Option<u64> {
    let (number, factor) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1_000.0),
        'M' => (&text[..text.len() - 1], 1_000_000.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * factor).round() as u64)
}

#[cfg(test)]
mod tests;
