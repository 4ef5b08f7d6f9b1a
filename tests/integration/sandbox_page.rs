//! The sandbox page's view of the workspace over HTTP: `/sandbox/state` answers at once, and
//! with `since=<version>` (the page's long-poll) at the workspace's next change.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use warroom::clock::ManualClock;
use warroom::sandbox::{http, Workspace};
use warroom::secret::Secret;

use crate::harness::{start_time, ALICE};

/// The sandbox's control surface (the page's side) on a random port, as warroom serves it.
async fn serve_page() -> (Arc<Workspace>, String) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let workspace = Arc::new(Workspace::new(clock, Secret::new("page-test-secret")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = http::control_router(workspace.clone(), false).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    (workspace, url)
}

async fn state(url: &str) -> Value {
    warroom::tls::http_client().get(url).send().await.unwrap().error_for_status().unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_state_without_since_is_answered_at_once_with_its_version() {
    let (workspace, url) = serve_page().await;
    workspace.say(ALICE, "incidents", "anyone seeing 502s?").unwrap();

    let answer = state(&format!("{url}/state")).await;

    assert_eq!(answer["version"], workspace.version());
    assert!(answer["channels"].to_string().contains("anyone seeing 502s?"), "{answer}");
}

#[tokio::test]
async fn a_long_poll_for_the_current_version_is_answered_by_the_next_change() {
    let (workspace, url) = serve_page().await;
    let since = state(&format!("{url}/state")).await["version"].as_u64().unwrap();
    let poll = tokio::spawn(async move { state(&format!("{url}/state?since={since}")).await });
    // Yield until the request is in and waits for a change.
    let waits = async {
        while workspace.waiting() == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), waits).await.expect("the long-poll waits");
    assert!(!poll.is_finished(), "nothing changed: no answer yet");

    workspace.say(ALICE, "incidents", "checkout is down").unwrap();

    let answer = poll.await.unwrap();
    assert!(answer["version"].as_u64().unwrap() > since, "{answer}");
    assert!(answer["channels"].to_string().contains("checkout is down"), "{answer}");
}
