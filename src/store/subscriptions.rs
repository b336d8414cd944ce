//! Service-conversation subscriptions.

use super::Store;
use crate::error::Result;
use crate::store::db::{self, Row};

/// One subscription: who, to what, since when (ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub conv_id: String,
    pub client_id: String,
    pub subscribed_at: i64,
}

impl Store {
    /// Subscribes (idempotent: a second call keeps the first subscription time).
    pub async fn subscribe(&self, app: &str, conv: &str, client: &str, now: i64) -> Result<()> {
        db::query(
            "INSERT INTO subscriptions (app_id, conv_id, client_id, subscribed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(app)
        .bind(conv)
        .bind(client)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Unsubscribes (idempotent).
    pub async fn unsubscribe(&self, app: &str, conv: &str, client: &str) -> Result<()> {
        db::query(
            "DELETE FROM subscriptions WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
        )
        .bind(app)
        .bind(conv)
        .bind(client)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn is_subscribed(&self, app: &str, conv: &str, client: &str) -> Result<bool> {
        self.row_exists(
            "SELECT 1 FROM subscriptions WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
            [app, conv, client],
        )
        .await
    }

    /// A page of subscribers ordered by client id, after the exclusive cursor `after`.
    pub async fn subscribers_page(
        &self,
        app: &str,
        conv: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Subscription>> {
        let rows = db::query(
            "SELECT conv_id, client_id, subscribed_at FROM subscriptions
             WHERE app_id = $1 AND conv_id = $2 AND client_id > $3 ORDER BY client_id LIMIT $4",
        )
        .bind(app)
        .bind(conv)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(subscription_from_row).collect()
    }

    pub async fn subscriber_count(&self, app: &str, conv: &str) -> Result<i64> {
        let row =
            db::query("SELECT COUNT(*) AS n FROM subscriptions WHERE app_id = $1 AND conv_id = $2")
                .bind(app)
                .bind(conv)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Every subscriber's id, for fan-out.
    pub async fn subscribers_all(&self, app: &str, conv: &str) -> Result<Vec<String>> {
        let rows =
            db::query("SELECT client_id FROM subscriptions WHERE app_id = $1 AND conv_id = $2")
                .bind(app)
                .bind(conv)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("client_id")?))
            .collect()
    }
}

fn subscription_from_row(row: &Row) -> Result<Subscription> {
    Ok(Subscription {
        conv_id: row.try_get("conv_id")?,
        client_id: row.try_get("client_id")?,
        subscribed_at: row.try_get("subscribed_at")?,
    })
}

/// A cursor into one client's subscriptions: the last item's time and conversation.
#[derive(Debug, Clone)]
pub struct SubscriptionCursor {
    pub subscribed_at: i64,
    pub conv_id: String,
}

impl Store {
    /// The service conversations a client subscribed to, earliest first (`newest_first =
    /// false`) or latest first, after the exclusive cursor.
    pub async fn subscriptions_of_client(
        &self,
        app: &str,
        client: &str,
        after: Option<&SubscriptionCursor>,
        newest_first: bool,
        limit: i64,
    ) -> Result<Vec<Subscription>> {
        let (op, direction) = if newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let cursor = if after.is_some() {
            format!(" AND (subscribed_at, conv_id) {op} ($3, $4)")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT conv_id, client_id, subscribed_at FROM subscriptions WHERE app_id = $1 AND client_id = $2{cursor}
             ORDER BY subscribed_at {direction}, conv_id {direction} LIMIT {}",
            limit.max(0)
        );
        let mut query = db::query(&sql).bind(app).bind(client);
        if let Some(after) = after {
            query = query.bind(after.subscribed_at).bind(after.conv_id.as_str());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    /// Hides one service-conversation message from one subscriber (E39): a per-user message
    /// loses that recipient; a subscriber broadcast is hidden for that client only.
    pub async fn hide_message_for(
        &self,
        app: &str,
        conv: &str,
        seq: i64,
        client: &str,
    ) -> Result<()> {
        db::query(
            "INSERT INTO message_targets (app_id, conv_id, client_id, seq, hidden) VALUES ($1, $2, $3, $4, TRUE)
             ON CONFLICT (app_id, conv_id, client_id, seq) DO UPDATE SET hidden = TRUE",
        )
        .bind(app)
        .bind(conv)
        .bind(client)
        .bind(seq)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
