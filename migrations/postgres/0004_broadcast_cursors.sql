-- How far each client has received global broadcasts (E49): at login it gets the valid ones
-- sent after this point (a brand-new client: only the latest valid one).
CREATE TABLE broadcast_cursors (
    app_id          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    delivered_until BIGINT NOT NULL,
    PRIMARY KEY (app_id, client_id)
);
