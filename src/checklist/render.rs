//! Block Kit for one message of the checklist: a header ("part 2 of 3"), a section block per
//! heading and per step — its comment, its command as code, its state line and its button —
//! and a footer. [`super::layout`] decided what each message holds; this only draws it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use slack_morphism::blocks::SlackBlock;
use uuid::Uuid;

use super::layout::{Item, What};
use super::model::{Button, Checklist};
use super::progress::Progress;
use super::store::StepState;
use crate::slack::kit;
use crate::templates::escape_mrkdwn;

/// What a message is drawn for.
pub struct Frame<'a> {
    pub incident_id: Uuid,
    /// `INC-42`.
    pub number: &'a str,
    pub declared_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// A message: its fallback text and blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

impl Rendered {
    /// What was sent, as a short hash: an edit is needed only when it changes. Hashed as the
    /// JSON sent (keys sorted), so the digests stored before Block Kit was typed still match.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.text.as_bytes());
        hasher.update(kit::json(&self.blocks).to_string().as_bytes());
        hex::encode(&hasher.finalize()[..16])
    }
}

/// The button's `action_id` for `step`: `checklist.run.4`.
pub fn action_id(button: Button, step: u32) -> String {
    format!("{}{}.{step}", super::ACTION_PREFIX, button.word())
}

/// Message `index` of `parts`, with the steps' states as they are now.
pub fn part(
    checklist: &Checklist,
    parts: &[Vec<Item>],
    index: usize,
    frame: &Frame<'_>,
    states: &BTreeMap<u32, StepState>,
) -> Rendered {
    let of = parts.len();
    let items = &parts[index];
    let mut blocks = vec![header(checklist, items, index, of, frame)];
    for item in items {
        blocks.push(match item.what {
            What::Heading { section } => heading(checklist, section, item, frame),
            What::Step { number } => step(checklist, number, item, index, frame, states),
        });
    }
    let footer = if index + 1 < of {
        format!("Continued in part {} of {of} below.", index + 2)
    } else {
        "*Run* and *Request* do what `/incident run` does (a change runs once another person approves it); \
         *Done* ticks a step by hand. `/incident runbook` posts the checklist again."
            .to_string()
    };
    blocks.push(kit::context(footer));
    let text =
        format!("📋 {} runbook checklist: {} (part {} of {of})", frame.number, short_title(checklist), index + 1);
    Rendered { text, blocks }
}

/// The title, escaped, at most 150 characters (marked when shortened).
fn short_title(checklist: &Checklist) -> String {
    let title = escape_mrkdwn(&checklist.title);
    if title.chars().count() <= 150 {
        return title;
    }
    format!("{}…", title.chars().take(149).collect::<String>())
}

fn header(checklist: &Checklist, items: &[Item], index: usize, of: usize, frame: &Frame<'_>) -> SlackBlock {
    let (run, request, done) = checklist.buttons();
    let steps = run + request + done;
    let mut text = format!(
        "📋 *Runbook checklist — {}* · {}\n{steps} steps: {run} Run, {request} Request, {done} Done · `{}` · *part {} of {of}*",
        short_title(checklist),
        frame.number,
        escape_mrkdwn(&short(&checklist.source, 200)),
        index + 1,
    );
    // A message that begins inside a section says which.
    if let Some(What::Step { number }) = items.first().map(|i| &i.what) {
        if let Some((section, _)) = checklist.step(*number) {
            text.push_str(&format!("\n_continues {}_", escape_mrkdwn(&short(&section.heading, 200))));
        }
    }
    kit::section(Some("checklist.header"), text)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    format!("{}…", text.chars().take(max - 1).collect::<String>())
}

fn heading(checklist: &Checklist, position: usize, item: &Item, frame: &Frame<'_>) -> SlackBlock {
    let section = &checklist.sections[position];
    let mut text = item.text.clone();
    if item.chunk + 1 == item.chunks {
        if let Some(secs) = checklist.own_window(position) {
            let end = frame.declared_at + chrono::Duration::seconds(secs as i64);
            text.push_str(&format!(" · ⏱ until {} UTC", crate::slack::blocks::hhmm(end)));
        }
    }
    let block_id = format!("checklist.section.{}.{}", section.index, item.chunk);
    kit::section(Some(&block_id), text)
}

