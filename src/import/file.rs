//! `tidings import conversations FILE`: a console export of `_Conversation` (or of `_File`:
//! file objects, imported keeping their `objectId` and URL). Accepts a JSON
//! array, `{"results": [...]}`, and one JSON object per line (the console's export format).
//! A malformed line or record is reported with its line number and skipped, never fatal.
//! Conversations keep their `objectId`, fields, members, mutes and times; messages are not
//! part of such an export (use `tidings import leancloud` for them).

use super::{convert, Skipped};
use crate::store::import::ImportedConversation;
use crate::store::Store;
use anyhow::Context;
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::fmt;
use std::path::PathBuf;

#[derive(Clone)]
pub struct FileOptions {
    pub path: PathBuf,
    pub database_url: String,
    pub app_id: String,
    /// With both keys the app is created (or its keys updated); else it must exist.
    pub app_key: Option<String>,
    pub master_key: Option<String>,
    /// Compare the file with the target instead of writing.
    pub verify: bool,
}

/// How the file was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Array,
    Results,
    Lines,
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub shape: Shape,
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    /// Malformed lines and records, and (with `verify`) conversations that differ.
    pub skipped: Vec<Skipped>,
    pub verify: bool,
    pub mismatches: Vec<Skipped>,
    /// sha1 over the imported conversations' ids and `updatedAt`, in id order.
    pub checksum: String,
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.verify {
            let verdict = if self.mismatches.is_empty() {
                "OK: the target holds every conversation as the file has it"
            } else {
                "MISMATCH"
            };
            writeln!(
                f,
                "Verify: {verdict}. {} records ({:?}).",
                self.records, self.shape
            )?;
            for m in &self.mismatches {
                writeln!(f, "    {}: {}", m.item, m.reason)?;
            }
        } else {
            writeln!(
                f,
                "Imported {} conversations ({} created, {} updated) from {} records ({:?}).",
                self.created + self.updated,
                self.created,
                self.updated,
                self.records,
                self.shape
            )?;
        }
        super::write_skips(f, self.skipped.len() as u64, &self.skipped)?;
        writeln!(f, "  checksum: {}", self.checksum)
    }
}

/// One record of a file: where it is, and the object or why it is unreadable.
pub type Record = (String, Result<Value, String>);

/// Splits a file into records.
pub fn parse(text: &str) -> (Shape, Vec<Record>) {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with('[') {
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed) {
            return (Shape::Array, numbered("item", items));
        }
        // A broken array printed one record per line: read it line by line.
        return (Shape::Array, lines(text, true));
    }
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed) {
        return match object.get("results") {
            Some(Value::Array(items)) => (Shape::Results, numbered("result", items.clone())),
            _ => (
                Shape::Lines,
                vec![("line 1".to_owned(), Ok(Value::Object(object)))],
            ),
        };
    }
    (Shape::Lines, lines(text, false))
}

fn numbered(what: &str, items: Vec<Value>) -> Vec<Record> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("{what} {}", i + 1), Ok(v)))
        .collect()
}

fn lines(text: &str, in_array: bool) -> Vec<Record> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut line = line.trim().trim_start_matches('\u{feff}');
        if in_array {
            line = line
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .trim_end_matches(',');
        }
        if line.is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Value>(line).map_err(|e| format!("not JSON: {e}"));
        out.push((format!("line {}", number + 1), parsed));
    }
    out
}

/// Imports (or with `verify`, checks) the file's conversations.
pub async fn run(options: FileOptions) -> anyhow::Result<FileReport> {
    let text = std::fs::read_to_string(&options.path)
        .with_context(|| format!("reading {}", options.path.display()))?;
    let (shape, records) = parse(&text);
    let store = Store::connect(&options.database_url, 4, 64).await?;
    store.migrate().await?;
    let outcome = load(&options, &store, shape, records).await;
    store.close().await;
    outcome
}

