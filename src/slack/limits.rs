//! Slack's Block Kit limits, kept where warroom builds its messages and modals rather than
//! discovered by Slack at 3 a.m. (<https://api.slack.com/reference/block-kit/blocks>). Every
//! builder takes its numbers from here; what does not fit is split or shared elsewhere with a
//! visible marker — never cut silently, never left for Slack to refuse.
//!
//! The helpers are pure string work and slack-morphism's Block Kit types, cheap enough for any
//! path.

use slack_morphism::blocks::{SlackBlock, SlackBlockPlainTextOnly};

/// A message's top-level `text` (Slack answers `msg_too_long` beyond it).
pub const MAX_TEXT: usize = 40_000;
/// Blocks in a message.
pub const MAX_BLOCKS: usize = 50;
/// Blocks in a modal.
pub const MAX_MODAL_BLOCKS: usize = 100;
/// A section's `text`.
pub const MAX_SECTION_TEXT: usize = 3000;
/// A section's `fields`, and the text of each.
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
/// A header's `plain_text`.
pub const MAX_HEADER_TEXT: usize = 150;
/// Elements of a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// Elements of an actions block.
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
/// A button's label and value.
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_BUTTON_VALUE: usize = 2000;
/// `action_id`, `block_id`, `callback_id`.
pub const MAX_ID: usize = 255;
/// Options of a select, the text and value of each.
pub const MAX_OPTIONS: usize = 100;
pub const MAX_OPTION_TEXT: usize = 75;
pub const MAX_OPTION_VALUE: usize = 150;
/// A modal's title, submit and close labels.
pub const MAX_MODAL_TITLE: usize = 24;
/// A confirm dialog's text.
pub const MAX_CONFIRM_TEXT: usize = 300;

/// Starts every piece of a split text after the first.
pub const CONTINUED: &str = "_(continued)_\n";
/// Ends a cut label.
pub const ELLIPSIS: char = '…';

/// `text` in pieces of at most `budget` characters (markers included), cut after a line break
/// where one falls in the piece's second half, else after a space, else anywhere but inside an
/// escape (`&amp;`) or a mention (`<@U…>`). Every piece after the first starts with
/// [`CONTINUED`]; a code block (```) open at a cut is closed there and opened again, so each
/// piece reads on its own. The pieces are [`cuts`] with those markers: nothing is lost.
pub fn split(text: &str, budget: usize) -> Vec<String> {
    let heads = cuts(text, budget);
    let last = heads.len() - 1;
    let mut fenced = false;
    let mut pieces = Vec::with_capacity(heads.len());
    for (n, head) in heads.into_iter().enumerate() {
        let mut piece = String::with_capacity(head.len() + 32);
        if n > 0 {
            piece.push_str(CONTINUED);
        }
        if fenced {
            piece.push_str("```");
        }
        piece.push_str(head);
        fenced ^= head.matches("```").count() % 2 == 1;
        if fenced && n < last {
            piece.push_str("```");
        }
        pieces.push(piece);
    }
    pieces
}

/// The unmarked pieces [`split`] shows, in order: together they are `text`, byte for byte.
pub fn cuts(text: &str, budget: usize) -> Vec<&str> {
    // Room for the marker and a fence at each end.
    let body = budget.saturating_sub(CONTINUED.chars().count() + 6).max(16);
    let mut heads = Vec::new();
    let mut rest = text;
    while rest.chars().count() > body {
        let (head, tail) = rest.split_at(cut_at(rest, body));
        heads.push(head);
        rest = tail;
    }
    heads.push(rest);
    heads
}

/// Where to cut `text` (a byte offset) to keep at most `max` characters before it.
fn cut_at(text: &str, max: usize) -> usize {
    let limit = text.char_indices().nth(max).map_or(text.len(), |(at, _)| at);
    let head = &text[..limit];
    let half = head.char_indices().nth(max / 2).map_or(0, |(at, _)| at);
    if let Some(at) = head.rfind('\n').filter(|at| *at >= half) {
        return at + 1;
    }
    if let Some(at) = head.rfind(' ').filter(|at| *at >= half) {
        return at + 1;
    }
    // No break: do not cut inside `&amp;` or `<@U123>`.
    let open = head.rfind(['&', '<']).filter(|at| !head[*at..].contains([';', '>']) && head.len() - at < 64);
    open.filter(|at| *at > 0).unwrap_or(limit)
}

/// Section blocks holding mrkdwn `text`, split at line boundaries when it is over 3,000
/// characters (the pieces marked [`CONTINUED`]).
pub fn sections(text: &str) -> Vec<SlackBlock> {
    split(text, MAX_SECTION_TEXT).into_iter().map(|t| super::kit::section(None, t)).collect()
}

/// A `plain_text` object of at most `max` characters: a longer label ends with `…` (a label
/// is shown whole elsewhere — the message or the config it comes from).
pub fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    super::kit::plain(label(text, max))
}

/// `text` in at most `max` characters, ending with `…` when it was longer.
pub fn label(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push(ELLIPSIS);
    cut
}

/// The first `max` of `items` and how many were left out.
pub fn cap<T>(items: &[T], max: usize) -> (&[T], usize) {
    let kept = items.len().min(max);
    (&items[..kept], items.len() - kept)
}

/// The marker of a capped list: "… and 12 more <what>".
pub fn more(left_out: usize, what: &str) -> String {
    format!("{ELLIPSIS} and {left_out} more {what}")
}

