//! warroom: a Slack incident-response bot. See the README for the architecture.

pub mod alerts;
pub mod api;
pub mod app;
pub mod checklist;
pub mod clock;
pub mod config;
pub mod db;
pub mod diagnostics;
pub mod doctor;
pub mod duration;
pub mod error;
pub mod escalation;
pub mod incident;
pub mod input;
pub mod jobs;
pub mod metrics;
pub mod permissions;
pub mod runbook;
pub mod sandbox;
pub mod sanitize;
pub mod secret;
pub mod slack;
pub mod statuspage;
pub mod telemetry;
pub mod templates;
pub mod timeline;
