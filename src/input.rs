//! Text from outside (Slack, the API, alert sources) before anything of it reaches Postgres.
//! NUL and the other control characters, newline and tab excepted, are refused: Postgres stores
//! no NUL in `text` and no `\u0000` in `jsonb`, and the rest has no place in an incident record.
//! Bytes that are not UTF-8 are refused too (Slack's form bodies are decoded here, strictly).

use serde_json::Value;

/// The first character of `text` warroom does not take, if any.
pub fn refused_char(text: &str) -> Option<char> {
    text.chars().find(|&c| refused(c))
}

fn refused(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// What is wrong with `text` (named `what` in the message), if anything.
pub fn check(what: &str, text: &str) -> Result<(), String> {
    match refused_char(text) {
        Some(c) => Err(format!("{what} {}", describe(c))),
        None => Ok(()),
    }
}

/// "contains the control character U+0000, which warroom does not accept".
pub fn describe(c: char) -> String {
    format!(
        "contains the control character U+{:04X}, which warroom does not accept (only text, newlines and tabs)",
        c as u32
    )
}

/// `text` without the characters warroom refuses (for text warroom copies rather than is
/// asked to act on: a pinned message).
pub fn strip(text: &str) -> String {
    text.chars().filter(|&c| !refused(c)).collect()
}

/// The first place in `value` (a dotted path, `""` for the value itself) where a string or a key
/// holds a refused character, and that character; paths in `skip` are not looked into.
pub fn find_in_json(value: &Value, skip: &[&str]) -> Option<(String, char)> {
    fn walk(value: &Value, path: &mut String, skip: &[&str]) -> Option<(String, char)> {
        if skip.contains(&path.as_str()) {
            return None;
        }
        match value {
            Value::String(s) => refused_char(s).map(|c| (path.clone(), c)),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                push(path, &i.to_string());
                let found = walk(item, path, skip);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(key, item)| {
                if let Some(c) = refused_char(key) {
                    return Some((path.clone(), c));
                }
                let len = path.len();
                push(path, key);
                let found = walk(item, path, skip);
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    fn push(path: &mut String, part: &str) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
    }
    walk(value, &mut String::new(), skip)
}

/// Refuses a JSON body with a refused character anywhere in it: "`labels.job` contains …".
pub fn check_json(value: &Value) -> Result<(), String> {
    match find_in_json(value, &[]) {
        Some((path, c)) if path.is_empty() => Err(format!("the body {}", describe(c))),
        Some((path, c)) => Err(format!("`{path}` {}", describe(c))),
        None => Ok(()),
    }
}

/// `json` with every `\u` escape that is no Unicode (a lone surrogate, which serde refuses to
/// read) replaced by `\uFFFD`, and whether there was one: the rest can be read, and the caller
/// refuses the input as not UTF-8 (answering it as its kind is answered).
pub fn lossy_json(json: &str) -> (std::borrow::Cow<'_, str>, bool) {
    let bytes = json.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = bytes.get(at..at + 4)?;
        digits.iter().try_fold(0, |n, &b| Some(n * 16 + (b as char).to_digit(16)?))
    };
    let surrogate = |unit: u32, low: bool| (if low { 0xDC00..0xE000 } else { 0xD800..0xDC00 }).contains(&unit);
    let (mut out, mut last, mut i, mut bad) = (String::new(), 0, 0, false);
    while i < bytes.len() {
        // Outside strings a backslash is not JSON at all; inside, it starts an escape.
        if bytes[i] != b'\\' || bytes.get(i + 1) != Some(&b'u') {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
            continue;
        }
        let Some(unit) = hex4(i + 2) else {
            i += 2;
            continue;
        };
        let paired = surrogate(unit, false)
            && bytes.get(i + 6..i + 8) == Some(b"\\u")
            && hex4(i + 8).is_some_and(|low| surrogate(low, true));
        if paired || !(surrogate(unit, false) || surrogate(unit, true)) {
            i += if paired { 12 } else { 6 };
            continue;
        }
        out.push_str(&json[last..i]);
        out.push_str("\\uFFFD");
        i += 6;
        last = i;
        bad = true;
    }
    if !bad {
        return (std::borrow::Cow::Borrowed(json), false);
    }
    out.push_str(&json[last..]);
    (std::borrow::Cow::Owned(out), true)
}

/// An `application/x-www-form-urlencoded` body, decoded: its pairs (a value that was not
/// UTF-8 decoded with U+FFFD in place of the bad bytes) and whether any key or value was not.
#[derive(Debug, Default)]
pub struct Form {
    pub pairs: Vec<(String, String)>,
    pub invalid_utf8: bool,
}

impl Form {
    /// Decodes `body` (`+` is a space, `%XX` a byte; a `%` not followed by two hex digits stays).
    pub fn decode(body: &[u8]) -> Self {
        let mut form = Form::default();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let (key, value) = (form.text(key), form.text(value));
            form.pairs.push((key, value));
        }
        form
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The pairs as a JSON object (the last of repeated keys wins), for serde to read.
    pub fn to_json(&self) -> Value {
        Value::Object(self.pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
    }

    fn text(&mut self, raw: &[u8]) -> String {
        let bytes = percent_decode(raw);
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                self.invalid_utf8 = true;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        }
    }
}

fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_characters_are_refused_but_newlines_and_tabs_are_text() {
        assert_eq!(refused_char("before\0after"), Some('\0'));
        assert_eq!(refused_char("bell\u{7}"), Some('\u{7}'));
        assert_eq!(refused_char("c1 \u{85}"), Some('\u{85}'));
        assert_eq!(refused_char("carriage\r"), Some('\r'));
        assert_eq!(refused_char("two\nlines\tand a tab, ünïcödé 🚨"), None);
        assert!(check("The note", "a\0b").unwrap_err().contains("The note contains the control character U+0000"));
        assert_eq!(strip("pin\0ned\u{1b}[31m\n ok"), "pinned[31m\n ok");
    }

    #[test]
    fn a_refused_character_is_found_anywhere_in_json_with_its_path() {
        let value = json!({ "view": { "state": { "values": { "cause": { "value": { "value": "x\u{0}" } } } } } });
        assert_eq!(find_in_json(&value, &[]), Some(("view.state.values.cause.value.value".into(), '\0')));
        assert_eq!(find_in_json(&value, &["view.state"]), None);
        assert_eq!(find_in_json(&json!({ "list": ["ok", "b\u{8}"] }), &[]), Some(("list.1".into(), '\u{8}')));
        assert_eq!(find_in_json(&json!({ "ke\u{0}y": 1 }), &[]), Some(("".into(), '\0')));
        assert!(check_json(&json!({ "labels": { "job": "a\u{0}" } }))
            .unwrap_err()
            .starts_with("`labels.job` contains"));
        assert!(check_json(&json!({ "fine": ["text\n", 1, null] })).is_ok());
    }

    #[test]
    fn lone_surrogate_escapes_are_found_and_replaced_but_pairs_and_escaped_backslashes_are_text() {
        let (fixed, bad) = lossy_json(r#"{"text":"note \udc80 and \ud800x","ok":"\ud83d\udea8 \\udc80 \u00e9"}"#);
        assert!(bad);
        let value: Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(value["text"], "note \u{FFFD} and \u{FFFD}x");
        assert_eq!(value["ok"], "🚨 \\udc80 é");
        let (same, bad) = lossy_json(r#"{"ok":"\ud83d\udea8"}"#);
        assert!(!bad && matches!(same, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn forms_decode_strictly() {
        let form = Form::decode(b"text=note+before%00after&user_id=U0ALICE&empty=&flag&bad=%zz%4");
        assert!(!form.invalid_utf8);
        assert_eq!(form.get("text"), Some("note before\0after"));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("bad"), Some("%zz%4"));
        let form = Form::decode(b"text=caf%C3%A9&other=%FF%FE");
        assert!(form.invalid_utf8);
        assert_eq!(form.get("text"), Some("café"));
        assert_eq!(form.get("other"), Some("\u{FFFD}\u{FFFD}"));
        assert_eq!(form.to_json()["text"], "café");
    }
}
