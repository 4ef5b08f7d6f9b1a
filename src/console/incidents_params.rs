//! The incidents list's query string (`?status=&severity=&service=&q=&from=&to=` and the page
//! cursor `before=` / `after=`), parsed strictly into [`Params`]: a value that means nothing
//! (an unknown status, a date that is not `YYYY-MM-DD`, bytes that are not UTF-8, a parameter
//! the list does not take) is refused with a sentence saying what to write instead, rather
//! than quietly ignored and answered with a list the person did not ask for. An empty value is
//! "any", as the filter form sends it.

use chrono::NaiveDate;

use super::incidents_query::{Cursor, Filters, StatusFilter};
use crate::incident::{ServiceName, Severity, Status};

/// The longest title search taken, in characters.
pub const MAX_Q: usize = 200;

const NAMES: [&str; 8] = ["status", "severity", "service", "q", "from", "to", "before", "after"];

/// What the list was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub filters: Filters,
    pub cursor: Option<Cursor>,
}

/// Parses the raw query string (`None`: there was none).
pub fn parse(raw: Option<&str>) -> Result<Params, String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut params = Params::default();
    for piece in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(name)?;
        let Some(name) = NAMES.into_iter().find(|n| *n == name) else {
            return Err(format!(
                "The list has no filter {}: it takes {}.",
                shorten(&name),
                NAMES.map(|n| format!("{n}=")).join(", ")
            ));
        };
        if seen.contains(&name) {
            return Err(format!("`{name}` is given twice: give each filter once."));
        }
        seen.push(name);
        let value = decode(value)?;
        crate::input::check(&format!("`{name}`"), &value)?;
        let value = value.trim();
        if !value.is_empty() {
            set(&mut params, name, value)?;
        }
    }
    let filters = &params.filters;
    if let (Some(from), Some(to)) = (filters.from, filters.to) {
        if from > to {
            return Err(format!(
                "from={from} is after to={to}: the time range runs from the earlier day to the later."
            ));
        }
    }
    Ok(params)
}

fn set(params: &mut Params, name: &str, value: &str) -> Result<(), String> {
    let filters = &mut params.filters;
    match name {
        "status" => filters.status = Some(status(value)?),
        "severity" => {
            let refuse = |_| format!("severity={} is not a severity: use P0, P1, P2 or P3.", shorten(value));
            filters.severity = Some(Severity::parse(value).map_err(refuse)?);
        }
        "service" => {
            let service = ServiceName::parse(value).map_err(|m| format!("service: {m}."))?;
            filters.service = Some(service.as_str().to_string());
        }
        "q" if value.chars().count() > MAX_Q => {
            return Err(format!("The title search is longer than {MAX_Q} characters: search for a shorter part."));
        }
        "q" => filters.q = Some(value.to_string()),
        "from" => filters.from = Some(day("from", value)?),
        "to" => filters.to = Some(day("to", value)?),
        "before" | "after" if params.cursor.is_some() => {
            return Err(
                "`before` and `after` cannot be given together: a page is older or newer than one incident.".into()
            );
        }
        "before" => params.cursor = Some(Cursor::Before(cursor(name, value)?)),
        _ => params.cursor = Some(Cursor::After(cursor(name, value)?)),
    }
    Ok(())
}

fn status(value: &str) -> Result<StatusFilter, String> {
    if value.eq_ignore_ascii_case("open") {
        return Ok(StatusFilter::Open);
    }
    Status::parse(value).map(StatusFilter::Is).map_err(|_| {
        format!(
            "status={} is not a status: use open, investigating, identified, monitoring or resolved.",
            shorten(value)
        )
    })
}

/// A UTC day written `YYYY-MM-DD` (what a date field sends), and nothing else.
fn day(name: &str, value: &str) -> Result<NaiveDate, String> {
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("{name}={} is not a date: write it YYYY-MM-DD, like 2026-11-23.", shorten(value)))
}

/// A page cursor: an incident number, as the Older and Newer links carry it.
fn cursor(name: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{name}={} is not a page cursor: it is an incident number, like 1234.", shorten(value)))
}

/// `application/x-www-form-urlencoded` decoding, strictly: `+` is a space, `%XX` a byte, and
/// the bytes must be UTF-8.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "The query string has a `%` that is not followed by two hex digits.".to_string())?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "The query string is not valid UTF-8 text.".to_string())
}

/// A value quoted back in a refusal, cut to a readable length.
fn shorten(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        format!("`{value}`")
    } else {
        format!("`{}…`", value.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_forms_values_parse_and_empty_ones_mean_any() {
        let params =
            parse(Some("status=open&severity=p1&service=api&q=disk+full%25&from=2026-11-01&to=2026-11-30")).unwrap();
        let f = &params.filters;
        assert_eq!(f.status, Some(StatusFilter::Open));
        assert_eq!(f.severity, Some(Severity::P1));
        assert_eq!(f.service.as_deref(), Some("api"));
        assert_eq!(f.q.as_deref(), Some("disk full%"));
        assert_eq!(
            (f.from.unwrap().to_string(), f.to.unwrap().to_string()),
            ("2026-11-01".into(), "2026-11-30".into())
        );
        assert_eq!(parse(Some("status=&severity=&service=&q=&from=&to=")).unwrap(), Params::default());
        assert_eq!(parse(None).unwrap(), Params::default());
        assert_eq!(parse(Some("before=120")).unwrap().cursor, Some(Cursor::Before(120)));
        assert_eq!(parse(Some("after=7&status=resolved")).unwrap().cursor, Some(Cursor::After(7)));
    }

    #[test]
    fn values_that_mean_nothing_are_refused_with_what_to_write() {
        for (query, says) in [
            ("status=sleeping", "use open, investigating"),
            ("severity=P9", "use P0, P1, P2 or P3"),
            ("service=a%20b", "is not a service name"),
            ("from=23-11-2026", "write it YYYY-MM-DD"),
            ("to=2026-02-30", "write it YYYY-MM-DD"),
            ("from=+2026-1-01", "write it YYYY-MM-DD"),
            ("from=2026-11-30&to=2026-11-01", "is after to=2026-11-01"),
            ("before=abc", "is not a page cursor"),
            ("after=-3", "is not a page cursor"),
            ("before=3&after=5", "cannot be given together"),
            ("q=a&q=b", "given twice"),
            ("colour=red", "no filter `colour`"),
            ("q=%FF%FE", "not valid UTF-8"),
            ("q=%4", "two hex digits"),
            ("q=a%00b", "U+0000"),
        ] {
            let refused = parse(Some(query)).unwrap_err();
            assert!(refused.contains(says), "{query}: {refused}");
        }
        let long = format!("q={}", "x".repeat(MAX_Q + 1));
        assert!(parse(Some(&long)).unwrap_err().contains("longer than 200"));
        assert!(parse(Some(&format!("q={}", "é".repeat(MAX_Q)))).is_ok(), "200 characters, not bytes");
    }
}
