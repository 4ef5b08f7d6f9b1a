//! The answer: the DM's button opens the modal ([`click`]), its submission is recorded
//! ([`submission`]). Both refuse anyone who was not asked; a bad rating keeps the modal open.
//! The submission reaches here only for a view warroom opened (`crate::slack::views`).

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use slack_morphism::prelude::*;
use sqlx::PgConnection;
use uuid::Uuid;

use super::VIEW;
use crate::app::AppState;
use crate::error::AppError;
use crate::incident::store::{self, Incident};
use crate::jobs::{kind, queue};
use crate::slack::kit;
use crate::timeline::{self, EventKind};

/// The longest comment kept (Slack's input limit is larger; the report stays readable).
const COMMENT_LIMIT: usize = 1000;

const NOT_ASKED: &str = "You were not asked for feedback on this incident; nothing was saved.";

/// "Give feedback" clicked: opens the modal for someone who was asked, or says why not (the
/// text to tell the clicker).
pub async fn click(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Option<String>, AppError> {
    let Some(incident) = incident(db, payload["actions"][0]["value"].as_str()).await? else {
        return Ok(Some("That incident no longer exists in warroom.".into()));
    };
    if !super::was_asked(&mut *db, incident.id, user).await? {
        return Ok(Some(NOT_ASKED.into()));
    }
    let trigger = payload["trigger_id"].as_str().unwrap_or_default();
    let view = kit::json(&modal(&incident));
    let payload = json!({ "trigger_id": trigger, "view": "custom", "custom": view, "user": user });
    queue::enqueue(&mut *db, None, kind::OPEN_MODAL, &format!("trigger:{trigger}"), payload, state.clock.now()).await?;
    Ok(None)
}

fn modal(incident: &Incident) -> SlackView {
    let option = |n: u8, label: &str| kit::option(kit::plain(format!("{n} – {label}")), n.to_string());
    let options = vec![
        option(5, "went very well"),
        option(4, "went well"),
        option(3, "so-so"),
        option(2, "went badly"),
        option(1, "went very badly"),
    ];
    let rating =
        SlackBlockStaticSelectElement::new().with_action_id(SlackActionId("value".into())).with_options(options);
    let comment = kit::text_input("What helped, what got in the way", None, true).with_max_length(COMMENT_LIMIT as u64);
    let blocks = vec![
        kit::input("rating", "How did the response go?", rating, false).into(),
        kit::input("comment", "Comment", comment, true).into(),
    ];
    let title = format!("Feedback on {}", incident.number());
    kit::modal(VIEW, incident.id.to_string(), title, "Send", blocks)
}

/// The modal submitted: the answer recorded as a `feedback_given` event (the report shows each
/// person's latest), or refused with the reason under the field and nothing written.
pub async fn submission(
    state: &AppState,
    db: &mut PgConnection,
    user: &str,
    payload: &Value,
) -> Result<Response, AppError> {
    let refuse = |block: &str, message: &str| {
        let errors = HashMap::from([(block.to_string(), message.to_string())]);
        Ok(Json(kit::submission_errors(errors)).into_response())
    };
    let Some(incident) = incident(db, payload["view"]["private_metadata"].as_str()).await? else {
        return refuse("rating", "this incident no longer exists; nothing was saved");
    };
    if !super::was_asked(&mut *db, incident.id, user).await? {
        return refuse("rating", NOT_ASKED);
    }
    let values = &payload["view"]["state"]["values"];
    let rating = values["rating"]["value"]["selected_option"]["value"].as_str().unwrap_or_default();
    let Some(rating) = parse_rating(rating) else {
        return refuse("rating", "choose a rating from 1 to 5; nothing was saved");
    };
    let comment = values["comment"]["value"]["value"].as_str().map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > COMMENT_LIMIT) {
        return refuse("comment", &format!("at most {COMMENT_LIMIT} characters; nothing was saved"));
    }
    let payload = json!({ "rating": rating, "comment": comment });
    timeline::append(&mut *db, incident.id, state.clock.now(), user, EventKind::FeedbackGiven, payload).await?;
    Ok(Json(kit::submission_clear()).into_response())
}

/// A rating from 1 to 5, as the select's value.
fn parse_rating(text: &str) -> Option<u8> {
    text.trim().parse::<u8>().ok().filter(|r| (1..=5).contains(r))
}

async fn incident(db: &mut PgConnection, id: Option<&str>) -> Result<Option<Incident>, AppError> {
    match id.and_then(|id| Uuid::parse_str(id).ok()) {
        Some(id) => Ok(store::get(db, id).await?),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rating;

    #[test]
    fn a_rating_is_one_to_five() {
        assert_eq!(parse_rating("1"), Some(1));
        assert_eq!(parse_rating(" 5 "), Some(5));
        for bad in ["0", "6", "-1", "", "three", "4.5", "300"] {
            assert_eq!(parse_rating(bad), None, "{bad}");
        }
    }
}
