//! One shell code block → its steps. Each command is a step, however many lines it spans (an
//! open quote, a trailing `\` or `|`, a heredoc, a `for ... done`: the lexer says when it is
//! whole). The comments right above a command are its note; those right below it (and a group
//! that starts "Expected"/"Should"/"Look for") are its detail; a comment group that stands
//! alone is an instruction, a task. Two kinds of shell plumbing are folded into the step they
//! serve rather than made steps of their own, so the checklist reads as what a person does:
//! `echo $?` (it reads the exit status of the command above: shown under that step) and
//! `sleep N` (a wait before the next step: shown above it).

use super::shell;
use super::{Problem, Step, StepKind};

/// A command longer than this is not one the author meant (a quote left open): it ends there.
const MAX_COMMAND_LINES: usize = 200;

/// The steps of one code block: `lines` are (line number, text without the block's indent).
/// `prose` is false in reference sections (Prevention, Related Runbooks), where a comment-only
/// group is not a task.
pub(super) fn steps(lines: &[(usize, String)], prose: bool, problems: &mut Vec<Problem>) -> Vec<Step> {
    let mut block = Block { steps: Vec::new(), group: Vec::new(), group_below_step: false, before: Vec::new(), prose };
    let mut last_was_command = false;
    let mut k = 0;
    while k < lines.len() {
        let (line, text) = (lines[k].0, lines[k].1.trim_end());
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            block.end_group();
            last_was_command = false;
            k += 1;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if !comment.starts_with('!') {
                if block.group.is_empty() {
                    block.group_below_step = last_was_command;
                }
                block.group.push((line, comment.strip_prefix(' ').unwrap_or(comment).to_string()));
            }
            last_was_command = false;
            k += 1;
            continue;
        }
        let mut command = text.to_string();
        let mut lexed = shell::parse(&command);
        let start = k;
        while lexed.is_err() && k + 1 < lines.len() && k - start < MAX_COMMAND_LINES {
            k += 1;
            command.push('\n');
            command.push_str(lines[k].1.trim_end());
            lexed = shell::parse(&command);
        }
        k += 1;
        let script = match lexed {
            Ok(script) => script,
            Err(open) => {
                let message = format!(
                    "the command here is not whole: {open}; it is read to the end of its code block (at most {MAX_COMMAND_LINES} lines)"
                );
                problems.push(Problem { line, message });
                shell::Script::default()
            }
        };
        last_was_command = block.command(line, command, &script);
    }
    block.end_group();
    if !block.before.is_empty() {
        let waits = std::mem::take(&mut block.before);
        match block.steps.last_mut() {
            Some(last) => last.detail.extend(waits.into_iter().map(|w| format!("then: {w}"))),
            None => block.steps.extend(waits.into_iter().map(|w| command_step(0, w))),
        }
    }
    block.steps
}

struct Block {
    steps: Vec<Step>,
    /// Comment lines not yet given to a step.
    group: Vec<(usize, String)>,
    /// The group started on the line right below a command.
    group_below_step: bool,
    /// `sleep` lines waiting for the next command.
    before: Vec<String>,
    prose: bool,
}

impl Block {
    /// Adds the command (or folds it); returns whether it became, or went into, a step that a
    /// comment right below may describe.
    fn command(&mut self, line: usize, command: String, script: &shell::Script) -> bool {
        let words: Vec<&str> = match script.single() {
            Some([stage]) if stage.redirects.is_empty() => stage.words.iter().map(|w| w.text.as_str()).collect(),
            _ => Vec::new(),
        };
        if let ["sleep", seconds] = words.as_slice() {
            if seconds.trim_end_matches(['s', 'm']).parse::<u32>().is_ok() {
                self.before.push(command);
                return false;
            }
        }
        if words == ["echo", "$?"] && self.group.is_empty() {
            if let Some(last) = self.steps.last_mut() {
                last.detail.push(format!("then: {command}"));
                return true;
            }
        }
        let group = std::mem::take(&mut self.group);
        let mut step = command_step(line, command);
        step.before = std::mem::take(&mut self.before);
        if !group.is_empty() {
            if self.group_below_step && is_expectation(&group[0].1) && !self.steps.is_empty() {
                self.give_previous(group);
            } else {
                step.note = Some(group.iter().map(|(_, t)| t.trim()).collect::<Vec<_>>().join("\n"));
            }
        }
        step.detail.extend(script.comments.iter().filter(|c| !c.is_empty()).map(|c| format!("# {c}")));
        self.steps.push(step);
        true
    }

