//! The parser on each of the five seed runbooks (`runbooks/`): their sections in order, the
//! time windows their headings give, how many commands and tasks, and the cases each seed is
//! the example of (multi-line commands, folded plumbing, commented-out YAML, SQL typed into a
//! session, `####` sections).

use std::time::Duration;

use super::{parse, Runbook, StepKind};

fn seed(name: &str) -> Runbook {
    let text = match name {
        "000" => include_str!("../../runbooks/microdiff-matdesign.md"),
        "001" => include_str!("../../runbooks/web3-marketplace-backend.md"),
        "002" => include_str!("../../runbooks/inference-gateway.md"),
        "003" => include_str!("../../runbooks/dmarc-dashboard.md"),
        _ => include_str!("../../runbooks/pynomaly.md"),
    };
    let runbook = parse(text);
    assert_eq!(runbook.problems, [], "seed {name} reads without problems");
    runbook
}

fn top_sections(runbook: &Runbook) -> Vec<&str> {
    runbook.sections.iter().filter(|s| s.level == 2).map(|s| s.heading.as_str()).collect()
}

fn count(runbook: &Runbook, kind: StepKind) -> usize {
    runbook.steps().filter(|(_, s)| s.kind == kind).count()
}

fn window(runbook: &Runbook, heading: &str) -> (Option<u64>, Option<u64>) {
    let section = runbook.sections.iter().find(|s| s.heading == heading).unwrap_or_else(|| panic!("no {heading}"));
    let minutes = |d: Option<Duration>| d.map(|d| d.as_secs() / 60);
    (minutes(section.window_start), minutes(section.window_end))
}

fn step<'a>(runbook: &'a Runbook, command: &str) -> &'a super::Step {
    runbook.steps().map(|(_, s)| s).find(|s| s.command.starts_with(command)).unwrap_or_else(|| panic!("no {command}"))
}

#[test]
fn seed_000_systemd_service() {
    let runbook = seed("000");
    assert_eq!(runbook.title, "Service Down Runbook");
    assert_eq!(
        top_sections(&runbook),
        [
            "Symptoms",
            "Immediate Actions (0-5 minutes)",
            "Investigation (5-15 minutes)",
            "Common Causes and Solutions",
            "Escalation (15+ minutes)",
            "Advanced Diagnostics",
            "Recovery Verification",
            "Post-Incident Actions",
            "Prevention Strategies",
            "Related Runbooks"
        ]
    );
    assert_eq!(window(&runbook, "1. Verify the Alert"), (Some(0), Some(5)), "inherited from its ##");
    assert_eq!(window(&runbook, "Investigation (5-15 minutes)"), (Some(5), Some(15)));
    assert_eq!(window(&runbook, "Escalation (15+ minutes)"), (Some(15), None), "open-ended: no reminder");
    assert_eq!((count(&runbook, StepKind::Command), count(&runbook, StepKind::Task)), (54, 9));
    let curl = step(&runbook, "curl -f http://localhost:8080/health");
    assert_eq!(curl.detail, ["then: echo $?  # Should return 0 if healthy, non-zero if down"], "echo $? folded");
    let status = runbook.steps().map(|(_, s)| s).find(|s| s.line == 41).unwrap();
    assert_eq!(
        (status.before.as_slice(), status.note.as_deref()),
        (&["sleep 30".to_string()][..], Some("Wait 30 seconds and check status"))
    );
    assert_eq!(step(&runbook, "curl -X POST").command.lines().count(), 3, "trailing backslashes");
    let monitor = step(&runbook, "Monitor for 10 Minutes");
    assert_eq!(monitor.detail.len(), 3, "a numbered section without commands is a task with its bullets");
    assert!(runbook.steps().all(|(s, _)| s.heading != "Prevention Strategies"), "prevention is reference");
}

#[test]
fn seed_001_kubernetes_deployment() {
    let runbook = seed("001");
    assert_eq!(window(&runbook, "3. Immediate Recovery Attempts"), (Some(0), Some(5)));
    assert_eq!(window(&runbook, "6. External Dependencies"), (Some(5), Some(15)));
    assert_eq!(window(&runbook, "Level 2: Senior Engineer (15-30 minutes)"), (Some(15), Some(30)));
    assert_eq!((count(&runbook, StepKind::Command), count(&runbook, StepKind::Task)), (40, 2));
    let exec = step(&runbook, "kubectl exec -it -n web3-marketplace-prod deployment/backend-deployment -- \\\n  psql");
    assert_eq!(exec.line, 66);
    let statuspage = step(&runbook, "curl -X POST \"https://api.statuspage.io");
    assert_eq!(statuspage.command.lines().count(), 5);
    let dashboards = step(&runbook, "Check monitoring dashboards");
    assert_eq!(dashboards.kind, StepKind::Task, "a comment-only group is a task");
    assert_eq!(
        dashboards.detail,
        ["- Grafana: https://grafana.web3marketplace.com", "- Prometheus: https://monitoring.web3marketplace.com"]
    );
}

