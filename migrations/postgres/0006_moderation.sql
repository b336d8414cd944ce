-- Moderation: member roles (the creator is always the owner), silenced members, blacklists
-- both ways, and the permanent notifications clients fetch after being offline.

CREATE TABLE member_roles (
    app_id     TEXT NOT NULL,
    conv_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    role       TEXT NOT NULL,          -- Manager or Member
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, conv_id, client_id)
);

CREATE TABLE silenced_members (
    app_id     TEXT NOT NULL,
    conv_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, conv_id, client_id)
);

-- The conversation blocks the client (it cannot re-join) ...
CREATE TABLE conversation_blocks (
    app_id     TEXT NOT NULL,
    conv_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, conv_id, client_id)
);

-- ... or the client blocks the conversation (it is not invited back).
CREATE TABLE client_blocks (
    app_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    conv_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, client_id, conv_id)
);

CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    app_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    server_ts  BIGINT NOT NULL,
    body       TEXT NOT NULL           -- {cmd, op, cid, initBy, m, udate, attr, attrModified, info}
);
CREATE INDEX notifications_by_client ON notifications (app_id, client_id, server_ts);
