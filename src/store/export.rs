//! The export outbox (migration 9): what the write path queues for each destination in the
//! transaction that stores the events, what the delivery worker claims, marks delivered, retries
//! later or parks, and the leases that let one AOC process at a time deliver a destination.
//!
//! An item is queued for every enabled destination whose selection the event matches
//! ([`SELECTS_EVENT`], evaluated in SQL inside the insert's transaction, so a destination added or
//! changed by any AOC process applies from its commit on). Delivered items are deleted.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement};

use super::query::{StoredEvent, EVENT_COLUMNS};
use super::sql::Sql;

/// The condition under which an event `e` is queued for destination `d`.
pub const SELECTS_EVENT: &str = "d.enabled = TRUE AND d.receives <> 'alerts' AND e.severity >= d.min_severity \
     AND (d.filter_tenant IS NULL OR d.filter_tenant = e.tenant_id) \
     AND (d.filter_source IS NULL OR d.filter_source = e.source) \
     AND (d.filter_service IS NULL OR d.filter_service = e.service) \
     AND (d.filter_operation IS NULL OR d.filter_operation = e.operation) \
     AND (d.filter_result IS NULL OR d.filter_result = e.result) \
     AND (d.filter_actor IS NULL OR d.filter_actor = e.actor_upn)";

/// The columns an outbox insert fills.
const OUTBOX_COLUMNS: &str =
    "export_outbox (destination_id, item_kind, event_id, lane, state, attempts, next_attempt_at, created_at)";

/// PostgreSQL: the extra CTE of the write path's insert statement (whose new rows are
/// `new_events`, returning the columns [`SELECTS_EVENT`] reads), queueing them.
pub fn postgres_enqueue_cte() -> String {
    format!(
        "exported AS (INSERT INTO {OUTBOX_COLUMNS} SELECT d.id, 'event', e.id, e.source, 'pending', 0, now(), now() \
         FROM new_events e JOIN destinations d ON {SELECTS_EVENT} ORDER BY e.id, d.id)"
    )
}

/// SQLite: queues the events with ids above `after` (the write path's new rows) in `txn`.
pub async fn sqlite_enqueue_after(txn: &impl ConnectionTrait, after: i64, now: DateTime<Utc>) -> Result<(), DbErr> {
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!(
            "INSERT INTO {OUTBOX_COLUMNS} SELECT d.id, 'event', e.id, e.source, 'pending', 0, ?, ? \
             FROM events e JOIN destinations d ON {SELECTS_EVENT} WHERE e.id > ? ORDER BY e.id, d.id"
        ),
        [now.into(), now.into(), after.into()],
    ))
    .await?;
    Ok(())
}

/// Queues every stored event that happened at or after `from` and that `destination` selects
/// (events already queued are skipped), or for a destination that receives alerts, every alert
/// raised since then that it wants; returns how many were queued.
pub async fn backfill(db: &impl ConnectionTrait, destination: i64, from: DateTime<Utc>) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let mut receives =
        Sql::new(backend, "SELECT id, min_severity, options FROM destinations WHERE receives = 'alerts' AND id = ");
    let p = receives.bind(destination);
    receives.push(&p);
    if AlertDestination::find_by_statement(receives.statement()).one(db).await?.is_some() {
        return backfill_alerts(db, destination, from).await;
    }
    let mut sql =
        Sql::new(backend, format!("INSERT INTO {OUTBOX_COLUMNS} SELECT d.id, 'event', e.id, e.source, 'pending', 0, "));
    let now = Utc::now();
    let a = sql.bind(now);
    let b = sql.bind(now);
    sql.push(&format!("{a}, {b} FROM events e JOIN destinations d ON {SELECTS_EVENT} WHERE d.id = "));
    let p = sql.bind(destination);
    sql.push(&p);
    let p = sql.bind(from);
    sql.push(&format!(" AND e.occurred_at >= {p} ORDER BY e.id ON CONFLICT (destination_id, event_id) DO NOTHING"));
    Ok(db.execute(sql.statement()).await?.rows_affected())
}

