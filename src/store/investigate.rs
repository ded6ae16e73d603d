//! Aggregates over a whole search result for the investigation views: exact counts by service,
//! operation, result and actor (the overview and the AI summary). The filter is turned into SQL
//! by the same builder as every other event query (`store::query::where_sql_with`).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

use app::dto::FacetValue;
use app::query::EventQuery;

use super::query::{where_sql_with, EventStore};
use super::sql::Sql;

/// The actor of an event as the overview counts it: UPN, else display name, else app id.
pub const ACTOR_SQL: &str = "COALESCE(e.actor_upn, e.actor_display, e.actor_app_id, '')";

/// Exact counts over every event matching a query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverviewCounts {
    pub total: u64,
    /// Most frequent first (ties by value); every value, not capped.
    pub by_service: Vec<FacetValue>,
    pub by_operation: Vec<FacetValue>,
    pub by_result: Vec<FacetValue>,
    pub by_actor: Vec<FacetValue>,
}

impl OverviewCounts {
    /// The same counts with at most `n` values per dimension.
    pub fn top(&self, n: usize) -> Self {
        let cut = |v: &Vec<FacetValue>| v.iter().take(n).cloned().collect();
        Self {
            total: self.total,
            by_service: cut(&self.by_service),
            by_operation: cut(&self.by_operation),
            by_result: cut(&self.by_result),
            by_actor: cut(&self.by_actor),
        }
    }
}

/// One combination of the four dimensions with its count.
#[derive(FromQueryResult)]
struct ComboRow {
    service: String,
    operation: String,
    result: String,
    actor: String,
    n: i64,
}

fn sorted(map: HashMap<String, u64>) -> Vec<FacetValue> {
    let mut list: Vec<FacetValue> = map.into_iter().map(|(value, count)| FacetValue { value, count }).collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    list
}

/// Counts every event matching `query` by service, operation, result and actor: one pass over
/// the matching rows grouped by the four columns, folded per dimension here (the combinations
/// are few: operations × actors seen, not events).
pub async fn overview_counts(store: &EventStore, query: &EventQuery) -> Result<OverviewCounts, DbErr> {
    let db = store.db();
    let candidates = store.text_candidates(query).await?;
    let mut sql = Sql::new(
        db.get_database_backend(),
        format!(
            "SELECT e.service AS service, e.operation AS operation, e.result AS result, {ACTOR_SQL} AS actor, \
             COUNT(*) AS n FROM events e WHERE 1=1"
        ),
    );
    where_sql_with(&mut sql, query, candidates.as_deref());
    sql.push(&format!(" GROUP BY e.service, e.operation, e.result, {ACTOR_SQL}"));
    let rows = ComboRow::find_by_statement(sql.statement()).all(db).await?;
    let mut total = 0u64;
    let (mut service, mut operation, mut result, mut actor) =
        (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
    for row in rows {
        let n = row.n.max(0) as u64;
        total += n;
        *service.entry(row.service).or_default() += n;
        *operation.entry(row.operation).or_default() += n;
        *result.entry(row.result).or_default() += n;
        *actor.entry(row.actor).or_default() += n;
    }
    Ok(OverviewCounts {
        total,
        by_service: sorted(service),
        by_operation: sorted(operation),
        by_result: sorted(result),
        by_actor: sorted(actor),
    })
}

/// One combination of actor, operation, targets (the stored JSON) and IP, with its count.
#[derive(Clone, Debug, FromQueryResult)]
pub struct GraphRow {
    pub actor: String,
    pub operation: String,
    pub targets: String,
    pub ip: Option<String>,
    pub n: i64,
}

/// Events matching `query` grouped by actor, operation, targets and IP (the entity graph's
/// input): one pass over the matching rows.
pub async fn graph_rows(store: &EventStore, query: &EventQuery) -> Result<Vec<GraphRow>, DbErr> {
    let db = store.db();
    let candidates = store.text_candidates(query).await?;
    let mut sql = Sql::new(
        db.get_database_backend(),
        format!(
            "SELECT {ACTOR_SQL} AS actor, e.operation AS operation, e.targets AS targets, e.actor_ip AS ip, \
             COUNT(*) AS n FROM events e WHERE 1=1"
        ),
    );
    where_sql_with(&mut sql, query, candidates.as_deref());
    sql.push(&format!(" GROUP BY {ACTOR_SQL}, e.operation, e.targets, e.actor_ip"));
    GraphRow::find_by_statement(sql.statement()).all(db).await
}
