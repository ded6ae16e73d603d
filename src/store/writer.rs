//! The write path: batches of events are inserted if absent on (tenant, dedupe key), in one
//! transaction together with what their collection completes (a blob marked seen, a watermark
//! advanced, a coverage window marked done). Only after the commit are the *newly inserted*
//! events handed to subscribers (rules, export), so a re-collected record never reaches them
//! twice.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, Statement, TransactionTrait, Value,
};
use tokio::sync::broadcast;

use super::entities::{coverage_windows, events, seen_blobs, watermarks};
use crate::normalize::{NormalizeError, Normalized, Source};

/// Most rows per INSERT statement. Statements come in few shapes (this many rows, then powers of
/// two for the rest of a batch: see [`statement_sizes`]), so both backends prepare each shape
/// once per connection and reuse it; a statement of any other row count would be parsed and
/// planned anew (for a multi-row insert with a dozen indexes that costs more than executing it).
/// Measured with `aoc bench ingest --events-per-day 200000 --hours 24 --sources unified` (two
/// runs each, after the rest of a batch stopped going one row per statement): SQLite 12.8k and
/// 12.2k events/s with 250 rows, 12.7k and 13.3k with 500 (the same within the noise; 250 keeps
/// less in memory); PostgreSQL 13.9k and 14.9k with 50, 15.9k and 14.9k with 100, 15.9k and
/// 14.0k with 250.
fn rows_per_statement(backend: sea_orm::DbBackend) -> usize {
    if backend == sea_orm::DbBackend::Postgres {
        100
    } else {
        250
    }
}

/// An event ready to store.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub tenant_id: String,
    pub source: Source,
    pub content_type: Option<String>,
    pub record_id: String,
    pub dedupe_key: String,
    pub occurred_at: DateTime<Utc>,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub actor_display: Option<String>,
    pub actor_upn: Option<String>,
    pub actor_app_id: Option<String>,
    pub actor_ip: Option<String>,
    pub targets: String,
    pub target_display: Option<String>,
    pub summary: String,
    pub severity: i16,
    pub correlation_id: Option<String>,
    pub flattened: String,
    pub raw: String,
    pub normalize_error: Option<String>,
    /// `occurred_at` is not the record's own time (it has none that can be read) but the time it
    /// was collected. On PostgreSQL such a row takes the time already stored under its key, so a
    /// second delivery lands in the same partition and is recognized (see `adopt_stored_times`).
    pub fallback_time: bool,
}

impl EventRow {
    /// Builds the row from a raw record and its normalization (or why it failed: then the raw
    /// record is stored with the error flag and a best-effort identity).
    pub fn new(
        tenant_id: &str,
        source: Source,
        content_type: Option<&str>,
        raw: String,
        normalized: Result<Normalized, NormalizeError>,
        now: DateTime<Utc>,
    ) -> Self {
        match normalized {
            Ok(n) => {
                let target_display = {
                    let names: Vec<&str> =
                        n.targets.iter().filter_map(|t| t.display.as_deref().or(t.id.as_deref())).collect();
                    (!names.is_empty()).then(|| names.join(", "))
                };
                EventRow {
                    tenant_id: tenant_id.to_string(),
                    source,
                    content_type: content_type.map(str::to_string),
                    record_id: n.record_id,
                    dedupe_key: dedupe_key(source, &n.dedupe_key),
                    occurred_at: n.occurred_at,
                    service: n.service,
                    operation: n.operation,
                    result: n.result.as_str().to_string(),
                    actor_display: n.actor_display,
                    actor_upn: n.actor_upn,
                    actor_app_id: n.actor_app_id,
                    actor_ip: n.actor_ip,
                    targets: serde_json::to_string(&n.targets).unwrap_or_else(|_| "[]".into()),
                    target_display,
                    summary: n.summary,
                    severity: n.severity,
                    correlation_id: n.correlation_id,
                    flattened: serde_json::to_string(&n.flattened).unwrap_or_else(|_| "{}".into()),
                    raw,
                    normalize_error: None,
                    fallback_time: false,
                }
            }
            Err(error) => {
                let (record_id, key, time) = crate::normalize::readable_identity(&raw);
                EventRow {
                    tenant_id: tenant_id.to_string(),
                    source,
                    content_type: content_type.map(str::to_string),
                    record_id,
                    dedupe_key: dedupe_key(source, &key),
                    occurred_at: time.unwrap_or(now),
                    fallback_time: time.is_none(),
                    service: String::new(),
                    operation: String::new(),
                    result: "unknown".into(),
                    actor_display: None,
                    actor_upn: None,
                    actor_app_id: None,
                    actor_ip: None,
                    targets: "[]".into(),
                    target_display: None,
                    summary: "Record stored raw: it could not be normalized".into(),
                    severity: 0,
                    correlation_id: None,
                    flattened: "{}".into(),
                    raw,
                    normalize_error: Some(error.to_string()),
                }
            }
        }
    }
}

