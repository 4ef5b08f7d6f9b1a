//! Control characters in text people or programs wrote: ANSI escape sequences (colours in
//! `docker logs`), NUL and the other C0/C1 controls, bidirectional overrides, and line breaks
//! other than `\n` — each of which can make text look like something else, or end a line where
//! a reader (a Markdown renderer, a CSV parser, a terminal) does not expect one.

use std::borrow::Cow;

/// `text` with `\r\n`, `\r`, U+2028, U+2029, NEL, VT and FF as `\n`; ANSI escape sequences,
/// other control characters and bidi overrides removed; tabs kept.
pub fn strip_controls(text: &str) -> Cow<'_, str> {
    if !has_special(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{b}' | '\u{c}' => out.push('\n'),
            '\u{1b}' => skip_escape(&mut chars),
            // CSI without ESC: parameters up to the final byte.
            '\u{9b}' => skip_csi(&mut chars),
            c if c == '\n' || c == '\t' || !special(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// Whether UTF-8 `bytes` hold a character [`special`] (bar `\n` and `\t`), looked for byte
/// by byte (it runs on every text that leaves): ASCII controls, C1 controls (`C2 80`-`C2 9F`),
/// U+2028-U+202E (`E2 80 A8`-`AE`) and U+2066-U+2069 (`E2 81 A6`-`A9`).
fn has_special(bytes: &[u8]) -> bool {
    let lead = |b: &u8| (*b < 0x20 && *b != b'\n' && *b != b'\t') || matches!(*b, 0x7f | 0xc2 | 0xe2);
    let mut from = 0;
    while let Some(found) = bytes[from..].iter().position(lead) {
        let at = from + found;
        let special = match bytes[at] {
            0xc2 => matches!(bytes.get(at + 1), Some(0x80..=0x9f)),
            0xe2 => matches!(
                (bytes.get(at + 1), bytes.get(at + 2)),
                (Some(0x80), Some(0xa8..=0xae)) | (Some(0x81), Some(0xa6..=0xa9))
            ),
            _ => true,
        };
        if special {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Controls, line and paragraph separators, and the bidi embeddings, overrides and isolates.
fn special(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// After ESC: `[`…final (CSI), `]`…BEL or ESC `\` (OSC), or one character.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameter and intermediate bytes are 0x20-0x3F; the final byte is 0x40-0x7E.
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) || !('\u{20}'..='\u{3f}').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_become_newlines_and_controls_go() {
        let cases = [
            ("a\r\nb\rc\u{2028}d\u{2029}e\u{85}f", "a\nb\nc\nd\ne\nf"),
            ("nul\0 bell\u{7} back\u{8}space del\u{7f}", "nul bell backspace del"),
            ("\u{1b}[31mred\u{1b}[0m \u{1b}[1;32;40mbold\u{1b}[m", "red bold"),
            ("title\u{1b}]0;owned\u{7} \u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "title link"),
            ("\u{9b}2Jcleared \u{1b}Mup", "cleared up"),
            ("admin\u{202e}txt.exe \u{2066}x\u{2069}", "admintxt.exe x"),
            ("tabs\tstay\nand newlines", "tabs\tstay\nand newlines"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_controls(input), expected, "{input:?}");
        }
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(
            strip_controls("plain — text ✅ “quoted” \u{2027}\u{202f}\u{2065}\u{206a}\n\ttab é"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_byte_scan_finds_exactly_the_special_characters() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            assert_eq!(has_special(text.as_bytes()), c != '\n' && c != '\t' && special(c), "{:04x}", c as u32);
        }
    }
}
