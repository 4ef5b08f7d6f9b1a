//! The runbook checklist of an incident (DESIGN.md "Runbooks"). At `serve` start each service's
//! runbook is read and mapped ([`Runbooks`]); at declaration its [`Checklist`] is stored with the
//! incident and posted in the channel after the declaration, over as many messages as Slack's
//! limits need ([`layout`], [`render`], the [`post`] jobs). Each step has a button: Run or Request
//! (the same as `/incident run`, [`runs`]) or Done ([`click`]); every tick and run is a timeline
//! event and edits the message. A section with a time window reminds the commander once when it
//! passes with steps open ([`remind`]). What the database keeps is in [`store`].
//!
//! A step run from the checklist is ticked when its run *finishes* (not when it is asked), so
//! that the checklist says what the run found: `→ ok` or `→ failed`.

pub mod click;
pub mod layout;
pub mod model;
pub mod post;
pub mod progress;
pub mod remind;
pub mod render;
pub mod runs;
pub mod store;

use std::collections::BTreeMap;
use std::path::Path;

pub use model::{Button, Checklist, Mapped, Section, Step};

use crate::config::ServiceConfig;
use crate::diagnostics::Catalog;

/// `action_id`s of the checklist's buttons start with this: `checklist.run.4` (step 4).
pub const ACTION_PREFIX: &str = "checklist.";

/// Every configured service's checklist, read at start.
#[derive(Debug, Clone, Default)]
pub struct Runbooks {
    by_service: BTreeMap<String, Checklist>,
}

impl Runbooks {
    /// Reads and maps the runbook of every service that names one. A file that cannot be read,
    /// is not UTF-8, or holds no command is an error naming the service and the file.
    pub fn load(services: &BTreeMap<String, ServiceConfig>, catalog: &Catalog) -> Result<Self, String> {
        let mut by_service = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, service) in services {
            let Some(path) = &service.runbook else { continue };
            match read(path) {
                Ok(text) => {
                    let source = path.display().to_string();
                    let checklist = Checklist::new(&crate::runbook::parse(&text), &source, catalog, service);
                    if checklist.steps().next().is_none() {
                        problems.push(format!(
                            "[services.{name}] runbook = \"{source}\": it holds no command (warroom makes the \
                             checklist from the commands in its ```bash, ```sh or ```shell code blocks)"
                        ));
                    }
                    by_service.insert(name.clone(), checklist);
                }
                Err(why) => problems.push(format!("[services.{name}] runbook = \"{}\": {why}", path.display())),
            }
        }
        if problems.is_empty() {
            Ok(Self { by_service })
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The service's checklist, if it has a runbook.
    pub fn get(&self, service: &str) -> Option<&Checklist> {
        self.by_service.get(service)
    }
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(runbook: &str) -> BTreeMap<String, ServiceConfig> {
        let service = ServiceConfig { runbook: Some(runbook.into()), ..Default::default() };
        BTreeMap::from([("api".to_string(), service)])
    }

    #[test]
    fn a_missing_or_empty_runbook_is_an_error_naming_the_service_and_file() {
        let catalog = Catalog::built_in().unwrap();
        let missing = Runbooks::load(&services("/nonexistent/runbook.md"), &catalog).unwrap_err();
        assert!(
            missing.starts_with("[services.api] runbook = \"/nonexistent/runbook.md\": cannot read it"),
            "{missing}"
        );

        let dir = std::env::temp_dir().join(format!("warroom-runbooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.md");
        std::fs::write(&empty, "# Nothing to run\n\nJust prose.\n").unwrap();
        let binary = dir.join("binary.md");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        let err = Runbooks::load(&services(empty.to_str().unwrap()), &catalog).unwrap_err();
        assert!(err.contains("it holds no command"), "{err}");
        let err = Runbooks::load(&services(binary.to_str().unwrap()), &catalog).unwrap_err();
        assert!(err.contains("it is not UTF-8 text"), "{err}");
    }
}
