//! One pack file (`diagnostics/*.toml`, or a team's in `[diagnostics] dirs`): its TOML shape,
//! with source spans, and its validation into [`Action`]s. Every problem is collected with the
//! file and line it is on; a file that is not TOML of this shape (an unknown key, a missing
//! field) stops at that one problem, since nothing after it can be trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::catalog::{placeholders, Action, Kind, Param};
use super::pack_rules;
use crate::config::ConfigProblem;
use crate::duration::HumanDuration;

/// The built-in checks an action may name instead of a program.
const BUILTINS: &[&str] = &["http_check", "tcp_connect", "prometheus_up", "prometheus_error_rate"];
/// What `explain` may say.
const EXPLAINS: &[&str] = &["exit_code"];
/// The longest an action may run, and the most output it may keep.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
pub const MAX_OUTPUT: usize = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(rename = "action", default)]
    actions: Vec<RawAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    id: Spanned<String>,
    title: String,
    kind: Kind,
    #[serde(default)]
    argv: Vec<Spanned<String>>,
    builtin: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    output_cap: Option<Spanned<i64>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<RawParam>>,
    explain: Option<Spanned<String>>,
    filter: Option<Spanned<String>>,
    approvals: Option<Spanned<i64>>,
    /// How runbooks write this action, each a command line with `{param}` words (default: argv).
    #[serde(default)]
    forms: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    pattern: Option<Spanned<String>>,
    default: Option<Spanned<String>>,
    target: Option<bool>,
}

/// An action, and the line its id is on (for clashes found across files).
#[derive(Debug, Clone)]
pub struct Located {
    pub action: Action,
    pub line: usize,
}

/// Reads pack `pack` from `text` (the contents of `file`): its valid actions, and every problem.
pub fn parse(pack: &str, file: &Path, text: &str) -> (Vec<Located>, Vec<ConfigProblem>) {
    let problem = |span: Range<usize>, message: String| ConfigProblem {
        file: file.to_path_buf(),
        line: line_of(text, span.start),
        message,
    };
    let raw: PackFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return (Vec::new(), vec![problem(e.span().unwrap_or(0..0), e.message().to_string())]),
    };
    let mut problems = Vec::new();
    let mut actions = Vec::new();
    for raw in raw.actions {
        let line = line_of(text, raw.id.span().start);
        let before = problems.len();
        let action = action(pack, raw, &problem, &mut problems);
        if problems.len() == before {
            actions.push(Located { action, line });
        }
    }
    (actions, problems)
}

