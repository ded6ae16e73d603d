//! Reading what AOC did and who changed what: the coverage ledger and AOC's own audit trail.

use app::dto::{AuditPage, CoveragePage, CoverageWindow};
use app::error::AppError;
use app::input::{AuditTrailRequest, CoverageRequest};
use sea_orm::DatabaseConnection;

use super::db_failure;
use crate::store::coverage::{self, WindowFilter};
use crate::store::entities::coverage_windows;

/// The coverage ledger and the audit trail over one database.
#[derive(Clone)]
pub struct OversightService {
    db: DatabaseConnection,
}

impl From<coverage_windows::Model> for CoverageWindow {
    fn from(w: coverage_windows::Model) -> Self {
        CoverageWindow {
            id: w.id,
            tenant: w.tenant_id,
            source: w.source,
            content_type: w.content_type,
            window_start: w.window_start,
            window_end: w.window_end,
            state: w.state,
            record_count: w.record_count,
            attempts: w.attempts,
            last_error: w.last_error,
            updated_at: w.updated_at,
        }
    }
}

/// Keeps the first `page_size` of `items` (read one more than a page) and the id to continue
/// before, when there are more.
fn page_of<T>(mut items: Vec<T>, page_size: u32, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    if items.len() > page_size as usize {
        items.truncate(page_size as usize);
        let next = items.last().map(id);
        (items, next)
    } else {
        (items, None)
    }
}

impl OversightService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// A page of the coverage ledger, newest window first.
    pub async fn coverage(&self, request: &CoverageRequest) -> Result<CoveragePage, AppError> {
        let filter = WindowFilter {
            tenant: request.tenant.as_deref(),
            source: request.source.as_deref(),
            state: request.state.as_deref(),
            start: request.start,
            before: request.before,
        };
        let windows =
            coverage::windows(&self.db, &filter, request.page_size + 1).await.map_err(|e| db_failure("coverage", e))?;
        let (items, next_before) =
            page_of(windows.into_iter().map(CoverageWindow::from).collect(), request.page_size, |w| w.id);
        Ok(CoveragePage { items, next_before })
    }

    /// A page of the audit trail, newest entry first.
    pub async fn audit_trail(&self, request: &AuditTrailRequest) -> Result<AuditPage, AppError> {
        let entries = crate::store::annotations::audit_trail(
            &self.db,
            request.before,
            request.target_kind.as_deref(),
            request.target_id.as_deref(),
            request.page_size + 1,
        )
        .await
        .map_err(|e| db_failure("audit_trail", e))?;
        let (items, next_before) = page_of(entries, request.page_size, |e| e.id);
        Ok(AuditPage { items, next_before })
    }
}