/// A message `text` (with no blocks) that Slack takes: at most [`MAX_TEXT`] characters, the
/// rest said to be left out with how much and `where_` it is.
pub fn text(text: &str, where_: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_string();
    }
    let marker = |n: usize| format!("\n{ELLIPSIS} _{n} more characters not shown: {where_}_");
    let keep = MAX_TEXT - marker(text.chars().count()).chars().count();
    let cut = cut_at(text, keep);
    format!("{}{}", &text[..cut], marker(text[cut..].chars().count()))
}

/// `head` and as many of the last of `lines` as fit in [`MAX_TEXT`] (for a timeline, the newest
/// matter most), one a line; the lines left out are counted, and `where_` they are said.
pub fn last_lines(head: &str, lines: &[String], where_: &str) -> String {
    let mut room = MAX_TEXT - head.chars().count() - 200 - where_.chars().count();
    let mut kept = 0;
    for line in lines.iter().rev() {
        let width = line.chars().count() + 1;
        if width > room {
            break;
        }
        room -= width;
        kept += 1;
    }
    let mut out = head.to_string();
    let left_out = lines.len() - kept;
    if left_out > 0 {
        out.push_str(&format!("\n{ELLIPSIS} _{left_out} older entries not shown: {where_}_"));
    }
    for line in &lines[left_out..] {
        out.push('\n');
        out.push_str(line);
    }
    // A single line longer than a whole message is still cut, and says so.
    text(&out, where_)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each piece within `budget`, each later one marked, and the pieces without their markers
    /// are the text.
    fn check(text: &str, budget: usize) -> Vec<String> {
        let pieces = split(text, budget);
        let heads = cuts(text, budget);
        assert!(pieces.iter().all(|p| p.chars().count() <= budget), "a piece over {budget}");
        assert!(pieces.iter().skip(1).all(|p| p.starts_with(CONTINUED)), "every later piece is marked");
        assert_eq!(heads.concat(), text, "nothing lost");
        for (piece, head) in pieces.iter().zip(&heads) {
            let unmarked = piece.strip_prefix(CONTINUED).unwrap_or(piece);
            let unmarked = if unmarked.starts_with(head) { unmarked } else { unmarked.strip_prefix("```").unwrap() };
            let unmarked = unmarked.strip_prefix(head).expect("the piece is its text and markers");
            assert!(unmarked.is_empty() || unmarked == "```", "only a closing fence is added: {unmarked:?}");
        }
        pieces
    }

    #[test]
    fn short_text_is_one_unmarked_piece() {
        assert_eq!(split("all good", 3000), ["all good"]);
        assert_eq!(split("", 3000), [""]);
        assert_eq!(sections("hi").len(), 1);
    }

    #[test]
    fn long_text_splits_at_line_boundaries() {
        let text: String = (0..400).map(|i| format!("line {i}: the gateway answered 503\n")).collect();
        let pieces = check(&text, MAX_SECTION_TEXT);
        assert!(pieces.len() >= 5);
        for piece in &pieces[..pieces.len() - 1] {
            assert!(piece.ends_with('\n'), "cut after a line: {:?}", &piece[piece.len() - 20..]);
        }
    }

    #[test]
    fn one_long_line_splits_at_spaces_and_never_inside_an_escape_or_mention() {
        let text = "a &amp; <@U0ALICE> ".repeat(400);
        check(&text, 500);
        let solid = "&amp;".repeat(1000);
        for piece in check(&solid, 500) {
            let body = piece.trim_start_matches(CONTINUED);
            assert!(body.starts_with("&amp;") && body.ends_with("&amp;"), "{body:.20}");
        }
        let wide = "é🚨".repeat(3000);
        check(&wide, 3000);
    }

    #[test]
    fn a_code_block_cut_in_two_is_closed_and_opened_again() {
        let text = format!("🔎 *uptime*\n```{}```\n_done_", "load average 0.42\n".repeat(300));
        let pieces = check(&text, MAX_SECTION_TEXT);
        assert!(pieces.len() >= 2);
        for piece in &pieces {
            assert_eq!(piece.matches("```").count() % 2, 0, "each piece's code block is whole: {piece:.40}");
        }
    }

    #[test]
    fn labels_caps_and_texts_carry_their_marker() {
        assert_eq!(label("short", 24), "short");
        let long = label(&"x".repeat(30), 24);
        assert_eq!(long.chars().count(), 24);
        assert!(long.ends_with(ELLIPSIS));
        let items: Vec<u32> = (0..150).collect();
        let (kept, left) = cap(&items, MAX_OPTIONS);
        assert_eq!((kept.len(), left), (100, 50));
        assert_eq!(more(left, "services"), "… and 50 more services");
        assert_eq!(cap(&items[..3], 100).1, 0);
        let huge = "timeline line\n".repeat(5000);
        let fitted = text(&huge, "see the web timeline");
        assert!(fitted.chars().count() <= MAX_TEXT);
        let shown = fitted.split("\n…").next().unwrap();
        assert!(huge.starts_with(shown));
        let told = huge.chars().count() - shown.chars().count();
        assert!(fitted.ends_with(&format!("{told} more characters not shown: see the web timeline_")), "{told}");
        assert_eq!(text("fine", "x"), "fine");
        let lines: Vec<String> = (0..30).map(|n| format!("{n} {}", "y".repeat(1990))).collect();
        let shown = last_lines("*INC-1 timeline*", &lines, "the web UI");
        assert!(shown.chars().count() <= MAX_TEXT);
        assert!(shown.contains("… _11 older entries not shown: the web UI_"), "{:.200}", shown);
        assert!(shown.ends_with(&lines[29]) && shown.contains(&lines[11]) && !shown.contains(&lines[10]));
        assert_eq!(last_lines("h", &lines[..2], "w"), format!("h\n{}\n{}", lines[0], lines[1]));
    }
}