/// The alert facts routing needs.
#[derive(FromQueryResult)]
struct AlertRouting {
    id: i64,
    severity: i16,
    hunting: bool,
    rule_id: i64,
    rule_uid: String,
    rule_name: String,
}

/// A destination that receives alerts.
#[derive(FromQueryResult)]
struct AlertDestination {
    id: i64,
    min_severity: i16,
    options: String,
}

impl AlertDestination {
    /// Whether the destination receives `alert` (its minimum severity and, when it names rules,
    /// the alert's rule by id, uid or name). Hunting alerts are never sent.
    fn wants(&self, alert: &AlertRouting) -> bool {
        if alert.hunting || alert.severity < self.min_severity {
            return false;
        }
        let options: serde_json::Value = serde_json::from_str(&self.options).unwrap_or_default();
        match options["rules"].as_array() {
            Some(rules) if !rules.is_empty() => rules.iter().filter_map(|r| r.as_str()).any(|r| {
                let r = r.trim();
                r == alert.rule_id.to_string() || r == alert.rule_uid || r.eq_ignore_ascii_case(&alert.rule_name)
            }),
            _ => true,
        }
    }
}

const ALERT_ROUTING: &str = "SELECT a.id, a.severity, a.hunting, a.rule_id, r.uid AS rule_uid, r.name AS rule_name \
     FROM alerts a JOIN rules r ON r.id = a.rule_id";

async fn alert_destinations(db: &impl ConnectionTrait, only: Option<i64>) -> Result<Vec<AlertDestination>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "SELECT id, min_severity, options FROM destinations WHERE enabled = TRUE AND receives = 'alerts'",
    );
    if let Some(id) = only {
        let p = sql.bind(id);
        sql.push(&format!(" AND id = {p}"));
    }
    AlertDestination::find_by_statement(sql.statement()).all(db).await
}

/// Queues `(destination, alert)` pairs; returns how many were new.
async fn enqueue_alerts(db: &impl ConnectionTrait, pairs: &[(i64, i64)]) -> Result<u64, DbErr> {
    let mut queued = 0;
    for chunk in pairs.chunks(200) {
        let mut sql = Sql::new(db.get_database_backend(), "");
        let now = Utc::now();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(destination, alert)| {
                let d = sql.bind(*destination);
                let a = sql.bind(*alert);
                let t1 = sql.bind(now);
                let t2 = sql.bind(now);
                format!("({d}, 'alert', NULL, {a}, 'alert', 'pending', 0, {t1}, {t2})")
            })
            .collect();
        sql.text = format!(
            "INSERT INTO export_outbox (destination_id, item_kind, event_id, alert_id, lane, state, attempts, \
             next_attempt_at, created_at) VALUES {} ON CONFLICT (destination_id, alert_id) DO NOTHING",
            rows.join(", ")
        );
        queued += db.execute(sql.statement()).await?.rows_affected();
    }
    Ok(queued)
}

/// Queues a newly raised alert for every enabled destination that receives alerts and wants it
/// (severity, rules); called in the transaction that stores the alert, so a notice cannot be
/// lost between the two. Hunting alerts are not queued.
pub async fn enqueue_alert(txn: &impl ConnectionTrait, alert_id: i64) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), ALERT_ROUTING);
    let p = sql.bind(alert_id);
    sql.push(&format!(" WHERE a.id = {p}"));
    let Some(alert) = AlertRouting::find_by_statement(sql.statement()).one(txn).await? else { return Ok(()) };
    if alert.hunting {
        return Ok(());
    }
    let pairs: Vec<(i64, i64)> =
        alert_destinations(txn, None).await?.iter().filter(|d| d.wants(&alert)).map(|d| (d.id, alert.id)).collect();
    enqueue_alerts(txn, &pairs).await?;
    Ok(())
}

