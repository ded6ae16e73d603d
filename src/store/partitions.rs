//! PostgreSQL's partitions of `events` and `event_search` (migration 7 explains the layout).
//! The write path asks for the days of each batch (`ensure_days`), the partition task creates
//! the coming days' ahead of time, and retention drops whole partitions
//! (`drop_partitions_before`). SQLite has no partitions; every function here does nothing there.
//!
//! A row that no partition holds is not lost: it goes to the default partition. So creating a
//! partition is best effort (a failure is logged, the batch goes on), and days far from today
//! (a record with an odd time) are not given partitions at all.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, TransactionTrait};

/// Days this far before today still get partitions (collection reaches 7 days back).
const PAST_DAYS: i64 = 31;
/// Days after today that get partitions (clocks differ a little; the task creates them ahead).
const FUTURE_DAYS: i64 = 2;
/// How long creating or dropping a partition waits for the locks it needs before giving up.
/// Both take exclusive locks on two tables that a search reads together, so the two can
/// deadlock; waiting less than PostgreSQL's `deadlock_timeout` (1 s by default) makes the
/// partition function give up first, never the search. It is tried again ([`ATTEMPTS`]), then
/// with the next batch or the next hour; a batch meanwhile goes to the default partition.
const LOCK_TIMEOUT: &str = "500ms";
/// Tries of a partition function that ran out of time for its locks.
const ATTEMPTS: u32 = 5;

/// How much time one partition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Day,
    Week,
    Month,
}

impl Width {
    /// The width for RETENTION_DAYS. A partition is dropped only once all of it has expired (so
    /// events are kept up to one width longer than RETENTION_DAYS), and every query is planned
    /// over every partition (a year of generated events, `aoc bench query`, p50: a deep page
    /// 73.5 ms and a rare value 91 ms over 369 day partitions, 2.7 and 2.0 ms over 14 month
    /// partitions). Days up to 62 days of retention, weeks up to 400,
    /// months beyond and without retention: at most about 65 partitions, or 12 more a year when
    /// nothing expires.
    pub fn for_retention(days: Option<u32>) -> Self {
        match days {
            Some(d) if d <= 62 => Width::Day,
            Some(d) if d <= 400 => Width::Week,
            _ => Width::Month,
        }
    }

    fn as_sql(self) -> &'static str {
        match self {
            Width::Day => "day",
            Width::Week => "week",
            Width::Month => "month",
        }
    }
}

/// The width of new partitions in this process (0 day, 1 week, 2 month): days until
/// [`configure`] says otherwise (tests, benchmarks).
static WIDTH: AtomicU8 = AtomicU8::new(0);

/// Sets the width of new partitions from RETENTION_DAYS (the server and `aoc fetch` call it).
pub fn configure(retention_days: Option<u32>) {
    WIDTH.store(Width::for_retention(retention_days) as u8, Ordering::Relaxed);
}

fn width() -> Width {
    match WIDTH.load(Ordering::Relaxed) {
        0 => Width::Day,
        1 => Width::Week,
        _ => Width::Month,
    }
}

/// Days known to lie in a partition, per database (host, port, name), so a batch costs no round
/// trip once its days have one. (Partitions start and end on UTC midnights, so a day lies in one
/// partition or in none.) A day dropped since only sends rows to the default partition.
static KNOWN: Mutex<Option<HashSet<(String, NaiveDate)>>> = Mutex::new(None);

fn database_identity(db: &DatabaseConnection) -> String {
    let options = db.get_postgres_connection_pool().connect_options();
    format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or(""))
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Makes sure the days of `times` (within the window above) lie in partitions; never fails: a
/// day without one stores its rows in the default partition.
pub async fn ensure_days(db: &DatabaseConnection, times: impl IntoIterator<Item = DateTime<Utc>>) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let today = Utc::now().date_naive();
    let identity = database_identity(db);
    let wanted: HashSet<NaiveDate> = times
        .into_iter()
        .map(|t| t.date_naive())
        .filter(|d| *d >= today - Duration::days(PAST_DAYS) && *d <= today + Duration::days(FUTURE_DAYS))
        .collect();
    let mut missing: Vec<NaiveDate> = {
        let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        wanted.into_iter().filter(|d| !known.as_ref().is_some_and(|k| k.contains(&(identity.clone(), *d)))).collect()
    };
    if missing.is_empty() {
        return;
    }
    missing.sort();
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

/// The answer of `aoc_event_partition_ensure`.
#[derive(FromQueryResult)]
struct Ensured {
    ok: bool,
}

/// Creates partitions for those of `days` that no partition holds; returns the days that lie in
/// one now (a day whose rows are already in the default partition keeps using it).
async fn create(db: &DatabaseConnection, days: &[NaiveDate]) -> Result<Vec<NaiveDate>, DbErr> {
    let mut have = Vec::new();
    for day in days {
        let sql = "SELECT aoc_event_partition_ensure($1, $2) AS ok";
        let row = partition_function(db, sql, [day_start(*day).into(), width().as_sql().into()]).await?;
        if row.and_then(|r| Ensured::from_query_result(&r, "").ok()).is_some_and(|r| r.ok) {
            have.push(*day);
        }
    }
    Ok(have)
}

/// Runs one of migration 7's partition functions in a transaction of its own that waits at
/// most [`LOCK_TIMEOUT`] for a lock, up to [`ATTEMPTS`] times.
async fn partition_function<const N: usize>(
    db: &DatabaseConnection,
    sql: &str,
    values: [sea_orm::Value; N],
) -> Result<Option<sea_orm::QueryResult>, DbErr> {
    let mut attempt = 1;
    loop {
        let once = async {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")).await?;
            let row = txn.query_one(Statement::from_sql_and_values(DbBackend::Postgres, sql, values.clone())).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(row)
        };
        match once.await {
            Err(e) if attempt < ATTEMPTS && e.to_string().contains("lock timeout") => {
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Creates the partitions of today and the next days ahead of time, so the write path rarely
/// creates one itself.
pub async fn ensure_ahead(db: &DatabaseConnection) {
    let now = Utc::now();
    ensure_days(db, (0..=FUTURE_DAYS).map(|d| now + Duration::days(d))).await;
}

/// The partitions (of `events`; `event_search` has the same ranges): name and time range, oldest
/// first.
pub async fn ranges(db: &impl ConnectionTrait) -> Result<Vec<(String, DateTime<Utc>, DateTime<Utc>)>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    #[derive(FromQueryResult)]
    struct Range {
        name: String,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    }
    let rows = Range::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        "SELECT name, lo, hi FROM event_partitions ORDER BY lo",
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.lo, r.hi)).collect())
}

/// Drops every partition that ended at or before `cutoff`, with what pointed at its events and
/// its hourly counts; returns (partitions, events) dropped.
pub async fn drop_partitions_before(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<(u64, u64), DbErr> {
    let (mut dropped, mut events) = (0, 0);
    for (name, _, hi) in ranges(db).await? {
        if hi > cutoff {
            continue;
        }
        let row = partition_function(db, "SELECT aoc_event_partition_drop($1) AS n", [name.into()]).await?;
        if let Some(known) = KNOWN.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let identity = database_identity(db);
            known.retain(|(other, day)| *other != identity || day_start(*day) >= hi);
        }
        dropped += 1;
        events += row.and_then(|r| super::sql::Count::from_query_result(&r, "").ok()).map_or(0, |c| c.n) as u64;
    }
    Ok((dropped, events))
}