/// One action; its problems go to `problems` (the action is used only when there are none).
fn action(
    pack: &str,
    raw: RawAction,
    problem: &dyn Fn(Range<usize>, String) -> ConfigProblem,
    problems: &mut Vec<ConfigProblem>,
) -> Action {
    let id = raw.id.get_ref().clone();
    let mut say = |span: Range<usize>, message: String| problems.push(problem(span, format!("`{id}`: {message}")));
    if !valid_id(&id) {
        say(raw.id.span(), "an action id is lowercase words joined by `.` (e.g. `dmarc.db_check`)".into());
    }
    match (raw.argv.is_empty(), &raw.builtin) {
        (true, None) | (false, Some(_)) => say(raw.id.span(), "give either `argv` or `builtin`".into()),
        (true, Some(b)) if !BUILTINS.contains(&b.get_ref().as_str()) => {
            say(b.span(), format!("no built-in check `{}` (there are: {})", b.get_ref(), BUILTINS.join(", ")))
        }
        _ => {}
    }

    let mut params = BTreeMap::new();
    for (name, spec) in &raw.params {
        let (name_text, spec_span, spec) = (name.get_ref(), spec.span(), spec.get_ref());
        if !valid_param_name(name_text) {
            say(name.span(), format!("parameter `{name_text}`: a name is lowercase letters, digits and `_`"));
        }
        if spec.target.is_none() && pack_rules::named_like_a_target(name_text) {
            say(
                name.span(),
                format!(
                    "parameter `{name_text}` is named like a target: say `target = true` (it takes the service's \
                     value) or `target = false`"
                ),
            );
        }
        let Some(pattern) = &spec.pattern else {
            say(spec_span, format!("parameter `{name_text}` has no `pattern` (write one, e.g. `^[a-z0-9-]{{1,63}}$`)"));
            continue;
        };
        if let Some(why) = pack_rules::pattern_problem(pattern.get_ref()) {
            say(pattern.span(), format!("parameter `{name_text}`: {why}"));
            continue;
        }
        // Anchored already; the wrap keeps `^a|b$` matching in full too.
        let Ok(regex) = Regex::new(&format!("^(?:{})$", pattern.get_ref())) else { continue };
        if let Some(default) = &spec.default {
            if !regex.is_match(default.get_ref()) {
                say(
                    default.span(),
                    format!("parameter `{name_text}`: default `{}` does not match its pattern", default.get_ref()),
                );
            }
        }
        let default = spec.default.as_ref().map(|d| d.get_ref().clone());
        params.insert(name_text.clone(), Param { pattern: regex, default, target: spec.target.unwrap_or(false) });
    }

    let declared: BTreeSet<&str> = raw.params.keys().map(|k| k.get_ref().as_str()).collect();
    let words = raw.argv.iter().map(|w| (w.span(), w.get_ref().as_str()));
    let form_words = raw.forms.iter().flat_map(|f| f.get_ref().split_whitespace().map(|w| (f.span(), w)));
    for (span, word) in words.chain(form_words) {
        for name in placeholders(word) {
            if !declared.contains(name) {
                say(span.clone(), format!("`{{{name}}}` is not a declared parameter (add `params.{name}`)"));
            }
        }
    }
    if let Some(program) = raw.argv.first().filter(|p| placeholders(p.get_ref()).next().is_some()) {
        say(program.span(), "the program must be written out, not a parameter".into());
    }
    let argv_words: Vec<&str> = raw.argv.iter().map(|w| w.get_ref().as_str()).collect();
    if let Some(at) = pack_rules::shell_word(&argv_words) {
        say(
            raw.argv[at].span(),
            format!(
                "`{}` is a shell: actions run as argument vectors, never through a shell (name the program itself)",
                argv_words[at]
            ),
        );
    }

    let mut timeout = Duration::from_secs(30);
    if let Some(t) = &raw.timeout {
        match HumanDuration::parse(t.get_ref()) {
            Ok(d) if d.0 > Duration::ZERO && d.0 <= MAX_TIMEOUT => timeout = d.0,
            Ok(_) => say(t.span(), format!("timeout `{}`: between 1s and {}s", t.get_ref(), MAX_TIMEOUT.as_secs())),
            Err(m) => say(t.span(), format!("timeout: {m}")),
        }
    }
    let mut output_cap = 64 * 1024;
    if let Some(cap) = &raw.output_cap {
        match usize::try_from(*cap.get_ref()) {
            Ok(n) if (1..=MAX_OUTPUT).contains(&n) => output_cap = n,
            _ => say(cap.span(), format!("output_cap: between 1 and {MAX_OUTPUT} bytes")),
        }
    }
    let mut approvals = None;
    if let Some(n) = &raw.approvals {
        match u32::try_from(*n.get_ref()) {
            Ok(n) if (1..=10).contains(&n) && raw.kind == Kind::Change => approvals = Some(n),
            Ok(_) | Err(_) if raw.kind == Kind::Read => {
                say(n.span(), "approvals: only a change needs approvals".into())
            }
            _ => say(n.span(), "approvals: between 1 and 10".into()),
        }
    }
    if let Some(e) = raw.explain.as_ref().filter(|e| !EXPLAINS.contains(&e.get_ref().as_str())) {
        say(e.span(), format!("explain `{}`: the only one is `exit_code`", e.get_ref()));
    }
    let filter = raw.filter.as_ref().and_then(|f| {
        Regex::new(f.get_ref()).map_err(|e| say(f.span(), format!("filter `{}`: {e}", f.get_ref()))).ok()
    });

    Action {
        id,
        pack: pack.to_string(),
        title: raw.title,
        kind: raw.kind,
        argv: raw.argv.into_iter().map(Spanned::into_inner).collect(),
        builtin: raw.builtin.map(Spanned::into_inner),
        timeout,
        output_cap,
        params,
        explain: raw.explain.map(Spanned::into_inner),
        filter,
        approvals,
        forms: raw.forms.into_iter().map(Spanned::into_inner).collect(),
    }
}

/// `docker.ps`, `dmarc.db_check`: what `/incident run` and button values can carry.
fn valid_id(id: &str) -> bool {
    let word = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    id.split('.').all(word)
}

/// What a `{placeholder}` can name.
fn valid_param_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}
