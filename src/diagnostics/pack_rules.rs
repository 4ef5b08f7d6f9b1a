//! The rules a pack's actions must follow beyond their TOML shape, the same for the shipped
//! packs and the team's: what a parameter's pattern may accept, and that no action hands its
//! words to a shell.
//!
//! Patterns are written `^...$`, so the file says what the whole value must be; warroom also
//! matches them in full (it wraps each as `^(?:...)$`, which changes nothing for an anchored one
//! and closes `^a|b$`-style gaps). Whether a pattern accepts the empty string or a value
//! starting with `-` (which the program would read as an option) is decided exactly, by
//! walking the pattern's DFA, not by trying sample values.

use std::collections::{HashSet, VecDeque};

use regex_automata::hybrid::dfa::DFA;
use regex_automata::util::start;
use regex_automata::Anchored;

/// Programs that read their arguments as a script: as an action's program, or anywhere in its
/// argv (`env bash`, `sudo sh`, `timeout 5 sh`, `nice dash`, `docker exec c sh -c`), they would
/// give a parameter's value to a shell.
const SHELLS: &[&str] =
    &["sh", "bash", "zsh", "dash", "ksh", "mksh", "pdksh", "ash", "fish", "csh", "tcsh", "busybox", "pwsh"];

/// Words that, in a parameter's name, say it names what the action acts on (DESIGN.md's target
/// list, and the names meaning the same). Such a parameter must say `target = true` or `false`:
/// left out, a person could point it anywhere the pattern allows.
pub const TARGET_WORDS: &[&str] = &[
    "url",
    "host",
    "port",
    "container",
    "unit",
    "namespace",
    "deployment",
    "pod",
    "job",
    "project",
    "service",
    "workload",
];

/// Bytes of lazy-DFA cache one pattern check may use; a pattern needing more is refused as too
/// complex to check rather than guessed about.
const DFA_CACHE: usize = 8 * 1024 * 1024;

/// Why `pattern` (as written in the pack) may not check a parameter, or `None` when it may.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if !is_anchored(pattern) {
        return Some(format!(
            "pattern `{pattern}` is not anchored: write it `^...$`, so that the file says what the whole value must be"
        ));
    }
    let full = format!("^(?:{pattern})$");
    if let Err(e) = regex::Regex::new(&full) {
        return Some(format!("pattern `{pattern}` is not a regular expression: {e}"));
    }
    let language = match Language::new(&full) {
        Ok(language) => language,
        Err(why) => return Some(format!("pattern `{pattern}` cannot be checked: {why}")),
    };
    match (language.accepts_starting_with(b""), language.empty_accepted(), language.accepts_starting_with(b"-")) {
        (Err(why), ..) | (_, Err(why), _) | (.., Err(why)) => {
            Some(format!("pattern `{pattern}` cannot be checked: {why}"))
        }
        (Ok(false), ..) => Some(format!("pattern `{pattern}` accepts no value at all")),
        (_, Ok(true), _) => {
            Some(format!("pattern `{pattern}` accepts the empty string: require at least one character"))
        }
        (.., Ok(true)) => Some(format!(
            "pattern `{pattern}` accepts values starting with `-`, which the program would take as an option: \
             make the first character something else (e.g. `^[A-Za-z0-9]...$`)"
        )),
        _ => None,
    }
}

/// `^...$`, where the `$` is not an escaped `\$`.
fn is_anchored(pattern: &str) -> bool {
    let Some(body) = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')) else { return false };
    body.chars().rev().take_while(|c| *c == '\\').count() % 2 == 0
}

/// The literal argv word that runs a shell, if any: the program itself or any later word (a
/// wrapper's program, a container's command), also as the value of `--opt=/bin/sh`.
pub fn shell_word(argv: &[&str]) -> Option<usize> {
    argv.iter().position(|word| {
        let value = word.rsplit_once('=').map_or(*word, |(_, v)| v);
        let name = value.rsplit('/').next().unwrap_or(value);
        SHELLS.contains(&name)
    })
}

/// Whether a parameter named `name` names a target (see [`TARGET_WORDS`]).
pub fn named_like_a_target(name: &str) -> bool {
    name.split('_').any(|word| TARGET_WORDS.contains(&word))
}

/// A full-match pattern as a DFA, to ask what it accepts.
struct Language {
    dfa: DFA,
}

impl Language {
    fn new(full: &str) -> Result<Self, String> {
        let config = DFA::config().cache_capacity(DFA_CACHE);
        let dfa = DFA::builder().configure(config).build(full).map_err(|e| e.to_string())?;
        Ok(Self { dfa })
    }

