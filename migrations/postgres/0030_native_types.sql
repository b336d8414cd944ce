-- Native column types (issue 12): flags become boolean and JSON documents jsonb, converted in
-- place. Until now flags were 0/1 BIGINTs and JSON was TEXT cast to jsonb on every row a
-- `where` touched. (SQLite keeps INTEGER flags and TEXT JSON: its driver binds a boolean as
-- 0/1 and reads JSON from text.) Each ALTER rewrites its table once.

ALTER TABLE apps
    ALTER COLUMN settings DROP DEFAULT,
    ALTER COLUMN settings TYPE jsonb USING settings::jsonb,
    ALTER COLUMN settings SET DEFAULT '{}'::jsonb;

ALTER TABLE conversations
    ALTER COLUMN is_unique DROP DEFAULT,
    ALTER COLUMN is_unique TYPE boolean USING is_unique <> 0,
    ALTER COLUMN is_unique SET DEFAULT false,
    ALTER COLUMN attrs DROP DEFAULT,
    ALTER COLUMN attrs TYPE jsonb USING attrs::jsonb,
    ALTER COLUMN attrs SET DEFAULT '{}'::jsonb;

ALTER TABLE messages
    ALTER COLUMN bin DROP DEFAULT,
    ALTER COLUMN bin TYPE boolean USING bin <> 0,
    ALTER COLUMN bin SET DEFAULT false,
    ALTER COLUMN no_sync DROP DEFAULT,
    ALTER COLUMN no_sync TYPE boolean USING no_sync <> 0,
    ALTER COLUMN no_sync SET DEFAULT false,
    ALTER COLUMN mention_all DROP DEFAULT,
    ALTER COLUMN mention_all TYPE boolean USING mention_all <> 0,
    ALTER COLUMN mention_all SET DEFAULT false,
    ALTER COLUMN recalled DROP DEFAULT,
    ALTER COLUMN recalled TYPE boolean USING recalled <> 0,
    ALTER COLUMN recalled SET DEFAULT false,
    ALTER COLUMN mention_pids TYPE jsonb USING mention_pids::jsonb,
    ALTER COLUMN to_clients TYPE jsonb USING to_clients::jsonb;

ALTER TABLE message_targets
    ALTER COLUMN hidden DROP DEFAULT,
    ALTER COLUMN hidden TYPE boolean USING hidden <> 0,
    ALTER COLUMN hidden SET DEFAULT false;

ALTER TABLE import_state
    ALTER COLUMN complete DROP DEFAULT,
    ALTER COLUMN complete TYPE boolean USING complete <> 0,
    ALTER COLUMN complete SET DEFAULT false;

ALTER TABLE sys_messages
    ALTER COLUMN bin DROP DEFAULT,
    ALTER COLUMN bin TYPE boolean USING bin <> 0,
    ALTER COLUMN bin SET DEFAULT false,
    ALTER COLUMN callback_done DROP DEFAULT,
    ALTER COLUMN callback_done TYPE boolean USING callback_done <> 0,
    ALTER COLUMN callback_done SET DEFAULT false;

ALTER TABLE files
    ALTER COLUMN meta_data DROP DEFAULT,
    ALTER COLUMN meta_data TYPE jsonb USING meta_data::jsonb,
    ALTER COLUMN meta_data SET DEFAULT '{}'::jsonb;

ALTER TABLE push_devices
    ALTER COLUMN extra DROP DEFAULT,
    ALTER COLUMN extra TYPE jsonb USING extra::jsonb,
    ALTER COLUMN extra SET DEFAULT '{}'::jsonb;

ALTER TABLE push_jobs
    ALTER COLUMN job TYPE jsonb USING job::jsonb;
