//! Member roles, silenced members, blacklists (conversation blocks client, client blocks
//! conversation) and permanent notifications. Lists of ids are paged by id: `after` is an
//! exclusive cursor.

use super::Store;
use crate::error::Result;
use crate::store::db;

/// Which per-conversation list of client ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientList {
    Silenced,
    Blocked,
}

impl ClientList {
    fn table(self) -> &'static str {
        match self {
            ClientList::Silenced => "silenced_members",
            ClientList::Blocked => "conversation_blocks",
        }
    }
}

impl Store {
    /// Roles recorded for a conversation's members, `(client, role)`, ordered by client.
    pub async fn member_roles(
        &self,
        app: &str,
        conv: &str,
        client: Option<&str>,
        skip: i64,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>> {
        let rows = db::query(
            "SELECT client_id, role, updated_at FROM member_roles
             WHERE app_id = $1 AND conv_id = $2 AND ($3 = '' OR client_id = $3)
             ORDER BY client_id LIMIT $4 OFFSET $5",
        )
        .bind(app)
        .bind(conv)
        .bind(client.unwrap_or(""))
        .bind(limit)
        .bind(skip)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    pub async fn set_member_role(
        &self,
        app: &str,
        conv: &str,
        client: &str,
        role: &str,
        now: i64,
    ) -> Result<()> {
        db::query(
            "INSERT INTO member_roles (app_id, conv_id, client_id, role, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (app_id, conv_id, client_id)
             DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(conv)
        .bind(client)
        .bind(role)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn add_to_list(
        &self,
        list: ClientList,
        app: &str,
        conv: &str,
        clients: &[String],
        now: i64,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (app_id, conv_id, client_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app_id, conv_id, client_id) DO NOTHING",
            list.table()
        );
        for client in clients {
            db::query(&sql)
                .bind(app)
                .bind(conv)
                .bind(client)
                .bind(now)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    pub async fn remove_from_list(
        &self,
        list: ClientList,
        app: &str,
        conv: &str,
        clients: &[String],
    ) -> Result<()> {
        let sql = format!(
            "DELETE FROM {} WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
            list.table()
        );
        for client in clients {
            db::query(&sql)
                .bind(app)
                .bind(conv)
                .bind(client)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Up to `limit` ids of the list after `after`, ordered by id.
    pub async fn list_page(
        &self,
        list: ClientList,
        app: &str,
        conv: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT client_id FROM {} WHERE app_id = $1 AND conv_id = $2 AND client_id > $3
             ORDER BY client_id LIMIT $4",
            list.table()
        );
        let rows = db::query(&sql)
            .bind(app)
            .bind(conv)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Which of `clients` are on the list.
    pub async fn on_list(
        &self,
        list: ClientList,
        app: &str,
        conv: &str,
        clients: &[String],
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE app_id = $1 AND conv_id = $2 AND client_id = $3",
            list.table()
        );
        let mut found = Vec::new();
        for client in clients {
            if self.row_exists(&sql, [app, conv, client]).await? {
                found.push(client.clone());
            }
        }
        Ok(found)
    }

    /// A client blocks (or unblocks) conversations.
    pub async fn set_client_blocks(
        &self,
        app: &str,
        client: &str,
        convs: &[String],
        block: bool,
        now: i64,
    ) -> Result<()> {
        for conv in convs {
            let query = if block {
                db::query(
                    "INSERT INTO client_blocks (app_id, client_id, conv_id, created_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, client_id, conv_id) DO NOTHING",
                )
                .bind(app)
                .bind(client)
                .bind(conv)
                .bind(now)
            } else {
                db::query(
                    "DELETE FROM client_blocks WHERE app_id = $1 AND client_id = $2 AND conv_id = $3",
                )
                .bind(app)
                .bind(client)
                .bind(conv)
            };
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// Whether `client` blocked `conv` itself: one lookup by the table's primary key.
    pub async fn has_client_block(&self, app: &str, client: &str, conv: &str) -> Result<bool> {
        self.row_exists(
            "SELECT 1 FROM client_blocks WHERE app_id = $1 AND client_id = $2 AND conv_id = $3",
            [app, client, conv],
        )
        .await
    }

    /// The conversations a client blocked, by id after `after`.
    pub async fn client_blocks(
        &self,
        app: &str,
        client: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = db::query(
            "SELECT conv_id FROM client_blocks WHERE app_id = $1 AND client_id = $2
             AND conv_id > $3 ORDER BY conv_id LIMIT $4",
        )
        .bind(app)
        .bind(client)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// One notification for each client: one multi-row INSERT per 200 clients (a group of
    /// 500 is three statements, not 500).
    pub async fn insert_notifications(
        &self,
        app: &str,
        clients: &[String],
        server_ts: i64,
        body: &str,
    ) -> Result<()> {
        for chunk in clients.chunks(200) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, $2, $3)", i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO notifications (app_id, client_id, server_ts, body) VALUES {}",
                rows.join(", ")
            );
            let mut query = db::query(&sql).bind(app).bind(server_ts).bind(body);
            for client in chunk {
                query = query.bind(client);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// A client's notifications after `since`, oldest first: `(server_ts, body)`.
    pub async fn notifications_since(
        &self,
        app: &str,
        client: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows = db::query(
            "SELECT server_ts, body FROM notifications WHERE app_id = $1 AND client_id = $2
             AND server_ts > $3 ORDER BY server_ts, id LIMIT $4",
        )
        .bind(app)
        .bind(client)
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Forgets notifications older than `before` (the retention window).
    pub async fn prune_notifications(&self, before: i64) -> Result<()> {
        db::query("DELETE FROM notifications WHERE server_ts < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
