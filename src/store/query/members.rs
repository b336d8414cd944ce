//! Member tests: `m` (the `members` table) and `mu` (`mutes`), as index-driven semi-joins.

use super::builder::Builder;
use super::limits::MAX_SEMI_JOINS;
use super::sql::{join, FALSE, TRUE};
use super::{Dialect, SqlValue};
use crate::error::Result;
use serde_json::Value;

impl Builder {
    /// Conversations with a row in `table` (members or mutes) satisfying `cond` on
    /// `mm.client_id`. The IN form lets SQLite drive the query from `members_by_client`;
    /// Postgres needs EXISTS to plan a semi-join. Postgres plans all top-level semi-joins
    /// together, so past [`MAX_SEMI_JOINS`] they are kept as per-row tests (`IS TRUE`).
    ///
    /// On SQLite the subquery names the app as `$1` (every caller binds the app there) rather
    /// than `c.app_id`: uncorrelated, it is evaluated once, so even a planner without
    /// statistics that walks conversations in `created_at` order only probes a list (13 ms
    /// instead of 320 ms over 100,000 conversations).
    pub(super) fn member_match(&self, table: &str, cond: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "c.id IN (SELECT mm.conv_id FROM {table} mm WHERE mm.app_id = $1 AND {cond})"
            ),
            Dialect::Postgres => {
                self.member_tests.set(self.member_tests.get() + 1);
                let sql = format!(
                    "EXISTS (SELECT 1 FROM {table} mm \
                     WHERE mm.app_id = c.app_id AND mm.conv_id = c.id AND {cond})"
                );
                if self.member_tests.get() > MAX_SEMI_JOINS {
                    format!("({sql}) IS TRUE")
                } else {
                    sql
                }
            }
        }
    }

    /// `$all` on a member list; with `exact`, `{"m": [..]}` (exactly this set). Up to four
    /// members are separate index-driven tests; a longer list is the first member's test plus
    /// one counting subquery, so that 1000 members do not become 1000 joins.
    pub(super) fn member_all(
        &mut self,
        table: &str,
        items: &[Value],
        exact: bool,
    ) -> Result<String> {
        let mut ids: Vec<&str> = Vec::new();
        for item in items {
            match item.as_str() {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => return Ok(FALSE.into()),
            }
        }
        let mut phs = Vec::new();
        for id in &ids {
            phs.push(self.bind(SqlValue::Text((*id).to_owned()))?);
        }
        let separate = if phs.len() <= 4 { phs.len() } else { 1 };
        let mut parts: Vec<String> = phs[..separate]
            .iter()
            .map(|ph| self.member_match(table, &format!("mm.client_id = {ph}")))
            .collect();
        let count = SqlValue::Int(ids.len() as i64);
        if separate < phs.len() {
            parts.push(format!(
                "(SELECT COUNT(*) FROM {table} mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id \
                 AND mm.client_id IN ({})) = {}",
                phs.join(", "),
                self.bind(count.clone())?
            ));
        }
        if exact {
            parts.push(format!("{} = {}", member_count(table), self.bind(count)?));
        }
        Ok(join(parts, " AND ", TRUE))
    }
}

pub(super) fn member_count(table: &str) -> String {
    match table {
        "members" => "c.member_count".to_owned(),
        _ => format!(
            "(SELECT COUNT(*) FROM {table} mm WHERE mm.app_id = c.app_id AND mm.conv_id = c.id)"
        ),
    }
}