/// The stored dedupe key: the source's own key, qualified by the source, because ids are only
/// unique within one API (a UAL record and a Graph record may carry the same GUID).
pub fn dedupe_key(source: Source, key: &str) -> String {
    format!("{}:{key}", source.as_str())
}

/// What a batch's commit also records.
#[derive(Clone, Debug)]
pub enum Completion {
    /// A content blob is fully stored.
    Blob { tenant_id: String, content_id: String, content_type: String, created: DateTime<Utc>, records: i64 },
    /// Everything of `source` (a key such as `directory` or `unified:Audit.Exchange`) before
    /// `position` is stored.
    Watermark { tenant_id: String, source: String, position: DateTime<Utc>, cursor: Option<String> },
    /// A coverage window is done with this many records.
    Window {
        tenant_id: String,
        source: String,
        content_type: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        records: i64,
    },
}

/// A newly stored event, as subscribers see it.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: i64,
    pub tenant_id: String,
    pub source: Source,
    pub dedupe_key: String,
}

/// Where the write path spends its time, for benchmarks: waiting for the writer connection
/// (SQLite has one) and holding it (the transaction), summed over every batch of the process.
pub struct WriteTiming {
    waited_ns: std::sync::atomic::AtomicU64,
    held_ns: std::sync::atomic::AtomicU64,
    batches: std::sync::atomic::AtomicU64,
    rows: std::sync::atomic::AtomicU64,
}

pub static TIMING: WriteTiming = WriteTiming {
    waited_ns: std::sync::atomic::AtomicU64::new(0),
    held_ns: std::sync::atomic::AtomicU64::new(0),
    batches: std::sync::atomic::AtomicU64::new(0),
    rows: std::sync::atomic::AtomicU64::new(0),
};

impl WriteTiming {
    fn record(&self, waited: std::time::Duration, held: std::time::Duration, rows: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.waited_ns.fetch_add(waited.as_nanos() as u64, Relaxed);
        self.held_ns.fetch_add(held.as_nanos() as u64, Relaxed);
        self.batches.fetch_add(1, Relaxed);
        self.rows.fetch_add(rows, Relaxed);
    }

    /// (seconds waited, seconds held, batches, rows) so far.
    pub fn totals(&self) -> (f64, f64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.waited_ns.load(Relaxed) as f64 / 1e9,
            self.held_ns.load(Relaxed) as f64 / 1e9,
            self.batches.load(Relaxed),
            self.rows.load(Relaxed),
        )
    }
}

/// The outcome of one stored batch.
#[derive(Clone, Debug, Default)]
pub struct BatchOutcome {
    pub inserted: Vec<NewEvent>,
    pub duplicates: u64,
    pub normalize_errors: u64,
}

/// Where newly inserted events are announced after commit.
#[derive(Clone)]
pub struct Subscribers {
    sender: broadcast::Sender<std::sync::Arc<Vec<NewEvent>>>,
}

impl Default for Subscribers {
    fn default() -> Self {
        Self { sender: broadcast::channel(1024).0 }
    }
}

