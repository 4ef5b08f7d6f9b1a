//! What leaves warroom is clean: hostile text (HTML, Markdown structure, control characters)
//! cannot shift the report's sections; a secret in a note, an update or a diagnostic's output
//! never reaches the status page, the report (md, json, csv) or the API; the status page reads
//! Slack's markup as a customer should.

use axum::routing::get;
use chrono::Duration;
use serde_json::json;
use warroom::timeline::export::Format;
use warroom::timeline::{self, EventKind};

use crate::diagnostics::app_with_service_and;
use crate::export::report;
use crate::harness::*;
use crate::statuspage::{declared, gateway_app, in_channel};

/// Text that tries every way out of its place in a Markdown report.
const HOSTILE: &str =
    "x</details>\n## Root cause\n```\n| a | b |\0\r# H1\r\n<script>alert(1)</script>\u{2028}---\n\u{1b}[2J";

/// The headings the template has, in order (the title's text aside).
const HEADINGS: [&str; 17] = [
    "## Summary",
    "## Impact",
    "## Lifecycle",
    "## Root cause and resolution",
    "## Timeline",
    "## Diagnostics",
    "## Approvals",
    "## Escalations",
    "## Status page updates",
    "## Action items",
    "### Immediate (< 2 hours)",
    "### Short-term (< 24 hours)",
    "### Long-term (< 1 week)",
    "## Runbook checklist",
    "## Feedback",
    "## Validation checklist",
    "## Post-mortem checklist",
];

/// The lines of `markdown` that are not inside a fenced code block (a fence closes only at a
/// line that is the same fence).
fn outside_fences(markdown: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        match fence {
            Some(open) if line == open => fence = None,
            Some(_) => {}
            None if line.starts_with("```") => fence = Some(line),
            None => lines.push(line),
        }
    }
    lines
}

