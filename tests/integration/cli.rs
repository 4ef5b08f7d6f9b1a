//! The binary's own commands.

use std::process::Command;

fn check_config(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("check-config")
        .env_clear()
        .env("WARROOM_CONFIG", path)
        .output()
        .unwrap()
}

#[test]
fn check_config_accepts_the_example_file() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("warroom.example.toml");

    let output = check_config(&example);

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("configuration OK"));
}

#[test]
fn check_config_reports_every_problem_with_file_and_line_and_fails() {
    let dir = std::env::temp_dir().join(format!("warroom-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    let text = "[slack]\nwar_room_url = \"zoom\"\n\n[severity.P0]\nstatus_update_every = \"soon\"\n\n\
                [permissions]\nresolve = [\"commander\", \"everybody\"]\nresolve_all = [\"anyone\"]\n";
    std::fs::write(&file, text).unwrap();

    let output = check_config(&file);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains(&format!("{}:2: slack.war_room_url must be an http(s) URL", file.display())), "{stderr}");
    assert!(stderr.contains(&format!("{}:5: `soon` is not a duration", file.display())), "{stderr}");
    assert!(stderr.contains(&format!("{}:8: [permissions] resolve: `everybody` is not a principal", file.display())));
    assert!(stderr.contains(&format!("{}:9: [permissions]: no permission `resolve_all`", file.display())), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_config_rejects_a_bad_allow_pattern_and_an_allow_of_no_target_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("warroom-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (bad, stray) = (dir.join("bad.toml"), dir.join("stray.toml"));
    std::fs::write(&bad, "[services.api]\npacks = [\"kubernetes\"]\nallow = { deployment = \"backend-[\" }\n").unwrap();
    std::fs::write(&stray, "[services.api]\npacks = [\"kubernetes\"]\n\n[services.api.allow]\nreplicas = \"[0-9]+\"\n")
        .unwrap();

    let (bad_out, stray_out) = (check_config(&bad), check_config(&stray));

    let bad_err = String::from_utf8_lossy(&bad_out.stderr);
    assert_eq!(bad_out.status.code(), Some(1));
    assert!(
        bad_err.contains(&format!("{}:3: [services.api] allow.deployment: not a pattern", bad.display())),
        "{bad_err}"
    );
    let stray_err = String::from_utf8_lossy(&stray_out.stderr);
    assert_eq!(stray_out.status.code(), Some(1));
    let expected = format!(
        "{}:5: [services.api] allow.replicas: no action of its packs has a target parameter `replicas`",
        stray.display()
    );
    assert!(stray_err.contains(&expected), "{stray_err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_config_rejects_bad_oncall_forms_with_file_and_line() {
    let text = "[services.api]\nowner = \"@a\"\n\n[services.web]\noncall = { pagerduty_schedule = \"abc\" }\n\n\
                [[escalation.P0]]\nafter = \"15m\"\nnotify = [\"oncall\", \"oncall:nope\"]\n";
    let dir = config_dir(text, &[]);

    let output = check_config(&dir.join("warroom.toml"));

    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = dir.join("warroom.toml");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4: [services.web] oncall: `abc` is not a PagerDuty id", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:9: [[escalation.P0]] notify `oncall`: [services.api] has no `oncall`",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:9: [[escalation.P0]] notify: `nope` is not a PagerDuty schedule id",
            file.display()
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A directory with `warroom.toml` (`config`) and the files `packs` (path, text) beside it.
fn config_dir(config: &str, packs: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("packs")).unwrap();
    std::fs::write(dir.join("warroom.toml"), config).unwrap();
    for (path, text) in packs {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

const TEAM_CONFIG: &str = "[diagnostics]\ndirs = [\"./packs\"]\n\n[services.dmarc]\npacks = [\"dmarc\", \"celery\"]\n";

#[test]
fn check_config_accepts_a_team_pack_that_a_service_uses() {
    let pack = "[[action]]\nid = \"dmarc.dns\"\ntitle = \"DNS\"\nkind = \"read\"\n\
                argv = [\"docker\", \"exec\", \"{c}\", \"nslookup\", \"db\"]\n\
                params.c = { pattern = \"^[a-z0-9][a-z0-9-]{0,62}$\", target = true }\n";
    let dir = config_dir(TEAM_CONFIG, &[("packs/dmarc.toml", pack)]);

    let output = check_config(&dir.join("warroom.toml"));

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_config_reports_every_team_pack_problem_with_file_and_line_and_fails() {
    let config =
        "[diagnostics]\ndirs = [\"./packs\", \"./absent\"]\n\n[services.dmarc]\npacks = [\"dmarc\", \"ghost\"]\n";
    let dmarc = r#"[[action]]
id = "docker.ps"
title = "a shipped id"
kind = "read"
argv = ["docker", "ps"]

[[action]]
id = "dmarc.worker"
title = "everything else"
kind = "read"
argv = ["bash", "-c", "celery -A {app} inspect {what}"]
forms = ["celery -A {app} inspect {verb}"]
params.app = { pattern = "[a-z_]+", target = true }
params.what = { pattern = "^[a-z-]+$", target = false }
params.queue = { target = false }
params.tail = { pattern = "^[0-9]*$", target = false }
"#;
    let sudo = "[[action]]\nid = \"ops.restart\"\ntitle = \"x\"\nkind = \"change\"\n\
                argv = [\"sudo\", \"/usr/bin/env\", \"sh\", \"restart.sh\"]\n";
    let dir = config_dir(
        config,
        &[
            ("packs/dmarc.toml", dmarc),
            ("packs/ops.toml", sudo),
            ("packs/docker.toml", "[[action]]\nid = \"x.y\"\ntitle = \"x\"\nkind = \"read\"\nargv = [\"true\"]\n"),
            (
                "packs/typo.toml",
                "[[action]]\nid = \"typo.x\"\ntitle = \"x\"\nkind = \"read\"\nargv = [\"true\"]\ntimout = \"5s\"\n",
            ),
        ],
    );
    let file = dir.join("warroom.toml");

    let output = check_config(&file);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let (config, packs) = (file.display().to_string(), format!("{}/./packs", dir.display()));
    for expected in [
        format!("{config}:2: [diagnostics] dirs: cannot read the pack directory `{}/./absent`", dir.display()),
        format!("{packs}/dmarc.toml:2: `docker.ps` is a shipped action (diagnostics/docker.toml:4)"),
        format!("{packs}/dmarc.toml:13: `dmarc.worker`: parameter `app`: pattern `[a-z_]+` is not anchored"),
        format!("{packs}/dmarc.toml:15: `dmarc.worker`: parameter `queue` has no `pattern`"),
        format!("{packs}/dmarc.toml:16: `dmarc.worker`: parameter `tail`: pattern `^[0-9]*$` accepts the empty string"),
        format!("{packs}/dmarc.toml:14: `dmarc.worker`: parameter `what`: pattern `^[a-z-]+$` accepts values starting with `-`"),
        format!("{packs}/dmarc.toml:12: `dmarc.worker`: `{{verb}}` is not a declared parameter"),
        format!("{packs}/dmarc.toml:11: `dmarc.worker`: `bash` is a shell"),
        format!("{packs}/ops.toml:5: `ops.restart`: `sh` is a shell"),
        format!("{packs}/docker.toml:1: pack `docker` has the name of a shipped pack"),
        format!("{packs}/typo.toml:6: unknown field `timout`"),
        "[services.dmarc]: no diagnostics pack `ghost`".to_string(),
    ] {
        assert!(stderr.contains(&expected), "missing `{expected}` in:\n{stderr}");
    }
    assert!(!stderr.contains("no diagnostics pack `dmarc`"), "a team pack is a pack, problems or not: {stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_runner_refuses_to_start_with_a_bad_pack_and_says_where() {
    let dir = config_dir(
        "",
        &[(
            "packs/edge.toml",
            "[[action]]\nid = \"edge.x\"\ntitle = \"x\"\nkind = \"read\"\nargv = [\"sh\", \"-c\", \"uptime\"]\n",
        )],
    );
    let docker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("diagnostics/docker.toml");

    let output = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["runner", "--server", "http://127.0.0.1:9", "--token", "edge-token-0123456789abcdef"])
        .arg("--catalog")
        .arg(dir.join("packs"))
        .arg("--catalog")
        .arg(&docker)
        .env_clear()
        .env("WARROOM_CONFIG", dir.join("warroom.toml"))
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{}/packs/edge.toml:5: `edge.x`: `sh` is a shell", dir.display())), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn serve_refuses_to_start_with_a_bad_team_pack_and_says_where() {
    let dir = config_dir("[diagnostics]\ndirs = [\"packs\", \"gone\"]\n", &[]);

    let output = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("serve")
        .env_clear()
        .env("WARROOM_CONFIG", dir.join("warroom.toml"))
        .env("WARROOM_LISTEN", "127.0.0.1:0")
        .env("WARROOM_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "{}:2: [diagnostics] dirs: cannot read the pack directory `{}/gone`",
        dir.join("warroom.toml").display(),
        dir.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.join("data").exists(), "no embedded database was started");
    std::fs::remove_dir_all(dir).unwrap();
}
