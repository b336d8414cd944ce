-- When a service-conversation subscriber last read it (ms): its unread count is the number of
-- messages it can see after max(subscribed_at, read_at).
ALTER TABLE subscriptions ADD COLUMN read_at INTEGER NOT NULL DEFAULT 0;