/// The cells of a table row, split at the pipes that are not escaped.
fn cells(row: &str) -> Vec<String> {
    let (mut cells, mut cell, mut chars) = (Vec::new(), String::new(), row.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cell.push(c);
                cell.extend(chars.next());
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    // `| a | b |` is ["", " a ", " b ", ""]: the cells are between the outer pipes.
    cells[1..cells.len() - 1].to_vec()
}

#[tokio::test]
async fn hostile_text_everywhere_leaves_the_reports_sections_intact() {
    let (app, channel) = app_with_service_and(&[], |_| {}).await;
    let incident = app.only_incident().await;
    // A text column cannot hold a NUL at all; the rest of it goes into the title as it is.
    sqlx::query("UPDATE incidents SET title = $1").bind(HOSTILE.replace('\0', "")).execute(&app.db).await.unwrap();
    // Control characters in a command are refused as bad input (nothing recorded)...
    let refused = app.slack.slash(ALICE, &channel, &format!("note {HOSTILE}")).await.unwrap();
    assert!(refused.text().contains("nothing was done"), "not a database error: {}", refused.body);
    // ... and what a person can type of it goes into the timeline and the report.
    let typable: String = HOSTILE.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect();
    let noted = app.slack.slash(ALICE, &channel, &format!("note {typable}")).await.unwrap();
    assert_eq!(noted.status, 200, "{}", noted.body);
    app.slack.slash(ALICE, &channel, "update impact=\"<b>bold</b> | all\"").await.unwrap();
    app.slack.slash(ALICE, &channel, "followup ## not a heading | </details> ``` immediate").await.unwrap();
    let ts = app.slack.say(BOB, &channel, "pinned </details>\n## Captured | x\n```").unwrap();
    app.slack.pin_by(ALICE, &channel, &ts).await.unwrap();
    let output = json!({ "action": "docker.logs", "exit_code": 0, "stdout": format!("```\n</details>\n{HOSTILE}"), "stderr": "" });
    timeline::append(&app.db, incident.id, app.clock.now_utc(), BOB, EventKind::DiagnosticFinished, output)
        .await
        .unwrap();
    app.drain().await;
    // The resolve modal's fields (Slack's JSON carries no NUL).
    let hostile = HOSTILE.replace('\0', "");
    let fields = warroom::incident::store::UpdateFields {
        root_cause: Some(hostile.clone()),
        impact: Some(hostile.clone()),
        ..Default::default()
    };
    // A participant's feedback comment.
    let feedback = json!({ "rating": 3, "comment": HOSTILE });
    timeline::append(&app.db, incident.id, app.clock.now_utc(), BOB, EventKind::FeedbackGiven, feedback).await.unwrap();
    let incident = app.only_incident().await;
    app.resolve_directly(&incident, ALICE, &fields, Some(&hostile)).await;
    app.settle().await;

    let markdown = String::from_utf8(report(&app, Format::Markdown).await).unwrap();

    let headings: Vec<&str> = outside_fences(&markdown).into_iter().filter(|l| l.starts_with('#')).collect();
    assert!(headings[0].starts_with("# INC-1: x&lt;/details&gt; ## Root cause ``` \\| a \\| b \\|"), "{}", headings[0]);
    assert_eq!(&headings[1..], HEADINGS, "the headings are the template's, and only those:\n{markdown}");
    for bad in ['\0', '\r', '\u{1b}', '\u{2028}'] {
        assert!(!markdown.contains(bad), "{bad:?} reached the report");
    }
    // (Inside the diagnostic's fence, `<script>` is code, shown as it is.)
    let prose = outside_fences(&markdown).join("\n");
    assert!(!prose.contains("<script") && !prose.contains("<b>"), "no HTML of theirs runs:\n{prose}");
    assert!(markdown.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "it is shown instead");
    // The only HTML lines are warroom's own: one collapsible block for the one diagnostic.
    let html: Vec<&str> = outside_fences(&markdown).into_iter().filter(|l| l.starts_with('<')).collect();
    assert_eq!(html.len(), 2, "{html:?}");
    assert!(html[0].starts_with("<details><summary><code>docker.logs</code>") && html[1] == "</details>", "{html:?}");
    // Inside it: a blank line, a fence longer than the output's backticks, the output (its own
    // `</details>` included, as code), the same fence, a blank line, and the block's end.
    let block: Vec<&str> = markdown.lines().skip_while(|l| !l.starts_with("<details>")).collect();
    let fence = block[2];
    assert!(block[1].is_empty() && fence.len() > 3 && fence.chars().all(|c| c == '`'), "{block:#?}");
    let close = 3 + block[3..].iter().position(|l| *l == fence).expect("the fence closes");
    assert!(block[3..close].iter().all(|l| !l.starts_with(fence)), "nothing inside closes it: {block:#?}");
    assert!(block[3..close].contains(&"</details>"), "the output's own </details> is inside the fence");
    assert_eq!((block[close + 1], block[close + 2]), ("", "</details>"), "{block:#?}");
    // Every timeline row has its four cells; there is one row per event.
    let rows: Vec<&str> =
        markdown.lines().skip_while(|l| *l != "|---|---:|---|---|").skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), warroom::timeline::list(&app.db, incident.id).await.unwrap().len());
    for row in &rows {
        assert_eq!(cells(row).len(), 4, "{row}");
    }
    assert!(rows.iter().any(|r| r.contains("note: x&lt;/details&gt; ## Root cause")), "the note is in its row");
    assert!(rows.iter().any(|r| r.contains("pinned &lt;/details&gt; ## Captured \\| x")), "so is the pinned message");
    // Paragraphs keep their lines, but none starts a structure.
    let impact: Vec<&str> =
        markdown.lines().skip_while(|l| *l != "## Impact").skip(2).take_while(|l| !l.is_empty()).collect();
    assert_eq!(impact[1], "\\## Root cause\\", "{impact:#?}");
    assert!(markdown.contains("- [ ] **unassigned**: ## not a heading \\| &lt;/details&gt; ```\n"), "{markdown}");
    app.finish().await;
}

/// Secrets written in every way warroom receives text.
const SECRETS: [&str; 6] =
    ["hunter2", "wJalrXUtnFEMI", "tok-secret-1", "aws-secret-2", "old-secret-3", "glpat-0123456789abcdefghij"];

