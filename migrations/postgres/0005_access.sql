-- Access control: forced kicks revoke a client's earlier session tokens and signatures,
-- and subscribers' uplink messages to service conversations (LeanCloud's _SysMessage).

CREATE TABLE client_revocations (
    app_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,          -- tokens and signatures issued at or before are void
    PRIMARY KEY (app_id, client_id)
);

CREATE TABLE sys_messages (
    app_id       TEXT NOT NULL,
    conv_id      TEXT NOT NULL,
    msg_id       TEXT NOT NULL,
    from_client  TEXT NOT NULL,
    data         TEXT NOT NULL,
    bin          BIGINT NOT NULL DEFAULT 0,
    from_ip      TEXT,
    timestamp    BIGINT NOT NULL,
    callback_done BIGINT NOT NULL DEFAULT 0, -- 1 once POSTed to the app's callback (or given up)
    PRIMARY KEY (app_id, msg_id)
);
CREATE INDEX sys_messages_by_conv ON sys_messages (app_id, conv_id, timestamp);
CREATE INDEX sys_messages_pending ON sys_messages (app_id, callback_done, timestamp);
