//! Markdown → [`Runbook`]: headings make sections, shell code blocks make steps.

use std::time::Duration;

use super::{Runbook, Section, Step};

/// Code block languages whose lines are commands. A bare fence (```) in the seeds holds message
/// templates and sample output, never commands.
const SHELL_LANGUAGES: &[&str] = &["bash", "sh", "shell", "console", "zsh"];

pub fn parse(text: &str) -> Runbook {
    let mut runbook = Runbook { title: String::new(), sections: Vec::new() };
    let mut fence: Option<bool> = None; // Some(is_shell) inside a code block
    let mut note: Vec<String> = Vec::new();
    let mut number = 0;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(language) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(SHELL_LANGUAGES.contains(&language.trim())),
            };
            note.clear();
            continue;
        }
        match fence {
            Some(true) => {
                if let Some(comment) = trimmed.strip_prefix('#') {
                    note.push(comment.trim().to_string());
                } else if trimmed.is_empty() {
                    note.clear();
                } else if let Some(section) = runbook.sections.last_mut() {
                    section.steps.push(Step {
                        number,
                        command: trimmed.to_string(),
                        note: (!note.is_empty()).then(|| note.join(" ")),
                        line: index + 1,
                    });
                    number += 1;
                    note.clear();
                }
            }
            Some(false) => {}
            None => {
                let level = trimmed.chars().take_while(|c| *c == '#').count();
                let heading = trimmed[level..].trim();
                if level == 0 || heading.is_empty() || !trimmed[level..].starts_with(' ') {
                    continue;
                }
                if level == 1 && runbook.title.is_empty() {
                    runbook.title = heading.to_string();
                } else if level == 2 || level == 3 {
                    let inherited = if level == 3 {
                        runbook.sections.iter().rev().find(|s| s.level == 2).and_then(|s| s.window_end)
                    } else {
                        None
                    };
                    runbook.sections.push(Section {
                        heading: heading.to_string(),
                        level: level as u8,
                        window_end: window_end(heading).or(inherited),
                        steps: Vec::new(),
                    });
                }
            }
        }
    }
    runbook
}

/// "(0-5 minutes)" → 5 min, "(First 2 Minutes)" → 2 min, "(Next 5 Minutes)" → None (relative
/// to what came before: the caller does not guess).
fn window_end(heading: &str) -> Option<Duration> {
    let lower = heading.to_ascii_lowercase();
    let inside = lower.split_once('(')?.1.split_once(')')?.0.trim();
    let words = inside.strip_suffix("minutes").or_else(|| inside.strip_suffix("minute"))?.trim();
    let minutes: u64 = if let Some(first) = words.strip_prefix("first ") {
        first.trim().parse().ok()?
    } else {
        let (_, end) = words.split_once('-')?;
        end.trim().parse().ok()?
    };
    Some(Duration::from_secs(minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_with_a_time_give_the_window_end() {
        assert_eq!(window_end("Immediate Actions (0-5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(window_end("Triage (First 2 Minutes)"), Some(Duration::from_secs(120)));
        assert_eq!(window_end("Investigation (5-15 minutes)"), Some(Duration::from_secs(900)));
        assert_eq!(window_end("Escalation (15+ minutes)"), None);
        assert_eq!(window_end("Resolution"), None);
    }

    #[test]
    fn commands_in_shell_blocks_are_steps_with_the_comment_above() {
        let runbook = parse(
            "# Down\n## Immediate Actions (0-5 minutes)\n### 1. Verify\n```bash\n# Check status\nsystemctl status x\n```\n```\nnot a command\n```\n",
        );
        assert_eq!(runbook.title, "Down");
        assert_eq!(runbook.sections.len(), 2);
        let verify = &runbook.sections[1];
        assert_eq!(verify.window_end, Some(Duration::from_secs(300)), "inherited");
        assert_eq!(verify.steps[0].command, "systemctl status x");
        assert_eq!(verify.steps[0].note.as_deref(), Some("Check status"));
        assert_eq!(verify.steps[0].line, 6);
    }
}
