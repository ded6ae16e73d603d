//! Rows of detection: rules, alerts with their events, comments and history, and the evaluation
//! cursor. `services::detection` owns the transactions around these.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use super::sql::{Count, Sql};
use crate::rules::RuleDraft;

/// The name of the rules' evaluation cursor.
pub const CURSOR: &str = "rules";

/// PostgreSQL: the advisory lock the write path holds (shared) for as long as its transaction
/// inserts events, and the evaluator takes (exclusive) for an instant to learn the largest id
/// that no insert still in progress can fall below (ids are taken from a sequence in one order
/// but committed in another).
pub const INSERT_LOCK: i64 = 7_320_261_207;

/// A stored rule, with its hit counts.
#[derive(Clone, Debug, FromQueryResult)]
pub struct RuleRow {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub severity: i16,
    pub enabled: bool,
    pub hunting: bool,
    pub builtin: bool,
    pub owner: String,
    pub sources: String,
    pub tags: String,
    pub definition: String,
    pub sigma_id: Option<String>,
    pub sigma_yaml: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Matched events over all of the rule's alerts.
    pub hits: i64,
    pub alerts: i64,
    pub last_hit: Option<DateTime<Utc>>,
}

const RULE_COLUMNS: &str = "r.id, r.uid, r.name, r.description, r.kind, r.severity, r.enabled, r.hunting, r.builtin, \
     r.owner, r.sources, r.tags, r.definition, r.sigma_id, r.sigma_yaml, r.created_by, r.created_at, r.updated_at";

fn rules_query(backend: DbBackend, filter: &str) -> Sql {
    Sql::new(
        backend,
        format!(
            "SELECT {RULE_COLUMNS}, CAST(COALESCE(SUM(a.count), 0) AS BIGINT) AS hits, COUNT(a.id) AS alerts, \
             MAX(a.last_seen) AS last_hit FROM rules r LEFT JOIN alerts a ON a.rule_id = r.id {filter} \
             GROUP BY {RULE_COLUMNS}"
        ),
    )
}

/// Every rule, oldest first.
pub async fn list_rules(db: &impl ConnectionTrait) -> Result<Vec<RuleRow>, DbErr> {
    let mut sql = rules_query(db.get_database_backend(), "");
    sql.push(" ORDER BY r.id");
    RuleRow::find_by_statement(sql.statement()).all(db).await
}

/// One rule.
pub async fn get_rule(db: &impl ConnectionTrait, id: i64) -> Result<Option<RuleRow>, DbErr> {
    let backend = db.get_database_backend();
    let mut sql = rules_query(backend, "");
    let p = sql.bind(id);
    sql.text = sql.text.replace("GROUP BY", &format!("WHERE r.id = {p} GROUP BY"));
    RuleRow::find_by_statement(sql.statement()).one(db).await
}

/// The enabled rules, for evaluation (no counts).
#[derive(Clone, Debug, FromQueryResult)]
pub struct ActiveRule {
    pub id: i64,
    pub name: String,
    pub severity: i16,
    pub hunting: bool,
    pub sources: String,
    pub definition: String,
}

pub async fn enabled_rules(db: &impl ConnectionTrait) -> Result<Vec<ActiveRule>, DbErr> {
    ActiveRule::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT id, name, severity, hunting, sources, definition FROM rules WHERE enabled = TRUE ORDER BY id",
    ))
    .all(db)
    .await
}

fn draft_values(sql: &mut Sql, draft: &RuleDraft) -> Vec<String> {
    vec![
        sql.bind(draft.name.clone()),
        sql.bind(draft.description.clone()),
        sql.bind(draft.kind.clone()),
        sql.bind(draft.severity),
        sql.bind(draft.enabled),
        sql.bind(draft.hunting),
        sql.bind(draft.owner.clone()),
        sql.bind(serde_json::to_string(&draft.sources).unwrap_or_else(|_| "[]".into())),
        sql.bind(serde_json::to_string(&draft.tags).unwrap_or_else(|_| "[]".into())),
        sql.bind(serde_json::to_string(&draft.definition).unwrap_or_else(|_| "{}".into())),
        sql.bind(draft.sigma_id.clone()),
        sql.bind(draft.sigma_yaml.clone()),
    ]
}

