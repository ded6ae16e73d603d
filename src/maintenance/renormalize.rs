//! Re-running normalization over the stored raw records, so events stored by an older or buggy
//! normalizer get the fields the current one gives. The columns are computed by
//! [`EventRow::new`], exactly as on the write path, and only the normalized columns are written:
//! an event's identity (tenant, record id, dedupe key) never changes, because other rows and the
//! "nothing twice" invariant hang on it. A record whose identity would now come out differently
//! is counted as a warning.
//!
//! Events are taken in batches by id; each batch is updated in one transaction together with the
//! progress (the last id done), kept in the `watermarks` row ([`MAINTENANCE_TENANT`],
//! [`PROGRESS_SOURCE`]). An interrupted run therefore continues where it stopped; a run that
//! reaches the last event clears the progress, so the next one starts from the beginning.

use std::fmt;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::Serialize;

use super::{MaintenanceError, EXAMPLES, MAINTENANCE_TENANT};
use crate::normalize::{self, Source};
use crate::store::entities::{events, watermarks};
use crate::store::synthetic::SYNTHETIC_TENANT;
use crate::store::writer::{upsert_watermark, EventRow};

/// The `watermarks.source` of the progress row.
pub const PROGRESS_SOURCE: &str = "maintenance:renormalize";
/// Events per batch (and per transaction) unless told otherwise.
pub const DEFAULT_BATCH: u64 = 500;

/// What `aoc maintenance renormalize` was asked to do.
#[derive(Clone, Debug)]
pub struct RenormalizeOptions {
    /// Stop after this many events (the progress is kept, so the next run continues).
    pub limit: Option<u64>,
    /// Events per batch and transaction.
    pub batch_size: u64,
    /// Forget the progress of an interrupted run and start from the first event.
    pub restart: bool,
    /// Each tenant's own domains (lower case), which decide whether a recipient is internal
    /// (`TENANT_DOMAINS` for the environment tenant). Collection also adds the verified domains
    /// Graph lists; this command has no Graph access, so a tenant missing here is renormalized
    /// as if it owned only the domains of the people in each record.
    pub tenant_domains: std::collections::HashMap<String, Vec<String>>,
}

impl Default for RenormalizeOptions {
    fn default() -> Self {
        Self { limit: None, batch_size: DEFAULT_BATCH, restart: false, tenant_domains: Default::default() }
    }
}

/// What a renormalize run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RenormalizeReport {
    /// The run continued an interrupted one after this event id.
    pub resumed_after_id: Option<i64>,
    /// The last event id this run went through.
    pub last_id: Option<i64>,
    /// Every event was gone through; the progress is cleared.
    pub complete: bool,
    /// Events read.
    pub scanned: u64,
    /// Events whose normalized columns were rewritten.
    pub changed: u64,
    /// Events that normalize to exactly what is stored.
    pub unchanged: u64,
    /// Of the changed: events that normalized before and now fail (stored raw with the error).
    pub now_failing: u64,
    /// Of the changed: events that failed to normalize before and now succeed.
    pub now_fixed: u64,
    /// Events left alone: synthetic events (their columns never came from the normalizer) and
    /// events of a source AOC does not know.
    pub skipped: u64,
    /// Events whose record id or dedupe key would now come out differently (left unchanged).
    pub identity_warnings: u64,
    /// Ids of the first of those events.
    pub identity_warning_ids: Vec<i64>,
}

impl fmt::Display for RenormalizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = self.resumed_after_id {
            writeln!(f, "resumed an interrupted run after event id {id}")?;
        }
        writeln!(f, "scanned      {:>10}", self.scanned)?;
        writeln!(f, "changed      {:>10}", self.changed)?;
        writeln!(f, "unchanged    {:>10}", self.unchanged)?;
        writeln!(f, "now failing  {:>10}", self.now_failing)?;
        writeln!(f, "now fixed    {:>10}", self.now_fixed)?;
        writeln!(f, "skipped      {:>10}", self.skipped)?;
        if self.identity_warnings > 0 {
            let ids: Vec<String> = self.identity_warning_ids.iter().map(i64::to_string).collect();
            writeln!(
                f,
                "warning: {} event(s) would now get a different record id or dedupe key; their identity was left unchanged (event ids: {})",
                self.identity_warnings,
                ids.join(", ")
            )?;
        }
        match (self.complete, self.last_id) {
            (true, _) => write!(f, "complete: every event was renormalized"),
            (false, Some(id)) => {
                write!(f, "stopped after event id {id}; run again to continue (--restart starts over)")
            }
            (false, None) => write!(f, "nothing was renormalized; run again to continue (--restart starts over)"),
        }
    }
}