/// Queues the alerts raised at or after `from` that an alert destination wants (those already
/// queued are skipped); returns how many.
async fn backfill_alerts(db: &impl ConnectionTrait, destination: i64, from: DateTime<Utc>) -> Result<u64, DbErr> {
    let Some(target) = alert_destinations(db, Some(destination)).await?.into_iter().next() else { return Ok(0) };
    let mut sql = Sql::new(db.get_database_backend(), ALERT_ROUTING);
    let p = sql.bind(from);
    sql.push(&format!(" WHERE a.created_at >= {p} AND a.hunting = FALSE ORDER BY a.id"));
    let alerts = AlertRouting::find_by_statement(sql.statement()).all(db).await?;
    let pairs: Vec<(i64, i64)> = alerts.iter().filter(|a| target.wants(a)).map(|a| (destination, a.id)).collect();
    enqueue_alerts(db, &pairs).await
}

/// A queued item as the worker reads it.
#[derive(Clone, Debug, FromQueryResult)]
pub struct OutboxItem {
    pub id: i64,
    pub destination_id: i64,
    pub item_kind: String,
    pub event_id: Option<i64>,
    pub alert_id: Option<i64>,
    pub lane: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// A copy of the event, kept when it was deleted before delivery (JSON of its columns).
    pub payload: Option<String>,
    pub created_at: DateTime<Utc>,
}

const ITEM_COLUMNS: &str = "id, destination_id, item_kind, event_id, alert_id, lane, state, attempts, \
     next_attempt_at, last_error, payload, created_at";

/// The oldest `limit` pending items of one lane of a destination, in queue order.
pub async fn pending(
    db: &impl ConnectionTrait,
    destination: i64,
    lane: &str,
    limit: u64,
) -> Result<Vec<OutboxItem>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        format!("SELECT {ITEM_COLUMNS} FROM export_outbox WHERE destination_id = "),
    );
    let p = sql.bind(destination);
    sql.push(&p);
    let p = sql.bind(lane.to_string());
    sql.push(&format!(" AND state = 'pending' AND lane = {p} ORDER BY id LIMIT {limit}"));
    OutboxItem::find_by_statement(sql.statement()).all(db).await
}

/// Parked items of a destination, oldest first, after item id `after`.
pub async fn parked(
    db: &impl ConnectionTrait,
    destination: i64,
    after: i64,
    limit: u64,
) -> Result<Vec<OutboxItem>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        format!("SELECT {ITEM_COLUMNS} FROM export_outbox WHERE destination_id = "),
    );
    let p = sql.bind(destination);
    sql.push(&p);
    let p = sql.bind(after);
    sql.push(&format!(" AND state = 'parked' AND id > {p} ORDER BY id LIMIT {limit}"));
    OutboxItem::find_by_statement(sql.statement()).all(db).await
}

/// Events by id, with raw record and flattened fields (ids that name no event are left out).
pub async fn events_by_id(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<StoredEvent>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT {EVENT_COLUMNS}, e.raw, e.flattened FROM events e WHERE e.id IN ({list})");
    let mut rows =
        StoredEvent::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(db).await?;
    super::query::EventStore::new(db.clone()).attach_tags(&mut rows).await?;
    Ok(rows)
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}

/// The items were accepted by the far end: removes them and counts them on the destination.
pub async fn mark_delivered(db: &impl ConnectionTrait, destination: i64, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    db.execute(Statement::from_string(backend, format!("DELETE FROM export_outbox WHERE id IN ({})", id_list(ids))))
        .await?;
    let mut sql = Sql::new(backend, "UPDATE destinations SET delivered_total = delivered_total + ");
    let p = sql.bind(ids.len() as i64);
    sql.push(&p);
    let p = sql.bind(Utc::now());
    sql.push(&format!(", last_delivered_at = {p} WHERE id = "));
    let p = sql.bind(destination);
    sql.push(&p);
    db.execute(sql.statement()).await?;
    Ok(())
}