    fn empty_accepted(&self) -> Result<bool, String> {
        let mut cache = self.dfa.create_cache();
        let start = self.start(&mut cache)?;
        let end = self.dfa.next_eoi_state(&mut cache, start).map_err(|e| e.to_string())?;
        Ok(end.is_match())
    }

    /// Whether some value starting with `prefix` matches: feed the prefix, then search every
    /// state reachable from there for one whose end-of-input transition matches.
    fn accepts_starting_with(&self, prefix: &[u8]) -> Result<bool, String> {
        let mut cache = self.dfa.create_cache();
        let mut state = self.start(&mut cache)?;
        for &byte in prefix {
            state = self.dfa.next_state(&mut cache, state, byte).map_err(|e| e.to_string())?;
            if state.is_dead() {
                return Ok(false);
            }
        }
        let mut seen = HashSet::from([state]);
        let mut queue = VecDeque::from([state]);
        let mut found = false;
        while let Some(state) = queue.pop_front() {
            if self.dfa.next_eoi_state(&mut cache, state).map_err(|e| e.to_string())?.is_match() {
                found = true;
                break;
            }
            for byte in 0..=u8::MAX {
                let next = self.dfa.next_state(&mut cache, state, byte).map_err(|e| e.to_string())?;
                if next.is_quit() {
                    return Err("it needs more than a DFA (a Unicode word boundary?)".into());
                }
                if !next.is_dead() && seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        // A cleared cache renumbers the states this search holds: its answer cannot be trusted.
        if cache.clear_count() > 0 {
            return Err("it is too large to analyse; simplify it".into());
        }
        Ok(found)
    }

    fn start(
        &self,
        cache: &mut regex_automata::hybrid::dfa::Cache,
    ) -> Result<regex_automata::hybrid::LazyStateID, String> {
        let config = start::Config::new().anchored(Anchored::Yes);
        self.dfa.start_state(cache, &config).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchored_pattern_that_starts_with_a_letter_or_digit_is_accepted() {
        for ok in [
            "^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$",
            "^[0-9]{1,5}$",
            "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
            "^[1-9][0-9]{0,3} (minute|hour|day)s? ago$",
            "^(err|warning)$",
            r"^a\\$",
        ] {
            assert_eq!(pattern_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn an_unanchored_pattern_is_refused() {
        for bad in ["[a-z]+", "^[a-z]+", "[a-z]+$", r"^[a-z]+\$"] {
            assert!(pattern_problem(bad).unwrap().contains("is not anchored"), "{bad}");
        }
    }

    #[test]
    fn a_pattern_accepting_the_empty_string_or_a_leading_dash_is_refused() {
        for empty in ["^[a-z]*$", "^(x)?$", "^$", "^(a|)$"] {
            assert!(pattern_problem(empty).unwrap().contains("accepts the empty string"), "{empty}");
        }
        // Each accepts some value starting with `-`, however deep in the pattern that hides.
        for dash in ["^[A-Za-z0-9_.-]+$", "^.+$", "^\\S+$", "^(ok|-rf)$", "^[^a]{1,3}$", "^x?-y$", "^[[:punct:]]z$"] {
            assert!(pattern_problem(dash).unwrap().contains("starting with `-`"), "{dash}");
        }
        assert!(pattern_problem("^[a$").unwrap().contains("not a regular expression"));
        assert!(pattern_problem("^[a&&b]$").unwrap().contains("accepts no value"));
    }

    #[test]
    fn a_shell_is_found_as_the_program_and_behind_wrappers() {
        let find = |argv: &[&str]| shell_word(argv);
        assert_eq!(find(&["sh", "-c", "x"]), Some(0));
        assert_eq!(find(&["/bin/bash", "-c", "x"]), Some(0));
        assert_eq!(find(&["env", "FOO=1", "zsh", "-c", "x"]), Some(2));
        assert_eq!(find(&["sudo", "-u", "root", "dash"]), Some(3));
        assert_eq!(find(&["timeout", "5", "/usr/bin/sh", "-c", "x"]), Some(2));
        assert_eq!(find(&["nice", "-n", "10", "bash"]), Some(3));
        assert_eq!(find(&["docker", "exec", "{c}", "sh", "-c", "x"]), Some(3));
        assert_eq!(find(&["docker", "run", "--entrypoint=/bin/sh", "img"]), Some(2));
        assert_eq!(find(&["docker", "exec", "{c}", "redis-cli", "ping"]), None);
        assert_eq!(find(&["journalctl", "--since", "1 hour ago", "--shell"]), None);
    }
}
