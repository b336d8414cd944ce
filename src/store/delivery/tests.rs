use super::*;

fn message(seq: i64, from: &str) -> Recent {
    Recent {
        seq,
        msg_id: format!("m{seq}"),
        from_client: from.to_owned(),
        timestamp: 1000 + seq,
        ack_at: None,
    }
}

#[test]
fn an_ack_delivers_each_message_once_and_stamps_it_once() {
    let tracker = Tracker::default();
    for seq in 1..=3 {
        tracker.record("a", "c", message(seq, "alice"));
    }
    tracker.load("a", "c", "bob", 0);
    tracker.load("a", "c", "carol", 0);
    let Advanced::Known(first) = tracker.advance("a", "c", "bob", 2, 5, 100) else {
        panic!("range is recent");
    };
    let ids: Vec<_> = first.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(ids, ["m2", "m1"]);
    assert!(matches!(
        tracker.advance("a", "c", "bob", 2, 6, 100),
        Advanced::Unchanged
    ));
    let Advanced::Known(carol) = tracker.advance("a", "c", "carol", 3, 7, 100) else {
        panic!("range is recent");
    };
    assert_eq!(carol.len(), 3);
    let pending = tracker.take(|_| true);
    // m1, m2 stamped by bob, m3 by carol: three stamps, not five.
    assert_eq!(pending.stamps.len(), 3);
    assert_eq!(pending.members.len(), 2);
    assert!(tracker.take(|_| true).is_empty());
}

#[test]
fn a_range_behind_the_window_or_across_a_gap_goes_to_the_database() {
    let tracker = Tracker::default();
    tracker.record("a", "c", message(10, "alice"));
    tracker.record("a", "c", message(12, "alice"));
    tracker.load("a", "c", "bob", 5);
    assert!(matches!(
        tracker.advance("a", "c", "bob", 12, 1, 100),
        Advanced::Unknown { from: 5 }
    ));
    assert_eq!(tracker.resolve_id("a", "c", "m10"), None);
    assert_eq!(tracker.resolve_id("a", "c", "m12"), Some(12));
}

#[test]
fn messages_older_than_the_window_age_are_forgotten_and_acks_for_them_go_to_the_database() {
    let tracker = Tracker::default();
    let mut old = message(1, "alice");
    old.timestamp = 1_000;
    tracker.record("a", "c", old);
    let mut new = message(2, "alice");
    new.timestamp = 1_000 + RECENT_MAX_AGE_MS + 1;
    tracker.record("a", "c", new);
    assert_eq!(tracker.resolve_id("a", "c", "m1"), None);
    assert_eq!(tracker.resolve_id("a", "c", "m2"), Some(2));
    tracker.load("a", "c", "bob", 0);
    assert!(matches!(
        tracker.advance("a", "c", "bob", 2, 1, 100),
        Advanced::Unknown { from: 0 }
    ));
}

#[test]
fn own_messages_do_not_come_back_as_deliveries() {
    let tracker = Tracker::default();
    tracker.record("a", "c", message(1, "bob"));
    tracker.record("a", "c", message(2, "alice"));
    tracker.load("a", "c", "bob", 0);
    let Advanced::Known(newly) = tracker.advance("a", "c", "bob", 2, 1, 100) else {
        panic!("range is recent");
    };
    assert_eq!(newly.len(), 1);
    assert_eq!(newly[0].msg_id, "m2");
    assert_eq!(tracker.resolve_time("a", "c", 1001), Some(1));
    assert_eq!(tracker.resolve_time("a", "c", 999), None);
}

#[test]
fn a_failed_flush_is_pending_again_and_members_that_left_are_forgotten() {
    let tracker = Tracker::default();
    tracker.advance_own("a", "c", "bob", 4);
    let pending = tracker.take(|_| true);
    assert_eq!(pending.members.len(), 1);
    tracker.put_back(pending);
    assert_eq!(tracker.take(|_| true).members.len(), 1);
    tracker.forget_members("a", "c", &["bob".to_owned()]);
    assert_eq!(tracker.held_positions(), 0);
}
