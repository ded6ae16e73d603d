//! The storage invariants, checked against a live database. Each check follows from how the
//! write path and the collectors write (`store::writer`, `ingest::unified`, `ingest::graph`,
//! `ingest::ledger`), so a violation means damage or a bug, never routine operation:
//!
//! - events: a non-empty raw record that is a JSON object unless the event carries its
//!   `normalize_error` (the write path stores anything else only with the error); a source AOC
//!   knows; no two events with one (tenant, dedupe key), and no record stored twice under two
//!   dedupe keys; nothing (tags, comments, alerts, outbox and full-text rows) points at an event
//!   that is not stored.
//! - watermarks: a watermark is only ever advanced to a time already reached when it is written,
//!   in the transaction that marks the window it was advanced over done. Coverage windows are
//!   never deleted and their ends only grow, so a window containing the watermark's position must
//!   exist, and no window still `planned` may end at or before it.
//! - coverage windows: a known state and a start before the end; a Unified Audit Log window
//!   counts the records of the blobs marked seen in its range when it is done, and blobs are
//!   never unmarked, so its count can never exceed theirs.
//!
//! Not violations, only reported: events stored raw because normalization failed, and failed or
//! parked windows behind a watermark (reconciliation re-lists windows already collected, and a
//! failure there marks a window failed after the watermark has passed it).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::dedupe::{same_key_groups, same_record_groups, DuplicateGroup};
use super::{renormalize, MaintenanceError, EXAMPLES, MAINTENANCE_TENANT};
use crate::normalize::Source;
use crate::store::entities::{coverage_windows, events, seen_blobs, watermarks};

/// Events read per query while checking raw records.
const BATCH: u64 = 1_000;
/// How far a watermark may stand after the time it was written (clocks of two processes).
const CLOCK_SLACK: Duration = Duration::minutes(5);
/// The states of a coverage window.
const WINDOW_STATES: [&str; 4] = ["planned", "done", "failed", "parked"];

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which check: a stable snake_case code.
    pub check: &'static str,
    /// What is wrong, naming rows by id (never a record's content).
    pub detail: String,
}

/// What `aoc maintenance verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// No invariant is broken.
    pub ok: bool,
    pub events_checked: u64,
    /// Events stored raw because normalization failed (allowed; reported).
    pub normalize_errors: u64,
    pub watermarks_checked: u64,
    pub windows_checked: u64,
    pub seen_blobs_checked: u64,
    /// Violations per check, all of them counted.
    pub violation_counts: BTreeMap<&'static str, u64>,
    /// The violations, at most [`EXAMPLES`] per check.
    pub violations: Vec<Violation>,
    /// Findings that are not violations.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether every invariant holds.
    pub fn is_ok(&self) -> bool {
        self.violation_counts.is_empty()
    }

    /// How many violations were found.
    pub fn violation_total(&self) -> u64 {
        self.violation_counts.values().sum()
    }

    fn violate(&mut self, check: &'static str, detail: impl FnOnce() -> String) {
        let count = self.violation_counts.entry(check).or_default();
        *count += 1;
        if *count <= EXAMPLES as u64 {
            self.violations.push(Violation { check, detail: detail() });
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checked {} event(s) ({} stored raw: normalization failed), {} watermark(s), {} coverage window(s), {} seen blob(s)",
            self.events_checked,
            self.normalize_errors,
            self.watermarks_checked,
            self.windows_checked,
            self.seen_blobs_checked
        )?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for v in &self.violations {
            writeln!(f, "violation [{}]: {}", v.check, v.detail)?;
        }
        for (check, count) in &self.violation_counts {
            if *count > EXAMPLES as u64 {
                writeln!(f, "violation [{check}]: {} more not listed", count - EXAMPLES as u64)?;
            }
        }
        if self.is_ok() {
            write!(f, "ok: every invariant holds")
        } else {
            write!(f, "{} violation(s)", self.violation_total())
        }
    }
}

/// Checks every invariant; the report says which are broken.
pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, MaintenanceError> {
    let mut report = VerifyReport::default();
    check_events(db, &mut report).await?;
    check_duplicates(db, &mut report).await?;
    check_orphans(db, &mut report).await?;
    // Watermarks before windows and blobs: what a watermark needs is committed with it, so
    // reading it first never sees a watermark without its window while collection runs.
    check_watermarks(db, &mut report).await?;
    check_windows(db, &mut report).await?;
    check_window_counts(db, &mut report).await?;
    check_hourly_counts(db, &mut report).await?;
    if let Some(id) = renormalize::progress(db).await? {
        report.notes.push(format!("an interrupted renormalize run will continue after event id {id}"));
    }
    report.ok = report.is_ok();
    Ok(report)
}