/// Renormalizes stored events in batches by id, continuing an interrupted run unless
/// `options.restart`.
pub async fn renormalize(
    db: &DatabaseConnection,
    options: &RenormalizeOptions,
) -> Result<RenormalizeReport, MaintenanceError> {
    let batch_size = options.batch_size.max(1);
    let mut report = RenormalizeReport::default();
    let mut after = if options.restart {
        clear_progress(db).await?;
        0
    } else {
        progress(db).await?.unwrap_or(0)
    };
    if after > 0 {
        report.resumed_after_id = Some(after);
    }
    let contexts: std::collections::HashMap<&str, normalize::Context> = options
        .tenant_domains
        .iter()
        .map(|(tenant, domains)| (tenant.as_str(), normalize::Context { tenant_domains: domains.clone() }))
        .collect();
    let no_domains = normalize::Context::default();
    loop {
        let want = match options.limit {
            Some(limit) => batch_size.min(limit.saturating_sub(report.scanned)),
            None => batch_size,
        };
        if want == 0 {
            break;
        }
        let rows = events::Entity::find()
            .filter(events::Column::Id.gt(after))
            .order_by_asc(events::Column::Id)
            .limit(want)
            .all(db)
            .await?;
        let Some(last) = rows.last().map(|r| r.id) else {
            report.complete = true;
            break;
        };
        let fetched = rows.len() as u64;
        let txn = db.begin().await?;
        for row in rows {
            let context = contexts.get(row.tenant_id.as_str()).unwrap_or(&no_domains);
            renormalize_row(&txn, row, context, &mut report).await?;
        }
        save_progress(&txn, last).await?;
        txn.commit().await?;
        after = last;
        report.last_id = Some(last);
        tracing::info!(after_id = last, scanned = report.scanned, changed = report.changed, "renormalized a batch");
        if fetched < want {
            report.complete = true;
            break;
        }
    }
    if !report.complete {
        // Stopped by the limit: done anyway when nothing is left after the last id.
        report.complete = events::Entity::find()
            .select_only()
            .column(events::Column::Id)
            .filter(events::Column::Id.gt(after))
            .limit(1)
            .into_tuple::<i64>()
            .one(db)
            .await?
            .is_none();
    }
    if report.complete {
        clear_progress(db).await?;
    }
    Ok(report)
}