    /// A blank line or the block's end: the pending comments describe the step above, or are
    /// an instruction of their own.
    fn end_group(&mut self) {
        let group = std::mem::take(&mut self.group);
        let Some((line, first)) = group.first().cloned() else { return };
        let describes_above = self.group_below_step || is_expectation(&first);
        if describes_above && !self.steps.is_empty() {
            self.give_previous(group);
        } else if self.prose {
            let detail = group[1..].iter().map(|(_, t)| t.clone()).collect();
            self.steps.push(Step {
                number: 0,
                kind: StepKind::Task,
                command: first.trim().to_string(),
                note: None,
                before: Vec::new(),
                detail,
                line,
            });
        }
        self.group_below_step = false;
    }

    fn give_previous(&mut self, group: Vec<(usize, String)>) {
        if let Some(last) = self.steps.last_mut() {
            last.detail.extend(group.into_iter().map(|(_, t)| format!("# {t}")));
        }
    }
}

fn command_step(line: usize, command: String) -> Step {
    Step { number: 0, kind: StepKind::Command, command, note: None, before: Vec::new(), detail: Vec::new(), line }
}

/// A comment about the output of the command above it.
fn is_expectation(comment: &str) -> bool {
    let lower = comment.trim().to_ascii_lowercase();
    ["expected", "expect ", "should ", "look for"].iter().any(|p| lower.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> (Vec<Step>, Vec<Problem>) {
        let lines: Vec<(usize, String)> = text.lines().enumerate().map(|(i, l)| (i + 1, l.to_string())).collect();
        let mut problems = Vec::new();
        (steps(&lines, true, &mut problems), problems)
    }

    #[test]
    fn comments_above_are_the_note_and_right_below_the_detail() {
        let (steps, _) = block(
            "# Test basic connectivity\ncurl -I http://x/health\n# Expected: Connection refused\n\n# Check containers\ndocker ps",
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].note.as_deref(), Some("Test basic connectivity"));
        assert_eq!(steps[0].detail, ["# Expected: Connection refused"]);
        assert_eq!(steps[1].note.as_deref(), Some("Check containers"));
        assert_eq!((steps[1].line, steps[1].kind), (6, StepKind::Command));
    }

    #[test]
    fn echo_status_and_sleep_fold_into_the_steps_they_serve() {
        let (steps, _) = block(
            "curl -f http://x\necho $?  # Should return 0\n\n# Wait 30 seconds and check status\nsleep 30\nsystemctl status x\n",
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].detail, ["then: echo $?  # Should return 0"]);
        assert_eq!(steps[1].before, ["sleep 30"]);
        assert_eq!(steps[1].note.as_deref(), Some("Wait 30 seconds and check status"));
        let (trailing, _) = block("systemctl restart x\nsleep 10\n");
        assert_eq!(trailing[0].detail, ["then: sleep 10"]);
    }

    #[test]
    fn a_comment_group_on_its_own_is_a_task_with_its_lines_kept() {
        let (steps, _) = block(
            "# Edit docker-compose.yml\n# deploy:\n#   resources:\n#     limits:\n#       memory: 4G  # Was 2G\n\n# Recreate\ndocker-compose up -d x\n",
        );
        assert_eq!(steps[0].kind, StepKind::Task);
        assert_eq!(steps[0].command, "Edit docker-compose.yml");
        assert_eq!(steps[0].detail, ["deploy:", "  resources:", "    limits:", "      memory: 4G  # Was 2G"]);
        assert_eq!(steps[1].note.as_deref(), Some("Recreate"));
        let lines = [(1, "# Add to monitoring stack".to_string())];
        assert!(steps_of(&lines, false).is_empty(), "no tasks from prose in reference sections");
    }

    fn steps_of(lines: &[(usize, String)], prose: bool) -> Vec<Step> {
        steps(lines, prose, &mut Vec::new())
    }

    #[test]
    fn multi_line_commands_are_one_step() {
        let (steps, problems) = block(
            "docker exec b python -c \"\nfrom app import x\nprint(x)\n\"\n\nfor i in {1..10}; do\n  curl x\ndone\ncurl -X POST http://x \\\n  -d '{}'\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let commands: Vec<(usize, usize)> = steps.iter().map(|s| (s.line, s.command.lines().count())).collect();
        assert_eq!(commands, [(1, 4), (6, 3), (9, 2)]);
    }

    #[test]
    fn a_command_never_closed_is_kept_and_reported() {
        let (steps, problems) = block("python -c \"print(1)\nls\n");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].command, "python -c \"print(1)\nls");
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].message.contains("its \" quote is never closed"), "{}", problems[0].message);
    }
}
