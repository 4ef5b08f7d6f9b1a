//! `warroom runbook check` on the five seed runbooks (`runbooks/`, against warroom.example.toml):
//!
//! 1. the built binary, run as a process once per seed, the five in a row, N times: wall time of
//!    the five together and of each seed's process, p50/p99 — what a person typing the command
//!    waits for (process start, config and catalog load, parse, map, suggest, print);
//! 2. the same work in this process through the library (`parse` + `report`, the catalog and
//!    config loaded once), p50/p99 per seed: what is left once process start is taken out.
//!
//! Run: `cargo bench --bench runbook_check` (env: BENCH_RUNS, default 50).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warroom::config::FileConfig;
use warroom::diagnostics::Catalog;

const SERVICES: [&str; 5] =
    ["microdiff-matdesign", "web3-marketplace-backend", "inference-gateway", "dmarc-dashboard", "pynomaly"];

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    format!(
        "p50 {}  p99 {}  max {}  (n={})",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&samples, 1.0)),
        samples.len()
    )
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = root.join("warroom.example.toml");
    let bin = env!("CARGO_BIN_EXE_warroom");

    let mut all = Vec::with_capacity(runs);
    let mut each: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); SERVICES.len()];
    for _ in 0..runs {
        let started = Instant::now();
        for (i, service) in SERVICES.iter().enumerate() {
            let one = Instant::now();
            let status = Command::new(bin)
                .args(["runbook", "check", &format!("runbooks/{service}.md"), "--service", service])
                .current_dir(&root)
                .env_clear()
                .env("WARROOM_CONFIG", &config)
                .stdout(Stdio::null())
                .status()
                .expect("warroom runs");
            each[i].push(one.elapsed());
            assert!(status.success(), "{service}: {status}");
        }
        all.push(started.elapsed());
    }
    println!("warroom runbook check, the binary, {runs} runs ({bin}):");
    println!("  all five seeds in a row:   {}", summary(all));
    for (service, samples) in SERVICES.iter().zip(each) {
        println!("  {service:<26} {}", summary(samples));
    }

    let catalog = Catalog::built_in().unwrap();
    let file = FileConfig::parse(&config, &std::fs::read_to_string(&config).unwrap()).unwrap();
    println!("the same in process (parse + map + suggest + the report's text), {runs} runs:");
    for service in SERVICES {
        let path = root.join(format!("runbooks/{service}.md"));
        let mut samples = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let text = std::fs::read_to_string(&path).unwrap();
            let runbook = warroom::runbook::parse(&text);
            let report = warroom::runbook::report(service, &runbook, &catalog, service, &file.services[service]);
            samples.push(started.elapsed());
            bytes = report.len();
        }
        println!("  {service:<26} {}  ({} KiB of report)", summary(samples), bytes / 1024);
    }
}