/// Raw records and sources, streamed by id.
async fn check_events(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String, String, Option<String>)> = events::Entity::find()
            .select_only()
            .columns([events::Column::Id, events::Column::Source, events::Column::Raw, events::Column::NormalizeError])
            .filter(events::Column::Id.gt(after))
            .order_by_asc(events::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = rows.last().map(|r| r.0) else { break };
        for (id, source, raw, normalize_error) in &rows {
            report.events_checked += 1;
            if normalize_error.is_some() {
                report.normalize_errors += 1;
            }
            if Source::parse(source).is_none() {
                report.violate("unknown_source", || format!("event {id} has a source AOC does not know"));
            }
            if raw.trim().is_empty() {
                report.violate("raw_empty", || format!("event {id} has an empty raw record"));
            } else if normalize_error.is_none() && !is_json_object(raw) {
                report.violate("raw_not_json", || {
                    format!("event {id}: the raw record is not a JSON object, yet no normalize_error is recorded")
                });
            }
        }
        after = last;
        if (rows.len() as u64) < BATCH {
            break;
        }
    }
    Ok(())
}

/// The hourly rollup (`event_hours`, kept by triggers) against the events themselves, in one
/// statement so both are read from one snapshot while collection runs.
async fn check_hourly_counts(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    let backend = db.get_database_backend();
    let hour = crate::store::rollup::hour_of_occurred_at(backend);
    let sql = format!(
        "SELECT tenant_id, source, hour, CAST(SUM(n) AS BIGINT) AS events, CAST(SUM(c) AS BIGINT) AS counted FROM (\
         SELECT tenant_id, source, {hour} AS hour, COUNT(*) AS n, 0 AS c FROM events GROUP BY 1, 2, 3 \
         UNION ALL SELECT tenant_id, source, hour, 0 AS n, SUM(n) AS c FROM event_hours GROUP BY 1, 2, 3) d \
         GROUP BY tenant_id, source, hour HAVING SUM(n) <> SUM(c) ORDER BY hour LIMIT 1000"
    );
    for row in db.query_all(sea_orm::Statement::from_string(backend, sql)).await? {
        let tenant: String = row.try_get("", "tenant_id")?;
        let source: String = row.try_get("", "source")?;
        let hour: i64 = row.try_get("", "hour")?;
        let events: i64 = row.try_get("", "events")?;
        let counted: i64 = row.try_get("", "counted")?;
        report.violate("hourly_counts", || {
            let at = DateTime::from_timestamp(hour * 3600, 0).map(time).unwrap_or_else(|| hour.to_string());
            format!(
                "tenant {tenant}, source {source}, hour {at}: {events} events stored but the hourly counts say {counted}; \
                 run `aoc maintenance recount`"
            )
        });
    }
    Ok(())
}

fn is_json_object(raw: &str) -> bool {
    serde_json::from_str::<&serde_json::value::RawValue>(raw).is_ok_and(|v| v.get().starts_with('{'))
}

async fn check_duplicates(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    for group in same_key_groups(db).await? {
        report.violate("duplicate_dedupe_key", || {
            format!("events {} share one tenant and dedupe key; run `aoc maintenance dedupe`", ids(&group))
        });
    }
    for group in same_record_groups(db).await? {
        report.violate("duplicate_record", || {
            format!(
                "events {} hold the same record (tenant, source, record id) under different dedupe keys; run `aoc maintenance dedupe`",
                ids(&group)
            )
        });
    }
    Ok(())
}

/// Rows that point at an event which is not stored (PostgreSQL has no foreign keys to the
/// partitioned events table; triggers and retention remove them with their event, and SQLite's
/// foreign keys may be off).
async fn check_orphans(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    let backend = db.get_database_backend();
    let mut checks: Vec<(&str, String)> = ["event_tags", "comments", "alert_events", "export_outbox", "search_queue"]
        .iter()
        .map(|t| {
            (
                *t,
                format!("SELECT event_id FROM {t} c WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = c.event_id)"),
            )
        })
        .collect();
    if backend == sea_orm::DbBackend::Postgres {
        checks.push((
            "event_search",
            "SELECT event_id FROM event_search c WHERE NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.id = c.event_id AND e.occurred_at = c.occurred_at)"
                .into(),
        ));
    }
    for (table, sql) in checks {
        let rows = db.query_all(sea_orm::Statement::from_string(backend, sql)).await?;
        for row in rows {
            let id: i64 = row.try_get("", "event_id")?;
            report.violate("orphaned_rows", || format!("{table} points at event {id}, which is not stored"));
        }
    }
    Ok(())
}

