//! Checks warroom does itself rather than through a program: an HTTP health check (status,
//! latency, body excerpt) and a TCP connect.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::exec::Outcome;

/// Runs the built-in `name` with `params`; the outcome reads like a program's.
pub async fn run(name: &str, params: &BTreeMap<String, String>, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let (ok, stdout, stderr, timed_out) = match name {
        "http_check" => http_check(params.get("health_url").map_or("", String::as_str), timeout).await,
        "tcp_connect" => tcp_connect(params, timeout).await,
        "prometheus_up" => prometheus(params, "up{job=\"JOB\"}", timeout).await,
        "prometheus_error_rate" => {
            let q = "sum(rate(http_requests_total{job=\"JOB\",status=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"JOB\"}[5m]))";
            prometheus(params, q, timeout).await
        }
        other => (false, String::new(), format!("unknown built-in `{other}`"), false),
    };
    Outcome {
        exit_code: (!timed_out).then_some(if ok { 0 } else { 1 }),
        timed_out,
        duration: started.elapsed(),
        stdout,
        stderr,
        truncated: false,
    }
}

async fn http_check(url: &str, timeout: Duration) -> (bool, String, String, bool) {
    let client = match reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build() {
        Ok(client) => client,
        Err(e) => return (false, String::new(), e.to_string(), false),
    };
    let started = Instant::now();
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let excerpt: String = body.chars().take(500).collect();
            let latency = started.elapsed().as_millis();
            (status.is_success(), format!("GET {url}\nHTTP {status} in {latency} ms\n{excerpt}"), String::new(), false)
        }
        Err(e) if e.is_timeout() => {
            (false, String::new(), format!("GET {url}: no answer within {}s", timeout.as_secs()), true)
        }
        Err(e) => (false, String::new(), format!("GET {url}: {}", error_chain(&e)), false),
    }
}

async fn tcp_connect(params: &BTreeMap<String, String>, timeout: Duration) -> (bool, String, String, bool) {
    let (host, port) =
        (params.get("host").cloned().unwrap_or_default(), params.get("port").cloned().unwrap_or_default());
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(format!("{host}:{port}"))).await {
        Ok(Ok(_)) => {
            (true, format!("connected to {host}:{port} in {} ms", started.elapsed().as_millis()), String::new(), false)
        }
        Ok(Err(e)) => (false, String::new(), format!("{host}:{port}: {e}"), false),
        Err(_) => (false, String::new(), format!("{host}:{port}: no answer within {}s", timeout.as_secs()), true),
    }
}

/// An instant query; `JOB` in `query` is the (pattern-checked) job label.
async fn prometheus(params: &BTreeMap<String, String>, query: &str, timeout: Duration) -> (bool, String, String, bool) {
    let base = params.get("prometheus_url").map_or("", String::as_str).trim_end_matches('/');
    let query = query.replace("JOB", params.get("job").map_or("", String::as_str));
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(e) => return (false, String::new(), e.to_string(), false),
    };
    let response = client.get(format!("{base}/api/v1/query")).query(&[("query", query.as_str())]).send().await;
    match response {
        Ok(response) => {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let results = body["data"]["result"].as_array().cloned().unwrap_or_default();
            if !status.is_success() || body["status"] != "success" {
                let error = body["error"].as_str().unwrap_or("no answer");
                return (false, String::new(), format!("{query}: HTTP {status}: {error}"), false);
            }
            let lines: Vec<String> = results
                .iter()
                .map(|r| format!("{} = {}", r["metric"], r["value"][1].as_str().unwrap_or("?")))
                .collect();
            let text =
                if lines.is_empty() { format!("{query}: no series") } else { format!("{query}\n{}", lines.join("\n")) };
            (!lines.is_empty(), text, String::new(), false)
        }
        Err(e) if e.is_timeout() => {
            (false, String::new(), format!("{query}: no answer within {}s", timeout.as_secs()), true)
        }
        Err(e) => (false, String::new(), format!("{query}: {}", error_chain(&e)), false),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