fn step(
    checklist: &Checklist,
    number: u32,
    item: &Item,
    index: usize,
    frame: &Frame<'_>,
    states: &BTreeMap<u32, StepState>,
) -> SlackBlock {
    let mut text = String::new();
    if item.chunk > 0 {
        text.push_str(&format!("_(step {number}, continued: {} of {})_\n", item.chunk + 1, item.chunks));
    }
    text.push_str(&item.text);
    let last = item.chunk + 1 == item.chunks;
    if !last {
        text.push_str(&format!("\n_↓ step {number} continues below ({} of {})_", item.chunk + 1, item.chunks));
    }
    let block_id = format!("checklist.step.{number}.{}.{index}", item.chunk);
    let mut accessory = None;
    if let (true, Some((_, step))) = (last, checklist.step(number)) {
        let progress = Progress::of(step, states.get(&number), frame.now);
        if let Some(line) = progress.line() {
            text.push('\n');
            text.push_str(&short(&line, super::layout::STATE_RESERVE - 1));
        }
        if progress.offers_button() {
            let button = step.button();
            let value = format!("{}|{number}", frame.incident_id);
            let element = kit::button(&action_id(button, number), button.label(), value);
            accessory = Some(if button == Button::Request { kit::danger(element) } else { element });
        }
    }
    match accessory {
        Some(button) => kit::section_with(Some(&block_id), text, button),
        None => kit::section(Some(&block_id), text),
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout;
    use super::super::model::{Mapped, Section, Step};
    use super::*;

    fn checklist(steps: u32) -> Checklist {
        let step = |number: u32| Step {
            number,
            command: format!("systemctl restart api-{number}"),
            note: Some("Restart <it> & check".into()),
            task: false,
            line: 1,
            action: number.is_multiple_of(2).then(|| Mapped {
                id: "systemd.restart".into(),
                change: true,
                given: Default::default(),
                timeout_secs: 60,
            }),
        };
        let section = Section {
            index: 3,
            heading: "Immediate Actions (0-5 minutes)".into(),
            level: 2,
            window_end_secs: Some(300),
            steps: (1..=steps).map(step).collect(),
        };
        Checklist { title: "Service Down Runbook".into(), source: "runbooks/api.md".into(), sections: vec![section] }
    }

    fn frame() -> Frame<'static> {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Frame { incident_id: Uuid::nil(), number: "INC-7", declared_at: at, now: at }
    }

    #[test]
    fn each_step_shows_its_comment_command_and_button() {
        let checklist = checklist(2);
        let parts = layout::parts(&checklist);
        let done = StepState {
            step: 1,
            done_by: Some("U0ALICE".into()),
            done_at: Some(frame().now),
            done_via: Some("done".into()),
            ..Default::default()
        };
        let message = part(&checklist, &parts, 0, &frame(), &BTreeMap::from([(1, done)]));
        let blocks = kit::json(&message.blocks);
        let blocks = blocks.as_array().unwrap();
        assert_eq!(blocks.len(), 5, "header, heading, two steps, footer");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().contains("part 1 of 1"));
        assert_eq!(blocks[1]["text"]["text"], "*Immediate Actions (0-5 minutes)* · ⏱ until 08:05 UTC");
        let first = blocks[2]["text"]["text"].as_str().unwrap();
        assert!(first.starts_with("*1.* Restart &lt;it&gt; &amp; check\n```systemctl restart api-1```"), "{first}");
        assert!(first.ends_with("✅ done by <@U0ALICE> at 08:00") && blocks[2]["accessory"].is_null(), "{first}");
        assert_eq!(blocks[3]["accessory"]["action_id"], "checklist.request.2");
        assert_eq!(blocks[3]["accessory"]["value"], format!("{}|2", Uuid::nil()));
        assert_eq!(blocks[3]["accessory"]["style"], "danger");
    }

    #[test]
    fn a_long_checklist_is_several_messages_each_marked_and_within_limits() {
        let checklist = checklist(120);
        let parts = layout::parts(&checklist);
        assert_eq!(parts.len(), 3);
        for index in 0..parts.len() {
            let message = part(&checklist, &parts, index, &frame(), &BTreeMap::new());
            let blocks = kit::json(&message.blocks);
            let blocks = blocks.as_array().unwrap();
            assert!(blocks.len() <= layout::MAX_BLOCKS);
            let header = blocks[0]["text"]["text"].as_str().unwrap();
            assert!(header.contains(&format!("part {} of 3", index + 1)), "{header}");
            if index > 0 {
                assert!(header.contains("_continues Immediate Actions (0-5 minutes)_"), "{header}");
            }
            for block in blocks {
                assert!(block["text"]["text"].as_str().unwrap_or("").chars().count() <= layout::MAX_SECTION_TEXT);
            }
        }
    }
}
