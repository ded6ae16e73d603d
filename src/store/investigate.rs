//! Aggregates over a whole search result for the investigation views: exact counts by service,
//! operation, result and actor (the overview and the AI summary). The filter is turned into SQL
//! by the same builder as every other event query (`store::query::where_sql_with`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, TransactionTrait};

use app::dto::FacetValue;
use app::query::{Clause, EventQuery, Field};

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

/// PostgreSQL's `work_mem` for the overview's counts: room to hash its groups in memory.
const OVERVIEW_WORK_MEM: &str = "64MB";

/// One combination of service, operation, result and the three actor columns with its count.
#[derive(FromQueryResult)]
struct ComboRow {
    service: String,
    operation: String,
    result: String,
    actor_upn: Option<String>,
    actor_display: Option<String>,
    actor_app_id: Option<String>,
    n: i64,
}

fn sorted(map: HashMap<String, u64>) -> Vec<FacetValue> {
    let mut list: Vec<FacetValue> =
        map.into_iter().map(|(value, count)| FacetValue { value, count, label: None }).collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    list
}

/// Whether every condition of `query` reads only columns `ix_events_overview` holds (free text
/// only as the ids it matched, `candidates`): the overview's pass can then read nothing but
/// that index.
fn covered_by_overview_index(query: &EventQuery, candidates: Option<&[i64]>) -> bool {
    query.terms.iter().all(|term| match &term.clause {
        Clause::Field(field, _) => matches!(
            field,
            Field::Tenant
                | Field::Source
                | Field::Service
                | Field::Operation
                | Field::Actor
                | Field::Result
                | Field::Severity
                | Field::App
                | Field::Alert
        ),
        Clause::MinSeverity(_) => true,
        // Positive text becomes `e.id IN (candidates)`; the row id is in every index entry.
        Clause::Text { .. } => !term.negated && candidates.is_some(),
        Clause::Flattened { .. } => false,
    })
}

