//! The incident's own Slack work after each change (one line in `crate::reactions`): at
//! declaration the channel (whose steps queue the rest: invite, topic, the declaration, the
//! announcement), then the post that tells the channel of a change and the declaration
//! re-rendered wherever it was posted. Queued in the change's transaction, run by the workers.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{kind, queue};
use crate::incident::change::{Change, Context, Plan, React};
use crate::incident::lifecycle::post;
use crate::incident::store::NewIncident;

/// The Slack work's reactor.
pub struct SlackWork;

impl React for SlackWork {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn plan(&self, ctx: &Context<'_>, _new: &NewIncident, plan: &mut Plan) {
        plan.queue(kind::CREATE_CHANNEL, "", json!({}), ctx.now);
    }

    fn on<'a>(
        &'a self,
        tx: &'a mut Transaction<'_, Postgres>,
        ctx: &'a Context<'a>,
        change: &'a Change<'a>,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let (actor, now) = (ctx.actor, ctx.now);
        Box::pin(async move {
            match *change {
                // The channel was planned with the declaration.
                Change::Declared { .. } => return Ok(()),
                Change::Acknowledged { incident } => {
                    queue::enqueue(&mut **tx, Some(incident.id), kind::REFRESH_DECLARATION, "ack", json!({}), now)
                        .await?;
                    return Ok(());
                }
                Change::Updated { incident, .. } => {
                    // The post shows this update as it was made, even if a later one lands first.
                    let snapshot = json!({
                        "status": incident.status, "status_text": incident.status_text,
                        "root_cause": incident.root_cause, "current_action": incident.current_action,
                        "eta": incident.eta, "impact": incident.impact,
                    });
                    let slot = uuid::Uuid::new_v4().to_string();
                    let payload = json!({ "by": actor, "snapshot": snapshot });
                    queue::enqueue(&mut **tx, Some(incident.id), kind::POST_UPDATE, &slot, payload, now).await?;
                }
                Change::CommanderChanged { incident, from, to, announce } => {
                    let text = announce.map_or_else(
                        || {
                            format!(
                                ":busts_in_silhouette: <@{to}> is now Incident Commander of {} (was <@{from}>; changed by <@{actor}>).",
                                incident.number(),
                            )
                        },
                        str::to_string,
                    );
                    post(tx, incident, &text, false, now).await?;
                    if incident.channel_id.is_some() {
                        let slot = format!("ic:{to}");
                        queue::enqueue(
                            &mut **tx,
                            Some(incident.id),
                            kind::INVITE,
                            &slot,
                            json!({ "users": [to] }),
                            now,
                        )
                        .await?;
                    }
                }
                Change::SeverityChanged { incident, to, .. } => {
                    let cadence = incident.next_update_at.map_or("no scheduled updates".to_string(), |at| {
                        format!("next update {} UTC", at.format("%H:%M"))
                    });
                    let text = format!(
                        ":rotating_light: {} is now *{to}* ({}), set by <@{actor}>; {cadence}.",
                        incident.number(),
                        to.label()
                    );
                    post(tx, incident, &text, to.is_major(), now).await?;
                }
                Change::Resolved { incident } => {
                    // The resolution's post, its validation steps, and the changes it cancels.
                    let slot = format!("at:{}", now.timestamp());
                    queue::enqueue(&mut **tx, Some(incident.id), kind::POST_RESOLUTION, &slot, json!({}), now).await?;
                }
                Change::Reopened { incident } => {
                    let text = format!(":leftwards_arrow_with_hook: {} was reopened by <@{actor}>.", incident.number());
                    post(tx, incident, &text, true, now).await?;
                }
            }
            refresh_declaration(tx, change.incident_id(), now).await
        })
    }
}

/// Queues a re-render of the declaration (its "Next update", status, commander, buttons).
async fn refresh_declaration(
    tx: &mut Transaction<'_, Postgres>,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let slot = format!("at:{}", now.timestamp_micros());
    queue::enqueue(&mut **tx, Some(incident_id), kind::REFRESH_DECLARATION, &slot, json!({}), now).await?;
    Ok(())
}