impl Subscribers {
    /// Receives every batch of newly inserted events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<std::sync::Arc<Vec<NewEvent>>> {
        self.sender.subscribe()
    }

    fn publish(&self, events: Vec<NewEvent>) {
        if !events.is_empty() {
            // No subscriber is not an error: rules and export may be off.
            let _ = self.sender.send(std::sync::Arc::new(events));
        }
    }
}

/// Rows of one batch turned into INSERT statements, with what the transaction also records.
pub(crate) struct Request {
    /// One statement per chunk of rows, with the chunk's tenant and source.
    inserts: Vec<(Statement, String, Source)>,
    /// Rows across `inserts`.
    rows: usize,
    completions: Vec<Completion>,
    now: DateTime<Utc>,
    /// When the request was handed to the write path.
    queued: std::time::Instant,
}

/// A request waiting for the SQLite writer connection, and where its outcome goes.
pub(crate) type Pending = (Request, tokio::sync::oneshot::Sender<Result<Vec<NewEvent>, DbErr>>);

/// Most rows one group commit takes in (the rest wait for the next).
const GROUP_ROWS: usize = 8_000;

/// Inserts `rows` that are not stored yet and records `completions`, in one transaction; then
/// announces the newly inserted events.
///
/// On SQLite, batches are queued for the file's write task (`write_queued`); batches that arrive
/// while another is being written wait together and are then committed in one transaction
/// (group commit): SQLite writes every page a transaction touched to the WAL once per commit,
/// and the pages of the random-key index (dedupe key) are shared by many small batches. Each
/// batch's outcome is its own; if the group fails, each batch is retried alone so one bad batch
/// cannot fail the others.
pub async fn store_batch(
    db: &DatabaseConnection,
    mut rows: Vec<EventRow>,
    completions: &[Completion],
    subscribers: &Subscribers,
) -> Result<BatchOutcome, DbErr> {
    let now = Utc::now();
    let total = rows.len() as u64;
    let normalize_errors = rows.iter().filter(|r| r.normalize_error.is_some()).count() as u64;
    // In time order (stable: records of the same time keep theirs), so consecutive rows of a
    // statement land on the same pages of the time-keyed indexes; a blob's records come in no
    // order.
    rows.sort_by_key(|r| r.occurred_at);
    let backend = db.get_database_backend();
    let inserted = if backend == sea_orm::DbBackend::Postgres {
        write_postgres(db, rows, completions, now).await?
    } else {
        // Statements are built before waiting for the writer, so it is held only to execute them.
        let request = Request {
            rows: rows.len(),
            inserts: build_inserts(backend, rows, now),
            completions: completions.to_vec(),
            now,
            queued: std::time::Instant::now(),
        };
        write_sqlite(db, request).await?
    };
    let outcome = BatchOutcome { duplicates: total - inserted.len() as u64, inserted, normalize_errors };
    subscribers.publish(outcome.inserted.clone());
    Ok(outcome)
}

/// PostgreSQL: makes sure partitions hold the batch's days, then writes it in a transaction of
/// its own.
async fn write_postgres(
    db: &DatabaseConnection,
    mut rows: Vec<EventRow>,
    completions: &[Completion],
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, DbErr> {
    let queued = std::time::Instant::now();
    let total = rows.len() as u64;
    super::partitions::ensure_days(db, rows.iter().map(|r| r.occurred_at)).await;
    let txn = db.begin().await?;
    // Held until commit: the rules' evaluator reads only ids no insert in progress can fall below.
    txn.execute(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("SELECT pg_advisory_xact_lock_shared({})", super::detection::INSERT_LOCK),
    ))
    .await?;
    let got = std::time::Instant::now();
    if rows.iter().any(|r| r.fallback_time) {
        adopt_stored_times(&txn, &mut rows).await?;
    }
    let request = Request {
        rows: rows.len(),
        inserts: build_inserts(sea_orm::DbBackend::Postgres, rows, now),
        completions: completions.to_vec(),
        now,
        queued,
    };
    let inserted = apply_postgres(&txn, request).await?;
    txn.commit().await?;
    TIMING.record(got - queued, got.elapsed(), total);
    Ok(inserted)
}

