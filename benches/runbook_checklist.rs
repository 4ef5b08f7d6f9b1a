//! Declaration to runbook checklist posted, for the largest seed runbook (002, the inference
//! gateway's, ~700 lines: 51 steps over two messages): the time from sending a signed
//! `/incident declare` until the sandbox Slack has received every message of the incident's
//! checklist, p50 and p99 over declarations made one after another, with warroom's job workers
//! running against the local Postgres.
//!
//! 1. with the per-channel pacing lifted (`channel_post_interval = "0s"`): warroom's own work;
//! 2. with Slack's pacing (one post a second per channel, the default): what a person waits.
//!
//! Run: `cargo bench --bench runbook_checklist` (env: DATABASE_URL server, BENCH_DECLARES
//! (default 50), BENCH_PACED (default 10)).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{env_or, Database, Latencies};
use warroom::config::ServiceConfig;

/// The largest seed runbook (seed 002, `runbooks/inference-gateway.md`), for its service as
/// `warroom.example.toml` configures it.
const SERVICE: &str = "inference-gateway";

fn service() -> ServiceConfig {
    support::example_service(SERVICE)
}

/// How many messages the checklist takes.
fn parts() -> anyhow::Result<usize> {
    Ok(warroom::checklist::layout::parts(&support::example_checklist(SERVICE)?).len())
}

/// `n` declarations one after another, each timed until its checklist is all in Slack.
async fn measure(n: usize, paced: bool, parts: usize) -> anyhow::Result<Latencies> {
    let db = Database::fresh().await?;
    let (slack, slack_url) = support::slack().await?;
    support::start_app(&db.pool, &slack, &slack_url, warroom::app::DEFAULT_WORKERS, |s| {
        s.file.services.insert(SERVICE.into(), service());
        if !paced {
            s.file.channel_post_interval = warroom::duration::HumanDuration(Duration::ZERO);
        }
    })
    .await?;
    let mut times = Vec::new();
    for number in 1..=n {
        let t0 = Instant::now();
        slack.slash("U0ALICE", "incidents", &format!("declare P0 {SERVICE} Inference API returns 100% errors")).await?;
        let channel = format!("inc-{number}-{SERVICE}");
        loop {
            let received: Vec<Instant> = slack
                .channel(&channel)
                .map(|c| c.messages)
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.blocks[0]["block_id"] == "checklist.header")
                .filter_map(|m| m.received)
                .collect();
            if received.len() == parts {
                times.push(received.into_iter().max().unwrap_or(t0).duration_since(t0));
                break;
            }
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(60), "the checklist of INC-{number} was never posted");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    db.drop().await?;
    Ok(Latencies::new(times))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let declares: usize = env_or("BENCH_DECLARES", 50);
    let paced: usize = env_or("BENCH_PACED", 10);
    let parts = parts()?;
    println!("runbook runbooks/{SERVICE}.md: its checklist is {parts} messages");
    println!("phase 1: {declares} declarations, per-channel pacing lifted ...");
    let lifted = measure(declares, false, parts).await?;
    println!("phase 2: {paced} declarations, Slack's pacing (1 post/s per channel) ...");
    let slack_paced = measure(paced, true, parts).await?;
    println!("\n== runbook checklist benchmark ==");
    println!("declare -> whole checklist posted, pacing lifted:  {}", lifted.summary());
    println!("declare -> whole checklist posted, 1 post/s/channel: {}", slack_paced.summary());
    Ok(())
}