/// Stores a new rule; `None` when its uid or name is taken (`if_absent`: silently).
pub async fn insert_rule(
    db: &impl ConnectionTrait,
    draft: &RuleDraft,
    builtin: bool,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "");
    let uid = sql.bind(draft.uid.clone());
    let values = draft_values(&mut sql, draft);
    let builtin = sql.bind(builtin);
    let by = sql.bind(created_by.to_string());
    let created = sql.bind(now);
    let updated = sql.bind(now);
    sql.text = format!(
        "INSERT INTO rules (uid, name, description, kind, severity, enabled, hunting, owner, sources, tags, definition, \
         sigma_id, sigma_yaml, builtin, created_by, created_at, updated_at) VALUES ({uid}, {}, {builtin}, {by}, {created}, \
         {updated}) ON CONFLICT DO NOTHING RETURNING id AS n",
        values.join(", ")
    );
    Ok(Count::find_by_statement(sql.statement()).one(db).await?.map(|c| c.n))
}

/// Replaces a rule's fields (its uid, creator and creation time stay).
pub async fn update_rule(
    db: &impl ConnectionTrait,
    id: i64,
    draft: &RuleDraft,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "");
    let v = draft_values(&mut sql, draft);
    let at = sql.bind(now);
    let id = sql.bind(id);
    sql.text = format!(
        "UPDATE rules SET name = {}, description = {}, kind = {}, severity = {}, enabled = {}, hunting = {}, owner = {}, \
         sources = {}, tags = {}, definition = {}, sigma_id = {}, sigma_yaml = {}, updated_at = {at} WHERE id = {id}",
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]
    );
    Ok(db.execute(sql.statement()).await?.rows_affected())
}

/// Whether another rule than `except` has this name.
pub async fn name_taken(db: &impl ConnectionTrait, name: &str, except: Option<i64>) -> Result<bool, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT COUNT(*) AS n FROM rules WHERE name = ");
    let p = sql.bind(name.to_string());
    sql.push(&p);
    if let Some(id) = except {
        let p = sql.bind(id);
        sql.push(&format!(" AND id <> {p}"));
    }
    Ok(Count::find_by_statement(sql.statement()).one(db).await?.is_some_and(|c| c.n > 0))
}

/// Deletes a rule with its alerts.
pub async fn delete_rule(db: &impl ConnectionTrait, id: i64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    // SQLite cascades only with foreign keys on; delete the dependants explicitly on both.
    for table in ["alert_events", "alert_comments", "alert_history"] {
        let mut sql =
            Sql::new(backend, format!("DELETE FROM {table} WHERE alert_id IN (SELECT id FROM alerts WHERE rule_id = "));
        let p = sql.bind(id);
        sql.push(&format!("{p})"));
        db.execute(sql.statement()).await?;
    }
    for table in ["rule_suppressions", "rule_observations", "alerts"] {
        let mut sql = Sql::new(backend, format!("DELETE FROM {table} WHERE rule_id = "));
        let p = sql.bind(id);
        sql.push(&p);
        db.execute(sql.statement()).await?;
    }
    let mut sql = Sql::new(backend, "DELETE FROM rules WHERE id = ");
    let p = sql.bind(id);
    sql.push(&p);
    Ok(db.execute(sql.statement()).await?.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// The id of the last evaluated event.
pub async fn cursor(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), "SELECT position AS n FROM detection_cursor WHERE name = ");
    let p = sql.bind(CURSOR);
    sql.push(&p);
    Ok(Count::find_by_statement(sql.statement()).one(db).await?.map(|c| c.n).unwrap_or(0))
}

/// The cursor, locked for the rest of the transaction on PostgreSQL (on SQLite the writer
/// connection is already exclusive).
pub async fn lock_cursor(txn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    let mut sql = Sql::new(backend, "SELECT position AS n FROM detection_cursor WHERE name = ");
    let p = sql.bind(CURSOR);
    sql.push(&p);
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE");
    }
    Ok(Count::find_by_statement(sql.statement()).one(txn).await?.map(|c| c.n).unwrap_or(0))
}

/// Moves the cursor.
pub async fn advance_cursor(txn: &impl ConnectionTrait, position: i64, now: DateTime<Utc>) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let pos = sql.bind(position);
    let at = sql.bind(now);
    let name = sql.bind(CURSOR);
    sql.text = format!("UPDATE detection_cursor SET position = {pos}, updated_at = {at} WHERE name = {name}");
    txn.execute(sql.statement()).await?;
    Ok(())
}

/// PostgreSQL: the largest event id below which no insert is still in progress (see
/// [`INSERT_LOCK`]); `None` on SQLite, where inserts commit in id order.
pub async fn settled_upper_bound(db: &sea_orm::DatabaseConnection) -> Result<Option<i64>, DbErr> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let txn = db.begin().await?;
    txn.execute(Statement::from_string(DbBackend::Postgres, format!("SELECT pg_advisory_xact_lock({INSERT_LOCK})")))
        .await?;
    let n = Count::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        "SELECT CAST(last_value AS BIGINT) AS n FROM events_id_seq",
    ))
    .one(&txn)
    .await?
    .map(|c| c.n);
    txn.commit().await?;
    Ok(n)
}

