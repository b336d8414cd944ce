//! Apps (tenants) and their settings.

use super::Store;
use crate::domain::app::{App, AppSettings};
use crate::error::Result;
use crate::store::db::{self, Row};
use sqlx::types::Json;

impl Store {
    pub async fn find_app(&self, app_id: &str) -> Result<Option<App>> {
        let row =
            db::query("SELECT app_id, app_key, master_key, settings FROM apps WHERE app_id = $1")
                .bind(app_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|row| app_from_row(&row)).transpose()
    }

    pub async fn list_apps(&self) -> Result<Vec<App>> {
        let rows = db::query(
            "SELECT app_id, app_key, master_key, settings FROM apps ORDER BY created_at, app_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(app_from_row).collect()
    }

    /// Creates the app, or updates its keys if it exists (settings are kept).
    pub async fn upsert_app(&self, app_id: &str, app_key: &str, master_key: &str) -> Result<()> {
        db::query(
            "INSERT INTO apps (app_id, app_key, master_key, settings, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (app_id) DO UPDATE SET app_key = excluded.app_key, master_key = excluded.master_key",
        )
        .bind(app_id)
        .bind(app_key)
        .bind(master_key)
        .bind(Json(AppSettings::default()))
        .bind(crate::domain::time::now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn save_app_settings(&self, app_id: &str, settings: &AppSettings) -> Result<bool> {
        let done = db::query("UPDATE apps SET settings = $1 WHERE app_id = $2")
            .bind(Json(settings.clone()))
            .bind(app_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn count_apps(&self) -> Result<i64> {
        let row = db::query("SELECT COUNT(*) AS n FROM apps")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}

fn app_from_row(row: &Row) -> Result<App> {
    // Unknown or missing fields fall back to the defaults, as an app saved by an older
    // version expects.
    let settings = row.json_text("settings")?.unwrap_or_default();
    Ok(App {
        app_id: row.try_get("app_id")?,
        app_key: row.try_get("app_key")?,
        master_key: row.try_get("master_key")?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
    })
}
