//! PostgreSQL's daily partitions of `events` and `event_search` (migration 7 explains the
//! layout). The write path asks for the days of each batch (`ensure_days`), the partition task
//! creates today's and the next days' ahead of time, and retention drops whole days
//! (`drop_days_before`). SQLite has no partitions; every function here does nothing there.
//!
//! A row whose day has no partition is not lost: it goes to the default partition. So creating a
//! partition is best effort (a failure is logged, the batch goes on), and days far from today
//! (a record with an odd time) are not given partitions at all.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

/// Days this far before today still get partitions (collection reaches 7 days back).
const PAST_DAYS: i64 = 31;
/// Days after today that get partitions (clocks differ a little; the task creates them ahead).
const FUTURE_DAYS: i64 = 2;
/// How long creating or dropping a partition waits for the locks it needs before giving up
/// (it is tried again with the next batch or the next hour; rows meanwhile go to the default
/// partition, or stay).
const LOCK_TIMEOUT: &str = "10s";

/// Days known to have partitions, per database (host, port, name), so a batch costs no round
/// trip once its days exist. A day dropped since only sends rows to the default partition.
static KNOWN: Mutex<Option<HashSet<(String, NaiveDate)>>> = Mutex::new(None);

fn database_identity(db: &DatabaseConnection) -> String {
    let options = db.get_postgres_connection_pool().connect_options();
    format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""))
}

fn day_of(time: DateTime<Utc>) -> NaiveDate {
    time.date_naive()
}

/// Makes sure the days of `times` (within the window above) have partitions; never fails: a
/// day without one stores its rows in the default partition.
pub async fn ensure_days(db: &DatabaseConnection, times: impl IntoIterator<Item = DateTime<Utc>>) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let today = Utc::now().date_naive();
    let identity = database_identity(db);
    let wanted: HashSet<NaiveDate> = times
        .into_iter()
        .map(day_of)
        .filter(|d| *d >= today - Duration::days(PAST_DAYS) && *d <= today + Duration::days(FUTURE_DAYS))
        .collect();
    let missing: Vec<NaiveDate> = {
        let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        wanted.into_iter().filter(|d| !known.as_ref().is_some_and(|k| k.contains(&(identity.clone(), *d)))).collect()
    };
    if missing.is_empty() {
        return;
    }
    match create(db, &missing).await {
        Ok(created) => {
            let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
            let known = known.get_or_insert_with(HashSet::new);
            known.extend(created.into_iter().map(|d| (identity.clone(), d)));
        }
        Err(e) => {
            tracing::warn!(error = %e, days = missing.len(), "could not create event partitions; their rows go to the default partition")
        }
    }
}

/// Creates the partitions of `days` that do not exist; returns the days that have one now
/// (a day whose rows are already in the default partition keeps using it).
async fn create(db: &DatabaseConnection, days: &[NaiveDate]) -> Result<Vec<NaiveDate>, DbErr> {
    let mut have = Vec::new();
    for day in days {
        let row = day_function(db, "SELECT aoc_event_day_ensure(CAST($1 AS date)) AS ok", *day).await?;
        if row.and_then(|r| r.try_get::<bool>("", "ok").ok()).unwrap_or(false) {
            have.push(*day);
        }
    }
    Ok(have)
}

/// Runs one of migration 7's day functions in a transaction of its own that waits at most
/// [`LOCK_TIMEOUT`] for a lock.
async fn day_function(
    db: &DatabaseConnection,
    sql: &str,
    day: NaiveDate,
) -> Result<Option<sea_orm::QueryResult>, DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")).await?;
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [day.format("%Y-%m-%d").to_string().into()],
        ))
        .await?;
    txn.commit().await?;
    Ok(row)
}

/// Creates today's partitions and the next days' ahead of time, so the write path rarely
/// creates one itself.
pub async fn ensure_ahead(db: &DatabaseConnection) {
    let now = Utc::now();
    ensure_days(db, (0..=FUTURE_DAYS).map(|d| now + Duration::days(d))).await;
}

/// The days that have partitions, oldest first.
pub async fn days(db: &impl ConnectionTrait) -> Result<Vec<NaiveDate>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = CAST('events' AS regclass) AND c.relname ~ '^events_p[0-9]{8}$'",
        ))
        .await?;
    let mut days: Vec<NaiveDate> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .filter_map(|name| NaiveDate::parse_from_str(name.trim_start_matches("events_p"), "%Y%m%d").ok())
        .collect();
    days.sort();
    Ok(days)
}

/// Drops every day that ended at or before `cutoff`, with what pointed at its events and its
/// hourly counts; returns (days, events) dropped.
pub async fn drop_days_before(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<(u64, u64), DbErr> {
    let (mut dropped_days, mut dropped_events) = (0, 0);
    for day in days(db).await? {
        let end = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        if end > cutoff {
            break;
        }
        let row = day_function(db, "SELECT aoc_event_day_drop(CAST($1 AS date)) AS n", day).await?;
        if let Some(known) = KNOWN.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            known.remove(&(database_identity(db), day));
        }
        dropped_days += 1;
        dropped_events += row.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0) as u64;
    }
    Ok((dropped_days, dropped_events))
}
