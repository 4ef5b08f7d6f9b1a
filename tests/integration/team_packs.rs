//! The team's own packs: loaded from `[diagnostics] dirs`, run here with their typed, bounded
//! parameters, and through a remote runner that loads the same directory (and refuses when its
//! file renders the action differently); and seed 003's checks inside its containers, as its
//! runbook writes them. A `docker` shim records each call's exact argument vector.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use warroom::config::{PackDir, RunnerTokens, ServiceConfig, Settings};
use warroom::diagnostics::runner::Runner;
use warroom::diagnostics::Catalog;
use warroom::secret::Secret;

use crate::harness::*;
use crate::runners::{posts, TOKEN_1};

/// The dmarc team's own pack: seed 003's "Check DNS resolution" (`docker exec dmarc-backend
/// nslookup db`) and a restart of its worker, a change.
const DMARC_PACK: &str = r#"# The dmarc team's own actions.

[[action]]
id = "dmarc.dns"
title = "DNS resolution from the backend container"
kind = "read"
argv = ["docker", "exec", "{backend_container}", "nslookup", "{db_host}"]
forms = ["docker exec {backend_container} nslookup {db_host}"]
timeout = "10s"
params.backend_container = { pattern = "^[a-z0-9][a-z0-9_.-]{0,62}$", target = true }
params.db_host = { pattern = "^[a-z0-9][a-z0-9.-]{0,62}$", default = "db", target = true }

[[action]]
id = "dmarc.restart_workers"
title = "Restart the Celery worker and beat"
kind = "change"
argv = ["docker", "restart", "{worker_container}", "{beat_container}"]
params.worker_container = { pattern = "^[a-z0-9][a-z0-9_.-]{0,62}$", target = true }
params.beat_container = { pattern = "^[a-z0-9][a-z0-9_.-]{0,62}$", target = true }
"#;

/// A directory of shims, `docker` and `journalctl`, each appending its argv (words separated by
/// U+001F) as one line to `<program>-calls`.
fn argv_shims() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("warroom-argv-shims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for program in ["docker", "journalctl"] {
            // One write per call, so that concurrent calls never interleave within a line.
            let script = format!(
                "#!/bin/sh\nline=$(printf '%s\\037' \"$@\")\nprintf '%s\\n' \"$line\" >> {}\ncase \"$*\" in\n  \
                 *redis-cli*) echo PONG ;;\n  *inspect\\ ping*) echo '-> celery@worker: OK'; echo '        pong' ;;\n  \
                 *inspect\\ active*) echo '-> celery@worker: OK'; echo '    - empty -' ;;\n  \
                 *nslookup*) echo 'Name: db'; echo 'Address: 172.18.0.3' ;;\n  \
                 *-u\\ *) echo 'Nov 23 14:58:01 host systemd[1]: microdiff-matdesign.service: Main process exited, code=killed, status=9/KILL' ;;\n\
                 esac\n",
                dir.join(format!("{program}-calls")).display()
            );
            let path = dir.join(program);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    })
}

fn shims_path() -> String {
    format!("{}:{}", argv_shims().display(), std::env::var("PATH").unwrap_or_default())
}

/// Every recorded `docker` call that has the word `marker`, as its argument vector.
fn docker_calls_with(marker: &str) -> Vec<Vec<String>> {
    calls_with("docker", marker)
}

/// Every recorded call of `program` that has the word `marker`, as its argument vector.
fn calls_with(program: &str, marker: &str) -> Vec<Vec<String>> {
    let calls = std::fs::read_to_string(argv_shims().join(format!("{program}-calls"))).unwrap_or_default();
    calls
        .lines()
        .map(|line| line.trim_end_matches('\u{1f}').split('\u{1f}').map(String::from).collect::<Vec<_>>())
        .filter(|argv| argv.iter().any(|w| w == marker))
        .collect()
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|w| w.to_string()).collect()
}

/// A fresh directory holding pack `dmarc.toml` with `text`.
fn pack_dir(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-team-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dmarc.toml"), text).unwrap();
    dir
}

/// An app with the team's pack directory `dir`, service `dmarc-dashboard` as `service`, and
/// INC-1 declared for it by alice; bob (a responder) and carol (the approver) in its channel.
async fn app_with(dir: &Path, service: ServiceConfig, configure: impl FnOnce(&mut Settings)) -> (TestApp, String) {
    let dir = dir.to_path_buf();
    let app = spawn_app_with(move |s| {
        s.file.diagnostics.dirs = vec![PackDir { path: dir, file: "warroom.toml".into(), line: 2 }];
        s.file.services.insert("dmarc-dashboard".into(), service);
        s.diagnostics_path = Some(shims_path());
        s.file.approvals.approvers = vec![CAROL.into()];
        configure(s);
    })
    .await;
    app.slash(ALICE, "declare P0 dmarc-dashboard Reports are not processed").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    for person in [BOB, CAROL] {
        app.slack.join(person, &channel).await.unwrap();
    }
    app.drain().await;
    (app, channel)
}