/// SQLite: hands the batch to the file's write task (or, without one, writes it alone).
async fn write_sqlite(db: &DatabaseConnection, request: Request) -> Result<Vec<NewEvent>, DbErr> {
    let total = request.rows as u64;
    Ok(match super::sqlite_writer(db).await? {
        Some(slot) => {
            let (reply, outcome) = tokio::sync::oneshot::channel();
            slot.pending.lock().unwrap_or_else(|p| p.into_inner()).push((request, reply));
            start_write_task(&slot);
            slot.queued.notify_one();
            outcome.await.unwrap_or_else(|_| {
                Err(DbErr::Custom("the write of this batch was abandoned; it will be retried".into()))
            })?
        }
        None => {
            let got = std::time::Instant::now();
            let queued = request.queued;
            let inserted = write_alone(db, &request).await?;
            TIMING.record(got - queued, got.elapsed(), total);
            inserted
        }
    })
}

/// Starts the task that writes `slot`'s queued batches, unless it runs (it ends with the
/// runtime it was started on).
fn start_write_task(slot: &std::sync::Arc<super::WriterSlot>) {
    let mut task = slot.task.lock().unwrap_or_else(|p| p.into_inner());
    if task.as_ref().is_some_and(|t| !t.is_finished()) {
        return;
    }
    *task = Some(tokio::spawn(write_queued(slot.clone())));
}

/// The write path's side of a SQLite file: whenever batches are queued, takes the writer
/// connection and commits them in groups, oldest first, until the queue is empty. A task of its
/// own, so its statements follow each other without waiting for a collector's task to be polled
/// (a collector's task also splits and parses blobs).
async fn write_queued(slot: std::sync::Arc<super::WriterSlot>) {
    loop {
        slot.queued.notified().await;
        let conn = slot.lock().await;
        loop {
            let group = {
                let mut pending = slot.pending.lock().unwrap_or_else(|p| p.into_inner());
                // A caller that gave up (its task was cancelled) no longer wants its batch.
                pending.retain(|(_, reply)| !reply.is_closed());
                let mut rows = 0;
                let take = pending
                    .iter()
                    .take_while(|(r, _)| {
                        rows += r.rows;
                        rows <= GROUP_ROWS
                    })
                    .count()
                    .max(1)
                    .min(pending.len());
                pending.drain(..take).collect::<Vec<_>>()
            };
            if group.is_empty() {
                break;
            }
            let began = std::time::Instant::now();
            let waited: std::time::Duration = group.iter().map(|(r, _)| began - r.queued).sum();
            let rows = group.iter().map(|(r, _)| r.rows as u64).sum::<u64>();
            write_group(&conn, group).await;
            TIMING.record(waited, began.elapsed(), rows);
        }
    }
}