/// An event as the evaluator reads it.
#[derive(Clone, Debug, FromQueryResult)]
pub struct EventForRules {
    pub id: i64,
    pub tenant_id: String,
    pub source: String,
    pub content_type: Option<String>,
    pub record_id: String,
    pub occurred_at: DateTime<Utc>,
    pub service: String,
    pub operation: String,
    pub result: String,
    pub actor_display: Option<String>,
    pub actor_upn: Option<String>,
    pub actor_app_id: Option<String>,
    pub actor_ip: Option<String>,
    pub target_display: Option<String>,
    pub severity: i16,
    pub flattened: String,
}

const EVENT_COLUMNS: &str = "id, tenant_id, source, content_type, record_id, occurred_at, service, operation, result, \
     actor_display, actor_upn, actor_app_id, actor_ip, target_display, severity, flattened";

/// Events with `after < id <= upto`, in id order, at most `limit`.
pub async fn events_after(
    db: &impl ConnectionTrait,
    after: i64,
    upto: Option<i64>,
    limit: u64,
) -> Result<Vec<EventForRules>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > "));
    let p = sql.bind(after);
    sql.push(&p);
    if let Some(upto) = upto {
        let p = sql.bind(upto);
        sql.push(&format!(" AND id <= {p}"));
    }
    sql.push(&format!(" ORDER BY id LIMIT {limit}"));
    EventForRules::find_by_statement(sql.statement()).all(db).await
}

/// Events that happened in `[from, to)`, after id `after`, in id order, at most `limit` (the
/// backtest's pages).
pub async fn events_between(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    after: i64,
    limit: u64,
) -> Result<Vec<EventForRules>, DbErr> {
    let mut sql =
        Sql::new(db.get_database_backend(), format!("SELECT {EVENT_COLUMNS} FROM events WHERE occurred_at >= "));
    let p = sql.bind(from);
    sql.push(&p);
    let p = sql.bind(to);
    sql.push(&format!(" AND occurred_at < {p}"));
    let p = sql.bind(after);
    sql.push(&format!(" AND id > {p} ORDER BY id LIMIT {limit}"));
    EventForRules::find_by_statement(sql.statement()).all(db).await
}

/// The alert that matches of a rule on an entity group into, when one is open.
#[derive(Clone, Debug, FromQueryResult)]
pub struct OpenAlert {
    pub id: i64,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub entities: String,
}

pub async fn latest_open_alert(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    group_key: &str,
) -> Result<Option<OpenAlert>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let r = sql.bind(rule_id);
    let t = sql.bind(tenant_id.to_string());
    let g = sql.bind(group_key.to_string());
    sql.text = format!(
        "SELECT id, count, first_seen, last_seen, entities FROM alerts WHERE rule_id = {r} AND tenant_id = {t} \
         AND group_key = {g} AND status IN ('new', 'acknowledged', 'in_progress') ORDER BY last_seen DESC, id DESC LIMIT 1"
    );
    OpenAlert::find_by_statement(sql.statement()).one(txn).await
}

/// A new alert.
pub struct NewAlert<'a> {
    pub rule_id: i64,
    pub tenant_id: &'a str,
    pub group_key: &'a str,
    pub title: &'a str,
    pub severity: i16,
    pub hunting: bool,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub entities: &'a str,
    pub matched: &'a str,
    /// The window a stateful rule's alert stands for (`None` for match rules).
    pub window_start: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub async fn insert_alert(txn: &impl ConnectionTrait, a: NewAlert<'_>) -> Result<i64, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let v = [
        sql.bind(a.rule_id),
        sql.bind(a.tenant_id.to_string()),
        sql.bind(a.group_key.to_string()),
        sql.bind(a.title.to_string()),
        sql.bind(a.severity),
        sql.bind(a.hunting),
        sql.bind(a.count),
        sql.bind(a.first_seen),
        sql.bind(a.last_seen),
        sql.bind(a.entities.to_string()),
        sql.bind(a.matched.to_string()),
        sql.bind(a.now),
        sql.bind(a.now),
        sql.bind(a.window_start),
    ];
    sql.text = format!(
        "INSERT INTO alerts (rule_id, tenant_id, group_key, title, severity, hunting, count, first_seen, last_seen, \
         entities, matched, created_at, updated_at, window_start) VALUES ({}) RETURNING id AS n",
        v.join(", ")
    );
    Ok(Count::find_by_statement(sql.statement()).one(txn).await?.map(|c| c.n).unwrap_or_default())
}

