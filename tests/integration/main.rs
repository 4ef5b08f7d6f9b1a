//! Integration tests: the real app over HTTP, a fresh database each, the sandbox as Slack.

mod acknowledge;
mod alerts;
mod api;
mod approvals;
mod browser;
mod clean_report;
mod cli;
mod declare;
mod diagnostics;
mod escalation;
mod export;
mod harness;
mod housekeeping;
mod ingress;
mod lifecycle;
mod metrics;
mod one_time_urls;
mod processes;
mod sandbox_page;
mod slack_failures;
mod socket_mode;
mod statuspage;
mod statuspage_failures;
mod timeline;