/// Writes a group of waiting batches in one transaction and answers each; if that fails, each
/// batch alone.
async fn write_group(conn: &DatabaseConnection, group: Vec<Pending>) {
    let together = async {
        let began = std::time::Instant::now();
        let txn = conn.begin().await?;
        let requests: Vec<&Request> = group.iter().map(|(r, _)| r).collect();
        let results = apply_sqlite(&txn, &requests).await?;
        let applied = began.elapsed();
        txn.commit().await?;
        tracing::debug!(
            batches = group.len(),
            rows = group.iter().map(|(r, _)| r.rows).sum::<usize>(),
            apply_ms = applied.as_millis() as u64,
            commit_ms = (began.elapsed() - applied).as_millis() as u64,
            "group committed"
        );
        Ok::<_, DbErr>(results)
    }
    .await;
    match together {
        Ok(results) => {
            for ((_, reply), result) in group.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(error) if group.len() == 1 => {
            if let Some((_, reply)) = group.into_iter().next() {
                let _ = reply.send(Err(error));
            }
        }
        Err(_) => {
            for (request, reply) in group {
                let _ = reply.send(write_alone(conn, &request).await);
            }
        }
    }
}

/// One request in a transaction of its own.
async fn write_alone(conn: &DatabaseConnection, request: &Request) -> Result<Vec<NewEvent>, DbErr> {
    let txn = conn.begin().await?;
    let inserted = apply_sqlite(&txn, &[request]).await?.pop().unwrap_or_default();
    txn.commit().await?;
    Ok(inserted)
}

/// PostgreSQL: rows without a readable time (`EventRow::fallback_time`) take the time already
/// stored under their (tenant, dedupe key), if any. PostgreSQL's exactly-once index contains the
/// time (the partition key); a record delivered again has the same id and time, except one whose
/// time cannot be read, which would otherwise get a new collection time and be stored again.
/// Each key is locked for the rest of the transaction first (in one order, so two batches cannot
/// deadlock), so two batches holding the same such record store it once.
async fn adopt_stored_times(txn: &sea_orm::DatabaseTransaction, rows: &mut [EventRow]) -> Result<(), DbErr> {
    let backend = sea_orm::DbBackend::Postgres;
    let keys: Vec<(String, String)> =
        rows.iter().filter(|r| r.fallback_time).map(|r| (r.tenant_id.clone(), r.dedupe_key.clone())).collect();
    let mut values: Vec<Value> = Vec::with_capacity(keys.len() * 2);
    let mut pairs = Vec::with_capacity(keys.len());
    for (tenant, key) in &keys {
        pairs.push(format!("(${}, ${})", values.len() + 1, values.len() + 2));
        values.push(tenant.clone().into());
        values.push(key.clone().into());
    }
    let pairs = pairs.join(", ");
    txn.execute(Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t || chr(10) || d, 0) AS k \
             FROM (VALUES {pairs}) v(t, d)) l ORDER BY k"
        ),
        values.clone(),
    ))
    .await?;
    #[derive(FromQueryResult)]
    struct StoredTime {
        tenant_id: String,
        dedupe_key: String,
        t: DateTime<Utc>,
    }
    let stored = StoredTime::find_by_statement(Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT tenant_id, dedupe_key, MIN(occurred_at) AS t FROM events \
             WHERE (tenant_id, dedupe_key) IN (VALUES {pairs}) GROUP BY tenant_id, dedupe_key"
        ),
        values,
    ))
    .all(txn)
    .await?;
    let times: std::collections::HashMap<(String, String), DateTime<Utc>> =
        stored.into_iter().map(|row| ((row.tenant_id, row.dedupe_key), row.t)).collect();
    for row in rows.iter_mut().filter(|r| r.fallback_time) {
        if let Some(time) = times.get(&(row.tenant_id.clone(), row.dedupe_key.clone())) {
            row.occurred_at = *time;
        }
    }
    Ok(())
}

/// A newly inserted event as an insert's RETURNING gives it.
#[derive(FromQueryResult)]
struct NewRow {
    id: i64,
    dedupe_key: String,
}

/// The largest event id given so far (`sqlite_sequence.seq`).
#[derive(FromQueryResult)]
struct Seq {
    seq: i64,
}

/// The new rows of a group, as one JSON text.
#[derive(FromQueryResult)]
struct NewRows {
    new_rows: String,
}

/// PostgreSQL: one request's statements in `txn`, consumed (a PostgreSQL batch is never retried
/// from its statements, so they are not copied): the inserts with the search queue entries of
/// their new rows, and the completions. Returns the newly inserted events.
async fn apply_postgres(txn: &sea_orm::DatabaseTransaction, request: Request) -> Result<Vec<NewEvent>, DbErr> {
    let mut inserted = Vec::new();
    for (mut statement, tenant_id, source) in request.inserts {
        // The new rows are queued for the full-text indexer (see `store::search`) by the same
        // statement.
        // ... and queued for export to every destination that selects them (`store::export`).
        statement.sql = format!(
            "WITH new_events AS ({}), queued AS (INSERT INTO search_queue (event_id) SELECT id FROM new_events), {} \
             SELECT id, dedupe_key FROM new_events",
            statement.sql,
            super::export::postgres_enqueue_cte()
        );
        for row in NewRow::find_by_statement(statement).all(txn).await? {
            inserted.push(NewEvent { id: row.id, tenant_id: tenant_id.clone(), source, dedupe_key: row.dedupe_key });
        }
    }
    for completion in &request.completions {
        apply_completion(txn, completion, request.now).await?;
    }
    Ok(inserted)
}

