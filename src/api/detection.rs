//! The detection REST API: rules (`GET/POST /api/rules`, `GET/PUT/DELETE /api/rules/{id}`, the
//! Python AOC's endpoints) and alerts (`GET /api/alerts` with filters and cursor paging,
//! `GET/PATCH /api/alerts/{id}`, comments, bulk triage). Readers see, analysts triage, admins
//! edit rules.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use app::auth::Permission;
use app::error::AppError;

use super::ApiError;
use crate::auth::Authenticated;
use crate::services::detection::{DetectionService, RuleInput, Triage};
use crate::startup::AppState;
use crate::store::detection::{AlertNote, AlertQuery, AlertRow, RuleRow};

impl FromRef<AppState> for DetectionService {
    fn from_ref(state: &AppState) -> Self {
        DetectionService::new(state.db.clone())
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn query_error(e: QueryRejection) -> ApiError {
    AppError::invalid_input("query", e.body_text()).into()
}

fn json_error(e: JsonRejection) -> ApiError {
    AppError::invalid_input("body", e.body_text()).into()
}

fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::invalid_input(what, "expected a positive integer id").into())
}

/// A rule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiRule {
    pub id: i64,
    /// Stable id (`builtin.<name>` for the built-in pack, the Sigma id for Sigma rules).
    pub uid: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub severity: String,
    pub enabled: bool,
    pub hunting: bool,
    pub builtin: bool,
    pub owner: String,
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub condition: Value,
    pub group_by: String,
    pub window_minutes: i64,
    /// Threshold rules: `{"count", "distinct"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub threshold: Option<Value>,
    /// First-seen rules: `{"field", "lookback_days"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub first_seen: Option<Value>,
    /// Sequence rules: the second step's condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub then: Option<Value>,
    /// Sequence rules: whether the steps may come in either order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any_order: Option<bool>,
    pub sigma_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Events matched, over all of the rule's alerts.
    pub hits: i64,
    pub alerts: i64,
    pub last_hit: Option<String>,
}

impl From<RuleRow> for ApiRule {
    fn from(r: RuleRow) -> Self {
        let definition: Value = serde_json::from_str(&r.definition).unwrap_or(Value::Null);
        ApiRule {
            id: r.id,
            uid: r.uid,
            name: r.name,
            description: r.description,
            kind: r.kind,
            severity: app::dto::Severity::from_level(r.severity).as_str().into(),
            enabled: r.enabled,
            hunting: r.hunting,
            builtin: r.builtin,
            owner: r.owner,
            sources: serde_json::from_str(&r.sources).unwrap_or_default(),
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            condition: definition.get("condition").cloned().unwrap_or(Value::Null),
            group_by: definition.get("group_by").and_then(Value::as_str).unwrap_or("actor").into(),
            window_minutes: definition.get("window_minutes").and_then(Value::as_i64).unwrap_or(60),
            threshold: definition.get("threshold").cloned(),
            first_seen: definition.get("first_seen").cloned(),
            any_order: definition.get("then").map(|_| definition["any_order"].as_bool().unwrap_or(false)),
            then: definition.get("then").cloned(),
            sigma_id: r.sigma_id,
            created_by: r.created_by,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
            hits: r.hits,
            alerts: r.alerts,
            last_hit: r.last_hit.map(time),
        }
    }
}

/// `GET /api/rules`: every rule with its hit counts.
pub async fn list_rules(
    State(service): State<DetectionService>,
    caller: Authenticated,
) -> Result<Json<Vec<ApiRule>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    Ok(Json(service.list_rules().await?.into_iter().map(ApiRule::from).collect()))
}

/// `GET /api/rules/{id}`.
pub async fn get_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApiRule>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let id = parse_id(&id, "id")?;
    Ok(Json(service.rule(id).await?.into()))
}

/// `POST /api/rules`: answers 201 with the rule.
pub async fn create_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    body: Result<Json<RuleInput>, JsonRejection>,
) -> Result<(StatusCode, Json<ApiRule>), ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    let Json(input) = body.map_err(json_error)?;
    Ok((StatusCode::CREATED, Json(service.create_rule(&caller, input).await?.into())))
}