fn dmarc_service(params: &[(&str, &str)]) -> ServiceConfig {
    ServiceConfig {
        packs: vec!["dmarc".into(), "celery".into(), "redis".into()],
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

async fn run(app: &TestApp, channel: &str, text: &str) -> String {
    let reply = app.slack.slash(BOB, channel, text).await.unwrap();
    app.drain().await;
    reply.text()
}

#[tokio::test]
async fn a_team_action_from_a_pack_directory_runs_here_with_its_typed_parameters() {
    let dir = pack_dir(DMARC_PACK);
    let (app, channel) = app_with(&dir, dmarc_service(&[("backend_container", "dmarc-backend-here")]), |_| {}).await;

    let listed = run(&app, &channel, "diagnostics").await;
    let ran = run(&app, &channel, "run dmarc.dns").await;
    let elsewhere = run(&app, &channel, "run dmarc.dns db_host=metadata.internal").await;
    let option = run(&app, &channel, "run dmarc.dns backend_container=--privileged").await;

    assert!(
        listed.contains("`/incident run dmarc.dns` — DNS resolution from the backend container (read)"),
        "{listed}"
    );
    assert!(ran.contains("Running `dmarc.dns`"), "{ran}");
    assert_eq!(
        docker_calls_with("dmarc-backend-here"),
        [words(&["exec", "dmarc-backend-here", "nslookup", "db"])],
        "ran once, as the pack writes it"
    );
    let post = posts(&app, &channel).into_iter().find(|p| p.contains("🔎 *dmarc.dns*")).unwrap();
    assert!(post.contains("Address: 172.18.0.3") && post.contains("exit 0"), "{post}");
    assert!(elsewhere.contains("`db_host` is a target of `dmarc.dns`"), "{elsewhere}");
    assert!(option.contains("`backend_container` is a target of `dmarc.dns`"), "{option}");
    assert_eq!(docker_calls_with("dmarc-backend-here").len(), 1, "the refused runs ran nothing");
    app.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_team_change_needs_an_approval_like_a_shipped_one() {
    let dir = pack_dir(DMARC_PACK);
    let params = [("worker_container", "dmarc-worker-chg"), ("beat_container", "dmarc-beat-chg")];
    let (app, channel) = app_with(&dir, dmarc_service(&params), |s| s.file.responders.users = vec![BOB.into()]).await;

    let asked = run(&app, &channel, "run dmarc.restart_workers reason=\"stuck tasks\"").await;

    assert!(asked.contains("`dmarc.restart_workers` is a change"), "{asked}");
    assert!(docker_calls_with("dmarc-worker-chg").is_empty(), "nothing runs before the approval");
    let request = app.slack.channel(&channel).unwrap().messages.pop().unwrap();
    assert!(request.blocks.to_string().contains("approval.approve"), "{}", request.blocks);
    app.slack.click(CAROL, &channel, &request.ts, "approval.approve").await.unwrap();
    app.drain().await;
    assert_eq!(docker_calls_with("dmarc-worker-chg"), [words(&["restart", "dmarc-worker-chg", "dmarc-beat-chg"])]);
    app.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// `dmarc-dashboard` on runner `edge-1`, the server loading `server_dir`.
async fn app_on_edge(server_dir: &Path, container: &str) -> (TestApp, String) {
    let mut service = dmarc_service(&[("backend_container", container)]);
    service.runner = Some("edge-1".into());
    app_with(server_dir, service, |s| {
        s.runner_tokens = RunnerTokens::parse(&format!("edge-1={TOKEN_1}")).unwrap();
    })
    .await
}

fn edge_runner(app: &TestApp, paths: &[PathBuf]) -> Runner {
    let catalog = Catalog::from_paths(paths).unwrap();
    Runner::new(&app.address, Secret::new(TOKEN_1), catalog).with_path(Some(shims_path()))
}

#[tokio::test]
async fn a_team_action_runs_through_a_remote_runner_that_loads_the_same_directory() {
    let dir = pack_dir(DMARC_PACK);
    let (app, channel) = app_on_edge(&dir, "dmarc-backend-remote").await;
    // The runner's catalog: the same team directory, and a shipped pack file beside it.
    let docker = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/diagnostics/docker.toml"));
    let runner = edge_runner(&app, &[dir.clone(), docker]);

    run(&app, &channel, "run dmarc.dns").await;
    assert!(docker_calls_with("dmarc-backend-remote").is_empty(), "the server itself runs nothing");
    assert!(runner.step(0).await.unwrap(), "the runner got the task");
    app.drain().await;

    assert_eq!(docker_calls_with("dmarc-backend-remote"), [words(&["exec", "dmarc-backend-remote", "nslookup", "db"])]);
    let post = posts(&app, &channel).into_iter().find(|p| p.contains("🔎 *dmarc.dns*")).unwrap();
    assert!(post.contains("Address: 172.18.0.3"), "{post}");
    assert!(!runner.step(0).await.unwrap(), "nothing left");
    app.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_runner_whose_team_pack_renders_differently_refuses_and_says_so_in_the_channel() {
    let server_dir = pack_dir(DMARC_PACK);
    // The host's copy was edited: its "DNS check" asks another server.
    let edited = DMARC_PACK.replace(r#""nslookup", "{db_host}""#, r#""nslookup", "{db_host}", "8.8.8.8""#);
    let runner_dir = pack_dir(&edited);
    let (app, channel) = app_on_edge(&server_dir, "dmarc-backend-edited").await;
    let runner = edge_runner(&app, std::slice::from_ref(&runner_dir));

    run(&app, &channel, "run dmarc.dns").await;
    runner.step(0).await.unwrap();
    app.drain().await;

    let post = posts(&app, &channel).pop().unwrap();
    assert!(post.contains("Runner `edge-1` refused `dmarc.dns`: catalog mismatch"), "{post}");
    assert!(post.contains("`docker exec dmarc-backend-edited nslookup db 8.8.8.8`") && post.contains("nothing ran"));
    assert!(docker_calls_with("dmarc-backend-edited").is_empty(), "nothing ran");
    let kinds = app.timeline(&app.only_incident().await).await;
    assert!(kinds.contains(&"diagnostic_refused".to_string()) && !kinds.contains(&"diagnostic_finished".to_string()));
    app.finish().await;
    std::fs::remove_dir_all(server_dir).unwrap();
    std::fs::remove_dir_all(runner_dir).unwrap();
}

#[tokio::test]
async fn seed_003s_checks_run_inside_its_containers_as_the_runbook_writes_them() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("warroom.example.toml");
    let config = warroom::config::load_file(&example).unwrap();
    let mut service = config.services["dmarc-dashboard"].clone();
    // This test's status page knows none of the example's components.
    service.statuspage_components.clear();
    let no_team = std::env::temp_dir().join(format!("warroom-empty-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&no_team).unwrap();
    let (app, channel) = app_with(&no_team, service, |_| {}).await;

    // Seed 003, "Scenario 5: Celery Worker Not Processing" and "Step 4: Check Dependencies".
    for id in ["celery.docker_ping", "celery.docker_active", "redis.docker_ping"] {
        let reply = run(&app, &channel, &format!("run {id}")).await;
        assert!(reply.contains(&format!("Running `{id}`")), "{reply}");
    }

    // docker exec dmarc-celery-worker celery -A celery_worker inspect ping / inspect active
    assert_eq!(
        docker_calls_with("dmarc-celery-worker"),
        [
            words(&["exec", "dmarc-celery-worker", "celery", "-A", "celery_worker", "inspect", "ping"]),
            words(&["exec", "dmarc-celery-worker", "celery", "-A", "celery_worker", "inspect", "active"]),
        ]
    );
    // docker exec dmarc-redis redis-cli ping
    assert_eq!(docker_calls_with("dmarc-redis"), [words(&["exec", "dmarc-redis", "redis-cli", "ping"])]);
    let posted = posts(&app, &channel).join("\n");
    assert!(posted.contains("`docker exec dmarc-celery-worker celery -A celery_worker inspect ping`"), "{posted}");
    assert!(posted.contains("pong") && posted.contains("PONG"), "{posted}");
    app.finish().await;
    std::fs::remove_dir_all(no_team).unwrap();
}

#[tokio::test]
async fn seed_000s_journal_reads_as_the_runbook_writes_it_and_a_priority_only_when_asked() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("warroom.example.toml");
    let mut service = warroom::config::load_file(&example).unwrap().services["microdiff-matdesign"].clone();
    service.statuspage_components.clear();
    let app = spawn_app_with(|s| {
        s.file.services.insert("microdiff-matdesign".into(), service);
        s.diagnostics_path = Some(shims_path());
    })
    .await;
    app.slash(ALICE, "declare P0 microdiff-matdesign API down").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;

    // Seed 000: journalctl -u microdiff-matdesign --since "1 hour ago"
    run(&app, &channel, "run systemd.journal").await;
    run(&app, &channel, "run systemd.journal_priority priority=warning").await;

    assert_eq!(
        calls_with("journalctl", "microdiff-matdesign"),
        [
            words(&["-u", "microdiff-matdesign", "--since", "1 hour ago", "--no-pager", "--lines", "200"]),
            words(&[
                "-u",
                "microdiff-matdesign",
                "--since",
                "1 hour ago",
                "--no-pager",
                "--priority",
                "warning",
                "--lines",
                "200",
            ]),
        ]
    );
    let posted = posts(&app, &channel).join("\n");
    assert!(posted.contains("code=killed, status=9/KILL"), "the kill line is shown: {posted}");
    app.finish().await;
}