#[test]
fn seed_002_docker_inference_gateway() {
    let runbook = seed("002");
    assert_eq!(window(&runbook, "Triage (First 2 Minutes)"), (Some(0), Some(2)));
    assert_eq!(window(&runbook, "Investigation (Next 5 Minutes)"), (Some(2), Some(7)), "the 5 minutes after triage");
    assert_eq!(window(&runbook, "Initial Notification (within 2 minutes)"), (Some(0), Some(2)));
    assert_eq!(window(&runbook, "Status Updates (every 5 minutes)"), (None, None));
    assert_eq!((count(&runbook, StepKind::Command), count(&runbook, StepKind::Task)), (46, 31));
    let acknowledge = step(&runbook, "PagerDuty: Click");
    assert_eq!(acknowledge.detail, ["Slack: Post in #incidents IMMEDIATELY"]);
    let health = step(&runbook, "curl -I http://localhost:8000/health");
    assert_eq!(health.detail, ["# Expected: Connection refused or timeout"], "a comment right below describes it");
    let fallback = step(&runbook, "kubectl rollout history");
    assert_eq!(fallback.command.lines().count(), 2, "`|| \\` continues the line");
    let yaml = step(&runbook, "Edit docker-compose.yml");
    assert_eq!(yaml.detail[..2], ["Increase memory limit:", "deploy:"]);
    assert_eq!(yaml.detail.last().map(String::as_str), Some("      memory: 4G  # Was 2G"), "YAML indentation kept");
    assert!(runbook.steps().all(|(_, s)| !s.command.contains("MAJOR INCIDENT")), "message templates are no steps");
    assert!(runbook.steps().all(|(s, _)| s.heading != "Escalation Path"), "the escalation path is warroom's own");
    assert_eq!(runbook.steps().filter(|(s, _)| s.heading == "Validation Checklist").count(), 11, "checkboxes");
}

#[test]
fn seed_003_compose_stack() {
    let runbook = seed("003");
    assert!(runbook.sections.iter().all(|s| s.window_end.is_none()), "no heading gives a time");
    assert_eq!((count(&runbook, StepKind::Command), count(&runbook, StepKind::Task)), (29, 6));
    let python = step(&runbook, "docker exec dmarc-backend python -c \"");
    assert_eq!(python.command.lines().count(), 4, "a quote spanning lines is one command");
    let ps = step(&runbook, "docker-compose ps");
    assert_eq!(ps.detail.len(), 2, "the expectation after a blank line still describes it");
    let limits = step(&runbook, "Increase memory limit in docker-compose.yml");
    assert_eq!(limits.detail, ["deploy:", "  resources:", "    limits:", "      memory: 2G"]);
    let post: Vec<&str> =
        runbook.steps().filter(|(s, _)| s.heading == "Post-Incident").map(|(_, s)| s.command.as_str()).collect();
    assert_eq!(post[0], "Document the incident in your incident management system");
}

#[test]
fn seed_004_aws_app() {
    let runbook = seed("004");
    assert_eq!(window(&runbook, "🚀 Immediate Response (0-5 minutes)"), (Some(0), Some(5)));
    assert_eq!(window(&runbook, "Check Process Status"), (Some(5), Some(15)), "a #### inherits through its ###");
    assert_eq!(runbook.sections.iter().find(|s| s.heading == "Check Process Status").map(|s| s.level), Some(4));
    assert_eq!((count(&runbook, StepKind::Command), count(&runbook, StepKind::Task)), (68, 8));
    let each = step(&runbook, "for i in {1..10}; do");
    assert_eq!(each.command.lines().count(), 3, "a loop is one step");
    let edit = step(&runbook, "sudo systemctl edit pynomaly");
    assert_eq!(edit.detail, ["# Add:", "# [Service]", "# MemoryLimit=4G", "# CPUQuota=200%"]);
    assert_eq!(step(&runbook, "SELECT * FROM pg_locks").note.as_deref(), Some("Check database locks"));
}

#[test]
fn no_runbook_text_makes_the_reader_panic() {
    let catalog = crate::diagnostics::Catalog::built_in().unwrap();
    let service = crate::config::ServiceConfig {
        packs: vec!["http".into(), "docker".into(), "kubernetes".into(), "systemd".into()],
        params: [("container".to_string(), "c".to_string()), ("unit".to_string(), "u".to_string())].into(),
        ..Default::default()
    };
    let nasty = [
        "",
        "|",
        "||",
        "&&",
        ";",
        "2>",
        "<<",
        "<<EOF",
        "$(",
        "`",
        "'",
        "\"",
        "\\",
        "{",
        "}",
        "{1..",
        "<a>",
        "<",
        ">",
        "1é text",
        "1. ",
        "- [ ]",
        "#",
        "##",
        "```",
        "~~~bash",
        "sudo",
        "sudo -u x",
        "docker exec",
        "kubectl exec --",
        "é",
        "🚨 | 🔄",
        "X=1",
        "for",
        "done",
        "\u{0}",
        "echo $?",
        "sleep 30",
        "SELECT",
        "--opt=",
        "-",
        "{}",
        "{x}",
    ];
    let mut texts: Vec<String> = nasty.iter().map(|s| s.to_string()).collect();
    for seed in ["000", "001", "002", "003", "004"] {
        let text = match seed {
            "000" => include_str!("../../runbooks/microdiff-matdesign.md"),
            "001" => include_str!("../../runbooks/web3-marketplace-backend.md"),
            "002" => include_str!("../../runbooks/inference-gateway.md"),
            "003" => include_str!("../../runbooks/dmarc-dashboard.md"),
            _ => include_str!("../../runbooks/pynomaly.md"),
        };
        texts.extend(text.lines().map(str::to_string));
        // Cut anywhere: an unclosed block, quote or heredoc at the end of the file.
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(499).collect();
        for cut in cuts {
            let runbook = parse(&text[..cut]);
            let mappings = runbook.map(&catalog, &service);
            let _ = super::outline(&runbook, &mappings, &catalog);
        }
    }
    let mut taken = std::collections::BTreeSet::new();
    for text in &texts {
        let runbook = parse(text);
        let _ = super::report("x.md", &runbook, &catalog, "svc", &service);
        let _ = super::map_step(&catalog, &service, text);
        let _ = super::suggest(&catalog, "svc", &service, text, None, &mut taken);
    }
}
