//! Text a person, an alert or a program wrote, made safe to place in the Markdown report: secrets
//! redacted, control characters out, HTML escaped (`<script>` is shown, never run; `</details>`
//! closes nothing), `|` and `\` escaped (a table row keeps its cells), and nothing at the start
//! of a line that Markdown would read as structure (a heading, a quote, a list, a fence, a
//! setext underline, a table row).

use std::borrow::Cow;

use crate::sanitize::{redacted, strip_controls};

/// One line of text (a heading, a table cell, a list item): line breaks become spaces.
pub fn inline(text: &str) -> String {
    let clean = clean(text);
    let mut out = String::with_capacity(clean.len() + 8);
    for line in clean.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        escape_into(&mut out, line);
    }
    out
}

/// A paragraph (the impact, a root cause): its lines kept, as hard line breaks within one
/// paragraph; blank lines and indentation dropped, each line's start neutralised.
pub fn block(text: &str) -> String {
    let clean = clean(text);
    let lines: Vec<String> = clean.split('\n').map(str::trim).filter(|l| !l.is_empty()).map(line).collect();
    lines.join("\\\n")
}

/// Text quoted line by line (`> `), as the status page's texts are shown.
pub fn quoted(text: &str) -> String {
    let clean = clean(text);
    let mut out = String::with_capacity(clean.len() + 16);
    for raw in clean.trim_end().split('\n') {
        let raw = raw.trim();
        if raw.is_empty() {
            out.push_str(">\n");
        } else {
            out.push_str("> ");
            out.push_str(&line(raw));
            out.push('\n');
        }
    }
    out
}

/// Program output for a fenced code block: redacted, controls out (the fence itself is chosen
/// longer than any run of backticks inside, see `fence_for`).
pub fn code(text: &str) -> String {
    clean(text).into_owned()
}

/// Controls first, so that an escape sequence cannot split a secret from its key.
fn clean(text: &str) -> Cow<'_, str> {
    match strip_controls(text) {
        Cow::Borrowed(text) => redacted(text),
        Cow::Owned(text) => Cow::Owned(redacted(&text).into_owned()),
    }
}

/// One line: escaped, its first character made literal where Markdown would read it as
/// structure.
fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    // (`>` and `<` become entities, which start nothing.)
    let starts_block = text.starts_with(['#', '-', '+', '*', '=', '_', '`', '~', '[']);
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if starts_block {
        out.push('\\');
    } else if digits > 0 && text[digits..].starts_with(['.', ')']) {
        // "1. item" would start an ordered list: "1\. item".
        out.push_str(&text[..digits]);
        out.push('\\');
        escape_into(&mut out, &text[digits..]);
        return out;
    }
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    // Runs between the (ASCII) characters to escape are copied whole.
    let mut from = 0;
    for (at, b) in text.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'|' => "\\|",
            b'\\' => "\\\\",
            _ => continue,
        };
        out.push_str(&text[from..at]);
        out.push_str(escaped);
        from = at + 1;
    }
    out.push_str(&text[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_shown_not_run() {
        assert_eq!(inline("<script>alert(1)</script> & co"), "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co");
        assert_eq!(inline("</details>"), "&lt;/details&gt;");
    }

    #[test]
    fn inline_text_stays_on_its_line_and_in_its_cell() {
        assert_eq!(inline("a | b\n## Root cause\r\n| x |\u{2028}c\0d"), "a \\| b ## Root cause \\| x \\| cd");
        assert_eq!(inline(r"a \| b"), r"a \\\| b");
        assert_eq!(inline("\u{1b}[31mred\u{1b}[0m"), "red");
    }

    #[test]
    fn a_block_keeps_its_lines_but_none_starts_a_structure() {
        let text = "first\n## Root cause\n\n```\n> quote\n- item\n1. one\n---\n===\n    indented\n|a|b|";
        assert_eq!(
            block(text),
            "first\\\n\\## Root cause\\\n\\```\\\n&gt; quote\\\n\\- item\\\n1\\. one\\\n\\---\\\n\\===\\\nindented\\\n\\|a\\|b\\|"
        );
    }

    #[test]
    fn quoted_lines_stay_quoted() {
        assert_eq!(quoted("Status: ok\n\n## Fake\r\nLast"), "> Status: ok\n>\n> \\## Fake\n> Last\n");
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        assert_eq!(inline("DB_PASSWORD=hunter2"), "DB_PASSWORD=[REDACTED]");
        assert_eq!(code("PGPASSWORD=\u{1b}[1mhunter2"), "PGPASSWORD=[REDACTED]");
    }
}
