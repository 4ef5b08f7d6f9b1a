//! What a customer should read: the text people typed in Slack (updates, impact, root cause,
//! resolution) comes in Slack's markup — `&lt;` for `<`, `<@U123|alice>` for a mention,
//! `<https://…|the dashboard>` for a link, `<!here>` for a broadcast. The status page gets it
//! as plain text, without broadcasts, control characters or secrets.

use std::borrow::Cow;

use crate::sanitize::{redacted, strip_controls};
use crate::timeline::describe::is_markup;

/// A bare `<@U123>` (no name to show): who it was is not the customer's business.
const SOMEONE: &str = "a responder";

/// Slack text as a customer reads it (see the module doc), redacted.
pub fn text(mrkdwn: &str) -> String {
    finish(&plain(mrkdwn))
}

/// Text already written for customers (a person's edit of a draft, a rendered template):
/// control characters out, secrets redacted.
pub fn finish(text: &str) -> String {
    redacted(&strip_controls(text)).into_owned()
}

/// Slack's markup decoded: mentions by name, links by label, broadcasts removed. `<` and `>`
/// that are not Slack markup (a modal's raw "a < b > c") are left as they are.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&decode(&rest[..start]));
        let after = &rest[start + 1..];
        let Some((inner, tail)) = after.split_once('>').filter(|(inner, _)| is_markup(inner)) else {
            out.push('<');
            rest = after;
            continue;
        };
        match shown(inner) {
            Some(shown) => out.push_str(&shown),
            // Removed: and the space it leaves behind ("<!here> the API" reads "the API").
            None if out.is_empty() || out.ends_with(char::is_whitespace) => {
                rest = tail.strip_prefix(' ').unwrap_or(tail);
                continue;
            }
            None => {}
        }
        rest = tail;
    }
    out.push_str(&decode(rest));
    out
}

/// What a piece of markup shows as; `None` when it shows as nothing.
fn shown(inner: &str) -> Option<String> {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(decode(label).into_owned()).filter(|l| !l.trim().is_empty())),
        None => (inner, None),
    };
    match target.chars().next() {
        Some('@') => Some(label.unwrap_or_else(|| SOMEONE.into())),
        Some('#') => label.map(|name| format!("#{}", name.trim_start_matches('#'))),
        // `<!date^…|Nov 23>` shows its fallback; broadcasts and groups show as nothing.
        Some('!') if target.starts_with("!date^") => label,
        Some('!') => None,
        _ => Some(label.unwrap_or_else(|| decode(target).into_owned())),
    }
}

/// `&lt;`, `&gt;`, `&amp;` back to `<`, `>`, `&` (in one pass: `&amp;lt;` is `&lt;`).
fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        let (decoded, len) = [("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&')]
            .iter()
            .find(|(name, _)| entity.starts_with(name))
            .map_or(('&', 1), |(name, c)| (*c, name.len()));
        out.push(decoded);
        rest = &entity[len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_markup_reads_as_a_customer_should() {
        let cases = [
            ("p99 &lt; 200 ms &amp; errors &gt; 1%", "p99 < 200 ms & errors > 1%"),
            ("&amp;lt; stays an entity", "&lt; stays an entity"),
            ("<@U0ALICE|alice> restarted it", "alice restarted it"),
            ("restarted by <@U0ALICE>", "restarted by a responder"),
            ("details in <#C0123|inc-42-api>", "details in #inc-42-api"),
            ("see <https://status.example.com/x?a=1&amp;b=2|the dashboard>", "see the dashboard"),
            ("see <https://status.example.com/x>", "see https://status.example.com/x"),
            ("mail <mailto:help@example.com|help@example.com>", "mail help@example.com"),
            ("<!here> the API is down <!channel>", "the API is down "),
            ("<!subteam^S0123|@sre-leads> <!everyone> paged", "paged"),
            ("since <!date^1795532400^{time}|15:00 UTC>", "since 15:00 UTC"),
            ("raw from a modal: a < b > c, <not markup>", "raw from a modal: a < b > c, <not markup>"),
            ("unclosed <https://x", "unclosed <https://x"),
        ];
        for (input, expected) in cases {
            assert_eq!(text(input), expected, "{input:?}");
        }
    }

    #[test]
    fn customers_get_no_controls_and_no_secrets() {
        assert_eq!(text("ok\u{1b}[31m\0 PGPASSWORD=hunter2\r\nnext"), "ok PGPASSWORD=[REDACTED]\nnext");
        assert_eq!(
            finish("edited <!here> by hand"),
            "edited <!here> by hand",
            "a person's own edit is not Slack markup"
        );
    }
}
