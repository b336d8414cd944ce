//! Daily counters of rate-limit families and daily logins.

use super::Store;
use crate::error::Result;
use crate::store::db;

impl Store {
    pub async fn rate_count(&self, app: &str, family: &str, day: i64) -> Result<i64> {
        let row = db::query(
            "SELECT count FROM rate_counters WHERE app_id = $1 AND family = $2 AND day = $3",
        )
        .bind(app)
        .bind(family)
        .bind(day)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(row) => row.try_get("count")?,
            None => 0,
        })
    }

    pub async fn rate_increment(&self, app: &str, family: &str, day: i64) -> Result<()> {
        db::query(
            "INSERT INTO rate_counters (app_id, family, day, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (app_id, family, day) DO UPDATE SET count = rate_counters.count + 1",
        )
        .bind(app)
        .bind(family)
        .bind(day)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