async fn load(
    options: &FileOptions,
    store: &Store,
    shape: Shape,
    records: Vec<Record>,
) -> anyhow::Result<FileReport> {
    let app = options.app_id.as_str();
    anyhow::ensure!(!app.is_empty(), "--app-id (or TIDINGS_APP_ID) is required");
    match (&options.app_key, &options.master_key) {
        (Some(key), Some(master)) if !options.verify && !key.is_empty() && !master.is_empty() => {
            anyhow::ensure!(key != master, "app key and master key must differ");
            store.upsert_app(app, key, master).await?;
        }
        _ => anyhow::ensure!(
            store.find_app(app).await?.is_some(),
            "app {app} does not exist in the target; give --app-key and --master-key to create it"
        ),
    }
    let mut report = FileReport {
        shape,
        records: records.len() as u64,
        created: 0,
        updated: 0,
        skipped: Vec::new(),
        verify: options.verify,
        mismatches: Vec::new(),
        checksum: String::new(),
    };
    let mut imported = Vec::new();
    for (place, record) in records {
        if let Ok(value) = record.as_ref() {
            if super::files::is_file_record(value) {
                load_file_record(options, store, &mut report, place, value).await?;
                continue;
            }
        }
        let conv = match record.and_then(|value| convert::conversation(&value)) {
            Ok(conv) => conv,
            Err(reason) => {
                report.skipped.push(Skipped {
                    item: place,
                    reason,
                });
                continue;
            }
        };
        if options.verify {
            if let Some(problem) = difference(store, app, &conv).await? {
                report.mismatches.push(Skipped {
                    item: format!("{place} ({})", conv.id),
                    reason: problem,
                });
            }
        } else if store.import_conversation(app, &conv).await? {
            report.created += 1;
        } else {
            report.updated += 1;
        }
        imported.push((conv.id.clone(), conv.updated_at));
    }
    imported.sort();
    let mut hasher = Sha1::new();
    for (id, updated_at) in imported {
        hasher.update(format!("{id} {updated_at}\n").as_bytes());
    }
    report.checksum = hex::encode(hasher.finalize());
    Ok(report)
}

/// One record of a `_File` export: imported as an external file keeping its objectId (with
/// `verify`: checked to exist with the same URL).
async fn load_file_record(
    options: &FileOptions,
    store: &Store,
    report: &mut FileReport,
    place: String,
    value: &Value,
) -> anyhow::Result<()> {
    let file = match super::files::file_record(value) {
        Ok(file) => file,
        Err(reason) => {
            report.skipped.push(Skipped {
                item: place,
                reason,
            });
            return Ok(());
        }
    };
    let app = options.app_id.as_str();
    if options.verify {
        let problem = match store.find_file(app, &file.object_id).await? {
            None => Some("missing from the target".to_owned()),
            Some(found) if found.storage_key.is_none() && found.url != file.url => {
                Some(format!("url {} in the target", found.url))
            }
            Some(_) => None,
        };
        if let Some(reason) = problem {
            report.mismatches.push(Skipped {
                item: format!("{place} (file {})", file.object_id),
                reason,
            });
        }
    } else if store.import_external_file(app, &file).await? {
        report.created += 1;
    } else {
        report.updated += 1;
    }
    Ok(())
}

/// How the target's copy differs from the file's, if it does.
async fn difference(
    store: &Store,
    app: &str,
    conv: &ImportedConversation,
) -> anyhow::Result<Option<String>> {
    let Some(mut found) = store.find_conversation(app, &conv.id).await? else {
        return Ok(Some("missing in the target".to_owned()));
    };
    store
        .fill_member_lists(app, std::slice::from_mut(&mut found))
        .await?;
    let sorted = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list
    };
    let checks = [
        ("kind", found.kind == conv.kind),
        ("name", found.name == conv.name),
        ("creator", found.creator == conv.creator),
        (
            "unique",
            found.is_unique == conv.unique && found.unique_id == conv.unique_id,
        ),
        ("custom fields", found.attrs == conv.attrs),
        ("members", sorted(&found.members) == sorted(&conv.members)),
        ("mutes", sorted(&found.mutes) == sorted(&conv.mutes)),
        ("createdAt", found.created_at == conv.created_at),
        ("updatedAt", found.updated_at == conv.updated_at),
    ];
    let differing: Vec<&str> = checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect();
    Ok((!differing.is_empty()).then(|| format!("differs in {}", differing.join(", "))))
}

/// Keys stay out of logs.
impl std::fmt::Debug for FileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileOptions")
            .field("path", &self.path)
            .field("app_id", &self.app_id)
            .field("verify", &self.verify)
            .field("app_key", &crate::domain::app::REDACTED)
            .field("master_key", &crate::domain::app::REDACTED)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes_and_broken_lines() {
        let (shape, records) = parse(r#"[{"objectId":"a"},{"objectId":"b"}]"#);
        assert_eq!((shape, records.len()), (Shape::Array, 2));
        let (shape, records) = parse(r#"{"results":[{"objectId":"a"}]}"#);
        assert_eq!((shape, records.len()), (Shape::Results, 1));
        let (shape, records) = parse("{\"objectId\":\"a\"}\n\n{broken\n{\"objectId\":\"c\"}\n");
        assert_eq!(shape, Shape::Lines);
        let oks: Vec<bool> = records.iter().map(|(_, r)| r.is_ok()).collect();
        assert_eq!(oks, vec![true, false, true]);
        assert_eq!(records[1].0, "line 3");
        let (shape, records) =
            parse("[\n{\"objectId\":\"a\"},\n{oops},\n{\"objectId\":\"b\"}\n]\n");
        assert_eq!(shape, Shape::Array);
        assert_eq!(records.iter().filter(|(_, r)| r.is_ok()).count(), 2);
    }
}
