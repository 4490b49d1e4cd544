//! Built-in plugin `network-api`: network failures and HTTP/API errors from any tool.
//!
//! Rules (issue 3): HTTP 429, "rate limit", "too many requests" and quota messages ->
//! `rate_limited` (with the reset time when the output carries `Retry-After`, a
//! `retry_after` JSON field, an `x-ratelimit-reset*` header or "try again in 20s"); HTTP 5xx,
//! "overloaded", connection reset/refused, DNS failures -> `transient`; read/request
//! timeouts -> `timeout`; HTTP 401/403, invalid API key, authentication errors and unknown
//! models -> `permanent`.
//!
//! Written against real output captured by `scripts/capture-error-fixtures.sh` (see
//! `error/tests/fixtures/network/`, versions in `VERSIONS.txt`): curl 7.88 (`--fail-with-body`,
//! `-i`), Python 3.11 `urllib`, and the `openai` Python SDK 3.52 talking to a local HTTP
//! server that answers 429 (with `Retry-After: 20`), 401, 404 (unknown model), 500, 503.
//! The same rules classify the messages Aider and the Codex CLI print (their plugins call
//! `classify_api_text`). When several lines match, the last one decides: tools retry
//! internally and print their final error last.

use regex::Regex;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Permanent,
    RateLimited,
    Timeout,
    Transient,
}

struct Rule {
    code: &'static str,
    kind: Kind,
    what: &'static str,
    pattern: Regex,
}

/// Matched before any other rule on the same line, in this order.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |code, kind, what, pattern: &str| Rule {
        code,
        kind,
        what,
        pattern: Regex::new(pattern).expect("static regex"),
    };
    const STATUS: &str =
        r"(?:error code|status(?: code)?|http/[\d.]+|returned error|last status)[:= ]+";
    vec![
        rule(
            "http-401",
            Kind::Permanent,
            "authentication failed (HTTP 401 / invalid API key); check the tool's API key",
            &format!(
                r"(?i){STATUS}401\b|\b401 unauthorized|invalid[ _-]?api[ _-]?key|incorrect api key|invalid x-api-key|authenticationerror|authentication_error|not able to authenticate|api key not valid|unauthorized"
            ),
        ),
        rule(
            "http-403",
            Kind::Permanent,
            "access denied (HTTP 403); check the account's permissions",
            &format!(r"(?i){STATUS}403\b|\b403 forbidden|permissiondeniederror|permission_error"),
        ),
        rule(
            "unknown-model",
            Kind::Permanent,
            "the model does not exist or is not available; check the model name",
            r"(?i)model_not_found|the model .* does not exist|unknown model|model .*not found|no such model|invalid model",
        ),
        rule(
            "quota",
            Kind::RateLimited,
            "quota or usage limit reached",
            r"(?i)exceeded your current quota|insufficient_quota|quota exceeded|usage limit",
        ),
        rule(
            "http-429",
            Kind::RateLimited,
            "rate limited (HTTP 429)",
            &format!(
                r"(?i){STATUS}429\b|\b429 too many requests|too many requests|rate[ _-]?limit|ratelimiterror|resource(?: has been)? exhausted|throttl(?:ed|ing)"
            ),
        ),
        rule(
            "timeout",
            Kind::Timeout,
            "the request timed out",
            r"(?i)read timed out|readtimeout|request timed out|apitimeouterror|deadline exceeded|timed out waiting|operation timed out|connection timed out|timeout was reached|\betimedout\b|\bi/o timeout\b|urlopen error timed out|^timeouterror: |^socket\.timeout: |the operation was aborted due to timeout",
        ),
        rule(
            "http-5xx",
            Kind::Transient,
            "the server failed (HTTP 5xx / overloaded)",
            &format!(
                r"(?i){STATUS}5\d\d\b|\b5\d\d (?:internal server error|bad gateway|service unavailable|gateway time-?out)|internal ?server ?error|service ?unavailable|server had an error|overloaded|high demand|bad gateway"
            ),
        ),
        rule(
            "dns",
            Kind::Transient,
            "host name lookup failed (DNS)",
            // Resolver messages only: `\benotfound\b` so that `ModuleNotFoundError` and
            // `FileNotFoundError` (which contain "enotfound") are not DNS failures.
            r"(?i)could not resolve host|couldn't resolve host|name or service not known|temporary failure in name resolution|\bgetaddrinfo\b|\benotfound\b|\beai_again\b|\beai_noname\b|lookup \S+(?: on \S+)?: no such host|nodename nor servname|failed to lookup address|dns error|failed to resolve '[^']+' \(\[errno",
        ),
        rule(
            "connection",
            Kind::Transient,
            "the connection failed (refused, reset or closed)",
            r"(?i)connection (?:reset|refused|aborted|closed|error)|econnreset|econnrefused|econnaborted|broken pipe|couldn't connect to server|failed to connect|apiconnectionerror|connecterror|network is unreachable|stream disconnected|remote end closed connection|remotedisconnected|connection was forcibly closed|unexpected eof while reading|eof occurred in violation of protocol",
        ),
    ]
});

