//! Unit tests of `aider_report`.

use super::{AiderReport, parse_token_count};

fn report(text: &str) -> AiderReport {
    let mut report = AiderReport::default();
    for line in text.lines() {
        report.observe(line);
    }
    report
}

#[test]
fn parses_tokens_and_cost_over_several_replies() {
    let r = report(
        "Tokens: 1.2k sent, 56 received. Cost: $0.0029 message, $0.0029 session.\n\
             Applied edit to hello.py\n\
             Tokens: 2.5k sent, 1k cache hit, 120 received. Cost: $0.01 message, $0.02 session.\n",
    );
    let usage = r.usage(Some("openai/fake")).unwrap();
    assert_eq!(usage.input_tokens, Some(3_700));
    assert_eq!(usage.output_tokens, Some(176));
    assert_eq!(usage.cached_input_tokens, Some(1_000));
    assert_eq!(usage.requests, Some(2));
    assert_eq!(usage.cost_usd, Some(0.02));
    assert_eq!(usage.model.as_deref(), Some("openai/fake"));
    assert_eq!(r.applied, vec!["hello.py"]);
    assert_eq!(r.failure, None);
}

#[test]
fn tokens_without_cost() {
    let usage = report("Tokens: 15 sent, 7 received.").usage(None).unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(15), Some(7))
    );
    assert_eq!(usage.cost_usd, None);
    assert_eq!(report("nothing here").usage(None), None);
}

#[test]
fn keeps_the_exception_line_and_sees_retries() {
    let r = report(
        "litellm.RateLimitError: RateLimitError: OpenAIException - Please try again in 1s.\n\
             The API provider has rate limited you. Try again later or check your quotas.\n\
             Retrying in 0.2 seconds...\n",
    );
    assert!(r.retrying);
    assert!(r.failure.unwrap().starts_with("litellm.RateLimitError"));
}

#[test]
fn a_later_applied_edit_clears_an_edit_format_failure() {
    let r = report("# 1 SEARCH/REPLACE block failed to match!\nApplied edit to a.py\n");
    assert_eq!(r.failure, None);
    let r = report("Applied edit to a.py\nThe LLM did not conform to the edit format.\n");
    assert_eq!(
        r.failure.as_deref(),
        Some("The LLM did not conform to the edit format.")
    );
}

#[test]
fn token_counts_in_aider_format() {
    assert_eq!(parse_token_count("999"), Some(999));
    assert_eq!(parse_token_count("1.2k"), Some(1_200));
    assert_eq!(parse_token_count("12k"), Some(12_000));
    assert_eq!(parse_token_count("1.5M"), Some(1_500_000));
    assert_eq!(parse_token_count("x"), None);
}
