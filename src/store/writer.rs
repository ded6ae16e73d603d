//! The write path: batches of events are inserted if absent on (tenant, dedupe key), in one
//! transaction together with what their collection completes (a blob marked seen, a watermark
//! advanced, a coverage window marked done). Only after the commit are the *newly inserted*
//! events handed to subscribers (rules, export), so a re-collected record never reaches them
//! twice.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Statement, TransactionTrait, Value};
use tokio::sync::broadcast;

use super::entities::{coverage_windows, events, seen_blobs, watermarks};
use crate::normalize::{NormalizeError, Normalized, Source};

/// Rows per INSERT statement (SQLite allows 32,766 bound values; 23 columns × 400 stay far below).
const ROWS_PER_STATEMENT: usize = 400;

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
                }
            }
            Err(error) => {
                let (record_id, key, occurred_at) = crate::normalize::fallback_identity(&raw, now);
                EventRow {
                    tenant_id: tenant_id.to_string(),
                    source,
                    content_type: content_type.map(str::to_string),
                    record_id,
                    dedupe_key: dedupe_key(source, &key),
                    occurred_at,
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

/// Inserts `rows` that are not stored yet and records `completions`, in one transaction; then
/// announces the newly inserted events.
pub async fn store_batch(
    db: &DatabaseConnection,
    rows: Vec<EventRow>,
    completions: &[Completion],
    subscribers: &Subscribers,
) -> Result<BatchOutcome, DbErr> {
    let now = Utc::now();
    let total = rows.len() as u64;
    let normalize_errors = rows.iter().filter(|r| r.normalize_error.is_some()).count() as u64;
    let turn = super::write_turn(db).await;
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut inserted = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
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
                r.tenant_id.clone().into(),
                r.source.as_str().into(),
                r.content_type.clone().into(),
                r.record_id.clone().into(),
                r.dedupe_key.clone().into(),
                r.occurred_at.into(),
                now.into(),
                r.service.clone().into(),
                r.operation.clone().into(),
                r.result.clone().into(),
                r.actor_display.clone().into(),
                r.actor_upn.clone().into(),
                r.actor_app_id.clone().into(),
                r.actor_ip.clone().into(),
                r.targets.clone().into(),
                r.target_display.clone().into(),
                r.summary.clone().into(),
                r.severity.into(),
                r.correlation_id.clone().into(),
                r.flattened.clone().into(),
                r.raw.clone().into(),
                r.normalize_error.clone().into(),
            ];
            insert.values_panic(values);
        }
        insert
            .on_conflict(
                OnConflict::columns([events::Column::TenantId, events::Column::DedupeKey]).do_nothing().to_owned(),
            )
            .returning(Query::returning().columns([events::Column::Id, events::Column::DedupeKey]));
        let statement = backend.build(&insert);
        for row in txn.query_all(statement).await? {
            let id: i64 = row.try_get("", "id")?;
            let dedupe_key: String = row.try_get("", "dedupe_key")?;
            let source = chunk.first().map(|r| r.source).unwrap_or(Source::Unified);
            let tenant_id = chunk.first().map(|r| r.tenant_id.clone()).unwrap_or_default();
            inserted.push(NewEvent { id, tenant_id, source, dedupe_key });
        }
    }
    // Queue the new events for the full-text indexer (see `store::search`).
    for chunk in inserted.chunks(1000) {
        let ids: Vec<String> = chunk.iter().map(|e| format!("({})", e.id)).collect();
        execute(
            &txn,
            Statement::from_string(backend, format!("INSERT INTO search_queue (event_id) VALUES {}", ids.join(","))),
        )
        .await?;
    }
    for completion in completions {
        apply_completion(&txn, completion, now).await?;
    }
    txn.commit().await?;
    drop(turn);
    let outcome = BatchOutcome { duplicates: total - inserted.len() as u64, inserted, normalize_errors };
    subscribers.publish(outcome.inserted.clone());
    Ok(outcome)
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
