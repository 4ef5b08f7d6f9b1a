//! The five seed runbooks as warroom reads them: each service of warroom.example.toml points at
//! its runbook; the checklist of each (its sections, steps and buttons) against a committed
//! rendering (UPDATE_EXPECTED=1 rewrites them); `warroom runbook check` on each, run as a
//! process; and `check-config` on a runbook that is missing or broken.

use std::path::{Path, PathBuf};
use std::process::Command;

use warroom::config::FileConfig;
use warroom::diagnostics::Catalog;
use warroom::runbook::{self, StepAction, StepKind};

const SERVICES: [&str; 5] =
    ["microdiff-matdesign", "web3-marketplace-backend", "inference-gateway", "dmarc-dashboard", "pynomaly"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> FileConfig {
    let path = root().join("warroom.example.toml");
    FileConfig::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn warroom(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .current_dir(root())
        .env_clear()
        .env("WARROOM_CONFIG", config)
        .output()
        .unwrap()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-runbook-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn each_example_service_points_at_its_seed_runbook() {
    let config = example();
    for service in SERVICES {
        let path = config.services[service].runbook.clone().expect("a runbook");
        assert_eq!(path, root().join(format!("runbooks/{service}.md")), "relative to the config file's directory");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("ðŸ") && !text.contains("âœ"), "{service}: the seeds' double-encoded emoji are fixed");
    }
}

#[test]
fn each_seed_checklist_matches_its_committed_rendering() {
    let (config, catalog) = (example(), Catalog::built_in().unwrap());
    let mut stale = Vec::new();
    for service in SERVICES {
        let settings = &config.services[service];
        let text = std::fs::read_to_string(settings.runbook.as_ref().unwrap()).unwrap();
        let parsed = runbook::parse(&text);
        let rendering = runbook::outline(&parsed, &parsed.map(&catalog, settings), &catalog);
        let expected_path = root().join(format!("tests/expected/runbooks/{service}.txt"));
        if std::env::var_os("UPDATE_EXPECTED").is_some() {
            std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
            std::fs::write(&expected_path, &rendering).unwrap();
        }
        let expected =
            std::fs::read_to_string(&expected_path).expect("the expected rendering (UPDATE_EXPECTED=1 writes it)");
        if rendering != expected {
            stale.push(format!("{service}:\n{}", first_difference(&expected, &rendering)));
        }
    }
    assert!(stale.is_empty(), "renderings differ (UPDATE_EXPECTED=1 rewrites them):\n{}", stale.join("\n"));
}

fn first_difference(expected: &str, actual: &str) -> String {
    let line = expected.lines().zip(actual.lines()).position(|(e, a)| e != a);
    let line = line.unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    format!(
        "  line {}: expected {:?}\n  line {}:   actual {:?}",
        line + 1,
        expected.lines().nth(line).unwrap_or("(end)"),
        line + 1,
        actual.lines().nth(line).unwrap_or("(end)")
    )
}

#[test]
fn the_seeds_name_the_steps_an_on_call_engineer_expects() {
    let (config, catalog) = (example(), Catalog::built_in().unwrap());
    let mapped = |service: &str, command: &str| {
        let parsed =
            runbook::parse(&std::fs::read_to_string(config.services[service].runbook.as_ref().unwrap()).unwrap());
        let mappings = parsed.map(&catalog, &config.services[service]);
        let at = parsed
            .steps()
            .position(|(_, s)| s.command == command)
            .unwrap_or_else(|| panic!("{service}: no step `{command}`"));
        mappings[at].clone()
    };
    let id = |action: StepAction| match action {
        StepAction::Action { id, .. } => id,
        StepAction::Manual { why, .. } => format!("manual: {why}"),
    };
    assert_eq!(id(mapped("microdiff-matdesign", "systemctl status microdiff-matdesign")), "systemd.status");
    assert_eq!(id(mapped("microdiff-matdesign", "systemctl restart microdiff-matdesign")), "systemd.restart");
    assert_eq!(id(mapped("microdiff-matdesign", "pg_isready -h localhost -p 5432")), "postgres.ready");
    assert_eq!(id(mapped("web3-marketplace-backend", "kubectl top pods -n web3-marketplace-prod")), "kubernetes.top");
    let scale = "kubectl scale deployment/<deployment-name> --replicas=<desired-count> -n web3-marketplace-prod";
    assert!(matches!(mapped("web3-marketplace-backend", scale), StepAction::Action { ask, .. } if ask == ["replicas"]));
    assert_eq!(
        id(mapped("inference-gateway", "docker inspect inference-gateway --format='{{.State.ExitCode}}'")),
        "docker.exit_code"
    );
    assert_eq!(id(mapped("dmarc-dashboard", "docker-compose restart backend")), "compose.restart");
    assert_eq!(id(mapped("pynomaly", "sudo systemctl restart pynomaly")), "systemd.restart");
    // A destructive command is a button only where a pack says so explicitly, as a change that
    // two people approve (redis.docker_flushall); the checks below are in the same container.
    let flush = id(mapped("dmarc-dashboard", "docker exec dmarc-redis redis-cli FLUSHALL"));
    assert_eq!(flush, "redis.docker_flushall");
    let ping = id(mapped("dmarc-dashboard", "docker exec dmarc-redis redis-cli ping"));
    assert_eq!(ping, "redis.docker_ping");
    let celery = id(mapped("dmarc-dashboard", "docker exec dmarc-celery-worker celery -A celery_worker inspect ping"));
    assert_eq!(celery, "celery.docker_ping");

    // Seed 003's multi-line python check is one step, and its post-incident list is tasks.
    let parsed = runbook::parse(&std::fs::read_to_string(root().join("runbooks/dmarc-dashboard.md")).unwrap());
    let python = parsed.steps().find(|(_, s)| s.command.starts_with("docker exec dmarc-backend python -c")).unwrap().1;
    assert_eq!((python.line, python.command.lines().count()), (63, 4));
    let post: Vec<&str> = parsed
        .steps()
        .filter(|(section, step)| section.heading == "Post-Incident" && step.kind == StepKind::Task)
        .map(|(_, s)| s.command.as_str())
        .collect();
    assert_eq!(post.len(), 4, "{post:?}");
}

#[test]
fn runbook_check_prints_every_command_of_each_seed_with_its_action_or_why() {
    let (config, catalog) = (example(), Catalog::built_in().unwrap());
    let example_path = root().join("warroom.example.toml");
    for service in SERVICES {
        let file = format!("runbooks/{service}.md");

        let output = warroom(&["runbook", "check", &file, "--service", service], &example_path);

        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{service}: {}", String::from_utf8_lossy(&output.stderr));
        let parsed = runbook::parse(&std::fs::read_to_string(root().join(&file)).unwrap());
        let mappings = parsed.map(&catalog, &config.services[service]);
        let commands: Vec<_> =
            parsed.steps().zip(&mappings).filter(|((_, s), _)| s.kind == StepKind::Command).collect();
        assert!(commands.len() > 20, "{service}: {} commands", commands.len());
        for ((_, step), mapping) in &commands {
            let first = step.command.lines().next().unwrap();
            assert!(
                stdout.contains(&format!("  line {}: {first}\n", step.line)),
                "{service}: line {} missing",
                step.line
            );
            if let StepAction::Action { id, .. } = mapping {
                assert!(stdout.contains(&format!("    -> {id}")), "{service}: {id}");
            }
        }
        let manual = commands.iter().filter(|(_, m)| matches!(m, StepAction::Manual { .. })).count();
        assert_eq!(stdout.matches("\n    manual").count(), manual, "{service}: one `manual` line per manual command");
        let entries = stdout.matches("    pack entry:\n").count() + stdout.matches("    no pack entry: ").count();
        let repeated = stdout.matches("    pack entry: as for line").count();
        assert_eq!(entries + repeated, manual, "{service}: a pack entry (or why none) for each manual command");
        assert!(stdout.contains(&format!("{} commands: ", commands.len())), "{service}: the summary");
    }
}

#[test]
fn runbook_check_shows_the_action_with_its_params_and_a_pack_entry_for_a_manual_step() {
    let example_path = root().join("warroom.example.toml");

    let output = warroom(
        &["runbook", "check", "runbooks/microdiff-matdesign.md", "--service", "microdiff-matdesign"],
        &example_path,
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "  line 22: systemctl status microdiff-matdesign\n    -> systemd.status (unit=microdiff-matdesign): Run\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("    -> systemd.restart (unit=microdiff-matdesign): Request: runs after an approval\n"));
    assert!(stdout.contains("    folded in: `sleep 30` before it (a wait, not a step of its own)\n"));
    assert!(stdout.contains("  line 81: redis-cli ping\n    -> redis.ping"), "{stdout}");
    assert!(stdout.contains(
        "  line 141: journalctl --vacuum-time=7d\n    manual (nearest: systemd.journal): `--vacuum-time` is no action: destructive commands are never mapped implicitly\n"
    ), "{stdout}");
    assert!(stdout.contains("      argv = [\"git\", \"log\", \"--oneline\", \"-10\"]\n"), "{stdout}");
    assert!(stdout.contains("      forms = [\"git log --oneline -10\"]\n"));
}

#[test]
fn runbook_check_refuses_an_unknown_service_and_an_unreadable_file_and_changes_nothing() {
    let example_path = root().join("warroom.example.toml");
    let dir = temp_dir();

    let unknown = warroom(&["runbook", "check", "runbooks/pynomaly.md", "--service", "ghost"], &example_path);
    let missing =
        warroom(&["runbook", "check", dir.join("none.md").to_str().unwrap(), "--service", "pynomaly"], &example_path);

    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("`ghost` is not a service of") && stderr.contains("pynomaly, web3-marketplace-backend"),
        "{stderr}"
    );
    assert!(unknown.stdout.is_empty());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("none.md"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_config_reports_a_missing_or_broken_runbook_with_file_and_line() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("broken.md"),
        "# Down\n## Immediate Actions (0-5 minutes)\n```bash\nsystemctl status api\n",
    )
    .unwrap();
    std::fs::write(dir.join("prose.md"), "# Down\n\nJust call someone.\n").unwrap();
    let config = dir.join("warroom.toml");
    std::fs::write(
        &config,
        "[services.api]\npacks = [\"systemd\"]\nparams = { unit = \"api\" }\nrunbook = \"broken.md\"\n\n\
         [services.web]\npacks = [\"http\"]\nrunbook = \"runbooks/web.md\"\n\n[services.doc]\nrunbook = \"prose.md\"\n",
    )
    .unwrap();

    let output = warroom(&["check-config"], &config);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let broken = dir.join("broken.md");
    assert!(
        stderr.contains(&format!("{}:3: the code block opened here (```bash) is never closed", broken.display())),
        "{stderr}"
    );
    let web = format!(
        "{}:8: [services.web] runbook `{}` cannot be read",
        config.display(),
        dir.join("runbooks/web.md").display()
    );
    assert!(stderr.contains(&web), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:11: [services.doc] runbook `{}` has no steps",
            config.display(),
            dir.join("prose.md").display()
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