/// SQLite: runs the requests' statements in `txn`, oldest first — the inserts, the search queue
/// entries of the new rows, and the completions — and returns each request's newly inserted
/// events. The statements are kept (copied for execution): if a group fails, each request is
/// retried alone. In as few statements as it can: the inserts without RETURNING, then all
/// new rows of the group read back as one value.
///
/// sqlx runs SQLite on a thread of its own: every statement is a round trip to the calling task
/// and every result row a separate hand-over to it (`perf sched`: the writer thread spent about a
/// quarter of the run waiting for its next command). Inside the write transaction no other
/// connection can insert and ids only grow (AUTOINCREMENT), so the rows above the largest id
/// before the group are exactly the group's new rows, in the order they were inserted; each
/// request's are the next as many as its inserts reported.
async fn apply_sqlite(txn: &sea_orm::DatabaseTransaction, requests: &[&Request]) -> Result<Vec<Vec<NewEvent>>, DbErr> {
    let backend = sea_orm::DbBackend::Sqlite;
    // The largest id ever given (AUTOINCREMENT keeps it in `sqlite_sequence`; no row yet: none).
    // Read with a write, so the transaction holds the write lock from its first statement: a
    // transaction that reads first fails at once (SQLITE_BUSY) if another connection writes
    // before it does.
    let before: i64 = Seq::find_by_statement(Statement::from_string(
        backend,
        "UPDATE sqlite_sequence SET seq = seq WHERE name = 'events' RETURNING seq",
    ))
    .one(txn)
    .await?
    .map_or(0, |row| row.seq);
    let mut counts = Vec::with_capacity(requests.len());
    for request in requests {
        let mut count = 0u64;
        for (statement, _, _) in &request.inserts {
            count += txn.execute(statement.clone()).await?.rows_affected();
        }
        counts.push(count as usize);
        for completion in &request.completions {
            apply_completion(txn, completion, request.now).await?;
        }
    }
    if counts.iter().all(|&n| n == 0) {
        return Ok(counts.iter().map(|_| Vec::new()).collect());
    }
    let new_rows = Statement::from_sql_and_values(
        backend,
        "SELECT json_group_array(json_array(id, tenant_id, source, dedupe_key)) AS new_rows \
         FROM (SELECT id, tenant_id, source, dedupe_key FROM events WHERE id > ? ORDER BY id)",
        [before.into()],
    );
    let text = NewRows::find_by_statement(new_rows).one(txn).await?.map_or_else(|| "[]".into(), |row| row.new_rows);
    let rows: Vec<(i64, String, String, String)> = serde_json::from_str(&text)
        .map_err(|e| DbErr::Custom(format!("the new events could not be read back: {e}")))?;
    if rows.len() != counts.iter().sum::<usize>() {
        return Err(DbErr::Custom(format!(
            "the write inserted {} events but {} were found after it",
            counts.iter().sum::<usize>(),
            rows.len()
        )));
    }
    // Queue the new events for the full-text indexer (see `store::search`).
    execute(
        txn,
        Statement::from_sql_and_values(
            backend,
            "INSERT INTO search_queue (event_id) SELECT id FROM events WHERE id > ?",
            [before.into()],
        ),
    )
    .await?;
    // Queue them for export to every destination that selects them (`store::export`).
    super::export::sqlite_enqueue_after(txn, before, requests.first().map_or_else(Utc::now, |r| r.now)).await?;
    let mut rows = rows.into_iter();
    let mut results = Vec::with_capacity(requests.len());
    for count in counts {
        let mut inserted = Vec::with_capacity(count);
        for (id, tenant_id, source, dedupe_key) in rows.by_ref().take(count) {
            let source = Source::parse(&source)
                .ok_or_else(|| DbErr::Custom(format!("event {id} has an unknown source {source:?}")))?;
            inserted.push(NewEvent { id, tenant_id, source, dedupe_key });
        }
        results.push(inserted);
    }
    Ok(results)
}

