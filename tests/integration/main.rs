//! Integration tests: the real app over HTTP, a fresh database each, the sandbox as Slack.

mod acknowledge;
mod alerts;
mod api;
mod approvals;
mod browser;
mod cli;
mod declare;
mod diagnostics;
mod escalation;
mod export;
mod harness;
mod ingress;
mod lifecycle;
mod metrics;
mod network_checks;
mod permissions;
mod processes;
mod runners;
mod sandbox_mode;
mod sandbox_page;
mod service_bounds;
mod slack_failures;
mod socket_mode;
mod statuspage;
mod statuspage_failures;
mod timeline;
