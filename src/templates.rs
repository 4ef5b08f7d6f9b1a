//! The Handlebars registry for message text: compiled-in templates, overridable from a
//! directory, strict mode, and an escape function that neutralises Slack's control sequences.

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

/// The compiled-in templates: (name, source).
const BUILT_IN: &[(&str, &str)] = &[
    ("declare", include_str!("../templates/declare.hbs")),
    ("status_update", include_str!("../templates/status_update.hbs")),
    ("resolved", include_str!("../templates/resolved.hbs")),
    ("summary", include_str!("../templates/summary.hbs")),
    ("validation_checklist", include_str!("../templates/validation_checklist.hbs")),
    ("escalation", include_str!("../templates/escalation.hbs")),
];

/// Plain-text templates for the status page: customers read them, Slack never does, so they
/// are not escaped for mrkdwn and keep their paragraphs.
const BUILT_IN_PLAIN: &[(&str, &str)] = &[
    ("statuspage/name", include_str!("../templates/statuspage/name.hbs")),
    ("statuspage/update", include_str!("../templates/statuspage/update.hbs")),
    ("statuspage/resolved", include_str!("../templates/statuspage/resolved.hbs")),
    ("postmortem.md", include_str!("../templates/postmortem.md.hbs")),
];

/// Why a template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot read template {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("rendering {name}: {message}")]
    Render { name: String, message: String },
}

/// The message templates.
#[derive(Debug)]
pub struct Templates {
    registry: Handlebars<'static>,
    plain: Handlebars<'static>,
}

impl Templates {
    /// The built-in templates, with any `<name>.hbs` in `dir` taking their place.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut registry = Handlebars::new();
        registry.register_escape_fn(escape_mrkdwn);
        register(&mut registry, BUILT_IN, dir)?;
        let mut plain = Handlebars::new();
        plain.register_escape_fn(handlebars::no_escape);
        register(&mut plain, BUILT_IN_PLAIN, dir)?;
        Ok(Self { registry, plain })
    }

    /// Renders a plain-text (status page) template: blank-line runs become one blank line.
    pub fn render_plain(&self, name: &str, data: &impl Serialize) -> Result<String, TemplateError> {
        let text = self
            .plain
            .render(name, data)
            .map_err(|e| TemplateError::Render { name: name.to_string(), message: e.to_string() })?;
        let mut out = String::with_capacity(text.len());
        for line in text.lines().map(str::trim_end) {
            if !(line.is_empty() && (out.is_empty() || out.ends_with("\n\n"))) {
                out.push_str(line);
                out.push('\n');
            }
        }
        Ok(out.trim_end().to_string())
    }

    pub fn render(&self, name: &str, data: &impl Serialize) -> Result<String, TemplateError> {
        let text = self
            .registry
            .render(name, data)
            .map_err(|e| TemplateError::Render { name: name.to_string(), message: e.to_string() })?;
        Ok(collapse_blank_lines(&text))
    }
}

/// Registers `templates` in strict mode, each replaced by `<dir>/<name>.hbs` when that exists.
fn register(
    registry: &mut Handlebars<'static>,
    templates: &[(&str, &str)],
    dir: Option<&Path>,
) -> Result<(), TemplateError> {
    registry.set_strict_mode(true);
    for (name, source) in templates {
        let source = match dir.map(|d| d.join(format!("{name}.hbs"))).filter(|p| p.exists()) {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?,
            None => source.to_string(),
        };
        registry
            .register_template_string(name, source)
            .map_err(|e| TemplateError::Invalid { name: name.to_string(), message: e.to_string() })?;
    }
    Ok(())
}

/// Slack mrkdwn's three control characters. Escaping them keeps user text from becoming
/// `<!channel>`, a `<@U123>` mention or a link.
pub fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Conditional sections leave blank lines behind; a message reads better without them.
fn collapse_blank_lines(text: &str) -> String {
    text.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping_keeps_user_text_from_pinging_anyone() {
        assert_eq!(escape_mrkdwn("<!channel> & <@U123>"), "&lt;!channel&gt; &amp; &lt;@U123&gt;");
        assert_eq!(escape_mrkdwn("*bold* stays"), "*bold* stays");
    }

    #[test]
    fn strict_mode_refuses_a_missing_field() {
        let templates = Templates::load(None).unwrap();
        let err = templates.render("declare", &json!({ "title": "x" })).unwrap_err();
        assert!(err.to_string().contains("rendering declare"), "{err}");
    }
}