/// An API or network error recognised in some text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// The class, with the reset time filled in for rate limits when known.
    pub(crate) class: ErrorClass,
    /// Short rule code (`http-429`, `dns`, ...).
    pub(crate) code: &'static str,
    /// What the rule means, for the summary.
    pub(crate) what: &'static str,
    /// The line that matched (trimmed).
    pub(crate) line: String,
}

/// The last line of `text` that a rule matches: `(line index, rule, line)`.
fn last_match(text: &str) -> Option<(usize, &'static Rule, &str)> {
    let rules: &'static [Rule] = &RULES;
    let lines: Vec<&str> = text.lines().collect();
    lines
        .into_iter()
        .enumerate()
        .rev()
        .find_map(|(index, line)| {
            rules
                .iter()
                .find(|rule| rule.pattern.is_match(line))
                .map(|rule| (index, rule, line.trim()))
        })
}

/// The 0-based index of the last line of `text` that shows a network or API error, if any
/// (the `not-found` plugin leaves the decision to `network-api` when that line comes after
/// its own).
pub(crate) fn last_api_error_line(text: &str) -> Option<usize> {
    last_match(text).map(|(index, _, _)| index)
}

/// Classifies text by the rules above; the last matching line decides. Rate limits get
/// their reset from anywhere in `text`, relative waits counted from `finished_at`.
pub(crate) fn classify_api_text(text: &str, finished_at: SystemTime) -> Option<ApiError> {
    let (_, rule, line) = last_match(text)?;
    let class = match rule.kind {
        Kind::Permanent => ErrorClass::Permanent,
        Kind::Timeout => ErrorClass::Timeout,
        Kind::Transient => ErrorClass::Transient,
        Kind::RateLimited => {
            let reset = rate_limit_reset(text, finished_at);
            ErrorClass::RateLimited {
                reset_at: reset.map(|(at, _)| at),
                retry_after: reset.and_then(|(_, after)| after),
            }
        }
    };
    Some(ApiError {
        class,
        code: rule.code,
        what: rule.what,
        line: truncate_line(line),
    })
}

fn truncate_line(line: &str) -> String {
    const MAX: usize = 500;
    if line.len() <= MAX {
        return line.to_string();
    }
    let mut cut = MAX;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &line[..cut])
}

static RETRY_AFTER_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^\s*retry-after:\s*(.+?)\s*$").expect("static regex"));
static RETRY_AFTER_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)"?retry[_-]?after(_ms|-ms)?"?\s*[:=]\s*"?(\d+(?:\.\d+)?)"#)
        .expect("static regex")
});
static RESET_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*(?:x-ratelimit-reset[\w-]*|[\w-]*ratelimit-[\w-]*reset):\s*(\S+)\s*$")
        .expect("static regex")
});
static TRY_AGAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:try again|retry) (?:in|after) ((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+)")
        .expect("static regex")
});
static DURATION_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\d+(?:\.\d+)?)\s*(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)")
        .expect("static regex")
});

