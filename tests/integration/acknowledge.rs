use crate::harness::*;

#[tokio::test]
async fn the_first_acknowledge_click_sets_mtta_and_later_clicks_change_nothing() {
    let app = spawn_app().await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.slack.channel("inc-1-api").unwrap();
    let ts = channel.messages[0].ts.clone();
    app.clock.advance(chrono::Duration::seconds(135));

    let first = app.slack.click(BOB, &channel.id, &ts, "incident.acknowledge").await.unwrap();
    app.clock.advance(chrono::Duration::seconds(30));
    let second = app.slack.click(CAROL, &channel.id, &ts, "incident.acknowledge").await.unwrap();
    app.drain().await;

    assert_eq!((first.status, second.status), (200, 200));
    let incident = app.only_incident().await;
    assert_eq!(incident.acknowledged_by.as_deref(), Some(BOB));
    assert_eq!(incident.acknowledged_at, Some(start_time() + chrono::Duration::seconds(135)));
    let acks = app.timeline(&incident).await.iter().filter(|k| *k == "acknowledged").count();
    assert_eq!(acks, 1);

    let told = app.slack.ephemerals(CAROL);
    assert_eq!(told.len(), 1);
    assert!(told[0].text.contains("already acknowledged by <@U0BOB> at 15:02 UTC"), "{}", told[0].text);

    // Both copies of the declaration now say who acknowledged, and lose the button.
    for name in ["inc-1-api", "incidents"] {
        let message = app.slack.channel(name).unwrap().messages.remove(0);
        let text = message.blocks[0]["text"]["text"].as_str().unwrap().to_string();
        assert!(message.edited, "{name}");
        assert!(text.contains("*Acknowledged* by <@U0BOB> at 15:02 UTC (time to acknowledge: 2m 15s)"), "{text}");
        assert!(!message.blocks.to_string().contains("incident.acknowledge"), "{name} still has the button");
    }
    app.finish().await;
}