/// Grows an alert with more matches.
pub async fn grow_alert(
    txn: &impl ConnectionTrait,
    id: i64,
    count: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    entities: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    update_alert(txn, id, None, count, first_seen, last_seen, entities, now).await
}

/// Sets an alert's counts, times and entities (and its window, when given).
#[allow(clippy::too_many_arguments)]
async fn update_alert(
    txn: &impl ConnectionTrait,
    id: i64,
    window_start: Option<DateTime<Utc>>,
    count: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    entities: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "UPDATE alerts SET ");
    if let Some(start) = window_start {
        let p = sql.bind(start);
        sql.push(&format!("window_start = {p}, "));
    }
    let v = [
        sql.bind(count),
        sql.bind(first_seen),
        sql.bind(last_seen),
        sql.bind(entities.to_string()),
        sql.bind(now),
        sql.bind(id),
    ];
    sql.push(&format!(
        "count = {}, first_seen = {}, last_seen = {}, entities = {}, updated_at = {} WHERE id = {}",
        v[0], v[1], v[2], v[3], v[4], v[5]
    ));
    txn.execute(sql.statement()).await?;
    Ok(())
}

/// Links events to an alert (a link already there is kept).
pub async fn link_events(
    txn: &impl ConnectionTrait,
    alert_id: i64,
    events: &[(i64, DateTime<Utc>)],
) -> Result<(), DbErr> {
    for chunk in events.chunks(200) {
        let mut sql =
            Sql::new(txn.get_database_backend(), "INSERT INTO alert_events (alert_id, event_id, occurred_at) VALUES ");
        let mut rows = Vec::with_capacity(chunk.len());
        for (event_id, at) in chunk {
            let a = sql.bind(alert_id);
            let e = sql.bind(*event_id);
            let t = sql.bind(*at);
            rows.push(format!("({a}, {e}, {t})"));
        }
        sql.push(&rows.join(", "));
        sql.push(" ON CONFLICT DO NOTHING");
        txn.execute(sql.statement()).await?;
    }
    Ok(())
}

/// Records a change of an alert.
pub async fn insert_history(
    txn: &impl ConnectionTrait,
    alert_id: i64,
    actor: &str,
    action: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let v = [
        sql.bind(alert_id),
        sql.bind(actor.to_string()),
        sql.bind(action.to_string()),
        sql.bind(details.to_string()),
        sql.bind(now),
    ];
    sql.text =
        format!("INSERT INTO alert_history (alert_id, actor, action, details, occurred_at) VALUES ({})", v.join(", "));
    txn.execute(sql.statement()).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Alerts for people

/// An alert with its rule.
#[derive(Clone, Debug, FromQueryResult)]
pub struct AlertRow {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub rule_uid: String,
    pub sigma_id: Option<String>,
    pub tenant_id: String,
    pub group_key: String,
    pub title: String,
    pub severity: i16,
    pub status: String,
    pub assignee: Option<String>,
    pub hunting: bool,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub entities: String,
    pub matched: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ALERT_SELECT: &str = "SELECT a.id, a.rule_id, r.name AS rule_name, r.uid AS rule_uid, r.sigma_id, a.tenant_id, \
     a.group_key, a.title, a.severity, a.status, a.assignee, a.hunting, a.count, a.first_seen, a.last_seen, a.entities, \
     a.matched, a.created_at, a.updated_at FROM alerts a JOIN rules r ON r.id = a.rule_id";

/// Which alerts to list.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    pub statuses: Vec<String>,
    pub severities: Vec<i16>,
    pub rule_id: Option<i64>,
    /// `Some("")`: unassigned.
    pub assignee: Option<String>,
    /// Substring of the entity key or the entity lists.
    pub entity: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `None`: both; default listings pass `Some(false)`.
    pub hunting: Option<bool>,
    /// Keyset: only alerts with a smaller id.
    pub before_id: Option<i64>,
    pub limit: u64,
}

fn alert_filters(sql: &mut Sql, q: &AlertQuery, with_status: bool) {
    let backend = sql.backend;
    let mut clauses = Vec::new();
    if with_status && !q.statuses.is_empty() {
        let ps: Vec<String> = q.statuses.iter().map(|s| sql.bind(s.clone())).collect();
        clauses.push(format!("a.status IN ({})", ps.join(", ")));
    }
    if !q.severities.is_empty() {
        let ps: Vec<String> = q.severities.iter().map(|s| sql.bind(*s)).collect();
        clauses.push(format!("a.severity IN ({})", ps.join(", ")));
    }
    if let Some(rule) = q.rule_id {
        let p = sql.bind(rule);
        clauses.push(format!("a.rule_id = {p}"));
    }
    match q.assignee.as_deref() {
        Some("") => clauses.push("a.assignee IS NULL".into()),
        Some(who) => {
            let p = sql.bind(who.to_string());
            clauses.push(format!("a.assignee = {p}"));
        }
        None => {}
    }
    if let Some(entity) = &q.entity {
        let pattern = format!("%{}%", super::sql::like_escape(entity));
        let like = super::sql::ilike(backend);
        let p1 = sql.bind(pattern.clone());
        let p2 = sql.bind(pattern);
        clauses.push(format!("(a.group_key {like} {p1} ESCAPE '\\' OR a.entities {like} {p2} ESCAPE '\\')"));
    }
    if let Some(since) = q.since {
        let p = sql.bind(since);
        clauses.push(format!("a.last_seen >= {p}"));
    }
    if let Some(until) = q.until {
        let p = sql.bind(until);
        clauses.push(format!("a.first_seen < {p}"));
    }
    if let Some(hunting) = q.hunting {
        let p = sql.bind(hunting);
        clauses.push(format!("a.hunting = {p}"));
    }
    if let Some(before) = q.before_id {
        let p = sql.bind(before);
        clauses.push(format!("a.id < {p}"));
    }
    if !clauses.is_empty() {
        sql.push(" WHERE ");
        sql.push(&clauses.join(" AND "));
    }
}

/// Alerts matching `q`, newest first.
pub async fn list_alerts(db: &impl ConnectionTrait, q: &AlertQuery) -> Result<Vec<AlertRow>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), ALERT_SELECT);
    alert_filters(&mut sql, q, true);
    sql.push(&format!(" ORDER BY a.id DESC LIMIT {}", q.limit));
    AlertRow::find_by_statement(sql.statement()).all(db).await
}

