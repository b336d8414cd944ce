-- Resume points of `tidings import leancloud`, one row per imported conversation: where the
-- scan of the source's history stopped, and whether it reached the end (as of the source's
-- `lm` then). Written in the same transaction as the messages it covers.
CREATE TABLE import_state (
    app_id        TEXT NOT NULL,
    conv_id       TEXT NOT NULL,
    cursor_ts     INTEGER,                  -- (timestamp, msg-id) of the last source message handled
    cursor_msg_id TEXT,
    complete      INTEGER NOT NULL DEFAULT 0,
    complete_lm   INTEGER,                  -- the source's `lm` when the scan reached the end
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (app_id, conv_id)
);
