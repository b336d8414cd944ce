-- Tidings schema (SQLite). Every key starts with the app: no query can reach another app's rows.
-- Times are milliseconds since the epoch; flags are 0/1 integers; JSON is stored as text.

CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    app_key     TEXT NOT NULL,
    master_key  TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',   -- rate limits, signature switches, Agora credentials
    created_at  INTEGER NOT NULL
);

-- All three kinds of conversation share one table; the REST family decides `kind`
-- (0 normal, 1 chat room, 2 service, 3 temporary).
CREATE TABLE conversations (
    app_id          TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    name            TEXT,
    creator         TEXT,
    is_unique       INTEGER NOT NULL DEFAULT 0,
    unique_id       TEXT,
    member_key      TEXT,                      -- canonical member set of a unique conversation
    attrs           TEXT NOT NULL DEFAULT '{}', -- custom top-level fields, `attr` among them
    member_count    INTEGER NOT NULL DEFAULT 0,
    last_seq        INTEGER NOT NULL DEFAULT 0, -- per-conversation message sequence
    last_message_at INTEGER,                   -- `lm`; never goes backwards
    expires_at      INTEGER,                   -- temporary conversations
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (app_id, id)
);
CREATE INDEX conversations_by_member_key ON conversations (app_id, member_key) WHERE member_key IS NOT NULL;
CREATE INDEX conversations_by_kind ON conversations (app_id, kind, created_at);

-- Members of normal conversations, indexed both ways. Read and delivery positions are
-- sequences, so unread counts are `last_seq - read_seq`, never a COUNT over messages.
CREATE TABLE members (
    app_id        TEXT NOT NULL,
    conv_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    joined_at     INTEGER NOT NULL,
    read_seq      INTEGER NOT NULL DEFAULT 0,
    read_at       INTEGER NOT NULL DEFAULT 0,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    delivered_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, conv_id, client_id)
);
CREATE INDEX members_by_client ON members (app_id, client_id, conv_id);

CREATE TABLE mutes (
    app_id    TEXT NOT NULL,
    conv_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (app_id, conv_id, client_id)
);

-- Service-conversation subscribers.
CREATE TABLE subscriptions (
    app_id        TEXT NOT NULL,
    conv_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    subscribed_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, conv_id, client_id)
);
CREATE INDEX subscriptions_by_client ON subscriptions (app_id, client_id, subscribed_at, conv_id);

-- Messages. `seq` is assigned from conversations.last_seq in the same transaction as the insert;
-- timestamps never go below the conversation's previous message, so (timestamp, seq) is a total
-- order that agrees with seq. `kind`: 0 conversation message, 1 subscriber broadcast,
-- 2 per-user service message, 3 global broadcast.
CREATE TABLE messages (
    app_id          TEXT NOT NULL,
    conv_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    msg_id          TEXT NOT NULL,
    timestamp       INTEGER NOT NULL,
    from_client     TEXT NOT NULL,
    data            TEXT NOT NULL,
    bin             INTEGER NOT NULL DEFAULT 0,
    from_ip         TEXT,
    kind            INTEGER NOT NULL DEFAULT 0,
    conv_kind       INTEGER NOT NULL DEFAULT 0,
    no_sync         INTEGER NOT NULL DEFAULT 0,
    priority        INTEGER NOT NULL DEFAULT 2,
    mention_all     INTEGER NOT NULL DEFAULT 0,
    mention_pids    TEXT,                      -- JSON array, NULL when none
    push_data       TEXT,                      -- JSON, NULL when none
    to_clients      TEXT,                      -- JSON array for per-user service messages
    patch_timestamp INTEGER,                   -- last edit or recall
    recalled        INTEGER NOT NULL DEFAULT 0,
    ack_at          INTEGER,
    dedup_key       TEXT,                      -- sender's own id for the message (WebSocket resend)
    PRIMARY KEY (app_id, conv_id, seq)
);
CREATE UNIQUE INDEX messages_by_id ON messages (app_id, msg_id);
CREATE INDEX messages_by_time ON messages (app_id, conv_id, timestamp, seq);
CREATE INDEX messages_by_sender ON messages (app_id, from_client, timestamp, msg_id);
CREATE INDEX messages_by_app_time ON messages (app_id, timestamp, msg_id);
CREATE INDEX messages_by_patch ON messages (app_id, conv_id, patch_timestamp) WHERE patch_timestamp IS NOT NULL;
CREATE UNIQUE INDEX messages_by_dedup ON messages (app_id, conv_id, from_client, dedup_key) WHERE dedup_key IS NOT NULL;

-- Recipients of per-user service messages (E38), so E40 finds what one subscriber received.
-- `hidden = 1` rows hide a message from one subscriber (E39 deletes for that client only).
CREATE TABLE message_targets (
    app_id    TEXT NOT NULL,
    conv_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    hidden    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, conv_id, client_id, seq)
);

-- Global broadcasts (E49): delivered to every client of the app until valid_till.
CREATE TABLE broadcasts (
    app_id      TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    conv_id     TEXT NOT NULL,
    from_client TEXT NOT NULL,
    data        TEXT NOT NULL,
    timestamp   INTEGER NOT NULL,
    valid_till  INTEGER NOT NULL,
    push        TEXT,
    patch_timestamp INTEGER,
    deleted_at  INTEGER,
    PRIMARY KEY (app_id, msg_id)
);
CREATE INDEX broadcasts_by_validity ON broadcasts (app_id, valid_till);

-- Daily counters of rate-limit families, kept so a restart does not reset a day's total.
CREATE TABLE rate_counters (
    app_id TEXT NOT NULL,
    family TEXT NOT NULL,
    day    INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (app_id, family, day)
);

-- Distinct clients that logged in per UTC day (E47 user_count_today).
CREATE TABLE daily_logins (
    app_id    TEXT NOT NULL,
    day       INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (app_id, day, client_id)
);