/// How many rows each INSERT of a batch of `rows` takes: `per_statement` while that many are
/// left, then the rest as powers of two, largest first (at most one statement per bit). A blob's
/// last batch has whatever size the blob holds; one row per statement for its rest cost up to
/// 249 round trips to the database.
fn statement_sizes(rows: usize, per_statement: usize) -> Vec<usize> {
    let mut sizes = vec![per_statement; rows / per_statement];
    let rest = rows % per_statement;
    sizes.extend((0..usize::BITS).rev().map(|bit| 1usize << bit).filter(|size| rest & size != 0));
    sizes
}

/// The columns of the exactly-once index: (tenant, dedupe key), and on PostgreSQL also the
/// time, its partition key (migration 7).
pub fn unique_columns(backend: sea_orm::DbBackend) -> &'static [events::Column] {
    if backend == sea_orm::DbBackend::Postgres {
        &[events::Column::TenantId, events::Column::DedupeKey, events::Column::OccurredAt]
    } else {
        &[events::Column::TenantId, events::Column::DedupeKey]
    }
}

/// INSERT … ON CONFLICT DO NOTHING RETURNING statements for `rows`, of the sizes
/// [`statement_sizes`] gives. The rows are moved into the statements: raw records are the bulk
/// of a batch's memory.
fn build_inserts(
    backend: sea_orm::DbBackend,
    rows: Vec<EventRow>,
    now: DateTime<Utc>,
) -> Vec<(Statement, String, Source)> {
    let mut statements = Vec::new();
    let sizes = statement_sizes(rows.len(), rows_per_statement(backend));
    let mut rows = rows.into_iter();
    for size in sizes {
        let chunk: Vec<EventRow> = rows.by_ref().take(size).collect();
        let Some(first) = chunk.first() else { break };
        let (chunk_source, chunk_tenant) = (first.source, first.tenant_id.clone());
        let mut insert = Query::insert();
        insert.into_table(events::Entity).columns([
            events::Column::TenantId,
            events::Column::Source,
            events::Column::ContentType,
            events::Column::RecordId,
            events::Column::DedupeKey,
            events::Column::OccurredAt,
            events::Column::IngestedAt,
            events::Column::Service,
            events::Column::Operation,
            events::Column::Result,
            events::Column::ActorDisplay,
            events::Column::ActorUpn,
            events::Column::ActorAppId,
            events::Column::ActorIp,
            events::Column::Targets,
            events::Column::TargetDisplay,
            events::Column::Summary,
            events::Column::Severity,
            events::Column::CorrelationId,
            events::Column::Flattened,
            events::Column::Raw,
            events::Column::NormalizeError,
        ]);
        for r in chunk {
            let values: Vec<sea_orm::sea_query::SimpleExpr> = vec![
                r.tenant_id.into(),
                r.source.as_str().into(),
                r.content_type.into(),
                r.record_id.into(),
                r.dedupe_key.into(),
                r.occurred_at.into(),
                now.into(),
                r.service.into(),
                r.operation.into(),
                r.result.into(),
                r.actor_display.into(),
                r.actor_upn.into(),
                r.actor_app_id.into(),
                r.actor_ip.into(),
                r.targets.into(),
                r.target_display.into(),
                r.summary.into(),
                r.severity.into(),
                r.correlation_id.into(),
                r.flattened.into(),
                r.raw.into(),
                r.normalize_error.into(),
            ];
            insert.values_panic(values);
        }
        insert.on_conflict(OnConflict::columns(unique_columns(backend).iter().copied()).do_nothing().to_owned());
        // SQLite reads the new rows back in one value instead (see `apply_sqlite`).
        if backend != sea_orm::DbBackend::Sqlite {
            // The columns export's selection reads besides (see `store::export::SELECTS_EVENT`).
            insert.returning(Query::returning().columns([
                events::Column::Id,
                events::Column::DedupeKey,
                events::Column::TenantId,
                events::Column::Source,
                events::Column::Severity,
                events::Column::Service,
                events::Column::Operation,
                events::Column::Result,
                events::Column::ActorUpn,
            ]));
        }
        statements.push((backend.build(&insert), chunk_tenant, chunk_source));
    }
    statements
}