/// Finds when a rate limit resets: `(reset_at, retry_after)`; `retry_after` is `None` when
/// the output gave an absolute time.
pub(crate) fn rate_limit_reset(
    text: &str,
    finished_at: SystemTime,
) -> Option<(SystemTime, Option<Duration>)> {
    let relative = |after: Duration| Some((finished_at + after, Some(after)));
    if let Some(caps) = RETRY_AFTER_HEADER.captures(text) {
        let value = &caps[1];
        if let Ok(seconds) = value.parse::<f64>() {
            if let Ok(after) = Duration::try_from_secs_f64(seconds) {
                return relative(after);
            }
        } else if let Some(at) = parse_http_date(value) {
            return Some((at, None));
        }
    }
    if let Some(caps) = RETRY_AFTER_FIELD.captures(text)
        && let Ok(value) = caps[2].parse::<f64>()
    {
        let seconds = if caps.get(1).is_some() {
            value / 1000.0
        } else {
            value
        };
        if let Ok(after) = Duration::try_from_secs_f64(seconds) {
            return relative(after);
        }
    }
    if let Some(caps) = RESET_HEADER.captures(text) {
        let value = &caps[1];
        if let Ok(number) = value.parse::<u64>() {
            // Epoch seconds (GitHub style) or a number of seconds.
            if number > 1_000_000_000 {
                return Some((SystemTime::UNIX_EPOCH + Duration::from_secs(number), None));
            }
            return relative(Duration::from_secs(number));
        }
        if let Ok(at) = humantime::parse_rfc3339_weak(value) {
            return Some((at, None));
        }
        if let Some(after) = parse_duration_text(value) {
            return relative(after);
        }
    }
    if let Some(caps) = TRY_AGAIN.captures(text)
        && let Some(after) = parse_duration_text(&caps[1])
    {
        return relative(after);
    }
    None
}

/// Parses `20s`, `1m30s`, `6ms`, `1.5 seconds`, `2 minutes` (sums the parts).
pub(crate) fn parse_duration_text(text: &str) -> Option<Duration> {
    let mut total = 0.0_f64;
    let mut found = false;
    for caps in DURATION_PART.captures_iter(text) {
        let value: f64 = caps[1].parse().ok()?;
        let unit = caps[2].to_ascii_lowercase();
        let factor = match unit.as_str() {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            _ => 3600.0,
        };
        total += value * factor;
        found = true;
    }
    if found {
        Duration::try_from_secs_f64(total).ok()
    } else {
        None
    }
}

/// Parses an HTTP IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 section 5.6.7).
fn parse_http_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|name| *name == month_name)?;
    let year: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" {
        return None;
    }
    humantime::parse_rfc3339(&format!("{year:04}-{:02}-{day:02}T{time}Z", month + 1)).ok()
}

/// The `network-api` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct NetworkPlugin;

impl Plugin for NetworkPlugin {
    fn id(&self) -> &str {
        "network-api"
    }

    fn description(&self) -> &str {
        "HTTP 429/5xx/401/403, rate limits, quotas, connection and DNS failures, unknown models (curl, urllib, openai SDK)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Protocol
    }

    fn applies_to(&self, _input: &PluginInput<'_>) -> bool {
        true
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let text = decisive_part(input.text);
        let Some(error) = classify_api_text(text, input.failure.finished_at) else {
            return Ok(Finding::none());
        };
        Ok(Finding {
            verdict: Some(Verdict {
                summary: format!("{}: {}", error.what, error.line),
                key: format!("{} {}", error.code, error.line),
                class: error.class,
            }),
            diagnostics: Vec::new(),
        })
    }
}

/// The Python line that starts a traceback.
const PYTHON_TRACEBACK: &str = "Traceback (most recent call last):";

/// The part of a command's output that says why it failed. A program that died of an
/// uncaught exception printed it last: the text from the start of the last Python traceback
/// (`Traceback (most recent call last):`), or, when the output ends with Node's `Node.js
/// vN` line, from the caret line (`    ^`) under the source line that threw. Lines before it
/// are what the program logged while it still worked ("request timed out, retrying" then
/// "ok"), which must not decide the class of a `KeyError`. Without either, the whole text.
pub(crate) fn decisive_part(text: &str) -> &str {
    if let Some(start) = text.rfind(PYTHON_TRACEBACK) {
        return &text[start..];
    }
    let ends_with_node_trailer = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.starts_with("Node.js v"));
    if ends_with_node_trailer {
        let mut offset = 0;
        let mut caret = None;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim();
            if !trimmed.is_empty() && trimmed.chars().all(|c| c == '^') {
                caret = Some(offset);
            }
            offset += line.len();
        }
        if let Some(start) = caret {
            return &text[start..];
        }
    }
    text
}
