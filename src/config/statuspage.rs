//! The status page's settings: how updates reach it per severity, what the components show, and
//! `[statuspage]` (reconciliation, notifications).

use crate::duration::HumanDuration;

/// How customer updates reach the status page at a severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatuspageMode {
    /// Every update is pushed.
    Auto,
    /// The incident is opened and resolved there; each update waits for a person's confirmation.
    Manual,
    /// Not on the status page.
    #[default]
    Off,
}

/// A status page component's status while an incident is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComponentStatus {
    #[default]
    MajorOutage,
    PartialOutage,
    DegradedPerformance,
}

impl ComponentStatus {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "major_outage" => Ok(Self::MajorOutage),
            "partial_outage" => Ok(Self::PartialOutage),
            "degraded_performance" => Ok(Self::DegradedPerformance),
            other => Err(format!(
                "statuspage_component_status = \"{other}\": use major_outage, partial_outage or degraded_performance"
            )),
        }
    }

    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MajorOutage => "major_outage",
            Self::PartialOutage => "partial_outage",
            Self::DegradedPerformance => "degraded_performance",
        }
    }

    /// The words customers read ("Major Outage").
    pub fn label(self) -> &'static str {
        match self {
            Self::MajorOutage => "Major Outage",
            Self::PartialOutage => "Partial Outage",
            Self::DegradedPerformance => "Degraded Performance",
        }
    }
}

/// `[statuspage]`: how warroom keeps the status page in step.
#[derive(Debug, Clone)]
pub struct StatuspageConfig {
    /// How often open incidents are compared with the status page's unresolved ones.
    pub reconcile_every: HumanDuration,
    /// Whether status page subscribers are notified of each update.
    pub deliver_notifications: bool,
}

impl Default for StatuspageConfig {
    fn default() -> Self {
        Self { reconcile_every: HumanDuration(std::time::Duration::from_secs(300)), deliver_notifications: true }
    }
}
