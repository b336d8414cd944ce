use super::*;
use crate::proto::GenericCommand;
use prost::Message as _;

fn info(client: &str, tag: Option<&str>) -> SessionInfo {
    SessionInfo {
        client: Arc::from(client),
        tag: tag.map(Arc::from),
        device: None,
    }
}

#[tokio::test]
async fn a_push_reaches_every_session_of_a_client_but_the_excluded_one() {
    let hub = Arc::new(Hub::new());
    let (outbox, rx) = Outbox::new(8);
    let a = hub.register("app", info("alice", None), outbox.clone());
    let b = hub.register("app", info("alice", None), outbox);
    assert_eq!(hub.online_count("app"), 1);
    let command = Box::new(GenericCommand {
        i: None,
        ..Default::default()
    });
    hub.publish(
        "app",
        Recipients::Clients(vec!["alice".into()]),
        Event::Push {
            command,
            exclude_session: Some(a.id()),
        },
    );
    match rx.next(64).await {
        Wake::Items(items) => match items.as_slice() {
            [Outbound::Push { session, body }] => {
                assert_eq!(*session, b.id());
                assert!(GenericCommand::decode(body.clone()).is_ok());
            }
            other => panic!("unexpected {other:?}"),
        },
        Wake::Overflow => panic!("unexpected overflow"),
    }
    drop(a);
    drop(b);
    assert_eq!(hub.online_count("app"), 0);
}

#[tokio::test]
async fn a_full_queue_trips_the_overflow_signal() {
    let hub = Arc::new(Hub::new());
    let (outbox, _rx) = Outbox::new(1);
    let _guard = hub.register("app", info("bob", None), outbox.clone());
    for _ in 0..2 {
        hub.publish(
            "app",
            Recipients::Everyone,
            Event::Push {
                command: Box::default(),
                exclude_session: None,
            },
        );
    }
    let tripped =
        tokio::time::timeout(std::time::Duration::from_millis(100), outbox.overflowed()).await;
    assert!(tripped.is_ok());
}

#[tokio::test]
async fn chat_room_presence_follows_the_session() {
    let hub = Arc::new(Hub::new());
    let (outbox, _rx) = Outbox::new(8);
    let guard = hub.register("app", info("carol", Some("phone")), outbox);
    hub.join_room(&guard, "room");
    assert_eq!(
        hub.chat_room_members("app", "room"),
        vec!["carol".to_owned()]
    );
    assert_eq!(hub.sessions_with_tag("app", "carol", "phone", 0).len(), 1);
    drop(guard);
    assert!(hub.chat_room_members("app", "room").is_empty());
}
