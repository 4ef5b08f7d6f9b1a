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
