//! Offline push: device registrations (`push_devices`) and the delivery queue (`push_jobs`).
//! The queue is claimed with a lease in one conditional UPDATE, so two workers (two
//! processes on one database) never hold the same row at once.

use super::Store;
use crate::error::Result;
use crate::store::db::{self, Row};

/// One registered device.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    pub object_id: String,
    pub token: String,
    pub platform: String,
    pub client_id: Option<String>,
    pub device_id: Option<String>,
    pub profile: Option<String>,
}

/// A claimed queue row.
#[derive(Debug, Clone)]
pub struct PushJobRow {
    pub id: String,
    pub app_id: String,
    pub provider: String,
    pub job: String,
    pub attempts: i64,
}

const DEVICE_COLUMNS: &str = "object_id, device_token, platform, client_id, device_id, profile";

/// At most this many ids go into one `IN (...)` list.
const IN_CHUNK: usize = 500;

fn device_from_row(row: &Row) -> Result<Device> {
    Ok(Device {
        object_id: row.try_get("object_id")?,
        token: row.try_get("device_token")?,
        platform: row.try_get("platform")?,
        client_id: row.try_get("client_id")?,
        device_id: row.try_get("device_id")?,
        profile: row.try_get("profile")?,
    })
}

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Inserts or updates the row holding `device.token`, and removes the client's older
    /// token of the same device (a changed token replaces the old one).
    pub async fn save_push_device(
        &self,
        app: &str,
        device: &Device,
        extra: &str,
        now: i64,
    ) -> Result<Device> {
        if let (Some(client), Some(device_id)) = (&device.client_id, &device.device_id) {
            db::query(
                "DELETE FROM push_devices WHERE app_id = $1 AND client_id = $2 AND device_id = $3 \
                 AND device_token <> $4",
            )
            .bind(app)
            .bind(client.as_str())
            .bind(device_id.as_str())
            .bind(device.token.as_str())
            .execute(self.pool())
            .await?;
        }
        let row = db::query(&format!(
            "INSERT INTO push_devices (app_id, object_id, device_token, platform, client_id, \
                 device_id, profile, extra, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (app_id, device_token) DO UPDATE SET
                 platform = CASE WHEN excluded.platform = 'unknown' THEN push_devices.platform ELSE excluded.platform END,
                 client_id = COALESCE(excluded.client_id, push_devices.client_id),
                 device_id = COALESCE(excluded.device_id, push_devices.device_id),
                 profile = COALESCE(excluded.profile, push_devices.profile),
                 extra = CASE WHEN excluded.extra = '{{}}' THEN push_devices.extra ELSE excluded.extra END,
                 updated_at = excluded.updated_at
             RETURNING {DEVICE_COLUMNS}"
        ))
        .bind(app)
        .bind(device.object_id.as_str())
        .bind(device.token.as_str())
        .bind(device.platform.as_str())
        .bind(device.client_id.as_deref())
        .bind(device.device_id.as_deref())
        .bind(device.profile.as_deref())
        .bind(db::json_text(extra)?)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        device_from_row(&row)
    }

    pub async fn find_push_device(&self, app: &str, object_id: &str) -> Result<Option<Device>> {
        let row = db::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE app_id = $1 AND object_id = $2"
        ))
        .bind(app)
        .bind(object_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Binds installations registered over REST with this `device_id` to `client`.
    pub async fn bind_push_device(
        &self,
        app: &str,
        device_id: &str,
        client: &str,
        now: i64,
    ) -> Result<u64> {
        let done = db::query(
            "UPDATE push_devices SET client_id = $3, updated_at = $4 \
             WHERE app_id = $1 AND device_id = $2 AND (client_id IS NULL OR client_id <> $3)",
        )
        .bind(app)
        .bind(device_id)
        .bind(client)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Logout: the client's devices (only `device_id`'s when given) stop getting pushes.
    pub async fn unbind_push_devices(
        &self,
        app: &str,
        client: &str,
        device_id: Option<&str>,
    ) -> Result<u64> {
        let done = match device_id {
            Some(device_id) => db::query(
                "UPDATE push_devices SET client_id = NULL \
                 WHERE app_id = $1 AND client_id = $2 AND device_id = $3",
            )
            .bind(app)
            .bind(client)
            .bind(device_id),
            None => db::query(
                "UPDATE push_devices SET client_id = NULL WHERE app_id = $1 AND client_id = $2",
            )
            .bind(app)
            .bind(client),
        }
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A provider said the token is gone.
    pub async fn delete_push_token(&self, app: &str, token: &str) -> Result<()> {
        db::query("DELETE FROM push_devices WHERE app_id = $1 AND device_token = $2")
            .bind(app)
            .bind(token)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The bound devices of `clients`.
    pub async fn push_devices_of(&self, app: &str, clients: &[String]) -> Result<Vec<Device>> {
        let mut devices = Vec::new();
        for chunk in clients.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE app_id = $1 AND client_id IN ({}) \
                 ORDER BY client_id, object_id",
                placeholders(2, chunk.len())
            );
            let mut query = db::query(&sql).bind(app);
            for client in chunk {
                query = query.bind(client.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                devices.push(device_from_row(&row)?);
            }
        }
        Ok(devices)
    }

    /// One page of the app's bound devices (E49), after `after` (an object id), in order.
    pub async fn push_devices_page(
        &self,
        app: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Device>> {
        let rows = db::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE app_id = $1 AND object_id > $2 \
             AND client_id IS NOT NULL ORDER BY object_id LIMIT $3"
        ))
        .bind(app)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// The bound devices of a service conversation's subscribers (E35).
    pub async fn push_devices_of_subscribers(&self, app: &str, conv: &str) -> Result<Vec<Device>> {
        let rows = db::query(
            "SELECT d.object_id, d.device_token, d.platform, d.client_id, d.device_id, d.profile \
             FROM push_devices d JOIN subscriptions s \
               ON s.app_id = d.app_id AND s.client_id = d.client_id \
             WHERE d.app_id = $1 AND s.conv_id = $2 ORDER BY d.object_id",
        )
        .bind(app)
        .bind(conv)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    pub async fn enqueue_push_job(
        &self,
        id: &str,
        app: &str,
        provider: &str,
        job: &str,
        now: i64,
    ) -> Result<()> {
        db::query(
            "INSERT INTO push_jobs (id, app_id, provider, job, attempts, due_at, claimed_until, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, 0, $5)",
        )
        .bind(id)
        .bind(app)
        .bind(provider)
        .bind(db::json_text(job)?)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due rows until `lease_until`. The outer condition is checked
    /// again on each row as it is updated, so a row another worker claimed meanwhile is
    /// skipped rather than taken twice.
    pub async fn claim_push_jobs(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<PushJobRow>> {
        let rows = db::query(
            "UPDATE push_jobs SET claimed_until = $2 \
             WHERE claimed_until <= $1 AND due_at <= $1 AND id IN ( \
                 SELECT id FROM push_jobs WHERE due_at <= $1 AND claimed_until <= $1 \
                 ORDER BY due_at, id LIMIT $3) \
             RETURNING id, app_id, provider, job, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PushJobRow {
                    id: row.try_get("id")?,
                    app_id: row.try_get("app_id")?,
                    provider: row.try_get("provider")?,
                    job: row.json_text("job")?.unwrap_or_default(),
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Done (delivered, dropped or given up): the row goes.
    pub async fn delete_push_job(&self, id: &str) -> Result<()> {
        db::query("DELETE FROM push_jobs WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Some devices are left: try them again at `due_at`.
    pub async fn retry_push_job(
        &self,
        id: &str,
        job: &str,
        attempts: i64,
        due_at: i64,
    ) -> Result<()> {
        db::query(
            "UPDATE push_jobs SET job = $2, attempts = $3, due_at = $4, claimed_until = 0 WHERE id = $1",
        )
        .bind(id)
        .bind(db::json_text(job)?)
        .bind(attempts)
        .bind(due_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Shutdown: rows this process claimed but did not start are free again at once.
    pub async fn release_push_jobs(&self, ids: &[String]) -> Result<()> {
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "UPDATE push_jobs SET claimed_until = 0 WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = db::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Rows waiting (for tests and `/metrics`).
    pub async fn push_jobs_waiting(&self) -> Result<i64> {
        let row = db::query("SELECT COUNT(*) AS n FROM push_jobs")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}
