//! How a checklist is cut into Slack messages within Block Kit's limits: at most 50 blocks a
//! message, 3,000 characters in a section's text. Each heading and each step is a section block;
//! a step too long for one block (a very long command) is split over several, each marked, so
//! that nothing is cut. The cut depends on the checklist alone — never on its state — so a
//! message keeps its steps however its state lines grow.

use super::model::{Checklist, Step};
use crate::templates::escape_mrkdwn;

/// Slack's limits that the checklist's messages must keep (one place: [`crate::slack::limits`]).
pub use crate::slack::limits::{MAX_BLOCKS, MAX_BUTTON_VALUE, MAX_ID, MAX_SECTION_TEXT};

/// Blocks of a message that are not items: its header and its footer.
const FRAME_BLOCKS: usize = 2;
/// Items a message holds (one block spare).
pub const MAX_ITEMS: usize = MAX_BLOCKS - FRAME_BLOCKS - 1;
/// Room kept in a step's block for its state line ("▶ run by <@U…> at 15:47 → ok").
pub const STATE_RESERVE: usize = 300;
/// Room kept for the markers of a split step and a heading's time window.
const MARKER_RESERVE: usize = 150;
/// What a block's own text may take.
pub const BODY: usize = MAX_SECTION_TEXT - STATE_RESERVE - MARKER_RESERVE;

/// What one block of a message shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A section's heading (by its position in [`Checklist::sections`]).
    Heading { section: usize },
    /// A step (by its number).
    Step { number: u32 },
}

/// One block of a message: a heading or a step, or one piece of a long one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub what: What,
    /// Which piece (from 0) of how many.
    pub chunk: usize,
    pub chunks: usize,
    /// The piece's text (mrkdwn, escaped), before markers and state.
    pub text: String,
}

