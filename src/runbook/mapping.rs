//! Which catalog action a runbook command is. An action matches when one of its `forms` (how
//! runbooks write it; by default its `argv`) equals the command word for word, where each
//! `{param}` of the form stands for the service's value of that parameter, or for a placeholder
//! the runbook left for the reader to fill (`<pod-name>`, `PAGE_ID`, `$TARGET_GROUP_ARN`).

use std::collections::BTreeMap;

use crate::config::ServiceConfig;
use crate::diagnostics::Catalog;

/// What a step of the checklist is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAction {
    /// This catalog action, with these parameters given (the rest come from the service).
    Action { id: String, given: BTreeMap<String, String> },
    /// Nothing in the service's packs: a person does it and ticks it. `nearest` is the closest
    /// action and `why` why it is not that one.
    Manual { nearest: Option<String>, why: String },
}

pub fn map_step(catalog: &Catalog, service: &ServiceConfig, command: &str) -> StepAction {
    let words: Vec<&str> = command.split_whitespace().collect();
    for action in catalog.for_packs(&service.packs) {
        for form in action.forms() {
            let form: Vec<&str> = form.split_whitespace().collect();
            if form.len() != words.len() {
                continue;
            }
            let mut given = BTreeMap::new();
            let matched =
                form.iter().zip(&words).all(|(f, w)| match f.strip_prefix('{').and_then(|f| f.strip_suffix('}')) {
                    Some(_) if is_placeholder(w) => true,
                    Some(param) => match service.params.get(param) {
                        Some(value) => value == w,
                        None => {
                            given.insert(param.to_string(), w.to_string());
                            true
                        }
                    },
                    None => f == w,
                });
            if matched && action.resolve_params(&service.params, &given).is_ok() {
                return StepAction::Action { id: action.id.clone(), given };
            }
        }
    }
    StepAction::Manual { nearest: None, why: "no action of the service's packs is written this way".into() }
}

/// A word the runbook's reader is meant to replace.
fn is_placeholder(word: &str) -> bool {
    let angle = word.starts_with('<') && word.ends_with('>');
    let variable = word.strip_prefix('$').map(|w| w.trim_start_matches('{').trim_end_matches('}'));
    let upper = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
    angle || variable.is_some_and(upper) || (upper(word) && word.contains('_'))
}