async fn renormalize_row(
    txn: &impl ConnectionTrait,
    mut row: events::Model,
    context: &normalize::Context,
    report: &mut RenormalizeReport,
) -> Result<(), DbErr> {
    report.scanned += 1;
    let source = match Source::parse(&row.source) {
        Some(source) if row.tenant_id != SYNTHETIC_TENANT => source,
        _ => {
            report.skipped += 1;
            return Ok(());
        }
    };
    let normalized = normalize::normalize(source, row.content_type.as_deref(), &row.raw, context);
    let raw = std::mem::take(&mut row.raw);
    // A record whose time cannot be read keeps the time it was stored with.
    let fresh = EventRow::new(&row.tenant_id, source, row.content_type.as_deref(), raw, normalized, row.occurred_at);
    if fresh.record_id != row.record_id || fresh.dedupe_key != row.dedupe_key {
        report.identity_warnings += 1;
        if report.identity_warning_ids.len() < EXAMPLES {
            report.identity_warning_ids.push(row.id);
        }
    }
    if !normalized_differs(&row, &fresh) {
        report.unchanged += 1;
        return Ok(());
    }
    report.changed += 1;
    match (row.normalize_error.is_some(), fresh.normalize_error.is_some()) {
        (false, true) => report.now_failing += 1,
        (true, false) => report.now_fixed += 1,
        _ => {}
    }
    use events::Column as C;
    events::Entity::update_many()
        .col_expr(C::OccurredAt, Expr::value(fresh.occurred_at))
        .col_expr(C::Service, Expr::value(fresh.service))
        .col_expr(C::Operation, Expr::value(fresh.operation))
        .col_expr(C::Result, Expr::value(fresh.result))
        .col_expr(C::ActorDisplay, Expr::value(fresh.actor_display))
        .col_expr(C::ActorUpn, Expr::value(fresh.actor_upn))
        .col_expr(C::ActorAppId, Expr::value(fresh.actor_app_id))
        .col_expr(C::ActorIp, Expr::value(fresh.actor_ip))
        .col_expr(C::Targets, Expr::value(fresh.targets))
        .col_expr(C::TargetDisplay, Expr::value(fresh.target_display))
        .col_expr(C::Summary, Expr::value(fresh.summary))
        .col_expr(C::Severity, Expr::value(fresh.severity))
        .col_expr(C::CorrelationId, Expr::value(fresh.correlation_id))
        .col_expr(C::Flattened, Expr::value(fresh.flattened))
        .col_expr(C::NormalizeError, Expr::value(fresh.normalize_error))
        .filter(C::Id.eq(row.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Whether any normalized column of the stored event differs from a fresh normalization.
/// Identity columns are not compared: they are never rewritten.
fn normalized_differs(stored: &events::Model, fresh: &EventRow) -> bool {
    stored.occurred_at != fresh.occurred_at
        || stored.service != fresh.service
        || stored.operation != fresh.operation
        || stored.result != fresh.result
        || stored.actor_display != fresh.actor_display
        || stored.actor_upn != fresh.actor_upn
        || stored.actor_app_id != fresh.actor_app_id
        || stored.actor_ip != fresh.actor_ip
        || stored.targets != fresh.targets
        || stored.target_display != fresh.target_display
        || stored.summary != fresh.summary
        || stored.severity != fresh.severity
        || stored.correlation_id != fresh.correlation_id
        || stored.flattened != fresh.flattened
        || stored.normalize_error != fresh.normalize_error
}

/// The last event id an interrupted run went through, if one was interrupted.
pub async fn progress(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    let row =
        watermarks::Entity::find_by_id((MAINTENANCE_TENANT.to_string(), PROGRESS_SOURCE.to_string())).one(db).await?;
    Ok(row.and_then(|w| w.cursor).and_then(|c| c.parse().ok()))
}

async fn save_progress(db: &impl ConnectionTrait, last_id: i64) -> Result<(), DbErr> {
    let now = Utc::now();
    upsert_watermark(db, MAINTENANCE_TENANT, PROGRESS_SOURCE, now, Some(last_id.to_string()), now).await
}

async fn clear_progress(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    watermarks::Entity::delete_many()
        .filter(watermarks::Column::TenantId.eq(MAINTENANCE_TENANT))
        .filter(watermarks::Column::Source.eq(PROGRESS_SOURCE))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const RAW: &str = r#"{"Id":"4d0b7d0e-2c1f-4a7b-9b3e-6f2c1d9e0a11","CreationTime":"2026-11-22T10:00:00","RecordType":2,"Operation":"New-InboxRule","Workload":"Exchange","UserId":"adele.vance@contoso.example","ClientIP":"203.0.113.7:51544","ResultStatus":"Succeeded"}"#;

    fn fresh(raw: &str) -> EventRow {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        let n = normalize::normalize(Source::Unified, Some("Audit.Exchange"), raw, &normalize::Context::default());
        EventRow::new("contoso.example", Source::Unified, Some("Audit.Exchange"), raw.to_string(), n, now)
    }

    fn stored(row: &EventRow) -> events::Model {
        events::Model {
            id: 1,
            tenant_id: row.tenant_id.clone(),
            source: row.source.as_str().into(),
            content_type: row.content_type.clone(),
            record_id: row.record_id.clone(),
            dedupe_key: row.dedupe_key.clone(),
            occurred_at: row.occurred_at,
            ingested_at: row.occurred_at,
            service: row.service.clone(),
            operation: row.operation.clone(),
            result: row.result.clone(),
            actor_display: row.actor_display.clone(),
            actor_upn: row.actor_upn.clone(),
            actor_app_id: row.actor_app_id.clone(),
            actor_ip: row.actor_ip.clone(),
            targets: row.targets.clone(),
            target_display: row.target_display.clone(),
            summary: row.summary.clone(),
            severity: row.severity,
            correlation_id: row.correlation_id.clone(),
            flattened: row.flattened.clone(),
            raw: row.raw.clone(),
            normalize_error: row.normalize_error.clone(),
        }
    }

    #[test]
    fn an_event_stored_as_normalized_does_not_differ() {
        let row = fresh(RAW);
        assert!(!normalized_differs(&stored(&row), &row));
    }

    #[test]
    fn any_normalized_column_that_was_altered_differs() {
        let row = fresh(RAW);
        let alterations: [fn(&mut events::Model); 6] = [
            |m| m.summary.push('!'),
            |m| m.severity = 4,
            |m| m.actor_ip = None,
            |m| m.flattened = "{}".into(),
            |m| m.occurred_at += chrono::Duration::seconds(1),
            |m| m.normalize_error = Some("old".into()),
        ];
        for alter in alterations {
            let mut model = stored(&row);
            alter(&mut model);
            assert!(normalized_differs(&model, &row));
        }
    }

    #[test]
    fn identity_columns_are_not_compared() {
        let row = fresh(RAW);
        let mut model = stored(&row);
        model.dedupe_key = "something else".into();
        model.record_id = "something else".into();
        assert!(!normalized_differs(&model, &row));
    }
}
