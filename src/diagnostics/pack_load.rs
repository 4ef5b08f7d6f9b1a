//! Where packs come from and how they become one catalog: the shipped packs (compiled in), the
//! team's directories (`[diagnostics] dirs`), and a remote runner's `--catalog` files and
//! directories. A team pack may not take a shipped pack's name, nor an action id another pack
//! already has: the id is what approvals, runner hashes and the timeline refer to, so one id
//! must always mean one command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::catalog::Action;
use super::pack_file;
use crate::config::{ConfigProblem, PackDir};

/// The packs shipped with warroom: (name, TOML).
const PACKS: &[(&str, &str)] = &[
    ("http", include_str!("../../diagnostics/http.toml")),
    ("systemd", include_str!("../../diagnostics/systemd.toml")),
    ("docker", include_str!("../../diagnostics/docker.toml")),
    ("compose", include_str!("../../diagnostics/compose.toml")),
    ("kubernetes", include_str!("../../diagnostics/kubernetes.toml")),
    ("host", include_str!("../../diagnostics/host.toml")),
    ("postgres", include_str!("../../diagnostics/postgres.toml")),
    ("redis", include_str!("../../diagnostics/redis.toml")),
    ("celery", include_str!("../../diagnostics/celery.toml")),
    ("prometheus", include_str!("../../diagnostics/prometheus.toml")),
];

/// One pack file's text, where it came from, and the pack name it gives.
pub struct Source {
    pub name: String,
    pub file: PathBuf,
    pub text: String,
}

/// The shipped packs, as if read from `diagnostics/`.
pub fn shipped() -> Vec<Source> {
    PACKS
        .iter()
        .map(|(name, text)| Source {
            name: name.to_string(),
            file: PathBuf::from(format!("diagnostics/{name}.toml")),
            text: text.to_string(),
        })
        .collect()
}

/// The packs in a `[diagnostics] dirs` entry; a directory that cannot be read is a problem on
/// the config line that named it.
pub fn read_team_dir(dir: &PackDir, problems: &mut Vec<ConfigProblem>) -> Vec<Source> {
    match pack_files(&dir.path) {
        Ok(files) => files.iter().filter_map(|file| read(file, Naming::Team, problems)).collect(),
        Err(e) => {
            let message = format!("[diagnostics] dirs: cannot read the pack directory `{}`: {e}", dir.path.display());
            problems.push(ConfigProblem { file: dir.file.clone(), line: dir.line, message });
            Vec::new()
        }
    }
}

/// A runner's `--catalog` path: a pack file, or a directory of them.
pub fn read_path(path: &Path, problems: &mut Vec<ConfigProblem>) -> Vec<Source> {
    if path.is_dir() {
        return match pack_files(path) {
            Ok(files) => files.iter().filter_map(|file| read(file, Naming::Runner, problems)).collect(),
            Err(e) => {
                problems.push(at(path, 0, format!("--catalog: cannot read the directory: {e}")));
                Vec::new()
            }
        };
    }
    read(path, Naming::Runner, problems).into_iter().collect()
}

/// Whether a file's stem must be a pack name people write: a team pack is listed in services'
/// `packs`; a runner's file is only a container of actions (`docker.toml`, `edge-1.docker.toml`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    Team,
    Runner,
}

/// The `*.toml` files of `dir`, by name (dot files, such as editors' leftovers, are not packs).
fn pack_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    files.sort();
    Ok(files)
}

fn read(file: &Path, naming: Naming, problems: &mut Vec<ConfigProblem>) -> Option<Source> {
    let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let pack_name = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let valid = pack_name || (naming == Naming::Runner && !name.is_empty());
    if !valid {
        let message = format!(
            "`{name}` is not a pack name: the file's name (without .toml) is the pack's, in lowercase letters, \
             digits, `_` and `-`"
        );
        problems.push(at(file, 1, message));
        return None;
    }
    match std::fs::read_to_string(file) {
        Ok(text) => Some(Source { name, file: file.to_path_buf(), text }),
        Err(e) => {
            problems.push(at(file, 0, format!("cannot read the pack file: {e}")));
            None
        }
    }
}

fn at(file: &Path, line: usize, message: String) -> ConfigProblem {
    ConfigProblem { file: file.to_path_buf(), line, message }
}

/// The catalog's packs and actions from the `shipped` sources and the `others` (the team's, or
/// a runner's); problems for every clash.
pub fn assemble(
    shipped: Vec<Source>,
    others: Vec<Source>,
    problems: &mut Vec<ConfigProblem>,
) -> (BTreeSet<String>, BTreeMap<String, Action>) {
    let shipped_names: BTreeSet<String> = shipped.iter().map(|s| s.name.clone()).collect();
    let mut packs: BTreeMap<String, PathBuf> = BTreeMap::new();
    // Where each id was defined: file, line, and whether it ships with warroom.
    let mut defined: BTreeMap<String, (PathBuf, usize, bool)> = BTreeMap::new();
    let mut actions = BTreeMap::new();
    let count = shipped.len();
    for (index, source) in shipped.into_iter().chain(others).enumerate() {
        let is_shipped = index < count;
        let (located, mut found) = pack_file::parse(&source.name, &source.file, &source.text);
        problems.append(&mut found);
        if !is_shipped && shipped_names.contains(&source.name) {
            let message = format!(
                "pack `{}` has the name of a shipped pack (diagnostics/{}.toml): name the file for your own pack, \
                 e.g. `{}-team.toml`",
                source.name, source.name, source.name
            );
            problems.push(at(&source.file, 1, message));
            continue;
        }
        if let Some(other) = packs.get(&source.name) {
            let message = format!("pack `{}` is also {}: a pack is one file", source.name, other.display());
            problems.push(at(&source.file, 1, message));
            continue;
        }
        packs.insert(source.name.clone(), source.file.clone());
        for pack_file::Located { action, line } in located {
            if let Some((file, first, was_shipped)) = defined.get(&action.id) {
                let message = if *was_shipped {
                    format!(
                        "`{}` is a shipped action ({}:{first}): give this one its own id, e.g. `{}.{}`",
                        action.id,
                        file.display(),
                        source.name,
                        action.id.rsplit('.').next().unwrap_or_default()
                    )
                } else {
                    format!("`{}` is also defined at {}:{first}: an id names one action", action.id, file.display())
                };
                problems.push(at(&source.file, line, message));
                continue;
            }
            defined.insert(action.id.clone(), (source.file.clone(), line, is_shipped));
            actions.insert(action.id.clone(), action);
        }
    }
    (packs.into_keys().collect(), actions)
}
