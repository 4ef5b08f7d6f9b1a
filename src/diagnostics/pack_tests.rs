//! The pack format's errors, each with its exact line, and team packs read from directories.

use std::path::{Path, PathBuf};

use super::catalog::Catalog;
use super::pack_file::parse;
use crate::config::{ConfigProblem, PackDir};

/// `(line, message)` of each problem `text` has as pack `team` (file `team.toml`).
fn problems(text: &str) -> Vec<(usize, String)> {
    let (_, found) = parse("team", Path::new("team.toml"), text);
    found.into_iter().map(|p| (p.line, p.message)).collect()
}

/// Asserts that `found` is, in order, problems on `expected`'s lines whose messages contain
/// `expected`'s fragments.
fn assert_problems(found: &[(usize, String)], expected: &[(usize, &str)]) {
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    let want: Vec<usize> = expected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, want, "{found:#?}");
    for ((_, message), (line, fragment)) in found.iter().zip(expected) {
        assert!(message.contains(fragment), "line {line}: `{message}` lacks `{fragment}`");
    }
}

const GOOD: &str = r#"# The dmarc team's own checks (seed 003).

[[action]]
id = "dmarc.dns"
title = "DNS resolution from the backend"
kind = "read"
argv = ["docker", "exec", "{backend_container}", "nslookup", "{db_host}"]
forms = ["docker exec {backend_container} nslookup {db_host}"]
timeout = "15s"
params.backend_container = { pattern = "^[a-z0-9][a-z0-9_.-]{0,62}$", target = true }
params.db_host = { pattern = "^[a-z0-9][a-z0-9.-]{0,252}$", default = "db", target = true }
"#;

#[test]
fn a_good_team_pack_gives_typed_actions_with_their_forms() {
    let (actions, found) = parse("dmarc", Path::new("dmarc.toml"), GOOD);

    assert!(found.is_empty(), "{found:?}");
    let action = &actions[0].action;
    assert_eq!((action.id.as_str(), action.pack.as_str(), actions[0].line), ("dmarc.dns", "dmarc", 4));
    assert_eq!(action.timeout.as_secs(), 15);
    assert!(action.params["backend_container"].target && action.params["db_host"].target);
    assert_eq!(action.forms(), ["docker exec {backend_container} nslookup {db_host}"]);
}

#[test]
fn every_problem_of_every_action_is_reported_with_its_line() {
    let text = r#"[[action]]
id = "team.bad"
title = "everything wrong"
kind = "read"
argv = ["sh", "-c", "echo {name} {missing}"]
forms = ["check {name} {absent}"]
params.name = { pattern = "[a-z]+", target = false }
params.dash = { pattern = "^[a-z-]+$", target = false }
params.empty = { pattern = "^[a-z]*$", target = false }
params.nopattern = { default = "x", target = false }

[[action]]
id = "team.wrapped"
title = "a shell behind sudo"
kind = "change"
argv = ["sudo", "-u", "root", "/bin/bash", "restart.sh"]

[[action]]
id = "team.hidden"
title = "a shell behind env, timeout and nice"
kind = "read"
argv = ["env", "-i", "timeout", "5", "nice", "zsh", "x"]
"#;

    let found = problems(text);

    assert_problems(
        &found,
        &[
            (8, "parameter `dash`: pattern `^[a-z-]+$` accepts values starting with `-`"),
            (9, "parameter `empty`: pattern `^[a-z]*$` accepts the empty string"),
            (7, "parameter `name`: pattern `[a-z]+` is not anchored: write it `^...$`"),
            (10, "parameter `nopattern` has no `pattern`"),
            (5, "`{missing}` is not a declared parameter"),
            (6, "`{absent}` is not a declared parameter"),
            (5, "`sh` is a shell"),
            (16, "`/bin/bash` is a shell"),
            (22, "`zsh` is a shell"),
        ],
    );
    assert!(found[0].1.starts_with("`team.bad`: "), "each problem names its action: {}", found[0].1);
}

#[test]
fn an_unknown_key_is_an_error_with_its_line() {
    let action = "[[action]]\nid = \"team.x\"\ntitle = \"x\"\nkind = \"read\"\nargv = [\"true\"]\n";

    let top = problems(&format!("{action}timout = \"5s\"\n"));
    let param = problems(&format!("{action}params.x = {{ pattern = \"^a$\", targt = true }}\n"));
    let file = problems("[[actions]]\nid = \"team.x\"\n");

    assert_problems(&top, &[(6, "unknown field `timout`")]);
    assert_problems(&param, &[(6, "unknown field `targt`")]);
    assert_problems(&file, &[(1, "unknown field `actions`")]);
}

#[test]
fn the_program_limits_and_options_are_checked_too() {
    let text = r#"[[action]]
id = "Team.Upper"
title = "x"
kind = "read"
argv = ["{program}", "status"]
timeout = "10m"
output_cap = 0
approvals = 2
explain = "meaning"
filter = "(unclosed"
params.program = { pattern = "^[a-z]+$", target = false }

[[action]]
id = "team.both"
title = "argv and builtin"
kind = "read"
argv = ["true"]
builtin = "http_check"

[[action]]
id = "team.builtin"
title = "no such built-in"
kind = "read"
builtin = "ftp_check"

[[action]]
id = "team.target"
title = "a target left undecided, a default its pattern refuses"
kind = "read"
argv = ["docker", "logs", "{container}"]
params.container = { pattern = "^[a-z]+$", default = "Web" }
"#;

    let found = problems(text);

    assert_problems(
        &found,
        &[
            (2, "an action id is lowercase words"),
            (5, "the program must be written out, not a parameter"),
            (6, "timeout `10m`: between 1s and 120s"),
            (7, "output_cap: between 1 and"),
            (8, "approvals: only a change needs approvals"),
            (9, "explain `meaning`"),
            (10, "filter `(unclosed`"),
            (14, "give either `argv` or `builtin`"),
            (24, "no built-in check `ftp_check`"),
            (31, "parameter `container` is named like a target: say `target = true`"),
            (31, "default `Web` does not match its pattern"),
        ],
    );
}