/// The checklist's messages, each a list of items.
pub fn parts(checklist: &Checklist) -> Vec<Vec<Item>> {
    // Units that stay together: a step's pieces, with the headings just above it (a heading
    // never ends a message while its first step begins the next).
    let mut units: Vec<Vec<Item>> = Vec::new();
    let mut pending: Vec<Item> = Vec::new();
    for (index, section) in checklist.sections.iter().enumerate() {
        pending.extend(heading_items(index, &section.heading, section.level));
        for step in &section.steps {
            let mut unit = std::mem::take(&mut pending);
            unit.extend(step_items(step));
            units.push(unit);
        }
    }
    if !pending.is_empty() {
        units.push(pending);
    }
    let mut parts: Vec<Vec<Item>> = Vec::new();
    let mut current: Vec<Item> = Vec::new();
    for unit in units {
        if !current.is_empty() && current.len() + unit.len() > MAX_ITEMS {
            parts.push(std::mem::take(&mut current));
        }
        // A unit longer than a whole message (a command of over 100,000 characters) fills
        // messages of its own.
        for item in unit {
            if current.len() == MAX_ITEMS {
                parts.push(std::mem::take(&mut current));
            }
            current.push(item);
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

fn heading_items(section: usize, heading: &str, level: u8) -> Vec<Item> {
    let mark = if level == 2 { "" } else { "› " };
    let pieces = split_escaped(heading, BODY - 10);
    let chunks = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(chunk, piece)| Item { what: What::Heading { section }, chunk, chunks, text: format!("{mark}*{piece}*") })
        .collect()
}

/// A step's block: `*4.* Check service status` and its command as code; over several blocks
/// when it does not fit one.
fn step_items(step: &Step) -> Vec<Item> {
    let head = format!("*{}.*", step.number);
    let note = step.note.as_deref().map(escape_mrkdwn);
    let code = escape_mrkdwn(&step.command);
    let whole = match (&note, step.task) {
        // A task is its own text: "Document the incident", then what the runbook adds below it.
        (Some(note), true) => format!("{head} {code}\n{note}"),
        (None, true) => format!("{head} {code}"),
        (Some(note), false) => format!("{head} {note}\n```{code}```"),
        (None, false) => format!("{head}\n```{code}```"),
    };
    let mut texts = Vec::new();
    if whole.chars().count() <= BODY {
        texts.push(whole);
    } else {
        let mut notes = step.note.as_deref().map(|n| split_escaped(n, BODY - 20)).unwrap_or_default().into_iter();
        texts.push(format!("{head} {}", notes.next().unwrap_or_default()).trim_end().to_string());
        texts.extend(notes);
        texts.extend(split_escaped(&step.command, BODY - 6).into_iter().map(|piece| format!("```{piece}```")));
    }
    let chunks = texts.len();
    let number = step.number;
    texts
        .into_iter()
        .enumerate()
        .map(|(chunk, text)| Item { what: What::Step { number }, chunk, chunks, text })
        .collect()
}

/// `raw`, escaped for mrkdwn, in pieces of at most `budget` characters each (an escape is never
/// split). Pieces break after a line break or a space where one falls in the piece's last fifth.
pub fn split_escaped(raw: &str, budget: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut len = 0;
    for c in raw.chars() {
        let escaped = escape_mrkdwn(c.encode_utf8(&mut [0; 4]));
        let width = escaped.chars().count();
        if len + width > budget && !piece.is_empty() {
            // Carry the piece's last words over when it can break at a space near its end.
            let cut = piece.rfind(['\n', ' ']).filter(|at| piece[..*at].chars().count() >= budget * 4 / 5);
            let carried = match cut {
                Some(at) => piece.split_off(at + 1),
                None => String::new(),
            };
            pieces.push(std::mem::replace(&mut piece, carried));
            len = piece.chars().count();
        }
        piece.push_str(&escaped);
        len += width;
    }
    if !piece.is_empty() || pieces.is_empty() {
        pieces.push(piece);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::super::model::Section;
    use super::*;

    fn step(number: u32, command: &str) -> Step {
        Step {
            number,
            command: command.into(),
            note: Some(format!("note {number}")),
            line: 1,
            action: None,
            task: false,
        }
    }

    fn checklist(sections: Vec<Section>) -> Checklist {
        Checklist { title: "T".into(), source: "t.md".into(), sections }
    }

    fn section(index: usize, level: u8, steps: Vec<Step>) -> Section {
        Section { index, heading: format!("Section {index}"), level, window_end_secs: None, steps }
    }

    #[test]
    fn pieces_keep_their_budget_and_lose_nothing() {
        let raw = "a & b < c > d ".repeat(500);
        let pieces = split_escaped(&raw, 100);
        assert!(pieces.iter().all(|p| p.chars().count() <= 100), "{pieces:?}");
        assert_eq!(pieces.concat(), escape_mrkdwn(&raw), "nothing lost, no escape split");
        assert_eq!(split_escaped("short", 100), ["short"]);
    }

    #[test]
    fn a_long_runbook_fills_messages_without_ending_one_on_a_heading() {
        let sections = (0..10).map(|s| section(s, 2, (0..8).map(|i| step(s as u32 * 8 + i + 1, "uptime")).collect()));
        let parts = parts(&checklist(sections.collect()));
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 90, "10 headings and 80 steps");
        assert!(parts.iter().all(|p| p.len() <= MAX_ITEMS));
        for part in &parts {
            assert!(matches!(part.last().unwrap().what, What::Step { .. }), "a part ends with a step");
        }
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn an_over_long_command_is_split_and_marked_by_its_pieces() {
        let long = format!("curl -d '{}' http://x", "y".repeat(7000));
        let parts = parts(&checklist(vec![section(0, 2, vec![step(1, &long)])]));
        let pieces: Vec<&Item> = parts[0].iter().filter(|i| i.what == What::Step { number: 1 }).collect();
        assert_eq!(pieces.len(), 4, "the note, then three pieces of code");
        assert!(pieces.iter().all(|p| p.text.chars().count() <= BODY && p.chunks == 4));
        let code: String =
            pieces[1..].iter().map(|p| p.text.trim_start_matches("```").trim_end_matches("```")).collect();
        assert_eq!(code, long.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"));
    }
}
