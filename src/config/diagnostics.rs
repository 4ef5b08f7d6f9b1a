//! `[diagnostics]`: where the team's own packs live. Each `dirs` entry is a directory whose
//! `*.toml` files are packs in the shipped format (`diagnostics/*.toml`), one pack per file,
//! named by the file's stem. A relative directory is taken from the config file's own
//! directory, so the config means the same from wherever warroom is started. Reading the packs
//! is the diagnostics catalog's work; this layer only knows where they are and where it was said.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::file::ConfigProblem;

/// `[diagnostics]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiagnostics {
    #[serde(default)]
    dirs: Vec<Spanned<String>>,
}

/// A directory of team packs, and the config line that named it (for "missing directory").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackDir {
    /// Resolved: relative entries are joined to the config file's directory.
    pub path: PathBuf,
    /// The config file and line the entry is on.
    pub file: PathBuf,
    pub line: usize,
}

/// `[diagnostics]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiagnosticsConfig {
    /// The team's pack directories, in the order written.
    pub dirs: Vec<PackDir>,
}

/// Checks `raw`, read from `config` (whose `line_of` locates a span); an empty entry is a problem.
pub(super) fn validate(
    raw: &RawDiagnostics,
    config: &Path,
    line_of: &dyn Fn(Range<usize>) -> usize,
    problems: &mut Vec<ConfigProblem>,
) -> DiagnosticsConfig {
    let base = config.parent().unwrap_or(Path::new(""));
    let mut dirs = Vec::new();
    for dir in &raw.dirs {
        let line = line_of(dir.span());
        if dir.get_ref().trim().is_empty() {
            let message = "[diagnostics] dirs: an empty entry (write a directory, e.g. \"./diagnostics.d\")".into();
            problems.push(ConfigProblem { file: config.to_path_buf(), line, message });
            continue;
        }
        let path = base.join(dir.get_ref());
        dirs.push(PackDir { path, file: config.to_path_buf(), line });
    }
    DiagnosticsConfig { dirs }
}

#[cfg(test)]
mod tests {
    use super::super::FileConfig;
    use super::*;

    #[test]
    fn relative_dirs_are_taken_from_the_config_files_directory() {
        let text = "[diagnostics]\ndirs = [\n  \"./diagnostics.d\",\n  \"/opt/warroom/packs\",\n]\n";

        let config = FileConfig::parse(Path::new("/etc/warroom/warroom.toml"), text).unwrap();

        let dirs: Vec<(PathBuf, usize)> = config.diagnostics.dirs.iter().map(|d| (d.path.clone(), d.line)).collect();
        assert_eq!(
            dirs,
            [(PathBuf::from("/etc/warroom/./diagnostics.d"), 3), (PathBuf::from("/opt/warroom/packs"), 4)]
        );
        assert_eq!(config.diagnostics.dirs[0].file, Path::new("/etc/warroom/warroom.toml"));
    }

    #[test]
    fn an_empty_entry_and_an_unknown_key_are_errors_with_their_lines() {
        let empty = FileConfig::parse(Path::new("w.toml"), "[diagnostics]\ndirs = [\"\"]\n").unwrap_err();
        let unknown = FileConfig::parse(Path::new("w.toml"), "[diagnostics]\ndir = [\"x\"]\n").unwrap_err();

        assert_eq!((empty.len(), empty[0].line), (1, 2));
        assert!(empty[0].message.contains("an empty entry"), "{}", empty[0].message);
        assert_eq!((unknown.len(), unknown[0].line), (1, 2));
        assert!(unknown[0].message.contains("unknown field `dir`"), "{}", unknown[0].message);
    }
}