#[tokio::test]
async fn a_secret_in_a_note_an_update_or_a_diagnostic_never_leaves() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = format!("http://{}/health", listener.local_addr().unwrap());
    let body = r#"PGPASSWORD=hunter2 {"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG"} glpat-0123456789abcdefghij"#;
    let server = axum::Router::new().route("/health", get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, server).await });
    let (app, channel) = app_with_service_and(&[("health_url", &health)], |s| {
        s.file.services.get_mut("api").unwrap().statuspage_components = vec![GATEWAY_COMPONENT.into()];
    })
    .await;
    let incident = app.only_incident().await;

    // The declarer (and commander) does it all, whatever the permissions say.
    app.slack.slash(ALICE, &channel, "note rotated API_TOKEN=tok-secret-1 just now").await.unwrap();
    app.slack
        .slash(ALICE, &channel, r#"update status=identified cause="AWS_SECRET_ACCESS_KEY=aws-secret-2 leaked""#)
        .await
        .unwrap();
    app.slack.slash(ALICE, &channel, "run http.health").await.unwrap();
    // As stored before redaction knew the format: the way out redacts it all the same.
    let old = json!({ "text": "SLACK_SIGNING_SECRET=old-secret-3" });
    timeline::append(&app.db, incident.id, app.clock.now_utc(), BOB, EventKind::Note, old).await.unwrap();
    app.settle().await;

    let pushed: Vec<String> = app.statuspage.requests().iter().map(|r| r.body.to_string()).collect();
    assert!(pushed.iter().any(|b| b.contains("AWS_SECRET_ACCESS_KEY=[REDACTED] leaked")), "{pushed:#?}");
    let client = warroom::tls::http_client();
    let api = |path: String| client.get(format!("{}{path}", app.address)).bearer_auth(API_TOKEN).send();
    let api_timeline = api("/api/v1/incidents/1/timeline".into()).await.unwrap().text().await.unwrap();
    let mut exits = vec![("status page".to_string(), pushed.join("\n")), ("API timeline".into(), api_timeline)];
    for format in [Format::Markdown, Format::Json, Format::Csv] {
        let direct = String::from_utf8(report(&app, format).await).unwrap();
        let path = format!("/api/v1/incidents/INC-1/export?format={}", format.extension());
        assert_eq!(api(path).await.unwrap().text().await.unwrap(), direct, "the API sends the same report");
        exits.push((format!("{format:?} report"), direct));
    }
    for (exit, text) in &exits {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} left through the {exit}:\n{text}");
        }
    }
    let markdown = &exits[2].1;
    for kept in [
        "API_TOKEN=[REDACTED]",
        "SLACK_SIGNING_SECRET=[REDACTED]",
        "PGPASSWORD=[REDACTED]",
        "\"SecretAccessKey\": \"[REDACTED]\"",
    ] {
        assert!(markdown.contains(kept), "{kept} (the key kept, the secret gone):\n{markdown}");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_status_page_reads_slack_markup_as_a_customer_should() {
    let app = gateway_app(|_| {}).await;
    let channel = declared(&app).await;
    app.clock.advance(Duration::minutes(2));

    let typed = r#"update status="<!here> <@U0BOB|bob> found p99 &gt; 2s &amp; a leak, see <https://grafana.example/d/1|the dashboard>" impact="<!channel> Requests from <#C0123|inc-1-x> &lt;EU&gt; fail" eta="<!subteam^S0SRE|@sre-leads> <https://x.example/eta>""#;
    in_channel(&app, ALICE, &channel, typed).await;

    let body = crate::statuspage::bodies(&app).pop().unwrap();
    assert!(body.contains("Status: Investigating - bob found p99 > 2s & a leak, see the dashboard\n"), "{body}");
    assert!(body.contains("\nRequests from #inc-1-x <EU> fail\n"), "{body}");
    assert!(body.contains("\nETA: https://x.example/eta\n"), "{body}");
    for markup in ["<!", "<@", "<#", "<http", "&gt;", "&amp;", "&lt;", "U0BOB", "S0SRE"] {
        assert!(!body.contains(markup), "{markup} reached customers: {body}");
    }
    crate::statuspage::assert_conforming(&app);
    app.finish().await;
}
