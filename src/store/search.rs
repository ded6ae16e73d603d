//! The deferred full-text index (design and measurements: README, "Full text").
//!
//! The write path only queues new event ids (`search_queue`, same transaction as the events).
//! [`index_pending`] takes queued ids in batches, builds one document per event from every value
//! of its raw record, adds the documents to the backend's index (FTS5 on SQLite, a GIN-indexed
//! `tsvector` on PostgreSQL) and removes the ids from the queue, all in one transaction. On
//! PostgreSQL the batch is claimed with `FOR UPDATE SKIP LOCKED`, so several AOC processes can
//! index side by side. Queries ([`crate::store::query`]) search the index and scan the raw
//! records of still-queued events, so results are complete while the index catches up.

use std::collections::HashSet;
use std::time::Duration;

use app::query::{compound_words, tokens};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement, TransactionTrait, Value,
};
use serde_json::Value as Json;

/// Events indexed per transaction.
pub const BATCH: usize = 1_000;
/// Longest document indexed per event, in bytes (the raw record keeps everything).
pub const MAX_DOCUMENT: usize = 128 * 1024;
/// Longest token indexed (longer runs are hashes or base64 nobody searches by prefix).
const MAX_TOKEN: usize = 200;
/// Longest single value considered.
const MAX_VALUE: usize = 16 * 1024;

/// The text indexed for one raw record: the tokens of every distinct scalar value (not the
/// keys), values in record order so phrases match, then every distinct compound word whole
/// (`New-InboxRule` is indexed as `new inbox rule` in place and `inboxrule` at the end, so
/// phrases of parts stay adjacent and the whole word is still found). A record that is not
/// JSON is indexed as text.
pub fn document(raw: &str) -> String {
    let mut doc = String::with_capacity(raw.len() / 2);
    let mut compounds = Vec::new();
    match serde_json::from_str::<Json>(raw) {
        Ok(value) => {
            let mut seen = HashSet::new();
            collect(&value, &mut seen, &mut doc, &mut compounds, 0);
        }
        Err(_) => {
            push_tokens(&mut doc, raw);
            compounds.extend(compound_words(raw));
        }
    }
    let mut added = HashSet::new();
    for word in compounds {
        if word.len() > MAX_TOKEN || !added.insert(word.clone()) {
            continue;
        }
        if doc.len() + word.len() + 1 > MAX_DOCUMENT {
            break;
        }
        if !doc.is_empty() {
            doc.push(' ');
        }
        doc.push_str(&word);
    }
    doc
}