fn ids(group: &DuplicateGroup) -> String {
    let mut ids = vec![group.keep.to_string()];
    ids.extend(group.remove.iter().take(EXAMPLES).map(i64::to_string));
    if group.remove.len() > EXAMPLES {
        ids.push("...".into());
    }
    ids.join(", ")
}

/// The coverage ledger's (source, content type) of a watermark key: `unified:<content type>`
/// or a Graph source.
fn ledger_key(watermark_source: &str) -> Option<(&str, &str)> {
    if let Some(content_type) = watermark_source.strip_prefix("unified:") {
        return (!content_type.is_empty()).then_some(("unified", content_type));
    }
    Source::parse(watermark_source).filter(|s| *s != Source::Unified).map(|s| (s.as_str(), ""))
}

async fn check_watermarks(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    let marks = watermarks::Entity::find()
        .filter(watermarks::Column::TenantId.ne(MAINTENANCE_TENANT))
        .order_by_asc(watermarks::Column::TenantId)
        .order_by_asc(watermarks::Column::Source)
        .all(db)
        .await?;
    let mut failed_behind = 0;
    for w in marks {
        report.watermarks_checked += 1;
        let name = format!("{}/{}", w.tenant_id, w.source);
        if w.position > w.updated_at + CLOCK_SLACK {
            report.violate("watermark_in_future", || {
                format!(
                    "watermark {name} stands at {}, after the time it was written ({})",
                    time(w.position),
                    time(w.updated_at)
                )
            });
        }
        let Some((source, content_type)) = ledger_key(&w.source) else {
            report.notes.push(format!("watermark {name} has a key the coverage checks do not know; not checked"));
            continue;
        };
        let ledger = || {
            coverage_windows::Entity::find()
                .filter(coverage_windows::Column::TenantId.eq(w.tenant_id.as_str()))
                .filter(coverage_windows::Column::Source.eq(source))
                .filter(coverage_windows::Column::ContentType.eq(content_type))
        };
        let covering = ledger()
            .filter(coverage_windows::Column::WindowStart.lte(w.position))
            .filter(coverage_windows::Column::WindowEnd.gte(w.position))
            .count(db)
            .await?;
        if covering == 0 {
            report.violate("watermark_without_window", || {
                format!("watermark {name} at {} lies in no window of the coverage ledger", time(w.position))
            });
        }
        let planned: Vec<i64> = ledger()
            .select_only()
            .column(coverage_windows::Column::Id)
            .filter(coverage_windows::Column::State.eq("planned"))
            .filter(coverage_windows::Column::WindowEnd.lte(w.position))
            .into_tuple()
            .all(db)
            .await?;
        for id in planned {
            report.violate("watermark_past_planned_window", || {
                format!(
                    "watermark {name} at {} has passed coverage window {id}, which is still planned",
                    time(w.position)
                )
            });
        }
        failed_behind += ledger()
            .filter(coverage_windows::Column::State.is_in(["failed", "parked"]))
            .filter(coverage_windows::Column::WindowEnd.lte(w.position))
            .count(db)
            .await?;
    }
    if failed_behind > 0 {
        report.notes.push(format!(
            "{failed_behind} failed or parked coverage window(s) lie behind their watermark (a re-listing of collected windows failed)"
        ));
    }
    Ok(())
}