/// Counts every event matching `query` by service, operation, result and actor: one pass over
/// the matching rows grouped by the plain columns, folded per dimension here (the combinations
/// are few: operations × actors seen, not events). Plain columns, not [`ACTOR_SQL`], grouped in
/// the order of `ix_events_overview`, which holds them first: the groups stream out of the index
/// in order, without sorting and without reading the fat rows. The actor is the same first
/// non-NULL of UPN, display name and app id.
pub async fn overview_counts(store: &EventStore, query: &EventQuery) -> Result<OverviewCounts, DbErr> {
    let db = store.db();
    let backend = db.get_database_backend();
    let candidates = store.text_candidates(query).await?;
    // SQLite's planner prefers a narrower index on a filtered column (e.g. `source` in
    // `ix_events_tenant_source_ingested`) and then reads and sorts the matching rows: seconds
    // instead of a fraction of one. When the index holds every column the query reads, it is
    // the one to read.
    let from = if backend == DatabaseBackend::Sqlite && covered_by_overview_index(query, candidates.as_deref()) {
        "events e INDEXED BY ix_events_overview"
    } else {
        "events e"
    };
    let mut sql = Sql::new(
        backend,
        format!(
            "SELECT e.service AS service, e.operation AS operation, e.result AS result, e.actor_upn AS actor_upn, \
             e.actor_display AS actor_display, e.actor_app_id AS actor_app_id, COUNT(*) AS n FROM {from} WHERE 1=1"
        ),
    );
    where_sql_with(&mut sql, query, candidates.as_deref());
    sql.push(" GROUP BY e.service, e.operation, e.result, e.actor_upn, e.actor_display, e.actor_app_id");
    let rows = if db.get_database_backend() == DatabaseBackend::Postgres {
        // The planner guesses 100,000 groups (there are thousands) and, in the default 4 MB,
        // sorts every matching row on disk instead of hashing them: more memory for this query.
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!("SET LOCAL work_mem = '{OVERVIEW_WORK_MEM}'")).await?;
        let rows = ComboRow::find_by_statement(sql.statement()).all(&txn).await?;
        txn.commit().await?;
        rows
    } else {
        ComboRow::find_by_statement(sql.statement()).all(db).await?
    };
    let mut total = 0u64;
    let (mut service, mut operation, mut result, mut actor) =
        (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
    for row in rows {
        let n = row.n.max(0) as u64;
        total += n;
        *service.entry(row.service).or_default() += n;
        *operation.entry(row.operation).or_default() += n;
        *result.entry(row.result).or_default() += n;
        let name = row.actor_upn.or(row.actor_display).or(row.actor_app_id).unwrap_or_default();
        *actor.entry(name).or_default() += n;
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

/// A sign-in's `location.*` flattened field, text or NULL (sign-ins only: other sources carry
/// no coordinates).
fn location_sql(backend: DatabaseBackend, key: &str) -> String {
    let value = if backend == DatabaseBackend::Postgres {
        format!("(e.flattened::json ->> 'location.{key}')")
    } else {
        format!("CAST(json_extract(e.flattened, '$.\"location.{key}\"') AS TEXT)")
    };
    format!("CASE WHEN e.source = 'signin' THEN {value} END")
}

/// One event as the sign-in map reads it.
#[derive(Clone, Debug, FromQueryResult)]
pub struct MapRow {
    pub id: i64,
    pub tenant_id: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub result: String,
    pub ip: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
}

/// The newest `cap` events matching `query` with their address and sign-in location, newest first.
pub async fn map_rows(store: &EventStore, query: &EventQuery, cap: u32) -> Result<Vec<MapRow>, DbErr> {
    let db = store.db();
    let backend = db.get_database_backend();
    let candidates = store.text_candidates(query).await?;
    let mut sql = Sql::new(
        backend,
        format!(
            "SELECT e.id AS id, e.tenant_id AS tenant_id, {ACTOR_SQL} AS actor, e.occurred_at AS occurred_at, \
             e.result AS result, e.actor_ip AS ip, {} AS latitude, {} AS longitude, {} AS country, {} AS city \
             FROM events e WHERE 1=1",
            location_sql(backend, "geoCoordinates.latitude"),
            location_sql(backend, "geoCoordinates.longitude"),
            location_sql(backend, "countryOrRegion"),
            location_sql(backend, "city"),
        ),
    );
    where_sql_with(&mut sql, query, candidates.as_deref());
    let limit = sql.bind(i64::from(cap));
    sql.push(&format!(" ORDER BY e.occurred_at DESC, e.id DESC LIMIT {limit}"));
    MapRow::find_by_statement(sql.statement()).all(db).await
}

/// When a person was first seen at one address (or sign-in country).
#[derive(Clone, Debug, FromQueryResult)]
pub struct FirstSeenRow {
    pub tenant_id: String,
    pub actor: String,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub first_at: DateTime<Utc>,
}

/// Actors asked about per query.
const ACTORS_PER_QUERY: usize = 200;

/// For each of `actors`, every address and sign-in country in all stored events up to `until`,
/// with the time it was first seen (the "new country" baseline, independent of any filter).
pub async fn first_seen(
    store: &EventStore,
    actors: &[String],
    until: DateTime<Utc>,
) -> Result<Vec<FirstSeenRow>, DbErr> {
    let db = store.db();
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for chunk in actors.chunks(ACTORS_PER_QUERY) {
        let mut sql = Sql::new(
            backend,
            format!(
                "SELECT e.tenant_id AS tenant_id, {ACTOR_SQL} AS actor, e.actor_ip AS ip, {country} AS country, \
                 MIN(e.occurred_at) AS first_at FROM events e WHERE (e.actor_ip IS NOT NULL OR e.source = 'signin')",
                country = location_sql(backend, "countryOrRegion"),
            ),
        );
        let until = sql.bind(until);
        let list: Vec<String> = chunk.iter().map(|a| sql.bind(a.clone())).collect();
        sql.push(&format!(
            " AND e.occurred_at <= {until} AND {ACTOR_SQL} IN ({}) GROUP BY e.tenant_id, {ACTOR_SQL}, e.actor_ip, {}",
            list.join(", "),
            location_sql(backend, "countryOrRegion"),
        ));
        out.extend(FirstSeenRow::find_by_statement(sql.statement()).all(db).await?);
    }
    Ok(out)
}
