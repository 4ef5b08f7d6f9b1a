//! Markdown → [`Runbook`]: headings make sections, shell code blocks make command steps
//! ([`super::code`]), and numbered or checkbox list items make tasks. Plain bullets are the
//! section's text (symptoms, what to look for, who to call), not steps; in reference sections
//! (Prevention, Related Runbooks, Contact, Additional Resources, Runbook Metadata, an
//! escalation path or procedure, which warroom's own escalation carries out) no prose is a
//! step, only commands are. Code blocks in other languages (a bare fence holds message
//! templates and sample output, `yaml` and `promql` blocks config) make no steps.

use std::time::Duration;

use super::{code, Problem, Runbook, Section, Step, StepKind};

/// Code block languages whose lines are commands.
const SHELL_LANGUAGES: &[&str] = &["bash", "sh", "shell", "console", "zsh"];

/// Headings (their first words) of sections that are reference, not work to do.
const REFERENCE: &[&str] = &[
    "prevention",
    "related",
    "contact",
    "additional resources",
    "runbook metadata",
    "escalation path",
    "escalation procedure",
];

pub fn parse(text: &str) -> Runbook {
    let mut runbook = Runbook::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut reference_levels: Vec<(u8, bool)> = Vec::new();
    let mut prev_end: Option<Duration> = None;
    // The task list item open for nested lines: (its indent).
    let mut open_item: Option<usize> = None;
    // Plain list lines, by section: the detail of a section that becomes a task of its own.
    let mut bullets: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some((marker, language)) = fence_open(trimmed) {
            let closes = |l: &str| l.trim().starts_with(marker) && l.trim().trim_start_matches(&marker[..1]).is_empty();
            let close = (i + 1..lines.len()).find(|&j| closes(lines[j]));
            if close.is_none() {
                runbook.problems.push(Problem {
                    line: i + 1,
                    message: format!("the code block opened here ({marker}{language}) is never closed: the rest of the file is read as its code"),
                });
            }
            let end = close.unwrap_or(lines.len());
            if SHELL_LANGUAGES.contains(&language.as_str()) {
                let body: Vec<(usize, String)> = (i + 1..end)
                    .filter_map(|j| {
                        let text = strip_indent(lines[j], indent);
                        if language == "console" {
                            text.strip_prefix("$ ").map(|c| (j + 1, c.to_string()))
                        } else {
                            Some((j + 1, text.to_string()))
                        }
                    })
                    .collect();
                let prose = !reference_levels.last().is_some_and(|(_, r)| *r);
                let steps = code::steps(&body, prose, &mut runbook.problems);
                if !steps.is_empty() {
                    current(&mut runbook, i + 1).steps.extend(steps);
                }
            }
            open_item = None;
            i = end + 1;
            continue;
        }
        if let Some((level, heading)) = heading(trimmed) {
            open_item = None;
            if level == 1 {
                if runbook.title.is_empty() {
                    runbook.title = heading.to_string();
                }
            } else {
                let level = level.min(4) as u8;
                reference_levels.retain(|(l, _)| *l < level);
                let inherited = reference_levels.last().is_some_and(|(_, r)| *r);
                reference_levels.push((level, inherited || is_reference(heading)));
                let parent = runbook.sections.iter().rev().find(|s| s.level < level);
                let (window_start, window_end) = match window(heading, prev_end) {
                    Some((start, end)) => (Some(start), end),
                    None => parent.map_or((None, None), |p| (p.window_start, p.window_end)),
                };
                prev_end = window_end.or(prev_end);
                runbook.sections.push(Section {
                    heading: heading.to_string(),
                    level,
                    line: i + 1,
                    window_start,
                    window_end,
                    steps: Vec::new(),
                });
            }
            i += 1;
            continue;
        }
        let reference = reference_levels.last().is_some_and(|(_, r)| *r);
        if let Some(item) = list_item(line) {
            let is_task = !reference && (item.checkbox || (item.numbered && item.indent < 4));
            match open_item {
                Some(open) if item.indent > open => push_detail(&mut runbook, line),
                _ if is_task => {
                    current(&mut runbook, i + 1).steps.push(task(i + 1, &item.text));
                    open_item = Some(item.indent);
                }
                _ => {
                    open_item = None;
                    if let Some(index) = runbook.sections.len().checked_sub(1) {
                        bullets.push((index, unemphasize(trimmed)));
                    }
                }
            }
        } else if trimmed.is_empty() {
            // A blank line keeps the item open: its nested lines may follow.
        } else if open_item.is_some_and(|open| indent > open) {
            push_detail(&mut runbook, line);
        } else {
            open_item = None;
        }
        i += 1;
    }
    numbered_sections_as_tasks(&mut runbook, &bullets);
    for (number, step) in runbook.sections.iter_mut().flat_map(|s| s.steps.iter_mut()).enumerate() {
        step.number = number;
    }
    runbook
}