fn collect<'a>(
    value: &'a Json,
    seen: &mut HashSet<&'a str>,
    doc: &mut String,
    compounds: &mut Vec<String>,
    depth: usize,
) {
    if doc.len() >= MAX_DOCUMENT || depth > 32 {
        return;
    }
    match value {
        Json::String(s) => {
            if seen.insert(s.as_str()) {
                let s = truncate(s, MAX_VALUE);
                push_tokens(doc, s);
                compounds.extend(compound_words(s));
            }
        }
        Json::Number(n) => push_tokens(doc, &n.to_string()),
        Json::Bool(_) | Json::Null => {}
        Json::Array(items) => items.iter().for_each(|v| collect(v, seen, doc, compounds, depth + 1)),
        Json::Object(map) => map.values().for_each(|v| collect(v, seen, doc, compounds, depth + 1)),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn push_tokens(doc: &mut String, text: &str) {
    for token in tokens(text) {
        if token.len() > MAX_TOKEN {
            continue;
        }
        if doc.len() + token.len() + 1 > MAX_DOCUMENT {
            return;
        }
        if !doc.is_empty() {
            doc.push(' ');
        }
        doc.push_str(&token);
    }
}

fn placeholder(backend: DatabaseBackend, n: usize) -> String {
    if backend == DatabaseBackend::Postgres {
        format!("${n}")
    } else {
        "?".to_string()
    }
}

/// Indexes up to `limit` queued events; returns how many were indexed (0 when the queue is empty).
pub async fn index_batch(db: &DatabaseConnection, limit: usize) -> Result<usize, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Claim the batch inside the transaction so several processes can index side by side.
        let txn = db.begin().await?;
        let claim = format!(
            "SELECT e.id, e.occurred_at, e.raw FROM events e JOIN (SELECT event_id FROM search_queue ORDER BY event_id \
             LIMIT {limit} FOR UPDATE SKIP LOCKED) q ON q.event_id = e.id"
        );
        let rows =
            Queued::find_by_statement(Statement::from_string(DatabaseBackend::Postgres, claim)).all(&txn).await?;
        let n = write_batch(&txn, &rows, &[]).await?;
        txn.commit().await?;
        return Ok(n);
    }
    // SQLite: one process indexes, so the batch is read outside the write transaction (a read
    // that later turns into a write would fail with "database is locked" whenever the
    // collector committed in between); the transaction then only writes.
    let rows = Queued::find_by_statement(Statement::from_string(
        DatabaseBackend::Sqlite,
        format!("SELECT e.id, e.raw FROM search_queue q CROSS JOIN events e ON e.id = q.event_id ORDER BY q.event_id LIMIT {limit}"),
    ))
    .all(db)
    .await?;
    // Queue entries whose event is gone are dropped with the rest.
    let orphans: Vec<i64> = if rows.len() < limit {
        Orphan::find_by_statement(Statement::from_string(
            DatabaseBackend::Sqlite,
            format!(
                "SELECT q.event_id AS id FROM search_queue q LEFT JOIN events e ON e.id = q.event_id \
                 WHERE e.id IS NULL LIMIT {limit}"
            ),
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect()
    } else {
        Vec::new()
    };
    if rows.is_empty() && orphans.is_empty() {
        return Ok(0);
    }
    let writer = super::writer(db).await?;
    let txn = writer.begin().await?;
    let n = write_batch(&txn, &rows, &orphans).await?;
    txn.commit().await?;
    Ok(n)
}

/// A queued event to index (its time is read on PostgreSQL only).
#[derive(FromQueryResult)]
struct Queued {
    id: i64,
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    raw: String,
}

/// A queue entry whose event is gone.
#[derive(FromQueryResult)]
struct Orphan {
    id: i64,
}

/// Adds the documents of `rows` to the index and removes them and `orphans` from the queue.
async fn write_batch(txn: &sea_orm::DatabaseTransaction, rows: &[Queued], orphans: &[i64]) -> Result<usize, DbErr> {
    let backend = txn.get_database_backend();
    let postgres = backend == DatabaseBackend::Postgres;
    // (id, time, document); PostgreSQL keeps a full-text row in the partition of its event's
    // time (migration 7), so it needs the time too.
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let time = match (postgres, row.occurred_at) {
            (false, _) => None,
            (true, Some(time)) => Some(time),
            (true, None) => return Err(DbErr::Custom(format!("queued event {} was read without its time", row.id))),
        };
        entries.push((row.id, time, document(&row.raw)));
    }
    // Deleting first makes the transaction a writer at once. Only the events whose queue entries
    // this transaction removed are written: an entry already gone was indexed by another process
    // meanwhile, or its event was deleted after it was read (the delete trigger removes the
    // entry), and a full-text row for it would point at nothing.
    let done: Vec<String> =
        entries.iter().map(|(id, _, _)| *id).chain(orphans.iter().copied()).map(|id| id.to_string()).collect();
    if done.is_empty() {
        return Ok(0);
    }
    let removed: std::collections::HashSet<i64> = Orphan::find_by_statement(Statement::from_string(
        backend,
        format!("DELETE FROM search_queue WHERE event_id IN ({}) RETURNING event_id AS id", done.join(",")),
    ))
    .all(txn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    let indexed = entries.len();
    let mut entries = entries.into_iter().filter(|(id, _, _)| removed.contains(id)).peekable();
    while entries.peek().is_some() {
        let mut sql = if postgres {
            String::from("INSERT INTO event_search (event_id, occurred_at, doc) VALUES ")
        } else {
            String::from("INSERT INTO event_search (rowid, doc) VALUES ")
        };
        let mut values: Vec<Value> = Vec::with_capacity(200 * 3);
        for (i, (id, time, doc)) in entries.by_ref().take(200).enumerate() {
            if i > 0 {
                sql.push(',');
            }
            values.push(id.into());
            let mut row = vec![placeholder(backend, values.len())];
            if let Some(time) = time {
                values.push(time.into());
                row.push(placeholder(backend, values.len()));
            }
            values.push(doc.into());
            let doc = placeholder(backend, values.len());
            row.push(if postgres { format!("to_tsvector('simple', {doc})") } else { doc });
            sql.push_str(&format!("({})", row.join(", ")));
        }
        if postgres {
            sql.push_str(" ON CONFLICT (event_id, occurred_at) DO NOTHING");
        }
        txn.execute(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(indexed + orphans.len())
}

/// Indexes until the queue is empty; returns how many events were indexed.
pub async fn index_pending(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let n = index_batch(db, BATCH).await?;
        total += n as u64;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// Events waiting to be indexed.
pub async fn queue_length(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let row = super::sql::Count::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM search_queue",
    ))
    .one(db)
    .await?;
    Ok(row.map_or(0, |r| r.n).max(0) as u64)
}

/// The background indexer: indexes whatever is queued, then waits a little; forever.
pub async fn run(db: DatabaseConnection) {
    const TICK: Duration = Duration::from_millis(500);
    /// The queue is counted (a scan on PostgreSQL) every this many ticks (10 s).
    const COUNT_EVERY: u32 = 20;
    let mut ticks: u32 = 0;
    loop {
        match index_pending(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(indexed = n, "search index caught up"),
            Err(e) => tracing::warn!(error = %e, "search indexing failed; will retry"),
        }
        if ticks.is_multiple_of(COUNT_EVERY) {
            if let Ok(n) = queue_length(&db).await {
                metrics::gauge!("aoc_search_queue_events").set(n as f64);
            }
        }
        ticks = ticks.wrapping_add(1);
        tokio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_hold_every_value_once_and_no_keys() {
        let doc = document(
            r#"{"Operation":"Set-Mailbox","UserId":"Admin@Contoso.com","Parameters":[{"Name":"ForwardingSmtpAddress","Value":"smtp:x@evil.example"}],"Other":"Admin@Contoso.com","Count":42}"#,
        );
        assert_eq!(
            doc,
            "42 set mailbox admin contoso com forwarding smtp address smtp x evil example forwardingsmtpaddress"
        );
        assert!(!doc.contains("operation"));
    }

    #[test]
    fn text_records_are_indexed_as_text_and_documents_are_bounded() {
        assert_eq!(document("not json: at ALL"), "not json at all");
        let huge = format!(r#"{{"a":"{}"}}"#, "word ".repeat(100_000));
        assert!(document(&huge).len() <= MAX_DOCUMENT);
        let many: Vec<String> = (0..50_000).map(|i| format!("\"v{i} x\"")).collect();
        assert!(document(&format!("[{}]", many.join(","))).len() <= MAX_DOCUMENT);
    }
}