/// How many alerts of each status match `q` (its status filter and page ignored).
pub async fn status_counts(db: &impl ConnectionTrait, q: &AlertQuery) -> Result<Vec<(String, i64)>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        status: String,
        n: i64,
    }
    let q = AlertQuery { before_id: None, ..q.clone() };
    let mut sql = Sql::new(db.get_database_backend(), "SELECT a.status, COUNT(*) AS n FROM alerts a");
    alert_filters(&mut sql, &q, false);
    sql.push(" GROUP BY a.status");
    Ok(Row::find_by_statement(sql.statement()).all(db).await?.into_iter().map(|r| (r.status, r.n)).collect())
}

/// One alert.
pub async fn get_alert(db: &impl ConnectionTrait, id: i64) -> Result<Option<AlertRow>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), ALERT_SELECT);
    let p = sql.bind(id);
    sql.push(&format!(" WHERE a.id = {p}"));
    AlertRow::find_by_statement(sql.statement()).one(db).await
}

/// The events of alerts: (alert id, event id, record id), oldest first, at most `per_alert` each.
pub async fn alert_event_ids(
    db: &impl ConnectionTrait,
    alert_ids: &[i64],
    per_alert: usize,
) -> Result<Vec<(i64, i64, String)>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        alert_id: i64,
        event_id: i64,
        record_id: Option<String>,
    }
    if alert_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend(), "");
    let ps: Vec<String> = alert_ids.iter().map(|id| sql.bind(*id)).collect();
    sql.text = format!(
        "SELECT ae.alert_id, ae.event_id, e.record_id FROM alert_events ae LEFT JOIN events e \
         ON e.id = ae.event_id AND e.occurred_at = ae.occurred_at WHERE ae.alert_id IN ({}) \
         ORDER BY ae.alert_id, ae.occurred_at, ae.event_id",
        ps.join(", ")
    );
    let rows = Row::find_by_statement(sql.statement()).all(db).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut per: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for r in rows {
        let n = per.entry(r.alert_id).or_default();
        if *n < per_alert {
            *n += 1;
            out.push((r.alert_id, r.event_id, r.record_id.unwrap_or_default()));
        }
    }
    Ok(out)
}

/// The alerts an event is part of, newest first, at most `limit`.
pub async fn event_alerts(db: &impl ConnectionTrait, event_id: i64, limit: u64) -> Result<Vec<AlertRow>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend(), ALERT_SELECT);
    let p = sql.bind(event_id);
    sql.push(&format!(
        " WHERE a.id IN (SELECT alert_id FROM alert_events WHERE event_id = {p}) ORDER BY a.last_seen DESC, a.id DESC \
         LIMIT {limit}"
    ));
    AlertRow::find_by_statement(sql.statement()).all(db).await
}

