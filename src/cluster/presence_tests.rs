//! The replica: gaps, snapshots (whole and in parts).

use super::*;

fn record(id: u64, client: &str) -> SessionRecord {
    SessionRecord {
        id,
        app: "a".into(),
        client: client.into(),
        tag: None,
        device: None,
        rooms: vec![],
    }
}

#[test]
fn a_gap_asks_for_a_snapshot_which_replaces_the_view() {
    let replica = Replica::default();
    assert_eq!(replica.apply("n1", 1, vec![]), Applied::NeedSnapshot);
    replica.snapshot("n1", 1, vec![record(7, "bob")]);
    assert!(replica.is_online("a", "bob"));
    let ops = vec![PresenceOp::Join {
        id: 7,
        room: "r".into(),
    }];
    assert_eq!(replica.apply("n1", 2, ops), Applied::Ok);
    let mut members = Vec::new();
    replica.room_members("a", "r", &mut members);
    assert_eq!(members, vec!["bob".to_owned()]);
    let ops = vec![PresenceOp::Offline { id: 7 }];
    assert_eq!(replica.apply("n1", 4, ops), Applied::NeedSnapshot);
    assert!(!replica.is_online("a", "bob"));
    assert!(replica.nodes_for_room("a", "r").is_empty());
}

#[test]
fn a_snapshot_in_parts_replaces_the_view_when_complete() {
    let replica = Replica::default();
    replica.snapshot("n1", 1, vec![record(1, "old")]);
    replica.snapshot_part("n1", 5, 0, 2, vec![record(2, "ann")]);
    // Half-way, the old view still answers.
    assert!(replica.is_online("a", "old"));
    assert!(!replica.is_online("a", "ann"));
    replica.snapshot_part("n1", 5, 1, 2, vec![record(3, "ben")]);
    assert!(!replica.is_online("a", "old"));
    assert!(replica.is_online("a", "ann") && replica.is_online("a", "ben"));
    assert_eq!(replica.beat("n1", 5), Applied::Ok);
    // A missing part: the assembly is dropped, the view stays, the next beat asks.
    replica.snapshot_part("n1", 9, 0, 3, vec![record(4, "cat")]);
    replica.snapshot_part("n1", 9, 2, 3, vec![record(5, "dan")]);
    assert!(!replica.is_online("a", "cat"));
    assert_eq!(replica.beat("n1", 9), Applied::NeedSnapshot);
}
