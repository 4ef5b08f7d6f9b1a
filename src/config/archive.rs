//! `[slack] archive_after`: how long after a resolve the incident channel is archived (after a
//! warning with a "Keep open" button, see `crate::archive`). Absent: never.

use toml::Spanned;

use super::ConfigProblem;
use crate::duration::HumanDuration;

/// `[slack] archive_after` as written: absent is never; zero is refused (the channel would be
/// archived before anyone could read the resolution).
pub(super) fn validate(
    raw: Option<&Spanned<String>>,
    problem: &dyn Fn(std::ops::Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> Option<HumanDuration> {
    let raw = raw?;
    match HumanDuration::parse(raw.get_ref()) {
        Ok(d) if d.0.as_secs() > 0 => Some(d),
        Ok(_) => {
            problems
                .push(problem(raw.span(), "slack.archive_after must be longer than 0s (leave it out: never)".into()));
            None
        }
        Err(m) => {
            problems.push(problem(raw.span(), format!("slack.archive_after: {m}")));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::FileConfig;

    #[test]
    fn archive_after_is_absent_by_default_and_read_as_a_duration() {
        let config = FileConfig::parse(Path::new("warroom.toml"), "").unwrap();
        assert_eq!(config.archive_after, None);
        let config = FileConfig::parse(Path::new("warroom.toml"), "[slack]\narchive_after = \"7d\"\n").unwrap();
        assert_eq!(config.archive_after.map(|d| d.0.as_secs()), Some(7 * 86_400));
    }

    #[test]
    fn a_zero_or_unreadable_archive_after_is_refused_with_its_line() {
        for bad in ["0s", "soon"] {
            let text = format!("[slack]\narchive_after = \"{bad}\"\n");
            let problems = FileConfig::parse(Path::new("warroom.toml"), &text).unwrap_err();
            assert_eq!(problems[0].line, 2, "{problems:?}");
            assert!(problems[0].to_string().contains("slack.archive_after"), "{problems:?}");
        }
    }
}