/// Sets an alert's status and assignee.
pub async fn set_triage(
    txn: &impl ConnectionTrait,
    id: i64,
    status: &str,
    assignee: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let s = sql.bind(status.to_string());
    let a = sql.bind(assignee.map(str::to_string));
    let t = sql.bind(now);
    let i = sql.bind(id);
    sql.text = format!("UPDATE alerts SET status = {s}, assignee = {a}, updated_at = {t} WHERE id = {i}");
    txn.execute(sql.statement()).await?;
    Ok(())
}

/// A comment or history entry of an alert.
#[derive(Clone, Debug, FromQueryResult)]
pub struct AlertNote {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub body: String,
    pub occurred_at: DateTime<Utc>,
}

pub async fn alert_comments(db: &impl ConnectionTrait, alert_id: i64) -> Result<Vec<AlertNote>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "SELECT id, author AS actor, 'comment' AS action, body, created_at AS occurred_at FROM alert_comments WHERE alert_id = ",
    );
    let p = sql.bind(alert_id);
    sql.push(&format!("{p} ORDER BY id"));
    AlertNote::find_by_statement(sql.statement()).all(db).await
}

pub async fn alert_history(db: &impl ConnectionTrait, alert_id: i64) -> Result<Vec<AlertNote>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "SELECT id, actor, action, details AS body, occurred_at FROM alert_history WHERE alert_id = ",
    );
    let p = sql.bind(alert_id);
    sql.push(&format!("{p} ORDER BY id"));
    AlertNote::find_by_statement(sql.statement()).all(db).await
}

