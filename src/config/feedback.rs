//! After-the-incident keys: `[feedback] ask` (participants asked for a rating and a comment on
//! resolve, `crate::feedback`) and `[slack] postmortem_canvas` (the report also written into the
//! channel's canvas on `/incident export`, `crate::jobs::canvas`). Both off unless turned on.

use serde::Deserialize;

/// `[feedback]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeedback {
    ask: Option<bool>,
}

/// Feedback and the post-mortem canvas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackConfig {
    /// `[feedback] ask`: on resolve, DM each participant a button to rate the response.
    pub ask: bool,
    /// `[slack] postmortem_canvas`: `/incident export` also writes the Markdown report into the
    /// incident channel's canvas.
    pub postmortem_canvas: bool,
}

impl FeedbackConfig {
    pub(super) fn from_raw(raw: &RawFeedback, postmortem_canvas: Option<bool>) -> Self {
        Self { ask: raw.ask.unwrap_or(false), postmortem_canvas: postmortem_canvas.unwrap_or(false) }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::FileConfig;

    #[test]
    fn feedback_and_canvas_are_off_unless_turned_on() {
        let config = FileConfig::default();
        assert!(!config.feedback.ask && !config.feedback.postmortem_canvas);
        let text = "[feedback]\nask = true\n[slack]\npostmortem_canvas = true\n";
        let config = FileConfig::parse(Path::new("warroom.toml"), text).unwrap();
        assert!(config.feedback.ask && config.feedback.postmortem_canvas);
        assert!(FileConfig::parse(Path::new("warroom.toml"), "[feedback]\nask = \"yes\"\n").is_err());
        assert!(FileConfig::parse(Path::new("warroom.toml"), "[feedback]\nrating = 5\n").is_err());
    }
}
