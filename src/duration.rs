//! Durations as people write them in `warroom.toml`: `"30s"`, `"5m"`, `"1h"`, `"1h30m"`.

use std::fmt;

/// A parsed, non-negative duration with second resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration; write it like \"30s\", \"5m\" or \"1h\"".into());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("`{text}` is not a duration: unknown unit `{c}` (use s, m, h or d)")),
            };
            let n: u64 =
                digits.parse().map_err(|_| format!("`{text}` is not a duration: a number must come before `{c}`"))?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{text}` is too long a duration"))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(format!("`{text}` needs a unit: \"{text}s\", \"{text}m\" or \"{text}h\""));
        }
        Ok(Self(std::time::Duration::from_secs(total)))
    }

    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::seconds(self.0.as_secs() as i64)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0 => write!(f, "0s"),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `4m 05s`, `1h 02m`.
pub fn human_span(span: chrono::Duration) -> String {
    let secs = span.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_a_person_says_them() {
        assert_eq!(human_span(chrono::Duration::seconds(42)), "42s");
        assert_eq!(human_span(chrono::Duration::seconds(245)), "4m 05s");
        assert_eq!(human_span(chrono::Duration::seconds(3720)), "1h 02m");
    }

    #[test]
    fn parses_the_units_people_write() {
        assert_eq!(HumanDuration::parse("30s").unwrap().0.as_secs(), 30);
        assert_eq!(HumanDuration::parse("5m").unwrap().0.as_secs(), 300);
        assert_eq!(HumanDuration::parse("1h30m").unwrap().0.as_secs(), 5400);
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        assert!(HumanDuration::parse("5").unwrap_err().contains("needs a unit"));
        assert!(HumanDuration::parse("5x").unwrap_err().contains("unknown unit"));
        assert!(HumanDuration::parse("m").is_err());
        assert!(HumanDuration::parse("").is_err());
    }
}
