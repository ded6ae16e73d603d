//! Records stored more than once. Two kinds are looked for: events sharing (tenant, dedupe key),
//! which the unique index `ux_events_dedupe_tenant` should make impossible, and events holding
//! the same record (tenant, source, record id) under different dedupe keys, which happens when
//! the way keys are derived changed between versions. With `apply`, every group keeps its lowest
//! id; the tags, comments, alerts and export entries of the others move to it where the kept
//! event has no such entry yet, and the rest go with the removed events.

use std::fmt;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};
use serde::Serialize;

use super::{placeholders, statement, MaintenanceError, EXAMPLES};

/// Events sharing a tenant and dedupe key, with every id.
const SAME_KEY: &str = "SELECT e.id, e.tenant_id, e.dedupe_key FROM events e \
     JOIN (SELECT tenant_id, dedupe_key FROM events GROUP BY tenant_id, dedupe_key HAVING COUNT(*) > 1) d \
     ON d.tenant_id = e.tenant_id AND d.dedupe_key = e.dedupe_key \
     ORDER BY e.tenant_id, e.dedupe_key, e.id";

/// Events holding the same record under more than one dedupe key, with every id.
const SAME_RECORD: &str = "SELECT e.id, e.tenant_id, e.source, e.record_id FROM events e \
     JOIN (SELECT tenant_id, source, record_id FROM events GROUP BY tenant_id, source, record_id \
     HAVING COUNT(DISTINCT dedupe_key) > 1) d \
     ON d.tenant_id = e.tenant_id AND d.source = e.source AND d.record_id = e.record_id \
     ORDER BY e.tenant_id, e.source, e.record_id, e.id";

/// Rows that point at an event, moved to the kept event unless it already has the same one
/// (values, as many as there are placeholders: kept id, removed id, kept id). Comments are never
/// in the way, so all of them move.
const MOVES: [&str; 4] = [
    "UPDATE event_tags SET event_id = ? WHERE event_id = ? \
     AND tag NOT IN (SELECT tag FROM event_tags WHERE event_id = ?)",
    "UPDATE comments SET event_id = ? WHERE event_id = ?",
    "UPDATE alert_events SET event_id = ? WHERE event_id = ? \
     AND alert_id NOT IN (SELECT alert_id FROM alert_events WHERE event_id = ?)",
    "UPDATE export_outbox SET event_id = ? WHERE event_id = ? \
     AND destination_id NOT IN (SELECT destination_id FROM export_outbox WHERE event_id = ?)",
];

/// Tables whose rows of a removed event are deleted with it (explicitly, so nothing depends on
/// SQLite's foreign-key enforcement being on).
const CHILDREN: [&str; 4] = ["event_tags", "comments", "alert_events", "export_outbox"];

/// One record stored more than once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// The lowest id, which is kept.
    pub keep: i64,
    /// The other ids.
    pub remove: Vec<i64>,
}

/// What `aoc maintenance dedupe` found (and removed, with `apply`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DedupeReport {
    /// Groups of events sharing a tenant and dedupe key.
    pub same_key_groups: u64,
    /// Events of those groups beyond the first.
    pub same_key_extra_rows: u64,
    /// Groups of events holding the same record (tenant, source, record id) under different
    /// dedupe keys.
    pub same_record_groups: u64,
    /// Events of those groups beyond the first.
    pub same_record_extra_rows: u64,
    /// The first groups of each kind (ids only).
    pub same_key_examples: Vec<DuplicateGroup>,
    pub same_record_examples: Vec<DuplicateGroup>,
    /// Whether the extra events were removed.
    pub applied: bool,
    /// Events removed.
    pub removed: u64,
    /// Tags, comments, alerts and export entries moved from removed events to kept ones.
    pub moved: u64,
}

impl DedupeReport {
    /// No duplicates were found.
    pub fn is_clean(&self) -> bool {
        self.same_key_groups == 0 && self.same_record_groups == 0
    }
}

impl fmt::Display for DedupeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, groups, extra, examples) in [
            ("same tenant and dedupe key", self.same_key_groups, self.same_key_extra_rows, &self.same_key_examples),
            (
                "same record, different dedupe keys",
                self.same_record_groups,
                self.same_record_extra_rows,
                &self.same_record_examples,
            ),
        ] {
            writeln!(f, "{what:<36} {groups:>8} group(s) {extra:>8} extra event(s)")?;
            write_examples(f, examples)?;
        }
        if self.applied {
            write!(
                f,
                "removed {} event(s); moved {} tag(s), comment(s), alert(s) and export entries to the kept events",
                self.removed, self.moved
            )
        } else if self.is_clean() {
            write!(f, "no duplicates")
        } else {
            write!(f, "nothing was changed; run with --apply to keep the lowest id of each group and remove the rest")
        }
    }
}

