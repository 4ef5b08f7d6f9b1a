//! Checks warroom does itself rather than through a program: an HTTP health check (status,
//! latency, body excerpt), a TCP connect, and Prometheus instant queries. Each reaches its
//! target through a [`Network`]: the host resolved once, link-local and metadata addresses
//! refused, the connection made to a checked address, no redirect followed, at most
//! [`http_get::BODY_CAP`] of a body read.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::exec::Outcome;
use super::http_get::{self, GetError};
use super::net::{self, Network, SystemNetwork};

/// Characters of an HTTP body shown in the check's output.
const EXCERPT_CHARS: usize = 500;

/// Runs the built-in `name` with `params` on the machine's own network (remote runners).
pub async fn run(name: &str, params: &BTreeMap<String, String>, timeout: Duration) -> Outcome {
    run_on(&SystemNetwork, name, params, timeout).await
}

/// Runs the built-in `name` with `params` through `net`; the outcome reads like a program's.
pub async fn run_on(net: &dyn Network, name: &str, params: &BTreeMap<String, String>, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let check = async {
        match name {
            "http_check" => http_check(net, params.get("health_url").map_or("", String::as_str)).await,
            "tcp_connect" => tcp_connect(net, params).await,
            "prometheus_up" => prometheus(net, params, "up{job=\"JOB\"}").await,
            "prometheus_error_rate" => {
                let q = "sum(rate(http_requests_total{job=\"JOB\",status=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"JOB\"}[5m]))";
                prometheus(net, params, q).await
            }
            other => Err(format!("unknown built-in `{other}`")),
        }
    };
    let (exit_code, stdout, stderr) = match tokio::time::timeout(timeout, check).await {
        Ok(Ok((ok, stdout))) => (Some(if ok { 0 } else { 1 }), stdout, String::new()),
        Ok(Err(stderr)) => (Some(1), String::new(), stderr),
        Err(_) => (None, String::new(), format!("{name}: no answer within {}s", timeout.as_secs())),
    };
    Outcome { timed_out: exit_code.is_none(), exit_code, duration: started.elapsed(), stdout, stderr, truncated: false }
}

/// `(healthy, report)`, or the reason it could not be checked.
type Check = Result<(bool, String), String>;

fn parse_url(param: &str, text: &str) -> Result<Url, String> {
    Url::parse(text).map_err(|e| format!("{param} `{text}` is not a URL: {e}"))
}

async fn http_check(net: &dyn Network, url: &str) -> Check {
    let parsed = parse_url("health_url", url)?;
    let started = Instant::now();
    let answer = http_get::get(net, "health_url", &parsed).await.map_err(|e| failure(&format!("GET {url}"), &e))?;
    let latency = started.elapsed().as_millis();
    let mut report = format!("GET {url} ({})\nHTTP {} in {latency} ms\n", answer.peer, answer.status);
    if answer.status.is_redirection() {
        let location = answer.location.as_deref().unwrap_or("(none)");
        report.push_str(&format!("Location: {location} (not followed: warroom follows no redirects)\n"));
    }
    let body = String::from_utf8_lossy(&answer.body);
    report.extend(body.chars().take(EXCERPT_CHARS));
    if answer.cut {
        report.push_str(&format!("\n(read the first {} KiB of the body and stopped)", http_get::BODY_CAP / 1024));
    }
    Ok((answer.status.is_success(), report))
}

/// What a failed GET reports: a refusal as it is, anything else after the request.
fn failure(what: &str, e: &GetError) -> String {
    if e.is_refusal() {
        e.to_string()
    } else {
        format!("{what}: {e}")
    }
}

async fn tcp_connect(net: &dyn Network, params: &BTreeMap<String, String>) -> Check {
    let host = params.get("host").map_or("", String::as_str);
    let port = params.get("port").map_or("", String::as_str);
    let number: u16 = port.parse().map_err(|_| format!("port `{port}` is not a TCP port (1-65535)"))?;
    let started = Instant::now();
    let addrs = net::resolve_checked(net, "host", host, number).await.map_err(|e| e.to_string())?;
    let (_, peer) = net::connect_any(net, &addrs).await.map_err(|e| format!("{host}:{port}: {e}"))?;
    Ok((true, format!("connected to {host}:{port} ({peer}) in {} ms", started.elapsed().as_millis())))
}

/// An instant query; `JOB` in `query` is the (pattern-checked) job label.
async fn prometheus(net: &dyn Network, params: &BTreeMap<String, String>, query: &str) -> Check {
    let base = params.get("prometheus_url").map_or("", String::as_str).trim_end_matches('/');
    let query = query.replace("JOB", params.get("job").map_or("", String::as_str));
    let mut url = parse_url("prometheus_url", &format!("{base}/api/v1/query"))?;
    url.query_pairs_mut().append_pair("query", &query);
    let answer = http_get::get(net, "prometheus_url", &url).await.map_err(|e| failure(&query, &e))?;
    let status = answer.status;
    if answer.cut {
        return Err(format!("{query}: the answer is over {} KiB; warroom read no further", http_get::BODY_CAP / 1024));
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if !status.is_success() || body["status"] != "success" {
        let error = body["error"].as_str().unwrap_or("no answer");
        return Err(format!("{query}: HTTP {status}: {error}"));
    }
    let results = body["data"]["result"].as_array().cloned().unwrap_or_default();
    let lines: Vec<String> =
        results.iter().map(|r| format!("{} = {}", r["metric"], r["value"][1].as_str().unwrap_or("?"))).collect();
    let text = if lines.is_empty() { format!("{query}: no series") } else { format!("{query}\n{}", lines.join("\n")) };
    Ok((!lines.is_empty(), text))
}
