-- Offline push (issue 16). `push_devices`: where a client can be reached when it has no live
-- session: a device token (APNs token, FCM registration token, or a vendor token the app's
-- webhook understands) bound to a client id. Rows come from `session open` (`deviceToken`),
-- `report/upload` (type "token") and LeanStorage's `/1.1/installations`; an installation
-- registered over REST has no client until a session with its `deviceId`/`deviceToken`
-- opens. A token belongs to one row per app: a new login on the device moves it.
CREATE TABLE push_devices (
    app_id          TEXT NOT NULL,
    object_id       TEXT NOT NULL,                -- the installation's objectId
    device_token    TEXT NOT NULL,
    platform        TEXT NOT NULL DEFAULT 'unknown',  -- ios | android | unknown
    client_id       TEXT,                         -- NULL: not bound (or logged out)
    device_id       TEXT,                         -- the SDK's deviceId / installationId
    profile         TEXT,                         -- APNs profile (`dev` = sandbox)
    extra           TEXT NOT NULL DEFAULT '{}',   -- other installation fields, JSON
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (app_id, object_id)
);
CREATE UNIQUE INDEX push_devices_by_token ON push_devices (app_id, device_token);
CREATE INDEX push_devices_by_client ON push_devices (app_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX push_devices_by_device ON push_devices (app_id, device_id) WHERE device_id IS NOT NULL;

-- The delivery queue: one row per (message, provider) with the devices still to reach.
-- A worker claims due rows by setting `claimed_until` (a lease); success deletes the row, a
-- retryable failure writes the devices left, `attempts + 1` and a later `due_at`.
CREATE TABLE push_jobs (
    id             TEXT NOT NULL PRIMARY KEY,
    app_id         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    job            TEXT NOT NULL,                -- JSON: conv, msg, payload, devices
    attempts       BIGINT NOT NULL DEFAULT 0,
    due_at         BIGINT NOT NULL,
    claimed_until  BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);
CREATE INDEX push_jobs_due ON push_jobs (due_at, claimed_until);
