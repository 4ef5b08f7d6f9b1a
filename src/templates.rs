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
    ("private_announcement", include_str!("../templates/private_announcement.hbs")),
    ("private_resolved", include_str!("../templates/private_resolved.hbs")),
    ("tracker_link", include_str!("../templates/tracker_link.hbs")),
    ("tracker_refused", include_str!("../templates/tracker_refused.hbs")),
    ("archive_warning", include_str!("../templates/archive_warning.hbs")),
    ("followup_nudge", include_str!("../templates/followup_nudge.hbs")),
    ("catchup", include_str!("../templates/catchup.hbs")),
    ("feedback_ask", include_str!("../templates/feedback_ask.hbs")),
    ("canvas_refused", include_str!("../templates/canvas_refused.hbs")),
    ("seen_before", include_str!("../templates/seen_before.hbs")),
];

/// Plain-text templates for the status page: customers read them, Slack never does, so they
/// are not escaped for mrkdwn and keep their paragraphs.
const BUILT_IN_PLAIN: &[(&str, &str)] = &[
    ("statuspage/name", include_str!("../templates/statuspage/name.hbs")),
    ("statuspage/update", include_str!("../templates/statuspage/update.hbs")),
    ("statuspage/resolved", include_str!("../templates/statuspage/resolved.hbs")),
];

/// The post-incident report's template (plain, like the status page's).
const POSTMORTEM: (&str, &str) = ("postmortem.md", include_str!("../templates/postmortem.md.hbs"));

/// The report's sections that grow with the incident. Where `postmortem.md.hbs` has
/// `{{{timeline}}}` (or `{{timeline}}`), the report streams the timeline. The template is cut at
/// these placeholders when it is loaded, so the sections' places never travel through rendered
/// text, where user text could imitate them.
pub const POSTMORTEM_SECTIONS: [&str; 8] = [
    "timeline",
    "diagnostics",
    "approvals",
    "escalations",
    "statuspage_updates",
    "action_items",
    "runbook_checklist",
    "feedback",
];

/// A piece of a template cut at its sections: its rendered text, then the section that follows.
#[derive(Debug)]
pub struct Part {
    pub text: String,
    pub section: Option<&'static str>,
}

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
    /// `postmortem.md#<n>` in `plain` is followed by this section (the last part by none).
    postmortem: Vec<Option<&'static str>>,
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
        let postmortem = register_sectioned(&mut plain, POSTMORTEM, dir, &POSTMORTEM_SECTIONS)?;
        Ok(Self { registry, plain, postmortem })
    }

    /// Renders the post-incident report's template as its parts, in order: after each part's
    /// text, the caller writes the section it names.
    pub fn render_postmortem(&self, data: &impl Serialize) -> Result<Vec<Part>, TemplateError> {
        let name = POSTMORTEM.0;
        let render_error =
            |e: handlebars::RenderError| TemplateError::Render { name: name.into(), message: e.to_string() };
        let mut parts = Vec::with_capacity(self.postmortem.len());
        for (n, section) in self.postmortem.iter().enumerate() {
            let text = self.plain.render(&format!("{name}#{n}"), data).map_err(render_error)?;
            parts.push(Part { text, section: *section });
        }
        Ok(parts)
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
        registry
            .register_template_string(name, source_of(name, source, dir)?)
            .map_err(|e| TemplateError::Invalid { name: name.to_string(), message: e.to_string() })?;
    }
    Ok(())
}

/// `<dir>/<name>.hbs` when that exists, else the built-in source.
fn source_of(name: &str, built_in: &str, dir: Option<&Path>) -> Result<String, TemplateError> {
    match dir.map(|d| d.join(format!("{name}.hbs"))).filter(|p| p.exists()) {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|source| TemplateError::Read { path: path.display().to_string(), source }),
        None => Ok(built_in.to_string()),
    }
}

/// Registers `template` cut at the placeholders of `sections`, as `<name>#0`, `<name>#1`...;
/// returns the section after each part.
fn register_sectioned(
    registry: &mut Handlebars<'static>,
    (name, built_in): (&str, &str),
    dir: Option<&Path>,
    sections: &[&'static str],
) -> Result<Vec<Option<&'static str>>, TemplateError> {
    let source = source_of(name, built_in, dir)?;
    // `{{{timeline}}}`, `{{timeline}}`, `{{{ timeline }}}`...
    let names = sections.join("|");
    let placeholder = regex::Regex::new(&format!(r"\{{\{{\{{\s*({names})\s*\}}\}}\}}|\{{\{{\s*({names})\s*\}}\}}"))
        .expect("section names are words");
    let found: Vec<(usize, usize, &'static str)> = placeholder
        .captures_iter(&source)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let named = c.get(1).or_else(|| c.get(2))?.as_str();
            let section = sections.iter().find(|s| **s == named)?;
            Some((whole.start(), whole.end(), *section))
        })
        .collect();
    let mut after = Vec::with_capacity(found.len() + 1);
    let mut from = 0;
    for (n, (start, end, section)) in found.iter().chain([&(source.len(), source.len(), "")]).enumerate() {
        registry.register_template_string(&format!("{name}#{n}"), &source[from..*start]).map_err(|e| {
            TemplateError::Invalid {
                name: name.to_string(),
                message: format!("{e} (a section such as {{{{{{timeline}}}}}} must stand outside {{{{#if}}}} and {{{{#each}}}} blocks)"),
            }
        })?;
        after.push(Some(*section).filter(|s| !s.is_empty()));
        from = *end;
    }
    Ok(after)
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
    fn the_report_template_is_cut_at_its_sections() {
        let dir = std::env::temp_dir().join(format!("warroom-templates-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("postmortem.md.hbs"), "# {{title}}\n{{{timeline}}}\nmid {{ diagnostics }}\nend\n")
            .unwrap();
        let templates = Templates::load(Some(&dir)).unwrap();
        let parts = templates.render_postmortem(&json!({ "title": "\u{1}timeline\u{1} {{{timeline}}}" })).unwrap();
        let got: Vec<(&str, Option<&str>)> = parts.iter().map(|p| (p.text.as_str(), p.section)).collect();
        assert_eq!(
            got,
            [
                ("# \u{1}timeline\u{1} {{{timeline}}}\n", Some("timeline")),
                ("\nmid ", Some("diagnostics")),
                ("\nend\n", None)
            ],
            "the title's look-alikes are text; only the template's placeholders cut it"
        );
        std::fs::write(dir.join("postmortem.md.hbs"), "{{#if title}}{{{timeline}}}{{/if}}").unwrap();
        let err = Templates::load(Some(&dir)).unwrap_err().to_string();
        assert!(err.contains("must stand outside {{#if}}"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn strict_mode_refuses_a_missing_field() {
        let templates = Templates::load(None).unwrap();
        let err = templates.render("declare", &json!({ "title": "x" })).unwrap_err();
        assert!(err.to_string().contains("rendering declare"), "{err}");
    }
}