/// `PUT /api/rules/{id}`: changes the fields the body names (`{"enabled": false}` disables).
pub async fn update_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<RuleInput>, JsonRejection>,
) -> Result<Json<ApiRule>, ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    let id = parse_id(&id, "id")?;
    let Json(input) = body.map_err(json_error)?;
    Ok(Json(service.update_rule(&caller, id, input).await?.into()))
}

/// `DELETE /api/rules/{id}`: deletes the rule and its alerts; answers 204.
pub async fn delete_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller.require(Permission::ManageRules)?;
    let id = parse_id(&id, "id")?;
    service.delete_rule(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/rules/{id}/sigma`: the rule as Sigma YAML (a Sigma rule's own text).
pub async fn export_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller.require(Permission::ViewEvents)?;
    let id = parse_id(&id, "id")?;
    let row = service.rule(id).await?;
    let draft = crate::services::detection::draft_from(&row);
    if draft.kind != "match" {
        return Err(AppError::invalid_input(
            "id",
            format!("a {} rule has no Sigma form here; GET /api/rules/{id} gives its definition", draft.kind),
        )
        .into());
    }
    let author = if row.owner.is_empty() { row.created_by.clone() } else { row.owner.clone() };
    let yaml = crate::rules::sigma::export(&draft, &author).ok_or_else(|| {
        AppError::invalid_input("id", "the rule uses the `external` operator, which Sigma cannot express")
    })?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/yaml; charset=utf-8")], yaml).into_response())
}

/// A backtest request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestBody {
    /// A stored rule.
    pub rule_id: Option<i64>,
    /// A rule being written (the body of `POST /api/rules`, Sigma included), or changes to `rule_id`.
    pub rule: Option<RuleInput>,
    /// Start of the range (RFC 3339); or `last`.
    pub since: Option<String>,
    /// End of the range (RFC 3339, exclusive; default now).
    pub until: Option<String>,
    /// `30m`, `24h`, `7d` before `until` (default `7d`).
    pub last: Option<String>,
}

/// `POST /api/rules/backtest`: how many alerts a rule would raise over stored events, and on
/// which events, without saving it.
pub async fn backtest_rule(
    State(service): State<DetectionService>,
    caller: Authenticated,
    body: Result<Json<BacktestBody>, JsonRejection>,
) -> Result<Json<crate::services::detection::BacktestResult>, ApiError> {
    caller.require(Permission::ManageRules)?;
    let Json(body) = body.map_err(json_error)?;
    let until = body.until.as_deref().map(|t| parse_time(t, "until")).transpose()?.unwrap_or_else(Utc::now);
    let since = match (body.since.as_deref(), body.last.as_deref()) {
        (Some(t), _) => parse_time(t, "since")?,
        (None, last) => {
            until
                - crate::rules::parse_span(last.unwrap_or("7d"))
                    .ok_or_else(|| ApiError::from(AppError::invalid_input("last", "a span such as 30m, 24h or 7d")))?
        }
    };
    if since >= until {
        return Err(AppError::invalid_input("since", "must be before `until`").into());
    }
    Ok(Json(service.backtest(body.rule_id, body.rule, since, until).await?))
}

/// The rule of an alert.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiAlertRule {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub sigma_id: Option<String>,
}

/// Who and what an alert is about.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiEntities {
    /// The value the alert is grouped by (the rule's `group_by`).
    pub key: String,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub apps: Vec<String>,
    pub targets: Vec<String>,
}

/// An alert.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiAlert {
    pub id: i64,
    pub rule: ApiAlertRule,
    pub title: String,
    pub tenant: String,
    pub severity: String,
    /// new, acknowledged, in_progress, resolved, false_positive, benign
    pub status: String,
    pub assignee: Option<String>,
    pub hunting: bool,
    /// Matched events.
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub entities: ApiEntities,
    /// The `id`s `GET /api/events` gives these events (source record ids).
    pub event_ids: Vec<String>,
    /// AOC's ids of these events (`aoc_id`).
    pub aoc_event_ids: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

fn api_alert(a: AlertRow, events: &[(i64, String)]) -> ApiAlert {
    let entities: crate::services::detection::Entities = serde_json::from_str(&a.entities).unwrap_or_default();
    ApiAlert {
        id: a.id,
        rule: ApiAlertRule { id: a.rule_id, uid: a.rule_uid, name: a.rule_name, sigma_id: a.sigma_id },
        title: a.title,
        tenant: a.tenant_id,
        severity: app::dto::Severity::from_level(a.severity).as_str().into(),
        status: a.status,
        assignee: a.assignee,
        hunting: a.hunting,
        count: a.count,
        first_seen: time(a.first_seen),
        last_seen: time(a.last_seen),
        entities: ApiEntities {
            key: a.group_key,
            users: entities.users,
            ips: entities.ips,
            apps: entities.apps,
            targets: entities.targets,
        },
        event_ids: events.iter().map(|(_, r)| r.clone()).collect(),
        aoc_event_ids: events.iter().map(|(e, _)| *e).collect(),
        created_at: time(a.created_at),
        updated_at: time(a.updated_at),
    }
}

/// Alert filters and paging.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Comma-separated severities.
    pub severity: Option<String>,
    /// Rule id.
    pub rule: Option<String>,
    /// Assignee; `none` for unassigned alerts.
    pub assignee: Option<String>,
    /// Part of a user, IP, app or target of the alert.
    pub entity: Option<String>,
    /// Alerts seen at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Alerts that began before this time (RFC 3339).
    pub until: Option<String>,
    /// `true`: hunting alerts only; `all`: both; default: triage alerts only.
    pub hunting: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub page_size: Option<String>,
}

fn parse_time(text: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AppError::invalid_input(name, "expected an RFC 3339 time such as 2026-11-16T10:00:00Z").into())
}

impl AlertParams {
    pub(crate) fn query(&self) -> Result<AlertQuery, ApiError> {
        let list = |text: &Option<String>| -> Vec<String> {
            text.as_deref()
                .map(|t| t.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default()
        };
        let statuses = list(&self.status);
        if let Some(bad) = statuses.iter().find(|s| !crate::rules::STATUSES.contains(&s.as_str())) {
            return Err(AppError::invalid_input(
                "status",
                format!("`{bad}`: one of {}", crate::rules::STATUSES.join(", ")),
            )
            .into());
        }
        let severities = list(&self.severity)
            .iter()
            .map(|s| {
                crate::rules::parse_severity(s).ok_or_else(|| {
                    ApiError::from(AppError::invalid_input(
                        "severity",
                        format!("`{s}`: info, low, medium, high or critical"),
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let limit = match self.page_size.as_deref() {
            None => 50,
            Some(t) => t
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| ApiError::from(AppError::invalid_input("page_size", "1–500")))?,
        };
        let hunting = match self.hunting.as_deref().map(str::trim) {
            None | Some("") | Some("false") => Some(false),
            Some("true") => Some(true),
            Some("all") => None,
            Some(_) => return Err(AppError::invalid_input("hunting", "true, false or all").into()),
        };
        Ok(AlertQuery {
            statuses,
            severities,
            rule_id: self.rule.as_deref().map(|r| parse_id(r, "rule")).transpose()?,
            assignee: self.assignee.as_deref().map(|a| {
                if a.trim() == "none" {
                    String::new()
                } else {
                    a.trim().to_string()
                }
            }),
            entity: self
                .entity
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| e.chars().take(200).collect()),
            since: self.since.as_deref().map(|t| parse_time(t, "since")).transpose()?,
            until: self.until.as_deref().map(|t| parse_time(t, "until")).transpose()?,
            hunting,
            before_id: self.cursor.as_deref().filter(|c| !c.is_empty()).map(|c| parse_id(c, "cursor")).transpose()?,
            limit,
        })
    }
}

/// A page of alerts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiAlertPage {
    pub items: Vec<ApiAlert>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
    /// Alerts per status under the same filters (all pages).
    pub counts: BTreeMap<String, i64>,
}

/// `GET /api/alerts`: alerts, newest first.
pub async fn list_alerts(
    State(service): State<DetectionService>,
    caller: Authenticated,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<ApiAlertPage>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let Query(params) = params.map_err(query_error)?;
    let query = params.query()?;
    let (rows, events, counts) = service.list_alerts(&query, 100).await?;
    let next_cursor = (rows.len() as u64 == query.limit).then(|| rows.last().map(|r| r.id.to_string())).flatten();
    let items = rows
        .into_iter()
        .map(|a| {
            let e = events.get(&a.id).cloned().unwrap_or_default();
            api_alert(a, &e)
        })
        .collect();
    let mut all: BTreeMap<String, i64> = crate::rules::STATUSES.iter().map(|s| (s.to_string(), 0)).collect();
    all.extend(counts);
    Ok(Json(ApiAlertPage { items, next_cursor, counts: all }))
}

/// A comment or history entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiNote {
    pub id: i64,
    pub author: String,
    pub action: String,
    pub body: String,
    pub created_at: String,
}

impl From<AlertNote> for ApiNote {
    fn from(n: AlertNote) -> Self {
        ApiNote { id: n.id, author: n.actor, action: n.action, body: n.body, created_at: time(n.occurred_at) }
    }
}

/// An alert with why it fired, its comments and history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiAlertDetail {
    #[serde(flatten)]
    pub alert: ApiAlert,
    /// The rule's conditions that held on the first event, with the value that satisfied each.
    #[schema(value_type = Vec<Object>)]
    pub matched: Value,
    pub rule_description: String,
    pub rule_tags: Vec<String>,
    /// The rule's owner (a Sigma rule's author).
    pub rule_owner: String,
    pub comments: Vec<ApiNote>,
    pub history: Vec<ApiNote>,
}

/// `GET /api/alerts/{id}`.
pub async fn get_alert(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApiAlertDetail>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let id = parse_id(&id, "id")?;
    let detail = service.alert(id).await?;
    let matched = serde_json::from_str(&detail.alert.matched).unwrap_or(Value::Array(vec![]));
    let (rule_description, rule_tags, rule_owner) = detail
        .rule
        .map(|r| (r.description, serde_json::from_str(&r.tags).unwrap_or_default(), r.owner))
        .unwrap_or_default();
    Ok(Json(ApiAlertDetail {
        alert: api_alert(detail.alert, &detail.events),
        matched,
        rule_description,
        rule_tags,
        rule_owner,
        comments: detail.comments.into_iter().map(ApiNote::from).collect(),
        history: detail.history.into_iter().map(ApiNote::from).collect(),
    }))
}

/// `null` and absent told apart.
fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A triage change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageBody {
    pub status: Option<String>,
    /// A name, or null to unassign.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    /// A comment added with the change.
    pub comment: Option<String>,
}

impl TriageBody {
    fn triage(self) -> Triage {
        Triage {
            status: self.status.map(|s| s.trim().to_ascii_lowercase()),
            assignee: self.assignee,
            comment: self.comment,
        }
    }
}

/// `PATCH /api/alerts/{id}`: status, assignee and/or a comment; answers the alert.
pub async fn patch_alert(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<TriageBody>, JsonRejection>,
) -> Result<Json<ApiAlertDetail>, ApiError> {
    let who = caller.require(Permission::HandleAlerts)?;
    let id = parse_id(&id, "id")?;
    let Json(body) = body.map_err(json_error)?;
    service.triage(&who, &[id], body.triage()).await?;
    get_alert(State(service), Authenticated(who), Path(id.to_string())).await
}

/// Bulk triage.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// 1–500 alert ids.
    pub ids: Vec<i64>,
    pub status: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
    pub comment: Option<String>,
}

/// The outcome of a bulk change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    pub updated: usize,
}

/// `POST /api/alerts/bulk`: the same change to many alerts, all or nothing.
pub async fn bulk_triage(
    State(service): State<DetectionService>,
    caller: Authenticated,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Json<BulkOutcome>, ApiError> {
    let who = caller.require(Permission::HandleAlerts)?;
    let Json(body) = body.map_err(json_error)?;
    if body.ids.is_empty() || body.ids.len() > 500 {
        return Err(AppError::invalid_input("ids", "1–500 alert ids").into());
    }
    let ids = body.ids.clone();
    let triage = TriageBody { status: body.status, assignee: body.assignee, comment: body.comment }.triage();
    service.triage(&who, &ids, triage).await?;
    Ok(Json(BulkOutcome { updated: ids.iter().collect::<std::collections::BTreeSet<_>>().len() }))
}

/// `GET /api/alerts/{id}/comments`.
pub async fn list_comments(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiNote>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let id = parse_id(&id, "id")?;
    Ok(Json(service.comments(id).await?.into_iter().map(ApiNote::from).collect()))
}

/// A comment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommentBody {
    /// 1–10,000 characters.
    pub body: String,
}

/// `POST /api/alerts/{id}/comments`: answers 201 with the alert's comments.
pub async fn post_comment(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Vec<ApiNote>>), ApiError> {
    let who = caller.require(Permission::HandleAlerts)?;
    let id = parse_id(&id, "id")?;
    let Json(body) = body.map_err(json_error)?;
    service.triage(&who, &[id], Triage { comment: Some(body.body), ..Default::default() }).await?;
    Ok((StatusCode::CREATED, Json(service.comments(id).await?.into_iter().map(ApiNote::from).collect())))
}

/// A suppression of a rule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiSuppression {
    pub id: i64,
    pub rule_id: i64,
    /// The entity (the rule's `group_by` value) kept quiet; absent: every entity.
    pub entity: Option<String>,
    pub starts_at: String,
    pub ends_at: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<crate::store::detection::Suppression> for ApiSuppression {
    fn from(s: crate::store::detection::Suppression) -> Self {
        Self {
            id: s.id,
            rule_id: s.rule_id,
            entity: s.entity,
            starts_at: time(s.starts_at),
            ends_at: time(s.ends_at),
            reason: s.reason,
            created_by: s.created_by,
            created_at: time(s.created_at),
        }
    }
}

/// A suppression to set: the entity (absent: every entity), the span — `hours` from now, or
/// `since`/`until` (RFC 3339) of event time — and the reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionBody {
    pub entity: Option<String>,
    /// 1–8784 hours from now (or give `until`).
    pub hours: Option<i64>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub reason: String,
}

/// `GET /api/rules/{id}/suppressions`: the rule's suppressions that have not ended.
pub async fn list_suppressions(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiSuppression>>, ApiError> {
    caller.require(Permission::ViewEvents)?;
    let id = parse_id(&id, "id")?;
    Ok(Json(service.suppressions(id).await?.into_iter().map(ApiSuppression::from).collect()))
}

/// `POST /api/rules/{id}/suppressions`: keeps the rule quiet for an entity or a span (201).
pub async fn create_suppression(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<SuppressionBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ApiSuppression>), ApiError> {
    let who = caller.require(Permission::ManageRules)?;
    let id = parse_id(&id, "id")?;
    let Json(body) = body.map_err(json_error)?;
    let starts_at = body.since.as_deref().map(|t| parse_time(t, "since")).transpose()?;
    let ends_at = match (body.until.as_deref(), body.hours) {
        (Some(t), None) => parse_time(t, "until")?,
        (None, Some(h)) if (1..=8_784).contains(&h) => starts_at.unwrap_or_else(Utc::now) + chrono::Duration::hours(h),
        (None, Some(_)) => return Err(AppError::invalid_input("hours", "1–8784").into()),
        _ => return Err(AppError::invalid_input("until", "give either `hours` or `until`").into()),
    };
    let request =
        crate::services::detection::SuppressionRequest { entity: body.entity, starts_at, ends_at, reason: body.reason };
    Ok((StatusCode::CREATED, Json(service.suppress(&who, id, request).await?.into())))
}

/// `DELETE /api/suppressions/{id}`: ends a suppression (204).
pub async fn delete_suppression(
    State(service): State<DetectionService>,
    caller: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let who = caller.require(Permission::ManageRules)?;
    let id = parse_id(&id, "id")?;
    service.unsuppress(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