pub async fn insert_comment(
    txn: &impl ConnectionTrait,
    alert_id: i64,
    author: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let v = [sql.bind(alert_id), sql.bind(author.to_string()), sql.bind(body.to_string()), sql.bind(now)];
    sql.text = format!(
        "INSERT INTO alert_comments (alert_id, author, body, created_at) VALUES ({}) RETURNING id AS n",
        v.join(", ")
    );
    Ok(Count::find_by_statement(sql.statement()).one(txn).await?.map(|c| c.n).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// State of the stateful rules

/// An observation to store (see `rules::stateful`).
#[derive(Clone, Debug)]
pub struct Observation {
    pub rule_id: i64,
    pub tenant_id: String,
    pub entity: String,
    pub step: i16,
    pub value: String,
    pub occurred_at: DateTime<Utc>,
    pub event_id: i64,
}

/// Stores observations; one already stored (same rule, event and step) is left alone.
pub async fn insert_observations(txn: &impl ConnectionTrait, rows: &[Observation]) -> Result<(), DbErr> {
    for chunk in rows.chunks(500) {
        let mut sql = Sql::new(
            txn.get_database_backend(),
            "INSERT INTO rule_observations (rule_id, tenant_id, entity, step, value, occurred_at, event_id) VALUES ",
        );
        let mut values = Vec::with_capacity(chunk.len());
        for o in chunk {
            let v = [
                sql.bind(o.rule_id),
                sql.bind(o.tenant_id.clone()),
                sql.bind(o.entity.clone()),
                sql.bind(o.step),
                sql.bind(o.value.clone()),
                sql.bind(o.occurred_at),
                sql.bind(o.event_id),
            ];
            values.push(format!("({})", v.join(", ")));
        }
        sql.push(&values.join(", "));
        sql.push(" ON CONFLICT DO NOTHING");
        txn.execute(sql.statement()).await?;
    }
    Ok(())
}

#[derive(FromQueryResult)]
struct ObsRow {
    occurred_at: DateTime<Utc>,
    event_id: i64,
    step: i16,
    value: String,
}

impl ObsRow {
    fn into_obs(self) -> crate::rules::stateful::Obs {
        crate::rules::stateful::Obs {
            occurred_at: self.occurred_at,
            event_id: self.event_id,
            step: self.step,
            value: self.value,
        }
    }
}

/// Most observations read for one decision (a window of one entity).
pub const MAX_OBSERVATIONS: u64 = 50_000;

/// The observations of a rule's entity in `[from, to)`.
pub async fn observations(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    entity: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<crate::rules::stateful::Obs>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let r = sql.bind(rule_id);
    let t = sql.bind(tenant_id.to_string());
    let e = sql.bind(entity.to_string());
    let f = sql.bind(from);
    let u = sql.bind(to);
    sql.text = format!(
        "SELECT occurred_at, event_id, step, value FROM rule_observations WHERE rule_id = {r} AND tenant_id = {t} \
         AND entity = {e} AND occurred_at >= {f} AND occurred_at < {u} ORDER BY occurred_at, event_id \
         LIMIT {MAX_OBSERVATIONS}"
    );
    Ok(ObsRow::find_by_statement(sql.statement()).all(txn).await?.into_iter().map(ObsRow::into_obs).collect())
}

/// The observations of one value of a rule's entity in `[from, to]`, in (time, event, step) order.
#[allow(clippy::too_many_arguments)]
pub async fn value_observations(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    entity: &str,
    value: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<crate::rules::stateful::Obs>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let r = sql.bind(rule_id);
    let t = sql.bind(tenant_id.to_string());
    let e = sql.bind(entity.to_string());
    let v = sql.bind(value.to_string());
    let f = sql.bind(from);
    let u = sql.bind(to);
    sql.text = format!(
        "SELECT occurred_at, event_id, step, value FROM rule_observations WHERE rule_id = {r} AND tenant_id = {t} \
         AND entity = {e} AND value = {v} AND occurred_at >= {f} AND occurred_at <= {u} \
         ORDER BY occurred_at, event_id, step LIMIT {MAX_OBSERVATIONS}"
    );
    Ok(ObsRow::find_by_statement(sql.statement()).all(txn).await?.into_iter().map(ObsRow::into_obs).collect())
}

#[derive(FromQueryResult)]
struct TimeRow {
    occurred_at: DateTime<Utc>,
}

/// The time of the newest observation of one value of a rule's entity before `before`.
pub async fn latest_value_before(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    entity: &str,
    value: &str,
    before: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let r = sql.bind(rule_id);
    let t = sql.bind(tenant_id.to_string());
    let e = sql.bind(entity.to_string());
    let v = sql.bind(value.to_string());
    let b = sql.bind(before);
    sql.text = format!(
        "SELECT occurred_at FROM rule_observations WHERE rule_id = {r} AND tenant_id = {t} AND entity = {e} \
         AND value = {v} AND occurred_at < {b} ORDER BY occurred_at DESC LIMIT 1"
    );
    Ok(TimeRow::find_by_statement(sql.statement()).one(txn).await?.map(|row| row.occurred_at))
}

/// The earliest observations of a rule's entity in `[from, to]` with a non-empty value other
/// than `value`: every one at the earliest such time.
#[allow(clippy::too_many_arguments)]
pub async fn earliest_other_values(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    entity: &str,
    value: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<crate::rules::stateful::Obs>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    // Bound twice: SQLite's placeholders are positional.
    let filter = |sql: &mut Sql| {
        let r = sql.bind(rule_id);
        let t = sql.bind(tenant_id.to_string());
        let e = sql.bind(entity.to_string());
        let v = sql.bind(value.to_string());
        let f = sql.bind(from);
        let u = sql.bind(to);
        format!(
            "rule_id = {r} AND tenant_id = {t} AND entity = {e} AND value <> {v} AND value <> '' \
             AND occurred_at >= {f} AND occurred_at <= {u}"
        )
    };
    let outer = filter(&mut sql);
    let inner = filter(&mut sql);
    sql.text = format!(
        "SELECT occurred_at, event_id, step, value FROM rule_observations WHERE {outer} AND occurred_at = \
         (SELECT MIN(occurred_at) FROM rule_observations WHERE {inner}) LIMIT {MAX_OBSERVATIONS}"
    );
    Ok(ObsRow::find_by_statement(sql.statement()).all(txn).await?.into_iter().map(ObsRow::into_obs).collect())
}

/// Forgets a rule's observations (its definition changed).
pub async fn clear_observations(txn: &impl ConnectionTrait, rule_id: i64) -> Result<(), DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "DELETE FROM rule_observations WHERE rule_id = ");
    let p = sql.bind(rule_id);
    sql.push(&p);
    txn.execute(sql.statement()).await.map(|_| ())
}

/// A stateful rule's alert, found by its window.
#[derive(Clone, Debug, FromQueryResult)]
pub struct WindowAlert {
    pub id: i64,
    pub count: i64,
    pub window_start: Option<DateTime<Utc>>,
}

/// The alert of a rule's group whose window starts in `[from, to]` (the earliest).
pub async fn alert_for_window(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    tenant_id: &str,
    group_key: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<WindowAlert>, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let r = sql.bind(rule_id);
    let t = sql.bind(tenant_id.to_string());
    let g = sql.bind(group_key.to_string());
    let f = sql.bind(from);
    let u = sql.bind(to);
    sql.text = format!(
        "SELECT id, count, window_start FROM alerts WHERE rule_id = {r} AND tenant_id = {t} AND group_key = {g} \
         AND window_start >= {f} AND window_start <= {u} ORDER BY window_start, id LIMIT 1"
    );
    WindowAlert::find_by_statement(sql.statement()).one(txn).await
}