/// A numbered section with nothing to run or tick in it ("### 3. Monitor for 10 Minutes",
/// "### Step 4: Communicate Resolution", then bullets or a message template) is itself a task:
/// its heading says what to do, its bullets are the detail.
fn numbered_sections_as_tasks(runbook: &mut Runbook, bullets: &[(usize, String)]) {
    let numbered = regex::Regex::new(r"^(?:\d+\.|(?i:step)\s+\d+:)\s*(\S.*)$").expect("a valid pattern");
    let mut reference: Vec<(u8, bool)> = Vec::new();
    for index in 0..runbook.sections.len() {
        let section = &runbook.sections[index];
        reference.retain(|(l, _)| *l < section.level);
        let is_reference = reference.last().is_some_and(|(_, r)| *r) || is_reference(&section.heading);
        reference.push((section.level, is_reference));
        let level = section.level;
        let below = runbook.sections[index + 1..].iter().take_while(|s| s.level > level);
        let has_steps = !section.steps.is_empty() || below.into_iter().any(|s| !s.steps.is_empty());
        let Some(what) = numbered.captures(&section.heading).and_then(|c| c.get(1)) else { continue };
        if has_steps || is_reference {
            continue;
        }
        let mut step = task(section.line, what.as_str());
        step.detail = bullets.iter().filter(|(i, _)| *i == index).map(|(_, b)| b.clone()).collect();
        runbook.sections[index].steps.push(step);
    }
}

/// The section steps go to; one named after the runbook when steps come before any heading.
fn current(runbook: &mut Runbook, line: usize) -> &mut Section {
    if runbook.sections.is_empty() {
        let heading = if runbook.title.is_empty() { "Runbook".to_string() } else { runbook.title.clone() };
        runbook.sections.push(Section { heading, level: 2, line, window_start: None, window_end: None, steps: vec![] });
    }
    runbook.sections.last_mut().expect("a section was just made")
}

/// A line nested under the open task item: part of what that task says.
fn push_detail(runbook: &mut Runbook, line: &str) {
    if let Some(step) = runbook.sections.last_mut().and_then(|s| s.steps.last_mut()) {
        step.detail.push(unemphasize(line.trim()));
    }
}

fn task(line: usize, text: &str) -> Step {
    Step {
        number: 0,
        kind: StepKind::Task,
        command: unemphasize(text).trim().to_string(),
        note: None,
        before: Vec::new(),
        detail: Vec::new(),
        line,
    }
}