fn write_examples(f: &mut fmt::Formatter<'_>, groups: &[DuplicateGroup]) -> fmt::Result {
    for g in groups {
        let remove: Vec<String> = g.remove.iter().map(i64::to_string).collect();
        writeln!(f, "    keep event {}, extra: {}", g.keep, remove.join(", "))?;
    }
    Ok(())
}

/// Finds duplicated records; with `apply`, removes all but the lowest id of each.
pub async fn dedupe(db: &DatabaseConnection, apply: bool) -> Result<DedupeReport, MaintenanceError> {
    let mut report = DedupeReport::default();
    let same_key = same_key_groups(db).await?;
    let same_record = same_record_groups(db).await?;
    report.same_key_groups = same_key.len() as u64;
    report.same_key_extra_rows = same_key.iter().map(|g| g.remove.len() as u64).sum();
    report.same_key_examples = examples(&same_key);
    report.same_record_groups = same_record.len() as u64;
    report.same_record_extra_rows = same_record.iter().map(|g| g.remove.len() as u64).sum();
    report.same_record_examples = examples(&same_record);
    if !apply {
        return Ok(report);
    }
    report.applied = true;
    for group in &same_key {
        remove_extras(db, group, &mut report).await?;
    }
    // Removing the first kind may have settled groups of the second: look again.
    let same_record = if same_key.is_empty() { same_record } else { same_record_groups(db).await? };
    for group in &same_record {
        remove_extras(db, group, &mut report).await?;
    }
    tracing::info!(removed = report.removed, moved = report.moved, "removed duplicated events");
    Ok(report)
}

fn examples(groups: &[DuplicateGroup]) -> Vec<DuplicateGroup> {
    groups
        .iter()
        .take(EXAMPLES)
        .map(|g| DuplicateGroup { keep: g.keep, remove: g.remove.iter().take(EXAMPLES).copied().collect() })
        .collect()
}

/// Groups of events sharing a tenant and dedupe key.
pub(crate) async fn same_key_groups(db: &impl ConnectionTrait) -> Result<Vec<DuplicateGroup>, DbErr> {
    groups(db, SAME_KEY, &["tenant_id", "dedupe_key"]).await
}

/// Groups of events holding the same record under different dedupe keys.
pub(crate) async fn same_record_groups(db: &impl ConnectionTrait) -> Result<Vec<DuplicateGroup>, DbErr> {
    groups(db, SAME_RECORD, &["tenant_id", "source", "record_id"]).await
}

/// Runs a query whose rows are ordered by `key_columns` then id, and groups them.
async fn groups(db: &impl ConnectionTrait, sql: &str, key_columns: &[&str]) -> Result<Vec<DuplicateGroup>, DbErr> {
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql)).await?;
    let mut groups = Vec::new();
    let mut current: Option<(Vec<String>, DuplicateGroup)> = None;
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let key = key_columns.iter().map(|c| row.try_get::<String>("", c)).collect::<Result<Vec<_>, _>>()?;
        match &mut current {
            Some((k, group)) if *k == key => group.remove.push(id),
            _ => {
                if let Some((_, group)) = current.take() {
                    groups.push(group);
                }
                current = Some((key, DuplicateGroup { keep: id, remove: Vec::new() }));
            }
        }
    }
    groups.extend(current.map(|(_, group)| group));
    Ok(groups)
}

/// Moves what points at the group's extra events to the kept one and deletes the extras, in one
/// transaction.
async fn remove_extras(
    db: &DatabaseConnection,
    group: &DuplicateGroup,
    report: &mut DedupeReport,
) -> Result<(), DbErr> {
    if group.remove.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    // One extra at a time: two extras with the same tag (or alert rule, or destination) must not
    // both move onto the kept event.
    for &extra in &group.remove {
        for sql in MOVES {
            let values: Vec<Value> =
                [group.keep, extra, group.keep].into_iter().take(sql.matches('?').count()).map(Value::from).collect();
            report.moved += txn.execute(statement(backend, sql, values)).await?.rows_affected();
        }
    }
    let ids: Vec<Value> = group.remove.iter().map(|&id| id.into()).collect();
    let list = placeholders(ids.len());
    for table in CHILDREN {
        let sql = format!("DELETE FROM {table} WHERE event_id IN ({list})");
        txn.execute(statement(backend, &sql, ids.clone())).await?;
    }
    let sql = format!("DELETE FROM events WHERE id IN ({list})");
    report.removed += txn.execute(statement(backend, &sql, ids)).await?.rows_affected();
    txn.commit().await
}