async fn apply_completion<C: ConnectionTrait>(
    db: &C,
    completion: &Completion,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    match completion {
        Completion::Blob { tenant_id, content_id, content_type, created, records } => {
            let model = seen_blobs::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id.clone()),
                content_id: sea_orm::Set(content_id.clone()),
                content_type: sea_orm::Set(content_type.clone()),
                content_created: sea_orm::Set(*created),
                record_count: sea_orm::Set(*records),
                fetched_at: sea_orm::Set(now),
            };
            seen_blobs::Entity::insert(model)
                .on_conflict(
                    OnConflict::columns([seen_blobs::Column::TenantId, seen_blobs::Column::ContentId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Completion::Watermark { tenant_id, source, position, cursor } => {
            upsert_watermark(db, tenant_id, source, *position, cursor.clone(), now).await?;
        }
        Completion::Window { tenant_id, source, content_type, start, end, records } => {
            let model = coverage_windows::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id.clone()),
                source: sea_orm::Set(source.clone()),
                content_type: sea_orm::Set(content_type.clone()),
                window_start: sea_orm::Set(*start),
                window_end: sea_orm::Set(*end),
                state: sea_orm::Set("done".into()),
                record_count: sea_orm::Set(*records),
                attempts: sea_orm::Set(1),
                last_error: sea_orm::Set(None),
                updated_at: sea_orm::Set(now),
                ..Default::default()
            };
            coverage_windows::Entity::insert(model)
                .on_conflict(
                    OnConflict::columns([
                        coverage_windows::Column::TenantId,
                        coverage_windows::Column::Source,
                        coverage_windows::Column::ContentType,
                        coverage_windows::Column::WindowStart,
                    ])
                    .values([
                        (coverage_windows::Column::State, Expr::value("done")),
                        (coverage_windows::Column::WindowEnd, Expr::value(Value::from(*end))),
                        (coverage_windows::Column::RecordCount, Expr::value(*records)),
                        (coverage_windows::Column::LastError, Expr::value(Option::<String>::None)),
                        (coverage_windows::Column::UpdatedAt, Expr::value(Value::from(now))),
                    ])
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// Sets the watermark of (`tenant_id`, `source`), creating it if needed.
pub async fn upsert_watermark<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    source: &str,
    position: DateTime<Utc>,
    cursor: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = watermarks::ActiveModel {
        tenant_id: sea_orm::Set(tenant_id.to_string()),
        source: sea_orm::Set(source.to_string()),
        position: sea_orm::Set(position),
        cursor: sea_orm::Set(cursor),
        updated_at: sea_orm::Set(now),
    };
    watermarks::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([watermarks::Column::TenantId, watermarks::Column::Source])
                .update_columns([
                    watermarks::Column::Position,
                    watermarks::Column::Cursor,
                    watermarks::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Runs a statement and ignores its result (helper for bookkeeping updates).
pub async fn execute(db: &impl ConnectionTrait, statement: Statement) -> Result<(), DbErr> {
    db.execute(statement).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::statement_sizes;

    #[test]
    fn statement_sizes_cover_every_row_in_few_shapes() {
        for per_statement in [50, 250] {
            for rows in 0..=1_100 {
                let sizes = statement_sizes(rows, per_statement);
                assert_eq!(sizes.iter().sum::<usize>(), rows, "{rows} rows by {per_statement}");
                assert!(sizes.iter().all(|&s| s == per_statement || (s.is_power_of_two() && s < per_statement)));
                assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first: {sizes:?}");
                let rest = sizes.iter().filter(|&&s| s != per_statement).count();
                assert!(rest <= (per_statement as f64).log2().ceil() as usize, "{rows}: {sizes:?}");
            }
        }
        assert_eq!(statement_sizes(347, 250), vec![250, 64, 32, 1]);
    }
}
