//! `pipeline webhooks`: webhook and notify deliveries with status, attempts, last error.

use pipeline_core::engine::webhook_deliveries;
use pipeline_core::state::{DeliveryRecord, DeliveryStatus};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline webhooks [--run RUN] [--json]`: every delivery of the outbox (of run `RUN`
/// only, `latest` = the newest run), oldest first. With `--json`, one object:
/// `{"deliveries": [...], "pending": n, "delivered": n, "failed": n}`. Errors: from the
/// engine (unknown run, no repository, the database).
pub fn webhooks(run: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let deliveries = webhook_deliveries(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    let count = |status| deliveries.iter().filter(|d| d.status == status).count();
    if json {
        print_json(&serde_json::json!({
            "deliveries": deliveries,
            "pending": count(DeliveryStatus::Pending),
            "delivered": count(DeliveryStatus::Delivered),
            "failed": count(DeliveryStatus::Failed),
        }))?;
        return Ok(exit::OK);
    }
    if deliveries.is_empty() {
        println!(
            "no webhook or notify deliveries recorded{}",
            run.map(|r| format!(" for run {r}")).unwrap_or_default()
        );
        println!(
            "  (endpoints are configured under `webhooks:` and `notify:` in .pipeline/config.yaml)"
        );
        return Ok(exit::OK);
    }
    for delivery in &deliveries {
        print!("{}", delivery_text(delivery));
    }
    println!(
        "\n{} delivered, {} pending, {} failed",
        count(DeliveryStatus::Delivered),
        count(DeliveryStatus::Pending),
        count(DeliveryStatus::Failed)
    );
    Ok(exit::OK)
}

/// One delivery: a line with the event, endpoint, status and attempts, then its times
/// and last error, indented.
fn delivery_text(d: &DeliveryRecord) -> String {
    let mut text = format!(
        "{:<9} event {} {} (run {}) -> {} {}  attempts {}\n",
        d.status.as_str(),
        d.event_id,
        d.kind,
        d.run_id,
        d.endpoint_type,
        d.endpoint,
        d.attempts
    );
    let mut times = format!("  recorded {}", d.created_at);
    if let Some(at) = &d.delivered_at {
        times.push_str(&format!(", delivered {at}"));
    }
    if let Some(at) = &d.next_attempt_at {
        times.push_str(&format!(", next attempt {at}"));
    }
    text.push_str(&times);
    text.push('\n');
    if let Some(error) = &d.last_error {
        text.push_str(&format!("  last error: {error}\n"));
    }
    text.push_str(&format!("  webhook-id {}\n", d.webhook_id));
    text
}