/// A fresh directory holding `files` (name, text).
fn dir_with(files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warroom-packs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn pack_dir(path: &Path, line: usize) -> PackDir {
    PackDir { path: path.to_path_buf(), file: PathBuf::from("/etc/warroom/warroom.toml"), line }
}

fn located(problems: &[ConfigProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_team_pack_in_a_directory_joins_the_shipped_packs() {
    let dir = dir_with(&[("dmarc.toml", GOOD), ("notes.txt", "not a pack"), (".#dmarc.toml", "editor leftovers")]);

    let catalog = Catalog::load(&[pack_dir(&dir, 3)]).unwrap();

    assert_eq!(catalog.get("dmarc.dns").unwrap().pack, "dmarc");
    assert!(catalog.get("docker.ps").is_some() && catalog.has_pack("dmarc") && catalog.has_pack("docker"));
    assert!(!catalog.has_pack("notes"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn clashes_with_shipped_packs_and_other_team_packs_are_errors_with_their_lines() {
    let clash = "# uses a shipped id\n\n[[action]]\nid = \"docker.ps\"\ntitle = \"x\"\nkind = \"read\"\nargv = [\"docker\", \"ps\"]\n";
    let first = dir_with(&[("dmarc.toml", GOOD), ("docker.toml", GOOD), ("ops.toml", clash)]);
    let second = dir_with(&[("dmarc.toml", GOOD), ("more.toml", GOOD)]);

    let (catalog, problems) = Catalog::load_checked(&[pack_dir(&first, 3), pack_dir(&second, 4)]);

    let (f, s) = (first.display(), second.display());
    assert_eq!(
        located(&problems),
        [
            format!("{f}/docker.toml:1: pack `docker` has the name of a shipped pack (diagnostics/docker.toml): name the file for your own pack, e.g. `docker-team.toml`"),
            format!("{f}/ops.toml:4: `docker.ps` is a shipped action (diagnostics/docker.toml:4): give this one its own id, e.g. `ops.ps`"),
            format!("{s}/dmarc.toml:1: pack `dmarc` is also {f}/dmarc.toml: a pack is one file"),
            format!("{s}/more.toml:4: `dmarc.dns` is also defined at {f}/dmarc.toml:4: an id names one action"),
        ]
    );
    assert_eq!(catalog.get("dmarc.dns").unwrap().pack, "dmarc", "the first definition stands");
    std::fs::remove_dir_all(first).unwrap();
    std::fs::remove_dir_all(second).unwrap();
}

#[test]
fn a_missing_directory_is_an_error_on_the_config_line_that_names_it() {
    let missing = std::env::temp_dir().join("warroom-no-such-pack-dir");

    let problems = Catalog::load(&[pack_dir(&missing, 7)]).unwrap_err();

    assert_eq!(problems.len(), 1);
    let text = problems[0].to_string();
    assert!(
        text.starts_with("/etc/warroom/warroom.toml:7: [diagnostics] dirs: cannot read the pack directory"),
        "{text}"
    );
    assert!(text.contains("warroom-no-such-pack-dir"), "{text}");
}

#[test]
fn a_runner_loads_files_and_directories_and_repeats() {
    let dir = dir_with(&[("dmarc.toml", GOOD)]);
    let docker = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/diagnostics/docker.toml"));

    let catalog = Catalog::from_paths(&[dir.clone(), docker.clone()]).unwrap();
    let twice = Catalog::from_paths(&[dir.clone(), dir.clone()]).unwrap_err();
    let nothing = Catalog::from_paths(&[dir.join("absent.toml")]).unwrap_err();

    assert!(catalog.get("dmarc.dns").is_some() && catalog.get("docker.restart").is_some());
    assert!(catalog.get("kubernetes.pods").is_none(), "a runner has only its own files");
    assert!(twice[0].message.contains("pack `dmarc` is also"), "{twice:?}");
    assert!(nothing[0].to_string().contains("absent.toml:0: cannot read the pack file"), "{nothing:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_team_pack_is_named_as_services_write_it_and_a_runner_file_by_any_name() {
    let team = dir_with(&[("Dmarc Team.toml", GOOD)]);
    let runner = dir_with(&[("edge-1.dmarc.toml", GOOD)]);

    let problems = Catalog::load(&[pack_dir(&team, 3)]).unwrap_err();
    let catalog = Catalog::from_paths(std::slice::from_ref(&runner)).unwrap();

    let expected = format!("{}/Dmarc Team.toml:1: `Dmarc Team` is not a pack name", team.display());
    assert!(located(&problems)[0].starts_with(&expected), "{problems:?}");
    assert!(catalog.get("dmarc.dns").is_some());
    std::fs::remove_dir_all(team).unwrap();
    std::fs::remove_dir_all(runner).unwrap();
}