/// The delivery of the items failed for now: counts an attempt and sets when to try again.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    destination: i64,
    ids: &[i64],
    next: DateTime<Utc>,
    error: &str,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend, "UPDATE export_outbox SET attempts = attempts + 1, next_attempt_at = ");
    let p = sql.bind(next);
    sql.push(&p);
    let p = sql.bind(error.to_string());
    sql.push(&format!(", last_error = {p} WHERE id IN ({})", id_list(ids)));
    db.execute(sql.statement()).await?;
    record_error(db, destination, error).await
}

/// The far end refused an item for good: parks it with the answer.
pub async fn park(db: &impl ConnectionTrait, destination: i64, id: i64, error: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut sql =
        Sql::new(backend, "UPDATE export_outbox SET state = 'parked', attempts = attempts + 1, last_error = ");
    let p = sql.bind(error.to_string());
    sql.push(&p);
    let p = sql.bind(id);
    sql.push(&format!(" WHERE id = {p}"));
    db.execute(sql.statement()).await?;
    record_error(db, destination, error).await
}

/// Remembers the destination's last error.
pub async fn record_error(db: &impl ConnectionTrait, destination: i64, error: &str) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "UPDATE destinations SET last_error = ");
    let p = sql.bind(error.to_string());
    sql.push(&p);
    let p = sql.bind(Utc::now());
    sql.push(&format!(", last_error_at = {p} WHERE id = "));
    let p = sql.bind(destination);
    sql.push(&p);
    db.execute(sql.statement()).await?;
    Ok(())
}

/// Puts parked items of a destination back in its queue (all of them, or those of `ids`), due
/// now; returns how many.
pub async fn requeue_parked(db: &impl ConnectionTrait, destination: i64, ids: Option<&[i64]>) -> Result<u64, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "UPDATE export_outbox SET state = 'pending', attempts = 0, next_attempt_at = ",
    );
    let p = sql.bind(Utc::now());
    sql.push(&p);
    let p = sql.bind(destination);
    sql.push(&format!(" WHERE state = 'parked' AND destination_id = {p}"));
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        sql.push(&format!(" AND id IN ({})", id_list(ids)));
    }
    Ok(db.execute(sql.statement()).await?.rows_affected())
}

/// A destination's queue at a glance.
#[derive(Clone, Debug, Default, FromQueryResult)]
pub struct QueueStats {
    pub destination_id: i64,
    pub pending: i64,
    pub parked: i64,
    /// When the oldest pending item was queued.
    pub oldest: Option<DateTime<Utc>>,
}

/// The queue of every destination that has items.
pub async fn queue_stats(db: &impl ConnectionTrait) -> Result<Vec<QueueStats>, DbErr> {
    QueueStats::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT destination_id, \
         SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending, \
         SUM(CASE WHEN state = 'parked' THEN 1 ELSE 0 END) AS parked, \
         MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest \
         FROM export_outbox GROUP BY destination_id",
    ))
    .all(db)
    .await
}

/// Takes (or renews) the delivery lease of `destination` for `holder` until `until`, unless
/// another holder's lease is still running. Returns whether `holder` holds it.
pub async fn take_lease(
    db: &impl ConnectionTrait,
    destination: i64,
    holder: &str,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let mut sql = Sql::new(backend, "INSERT INTO destination_leases (destination_id, holder, expires_at) VALUES (");
    let d = sql.bind(destination);
    let h = sql.bind(holder.to_string());
    let u = sql.bind(until);
    sql.push(&format!("{d}, {h}, {u}) ON CONFLICT (destination_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE destination_leases.holder = excluded.holder OR destination_leases.expires_at < "));
    let n = sql.bind(now);
    sql.push(&n);
    Ok(db.execute(sql.statement()).await?.rows_affected() > 0)
}

/// Gives the lease of `destination` up, if `holder` holds it.
pub async fn release_lease(db: &impl ConnectionTrait, destination: i64, holder: &str) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "DELETE FROM destination_leases WHERE destination_id = ");
    let d = sql.bind(destination);
    sql.push(&d);
    let h = sql.bind(holder.to_string());
    sql.push(&format!(" AND holder = {h}"));
    db.execute(sql.statement()).await?;
    Ok(())
}
