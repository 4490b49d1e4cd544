//! What a tool reported (tokens, requests, perhaps a cost) becomes the journal's
//! [`Usage`], with a cost wherever one can be known.
//!
//! A cost the tool reported (Claude Code's `total_cost_usd`, Aider's session cost) is
//! kept as it is. A tool that reports tokens but no cost (Codex) gets one from the run's
//! price table (`config/prices.yaml` overlaid by `prices:` of `.pipeline/config.yaml`),
//! marked `estimated`; when its model has no price (or it named none), the usage says
//! why in `cost_unknown` instead (docs/COSTS.md). Done once, when the attempt is
//! journalled, so every reader (status, usage, API, webhooks) sees the same figure and a
//! later price change does not rewrite history.

use pipeline_adapters::PriceTable;

use crate::state::Usage;

/// The journal's form of `reported`, priced with `prices` (see the module docs).
pub(crate) fn priced_usage(reported: pipeline_adapters::Usage, prices: &PriceTable) -> Usage {
    let mut usage = Usage {
        model: reported.model,
        input_tokens: reported.input_tokens,
        cached_input_tokens: reported.cached_input_tokens,
        output_tokens: reported.output_tokens,
        cost_usd: reported.cost_usd,
        requests: reported.requests,
        estimated: false,
        cost_unknown: None,
    };
    let has_tokens = usage.input_tokens.is_some() || usage.output_tokens.is_some();
    if usage.cost_usd.is_some() || !has_tokens {
        return usage;
    }
    let Some(model) = usage.model.as_deref() else {
        usage.cost_unknown =
            Some("the tool reported tokens but no model name, so no price applies".to_owned());
        return usage;
    };
    match prices.price_of(model) {
        Some((_, price)) => {
            usage.cost_usd = Some(price.cost(
                usage.input_tokens.unwrap_or(0),
                usage.cached_input_tokens.unwrap_or(0),
                usage.output_tokens.unwrap_or(0),
            ));
            usage.estimated = true;
        }
        None => {
            usage.cost_unknown = Some(format!(
                "no price for model `{model}`: the tool reported no cost and the price table \
                 (config/prices.yaml, `prices:` in .pipeline/config.yaml) does not list it"
            ));
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(model: Option<&str>, cost: Option<f64>) -> pipeline_adapters::Usage {
        pipeline_adapters::Usage {
            model: model.map(str::to_owned),
            input_tokens: Some(300),
            cached_input_tokens: Some(60),
            output_tokens: Some(21),
            cost_usd: cost,
            requests: Some(3),
        }
    }

    fn table() -> PriceTable {
        PriceTable::builtin().unwrap_or_else(|e| panic!("built-in prices: {e}"))
    }

    #[test]
    fn a_reported_cost_is_kept_and_not_estimated() {
        let usage = priced_usage(reported(Some("gpt-5.5"), Some(0.5)), &table());
        assert_eq!(usage.cost_usd, Some(0.5));
        assert!(!usage.estimated);
        assert_eq!(usage.cost_unknown, None);
    }

    #[test]
    fn tokens_without_a_cost_are_priced_and_marked_estimated() {
        let usage = priced_usage(reported(Some("openai/gpt-5.5"), None), &table());
        let cost = usage.cost_usd.unwrap_or_default();
        // 240 uncached * $5 + 60 cached * $0.50 + 21 output * $30, per million.
        assert!((cost - 0.00186).abs() < 1e-12, "{cost}");
        assert!(usage.estimated);
        assert_eq!(usage.requests, Some(3));
    }

    #[test]
    fn an_unknown_or_missing_model_has_no_cost_and_says_why() {
        let usage = priced_usage(reported(Some("fake-model"), None), &table());
        assert_eq!(usage.cost_usd, None);
        assert!(!usage.estimated);
        let why = usage.cost_unknown.unwrap_or_default();
        assert!(why.contains("no price for model `fake-model`"), "{why}");

        let usage = priced_usage(reported(None, None), &table());
        assert_eq!(usage.cost_usd, None);
        assert!(
            usage
                .cost_unknown
                .unwrap_or_default()
                .contains("no model name")
        );
    }

    #[test]
    fn usage_without_tokens_is_left_alone() {
        let usage = priced_usage(
            pipeline_adapters::Usage {
                model: Some("fake-model".into()),
                ..Default::default()
            },
            &table(),
        );
        assert_eq!(usage.cost_unknown, None);
        assert_eq!(usage.cost_usd, None);
    }
}