async fn check_windows(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    report.windows_checked = coverage_windows::Entity::find().count(db).await?;
    let bad_state: Vec<i64> = coverage_windows::Entity::find()
        .select_only()
        .column(coverage_windows::Column::Id)
        .filter(coverage_windows::Column::State.is_not_in(WINDOW_STATES))
        .order_by_asc(coverage_windows::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for id in bad_state {
        report.violate("window_bad_state", || {
            format!("coverage window {id} has a state that is not one of {WINDOW_STATES:?}")
        });
    }
    let inverted: Vec<i64> = coverage_windows::Entity::find()
        .select_only()
        .column(coverage_windows::Column::Id)
        .filter(
            Expr::col((coverage_windows::Entity, coverage_windows::Column::WindowEnd))
                .lte(Expr::col((coverage_windows::Entity, coverage_windows::Column::WindowStart))),
        )
        .order_by_asc(coverage_windows::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for id in inverted {
        report.violate("window_inverted", || format!("coverage window {id} ends at or before its start"));
    }
    Ok(())
}

/// Unified Audit Log windows against the seen blobs in their range, one (tenant, content type)
/// at a time: the blobs sorted by time with running sums answer each window's total.
async fn check_window_counts(db: &DatabaseConnection, report: &mut VerifyReport) -> Result<(), DbErr> {
    report.seen_blobs_checked = seen_blobs::Entity::find().count(db).await?;
    let pairs: Vec<(String, String)> = coverage_windows::Entity::find()
        .select_only()
        .columns([coverage_windows::Column::TenantId, coverage_windows::Column::ContentType])
        .filter(coverage_windows::Column::Source.eq("unified"))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    for (tenant, content_type) in pairs {
        let blobs: Vec<(DateTime<Utc>, i64)> = seen_blobs::Entity::find()
            .select_only()
            .columns([seen_blobs::Column::ContentCreated, seen_blobs::Column::RecordCount])
            .filter(seen_blobs::Column::TenantId.eq(tenant.as_str()))
            .filter(seen_blobs::Column::ContentType.eq(content_type.as_str()))
            .order_by_asc(seen_blobs::Column::ContentCreated)
            .into_tuple()
            .all(db)
            .await?;
        // sums[i]: the records of the first i blobs.
        let mut sums = Vec::with_capacity(blobs.len() + 1);
        sums.push(0i64);
        for (_, records) in &blobs {
            sums.push(sums.last().copied().unwrap_or(0) + records);
        }
        let windows: Vec<(i64, DateTime<Utc>, DateTime<Utc>, i64)> = coverage_windows::Entity::find()
            .select_only()
            .columns([
                coverage_windows::Column::Id,
                coverage_windows::Column::WindowStart,
                coverage_windows::Column::WindowEnd,
                coverage_windows::Column::RecordCount,
            ])
            .filter(coverage_windows::Column::TenantId.eq(tenant.as_str()))
            .filter(coverage_windows::Column::Source.eq("unified"))
            .filter(coverage_windows::Column::ContentType.eq(content_type.as_str()))
            .order_by_asc(coverage_windows::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        for (id, start, end, records) in windows {
            let from = blobs.partition_point(|(created, _)| *created < start);
            let to = blobs.partition_point(|(created, _)| *created < end).max(from);
            let seen = sums[to] - sums[from];
            if records > seen {
                report.violate("window_counts_more_than_blobs", || {
                    format!(
                        "coverage window {id} ({tenant} {content_type} from {}) counts {records} record(s), but the blobs marked seen in its range hold {seen}",
                        time(start)
                    )
                });
            }
        }
    }
    Ok(())
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.f UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_keys_map_to_their_ledger_rows() {
        assert_eq!(ledger_key("unified:Audit.Exchange"), Some(("unified", "Audit.Exchange")));
        assert_eq!(ledger_key("directory"), Some(("directory", "")));
        assert_eq!(ledger_key("signin"), Some(("signin", "")));
        assert_eq!(ledger_key("intune"), Some(("intune", "")));
        assert_eq!(ledger_key("unified"), None);
        assert_eq!(ledger_key("unified:"), None);
        assert_eq!(ledger_key("maintenance:renormalize"), None);
    }

    #[test]
    fn only_json_objects_count_as_normalizable_raw_records() {
        assert!(is_json_object(r#" {"Id":"a"} "#));
        assert!(!is_json_object("[1,2]"));
        assert!(!is_json_object("\"text\""));
        assert!(!is_json_object("{\"Id\":"));
        assert!(!is_json_object("not json"));
    }

    #[test]
    fn violations_beyond_the_examples_are_counted_but_not_listed() {
        let mut report = VerifyReport::default();
        for n in 0..EXAMPLES + 5 {
            report.violate("raw_empty", || format!("event {n}"));
        }
        assert_eq!(report.violation_total(), EXAMPLES as u64 + 5);
        assert_eq!(report.violations.len(), EXAMPLES);
        assert!(report.to_string().contains("5 more not listed"));
        assert!(!report.is_ok());
    }
}