/// `**bold**` and `__bold__` read as plain text in a checklist.
fn unemphasize(text: &str) -> String {
    text.replace("**", "").replace("__", "")
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// "```bash" → ("```", "bash").
fn fence_open(trimmed: &str) -> Option<(&'static str, String)> {
    let marker = if trimmed.starts_with("```") {
        "```"
    } else if trimmed.starts_with("~~~") {
        "~~~"
    } else {
        return None;
    };
    let info = trimmed.trim_start_matches(marker.chars().next().unwrap_or('`')).trim();
    Some((marker, info.split_whitespace().next().unwrap_or("").to_ascii_lowercase()))
}

/// "## Investigation (5-15 minutes)" → (2, "Investigation (5-15 minutes)").
fn heading(trimmed: &str) -> Option<(usize, &str)> {
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    let rest = &trimmed[level..];
    if !(1..=6).contains(&level) || !rest.starts_with(' ') || rest.trim().is_empty() {
        return None;
    }
    Some((level, rest.trim().trim_end_matches('#').trim_end()))
}

fn is_reference(heading: &str) -> bool {
    let words = heading.trim_start_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    REFERENCE.iter().any(|r| words.starts_with(r))
}

struct ListItem {
    indent: usize,
    numbered: bool,
    checkbox: bool,
    text: String,
}

/// `- [ ] text`, `1. text`, `* text`.
fn list_item(line: &str) -> Option<ListItem> {
    let indent = line.len() - line.trim_start().len();
    let rest = line.trim_start();
    let (numbered, after) = match rest.split_once(' ') {
        Some(("-" | "*" | "+", after)) => (false, after),
        // The `.`/`)` test comes first: it makes `len - 1` a character boundary.
        Some((marker, after))
            if (marker.ends_with('.') || marker.ends_with(')'))
                && marker.len() > 1
                && marker[..marker.len() - 1].chars().all(|c| c.is_ascii_digit()) =>
        {
            (true, after)
        }
        _ => return None,
    };
    let after = after.trim_start();
    let boxed = ["[ ] ", "[x] ", "[X] "].iter().find_map(|b| after.strip_prefix(b));
    Some(ListItem { indent, numbered, checkbox: boxed.is_some(), text: boxed.unwrap_or(after).to_string() })
}

/// A heading's time window, counted from the declaration: (start, end). "(0-5 minutes)" is
/// 0 to 5, "(First 2 Minutes)" and "(within 2 minutes)" 0 to 2, "(15+ minutes)" from 15 on, and
/// "(Next 5 Minutes)" the 5 minutes after the window before it ends (`previous_end`; from the
/// declaration when there is none). Hours and other wording ("every 5 minutes", "< 2 hours",
/// which post-incident sections count from the resolution) are no window.
fn window(heading: &str, previous_end: Option<Duration>) -> Option<(Duration, Option<Duration>)> {
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let lower = heading.to_lowercase();
    let inside = lower.rsplit_once('(')?.1.split_once(')')?.0.trim();
    let words = ["minutes", "minute", "mins", "min"].iter().find_map(|unit| inside.strip_suffix(unit))?.trim();
    let number = |s: &str| s.trim().parse::<u64>().ok();
    if let Some(n) = words.strip_prefix("first ").and_then(number) {
        return Some((Duration::ZERO, Some(minutes(n))));
    }
    if let Some(n) = words.strip_prefix("within ").or_else(|| words.strip_prefix("< ")).and_then(number) {
        return Some((Duration::ZERO, Some(minutes(n))));
    }
    if let Some(n) = words.strip_prefix("next ").and_then(number) {
        let start = previous_end.unwrap_or(Duration::ZERO);
        return Some((start, Some(start + minutes(n))));
    }
    if let Some(n) = words.strip_suffix('+').and_then(number) {
        return Some((minutes(n), None));
    }
    let (from, to) = words.split_once('-')?;
    let (from, to) = (number(from)?, number(to)?);
    (from < to).then(|| (minutes(from), Some(minutes(to))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    #[test]
    fn headings_with_a_time_give_the_window() {
        assert_eq!(window("Immediate Actions (0-5 minutes)", None), Some((min(0), Some(min(5)))));
        assert_eq!(window("Triage (First 2 Minutes)", None), Some((min(0), Some(min(2)))));
        assert_eq!(window("Investigation (5-15 minutes)", None), Some((min(5), Some(min(15)))));
        assert_eq!(window("Investigation (Next 5 Minutes)", Some(min(2))), Some((min(2), Some(min(7)))));
        assert_eq!(window("Initial Notification (within 2 minutes)", None), Some((min(0), Some(min(2)))));
        assert_eq!(window("Escalation (15+ minutes)", None), Some((min(15), None)));
        assert_eq!(window("Status Updates (every 5 minutes)", None), None);
        assert_eq!(window("Immediate (< 2 hours)", None), None);
        assert_eq!(window("Resolution", None), None);
    }

    #[test]
    fn sections_inherit_their_parents_window_and_next_counts_from_the_last_one() {
        let runbook = parse(
            "# T\n## Triage (First 2 Minutes)\n### Step 1\n## Investigation (Next 5 Minutes)\n### Step 4\n#### Deeper\n## Resolution\n",
        );
        let windows: Vec<(&str, u8, Option<Duration>, Option<Duration>)> =
            runbook.sections.iter().map(|s| (s.heading.as_str(), s.level, s.window_start, s.window_end)).collect();
        assert_eq!(
            windows,
            [
                ("Triage (First 2 Minutes)", 2, Some(min(0)), Some(min(2))),
                ("Step 1", 3, Some(min(0)), Some(min(2))),
                ("Investigation (Next 5 Minutes)", 2, Some(min(2)), Some(min(7))),
                ("Step 4", 3, Some(min(2)), Some(min(7))),
                ("Deeper", 4, Some(min(2)), Some(min(7))),
                ("Resolution", 2, None, None),
            ]
        );
    }

    #[test]
    fn commands_in_shell_blocks_are_steps_and_other_blocks_are_not() {
        let runbook = parse(
            "# Down\n## Immediate Actions (0-5 minutes)\n### 1. Verify\n```bash\n# Check status\nsystemctl status x\n```\n```\nnot a command\n```\n```yaml\nkey: value\n```\n",
        );
        assert_eq!(runbook.title, "Down");
        let verify = &runbook.sections[1];
        assert_eq!(verify.steps.len(), 1);
        assert_eq!(verify.steps[0].command, "systemctl status x");
        assert_eq!(verify.steps[0].note.as_deref(), Some("Check status"));
        assert_eq!(verify.steps[0].line, 6);
    }

    #[test]
    fn numbered_and_checkbox_items_are_tasks_and_plain_bullets_are_text() {
        let runbook = parse(
            "## Post-Incident\n\n1. **Page the Team Lead**\n   - Send alert to team lead\n2. Document the incident\n\n- [ ] **@sre**: Add memory alert\n- Panic messages\n\n## Prevention Strategies\n1. **Automated Health Checks**: Ensure endpoints\n",
        );
        let steps: Vec<(&str, StepKind, &[String])> =
            runbook.steps().map(|(_, s)| (s.command.as_str(), s.kind, s.detail.as_slice())).collect();
        assert_eq!(
            steps,
            [
                ("Page the Team Lead", StepKind::Task, &["- Send alert to team lead".to_string()][..]),
                ("Document the incident", StepKind::Task, &[][..]),
                ("@sre: Add memory alert", StepKind::Task, &[][..]),
            ]
        );
        assert_eq!(runbook.steps().map(|(_, s)| s.number).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn indented_code_blocks_in_list_items_are_read() {
        let runbook = parse("## Escalation\n2. **Consider Rollback**\n   ```bash\n   # If suspected\n   git checkout <c>\n   \n   make build\n   ```\n");
        let steps: Vec<&str> = runbook.steps().map(|(_, s)| s.command.as_str()).collect();
        assert_eq!(steps, ["Consider Rollback", "git checkout <c>", "make build"]);
    }

    #[test]
    fn an_unclosed_block_is_a_problem_with_its_line() {
        let runbook = parse("## A\n\n```bash\nls\n");
        assert_eq!(runbook.problems.len(), 1);
        assert_eq!(runbook.problems[0].line, 3);
        assert_eq!(runbook.sections[0].steps[0].command, "ls");
    }
}