/// Sets what a stateful rule's alert stands for (recomputed from its observations).
#[allow(clippy::too_many_arguments)]
pub async fn reshape_alert(
    txn: &impl ConnectionTrait,
    id: i64,
    window_start: DateTime<Utc>,
    count: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    entities: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    update_alert(txn, id, Some(window_start), count, first_seen, last_seen, entities, now).await
}

/// Events by id (at most the ids given; missing ones are skipped).
pub async fn events_by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<EventForRules>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend(), format!("SELECT {EVENT_COLUMNS} FROM events WHERE id IN ("));
    let params: Vec<String> = ids.iter().map(|id| sql.bind(*id)).collect();
    sql.push(&params.join(", "));
    sql.push(") ORDER BY id");
    EventForRules::find_by_statement(sql.statement()).all(db).await
}

/// The largest stored event id.
pub async fn max_event_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(Count::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS n FROM events",
    ))
    .one(db)
    .await?
    .map(|c| c.n)
    .unwrap_or(0))
}

/// The flattened fields of the newest `limit` events (the rule editor suggests their names).
pub async fn recent_flattened(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<String>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        flattened: String,
    }
    let mut sql = Sql::new(db.get_database_backend(), "SELECT flattened FROM events ORDER BY id DESC LIMIT ");
    let p = sql.bind(limit as i64);
    sql.push(&p);
    Ok(Row::find_by_statement(sql.statement()).all(db).await?.into_iter().map(|r| r.flattened).collect())
}

// ---------------------------------------------------------------------------------------------
// Suppressions

/// A rule kept quiet for an entity (or every entity) over a span of event time.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Suppression {
    pub id: i64,
    pub rule_id: i64,
    pub entity: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Suppression {
    /// Whether it covers a match of its rule on `entity` at `at`.
    pub fn covers(&self, rule_id: i64, entity: &str, at: DateTime<Utc>) -> bool {
        self.rule_id == rule_id
            && self.entity.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(entity))
            && self.starts_at <= at
            && at < self.ends_at
    }
}

const SUPPRESSION_COLUMNS: &str = "id, rule_id, entity, starts_at, ends_at, reason, created_by, created_at";

/// Stores a suppression; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn insert_suppression(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    entity: Option<&str>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "");
    let v = [
        sql.bind(rule_id),
        sql.bind(entity.map(str::to_string)),
        sql.bind(starts_at),
        sql.bind(ends_at),
        sql.bind(reason.to_string()),
        sql.bind(created_by.to_string()),
        sql.bind(now),
    ];
    sql.text = format!(
        "INSERT INTO rule_suppressions (rule_id, entity, starts_at, ends_at, reason, created_by, created_at) \
         VALUES ({}) RETURNING id AS n",
        v.join(", ")
    );
    Ok(Count::find_by_statement(sql.statement()).one(txn).await?.map(|c| c.n).unwrap_or_default())
}

/// One suppression.
pub async fn get_suppression(db: &impl ConnectionTrait, id: i64) -> Result<Option<Suppression>, DbErr> {
    let mut sql =
        Sql::new(db.get_database_backend(), format!("SELECT {SUPPRESSION_COLUMNS} FROM rule_suppressions WHERE id = "));
    let p = sql.bind(id);
    sql.push(&p);
    Suppression::find_by_statement(sql.statement()).one(db).await
}

/// Deletes a suppression.
pub async fn delete_suppression(txn: &impl ConnectionTrait, id: i64) -> Result<u64, DbErr> {
    let mut sql = Sql::new(txn.get_database_backend(), "DELETE FROM rule_suppressions WHERE id = ");
    let p = sql.bind(id);
    sql.push(&p);
    Ok(txn.execute(sql.statement()).await?.rows_affected())
}

/// The suppressions of a rule (or of every rule), newest first, that end after `after`.
pub async fn suppressions(
    db: &impl ConnectionTrait,
    rule_id: Option<i64>,
    after: DateTime<Utc>,
) -> Result<Vec<Suppression>, DbErr> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        format!("SELECT {SUPPRESSION_COLUMNS} FROM rule_suppressions WHERE ends_at > "),
    );
    let p = sql.bind(after);
    sql.push(&p);
    if let Some(rule_id) = rule_id {
        let p = sql.bind(rule_id);
        sql.push(&format!(" AND rule_id = {p}"));
    }
    sql.push(" ORDER BY id DESC LIMIT 1000");
    Suppression::find_by_statement(sql.statement()).all(db).await
}
