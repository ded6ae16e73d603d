//! Export destinations for administrators: list, add, change, remove, send a test record, see
//! and retry parked items, backfill. Credentials are sealed with AOC_ENCRYPTION_KEY (like tenant
//! secrets) and never returned; every change is written to the audit trail.
//!
//! The destination of SIEM_ENABLED + SIEM_WEBHOOK_URL (+ SIEM_WEBHOOK_SECRET) is kept in step with
//! the environment at start-up ([`DestinationService::sync_environment`]); its URL and secret stay
//! in the environment and it is changed there, not through the API.

use std::sync::Arc;

use app::auth::Caller;
use app::error::{AppError, ErrorCode};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, TransactionTrait,
};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;

use crate::config::Settings;
use crate::export::input::{DestinationInput, Filter, NOTICE_KINDS, URL_SECRET_KINDS};
use crate::export::worker::Exporter;
use crate::export::Delivery;
use crate::store::entities::destinations;
use crate::store::export as outbox;
use crate::tenants::crypto::{SecretCipher, SecretKind};

/// The name of the destination the environment configures.
pub const ENVIRONMENT_NAME: &str = "siem-webhook";

/// A destination as the API shows it: never its secret.
#[derive(Clone, Debug, Serialize)]
pub struct DestinationView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub endpoint: String,
    /// A secret is stored (sealed) or, for the environment's destination, configured.
    pub has_secret: bool,
    /// all, filter, min_severity or alerts.
    pub receives: String,
    /// Kind-specific settings (never secret).
    pub options: serde_json::Value,
    pub min_severity: String,
    pub filter: FilterView,
    pub format: String,
    pub batch_size: i32,
    pub concurrency: i32,
    pub enabled: bool,
    /// `api`, or `environment` (SIEM_WEBHOOK_URL).
    pub origin: String,
    pub queue: QueueView,
    pub delivered_total: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A destination's event filter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FilterView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A destination's queue.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueView {
    pub pending: i64,
    pub parked: i64,
    /// Seconds the oldest pending item has waited.
    pub oldest_age_seconds: Option<i64>,
}

/// A parked item.
#[derive(Clone, Debug, Serialize)]
pub struct ParkedItem {
    pub id: i64,
    /// event or alert.
    pub item_kind: String,
    pub event_id: Option<i64>,
    pub alert_id: Option<i64>,
    pub lane: String,
    pub attempts: i32,
    /// The far end's answer, or why AOC parked it.
    pub reason: Option<String>,
    pub queued_at: DateTime<Utc>,
    /// The event was deleted; a copy is kept with the item.
    pub kept_copy: bool,
}

/// The answer of a Send test.
#[derive(Clone, Debug, Serialize)]
pub struct TestOutcome {
    pub delivered: bool,
    /// The far end's HTTP status (none: no answer).
    pub status: Option<u16>,
    /// The far end's answer (its body, cut), or why there was none.
    pub answer: String,
}

/// Who asked, for the audit trail.
pub struct Actor<'a> {
    pub caller: &'a Caller,
    pub request_id: Option<&'a str>,
}

/// The destination store.
pub struct DestinationService {
    db: DatabaseConnection,
    cipher: Option<SecretCipher>,
    exporter: Arc<Exporter>,
    settings: Arc<Settings>,
    /// The last Send test of each destination made by this process (the page shows it, so its
    /// answer is seen after a form post without JavaScript too).
    last_tests: std::sync::Mutex<std::collections::HashMap<i64, app::dto::DestinationTestResult>>,
}

fn not_found(id: i64) -> AppError {
    AppError::new(ErrorCode::NotFound, format!("no destination {id} is configured"))
}

fn db(operation: &'static str) -> impl Fn(DbErr) -> AppError {
    move |e| super::db_failure(operation, e)
}

/// The URL to show for an endpoint kept in the environment: scheme and host only.
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.port() {
            Some(port) => format!("{}://{}:{port}/…", u.scheme(), u.host_str().unwrap_or("?")),
            None => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        },
        Err(_) => "(SIEM_WEBHOOK_URL)".into(),
    }
}

/// The start of a far end's answer, as the page shows it.
fn short_answer(answer: &str) -> String {
    const LIMIT: usize = 300;
    if answer.len() <= LIMIT {
        return answer.to_string();
    }
    let mut cut = LIMIT;
    while !answer.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &answer[..cut])
}

/// A `datetime-local` value (taken as UTC) or an RFC 3339 time.
fn form_time(value: &str) -> String {
    let value = value.trim();
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, format) {
            return t.and_utc().to_rfc3339();
        }
    }
    value.to_string()
}

/// The JSON body `POST`/`PUT /api/destinations` would take for a form of the page.
fn form_body(form: &app::dto::DestinationForm, creating: bool) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            body.insert(key.into(), json!(v));
        }
    };
    put("kind", &form.kind);
    put("name", &form.name);
    put("endpoint", &form.endpoint);
    put("secret", &form.secret);
    put("receives", &form.receives);
    put("min_severity", &form.min_severity);
    put("format", &form.format);
    if creating {
        put("backfill_from", &form.backfill_from.as_deref().map(form_time));
    }
    if let Some(n) = &form.batch_size {
        body.insert("batch_size".into(), n.trim().parse::<i64>().map(|n| json!(n)).unwrap_or_else(|_| json!(n)));
    }
    if form.clear_secret && form.secret.is_none() {
        body.insert("secret".into(), serde_json::Value::Null);
    }
    body.insert("enabled".into(), json!(form.enabled));
    let receives = form.receives.as_deref().unwrap_or("all");
    if receives == "filter" || !form.filter.is_empty() {
        let filter: serde_json::Map<String, serde_json::Value> =
            form.filter.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        body.insert("filter".into(), filter.into());
    }
    let mut options: serde_json::Map<String, serde_json::Value> =
        form.options.iter().map(|(k, v)| (k.clone(), if k == "ack" { json!(v == "true") } else { json!(v) })).collect();
    if let Some(rules) = &form.rules {
        let list: Vec<&str> = rules.split([',', '\n']).map(str::trim).filter(|r| !r.is_empty()).collect();
        options.insert("rules".into(), json!(list));
    }
    body.insert("options".into(), options.into());
    body.into()
}

impl DestinationService {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>, exporter: Arc<Exporter>) -> Self {
        Self {
            cipher: settings.encryption_key.as_ref().map(SecretCipher::new),
            db,
            exporter,
            settings,
            last_tests: Default::default(),
        }
    }

    fn view(&self, row: &destinations::Model, stats: Option<&outbox::QueueStats>) -> DestinationView {
        let now = Utc::now();
        let has_secret = if row.origin == "environment" {
            self.settings.siem.webhook_secret.is_some()
        } else {
            row.secret_ciphertext.is_some()
        };
        DestinationView {
            id: row.id,
            name: row.name.clone(),
            kind: row.kind.clone(),
            endpoint: row.endpoint.clone(),
            has_secret,
            receives: row.receives.clone(),
            options: serde_json::from_str(&row.options).unwrap_or_else(|_| json!({})),
            min_severity: app::dto::Severity::from_level(row.min_severity).as_str().to_string(),
            filter: FilterView {
                tenant: row.filter_tenant.clone(),
                source: row.filter_source.clone(),
                service: row.filter_service.clone(),
                operation: row.filter_operation.clone(),
                result: row.filter_result.clone(),
                actor: row.filter_actor.clone(),
            },
            format: row.format.clone(),
            batch_size: row.batch_size,
            concurrency: row.concurrency,
            enabled: row.enabled,
            origin: row.origin.clone(),
            queue: stats
                .map(|s| QueueView {
                    pending: s.pending,
                    parked: s.parked,
                    oldest_age_seconds: s.oldest.map(|t| (now - t).num_seconds().max(0)),
                })
                .unwrap_or_default(),
            delivered_total: row.delivered_total,
            last_delivered_at: row.last_delivered_at,
            last_error: row.last_error.clone(),
            last_error_at: row.last_error_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    async fn find(&self, id: i64) -> Result<destinations::Model, AppError> {
        destinations::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db("destinations.find"))?
            .ok_or_else(|| not_found(id))
    }

    async fn stats(&self) -> Result<Vec<outbox::QueueStats>, AppError> {
        outbox::queue_stats(&self.db).await.map_err(db("destinations.stats"))
    }

    /// Every destination, by name.
    pub async fn list(&self) -> Result<Vec<DestinationView>, AppError> {
        let rows = destinations::Entity::find()
            .order_by_asc(destinations::Column::Name)
            .all(&self.db)
            .await
            .map_err(db("destinations.list"))?;
        let stats = self.stats().await?;
        Ok(rows.iter().map(|r| self.view(r, stats.iter().find(|s| s.destination_id == r.id))).collect())
    }

    /// One destination.
    pub async fn get(&self, id: i64) -> Result<DestinationView, AppError> {
        let row = self.find(id).await?;
        let stats = self.stats().await?;
        Ok(self.view(&row, stats.iter().find(|s| s.destination_id == id)))
    }

    fn seal(&self, id: i64, secret: &str) -> Result<String, AppError> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            AppError::new(
                ErrorCode::Conflict,
                "destination secrets are stored encrypted and AOC_ENCRYPTION_KEY is not set: generate a key with \
                 `openssl rand -base64 32`, set AOC_ENCRYPTION_KEY to it and restart AOC",
            )
        })?;
        cipher.seal(SecretKind::DestinationSecret, &id.to_string(), secret).map_err(|_| {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            tracing::error!(reference = %reference, "sealing a destination secret failed");
            AppError::internal(reference)
        })
    }

    fn apply_selection(row: &mut destinations::ActiveModel, receives: &str, min: i16, filter: &Filter) {
        let (min, filter) = match receives {
            "all" => (0, Filter::default()),
            "alerts" => (min, Filter::default()),
            "min_severity" => (min, Filter::default()),
            _ => (min, filter.clone()),
        };
        row.receives = Set(receives.to_string());
        row.min_severity = Set(min);
        row.filter_tenant = Set(filter.tenant);
        row.filter_source = Set(filter.source);
        row.filter_service = Set(filter.service);
        row.filter_operation = Set(filter.operation);
        row.filter_result = Set(filter.result);
        row.filter_actor = Set(filter.actor);
    }

    fn check_selection(receives: &str, min: i16, filter: &Filter) -> Result<(), AppError> {
        match receives {
            "filter" if filter.is_empty() => {
                Err(AppError::invalid_input("filter", "give at least one field when `receives` is filter"))
            }
            "min_severity" if min == 0 => Err(AppError::invalid_input(
                "min_severity",
                "give low, medium, high or critical when `receives` is min_severity",
            )),
            _ => Ok(()),
        }
    }

    async fn name_taken(&self, name: &str, except: Option<i64>) -> Result<bool, AppError> {
        let found = destinations::Entity::find()
            .filter(destinations::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(db("destinations.name"))?;
        Ok(found.is_some_and(|d| Some(d.id) != except))
    }

    /// Adds a destination; with `backfill_from`, queues the stored events since then.
    pub async fn create(&self, actor: Actor<'_>, input: DestinationInput) -> Result<DestinationView, AppError> {
        let name = input.name.clone().unwrap_or_default();
        if self.name_taken(&name, None).await? {
            return Err(AppError::new(ErrorCode::Conflict, format!("a destination named {name:?} exists")));
        }
        let receives = input.receives.clone().unwrap_or_else(|| "all".into());
        let filter = input.filter.clone().unwrap_or_default();
        let min = input.min_severity.unwrap_or(0);
        Self::check_selection(&receives, min, &filter)?;
        let kind = input.kind.clone().unwrap_or_else(|| "webhook".into());
        let notice = NOTICE_KINDS.contains(&kind.as_str());
        let url_secret = URL_SECRET_KINDS.contains(&kind.as_str());
        let receives = if notice { input.receives.clone().unwrap_or_else(|| "alerts".into()) } else { receives };
        if notice && receives != "alerts" {
            return Err(AppError::invalid_input(
                "receives",
                "Teams, Slack and e-mail destinations receive alerts only",
            ));
        }
        if kind == "email" {
            let options = input.options.clone().unwrap_or_default();
            for required in ["from", "to"] {
                if options[required].as_str().is_none() {
                    return Err(AppError::invalid_input(&format!("options.{required}"), "is required for email"));
                }
            }
        }
        let endpoint = match (&input.secret, url_secret) {
            (Some(Some(url)), true) => redacted_url(url.expose_secret()),
            (_, true) => {
                return Err(AppError::invalid_input("secret", "give the channel's incoming-webhook URL as `secret`"))
            }
            _ => input.endpoint.clone().unwrap_or_default(),
        };
        if kind == "splunk_hec" && !matches!(input.secret, Some(Some(_))) {
            return Err(AppError::invalid_input("secret", "a Splunk HEC destination needs its token"));
        }
        if kind == "sentinel" {
            if !matches!(input.secret, Some(Some(_))) {
                return Err(AppError::invalid_input("secret", "a Sentinel destination needs its app's client secret"));
            }
            let options = input.options.clone().unwrap_or_default();
            for required in ["dcr_immutable_id", "stream", "tenant_id", "client_id"] {
                if options[required].as_str().is_none() {
                    return Err(AppError::invalid_input(&format!("options.{required}"), "is required for sentinel"));
                }
            }
        }
        if let Some(Some(secret)) = &input.secret {
            crate::export::input::check_secret(&kind, secret.expose_secret())?;
        }
        let options = input.options.clone().unwrap_or_else(|| json!({}));
        crate::export::input::check_options(&kind, &options)?;
        crate::export::input::check_endpoint(&kind, &endpoint, input.format.as_deref().unwrap_or("json"))?;
        if matches!(input.secret, Some(Some(_))) && self.cipher.is_none() {
            // Checked before anything is written.
            self.seal(0, "")?;
        }
        let now = Utc::now();
        let mut row = destinations::ActiveModel {
            name: Set(name.clone()),
            kind: Set(kind.clone()),
            endpoint: Set(endpoint),
            secret_ciphertext: Set(None),
            format: Set(input.format.clone().unwrap_or_else(|| "json".into())),
            batch_size: Set(input.batch_size.unwrap_or(500)),
            concurrency: Set(input.concurrency.unwrap_or(2)),
            options: Set(options.to_string()),
            enabled: Set(input.enabled.unwrap_or(true)),
            origin: Set("api".into()),
            delivered_total: Set(0),
            last_delivered_at: Set(None),
            last_error: Set(None),
            last_error_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        Self::apply_selection(&mut row, &receives, min, &filter);
        let txn = self.db.begin().await.map_err(db("destinations.create"))?;
        let stored = row.insert(&txn).await.map_err(db("destinations.create"))?;
        let stored = match &input.secret {
            Some(Some(secret)) => {
                let mut update = stored.clone().into_active_model();
                update.secret_ciphertext = Set(Some(self.seal(stored.id, secret.expose_secret())?));
                update.update(&txn).await.map_err(db("destinations.create"))?
            }
            _ => stored,
        };
        let backfilled = match input.backfill_from {
            Some(from) if stored.enabled => {
                outbox::backfill(&txn, stored.id, from).await.map_err(db("destinations.backfill"))?
            }
            _ => 0,
        };
        let details = json!({
            "name": stored.name, "kind": stored.kind, "endpoint": stored.endpoint, "receives": stored.receives,
            "has_secret": stored.secret_ciphertext.is_some(), "enabled": stored.enabled,
            "backfill_from": input.backfill_from, "backfilled": backfilled,
        });
        super::annotations::audit(
            &txn,
            actor.caller,
            "destination.created",
            "destination",
            Some(stored.id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.create"))?;
        txn.commit().await.map_err(db("destinations.create"))?;
        tracing::info!(destination = %stored.name, actor = %actor.caller.display_name, backfilled, "export destination added");
        self.get(stored.id).await
    }

    fn refuse_environment(row: &destinations::Model) -> Result<(), AppError> {
        if row.origin == "environment" {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "this destination is configured by SIEM_ENABLED and SIEM_WEBHOOK_URL in the environment; change it there",
            ));
        }
        Ok(())
    }

    /// Changes the given fields of a destination (a secret given replaces the stored one, `null`
    /// removes it).
    pub async fn update(
        &self,
        actor: Actor<'_>,
        id: i64,
        input: DestinationInput,
    ) -> Result<DestinationView, AppError> {
        let current = self.find(id).await?;
        Self::refuse_environment(&current)?;
        if input.backfill_from.is_some() {
            return Err(AppError::invalid_input("backfill_from", "use POST /api/destinations/{id}/backfill"));
        }
        let mut row = current.clone().into_active_model();
        let mut changed: Vec<&str> = Vec::new();
        let kind = input.kind.clone().unwrap_or_else(|| current.kind.clone());
        if let Some(Some(secret)) = &input.secret {
            crate::export::input::check_secret(&kind, secret.expose_secret())?;
        }
        if kind != current.kind && input.secret.is_none() && current.secret_ciphertext.is_some() {
            return Err(AppError::invalid_input(
                "secret",
                "give the new kind's credential (or null) when changing `kind`",
            ));
        }
        let keeps_no_token =
            matches!(input.secret, Some(None)) || (current.secret_ciphertext.is_none() && input.secret.is_none());
        let notice = NOTICE_KINDS.contains(&kind.as_str());
        let url_secret = URL_SECRET_KINDS.contains(&kind.as_str());
        if url_secret && keeps_no_token {
            return Err(AppError::invalid_input("secret", "give the channel's incoming-webhook URL as `secret`"));
        }
        if notice && input.receives.as_deref().is_some_and(|r| r != "alerts") {
            return Err(AppError::invalid_input(
                "receives",
                "Teams, Slack and e-mail destinations receive alerts only",
            ));
        }
        if url_secret && input.endpoint.is_some() {
            return Err(AppError::invalid_input("endpoint", "a Teams or Slack destination's URL is its `secret`"));
        }
        if notice && current.receives != "alerts" && input.receives.is_none() {
            return Err(AppError::invalid_input(
                "receives",
                "Teams, Slack and e-mail destinations receive alerts only",
            ));
        }
        if kind == "splunk_hec" && keeps_no_token {
            return Err(AppError::invalid_input("secret", "a Splunk HEC destination needs its token"));
        }
        crate::export::input::check_endpoint(
            &kind,
            input.endpoint.as_deref().unwrap_or(&current.endpoint),
            input.format.as_deref().unwrap_or(&current.format),
        )?;
        let options = input.options.clone().or_else(|| (kind != current.kind).then(|| json!({})));
        if let Some(options) = &options {
            crate::export::input::check_options(&kind, options)?;
            let text = options.to_string();
            if text != current.options {
                row.options = Set(text);
                changed.push("options");
            }
        }
        if let Some(name) = input.name.filter(|n| *n != current.name) {
            if self.name_taken(&name, Some(id)).await? {
                return Err(AppError::new(ErrorCode::Conflict, format!("a destination named {name:?} exists")));
            }
            row.name = Set(name);
            changed.push("name");
        }
        if let Some(kind) = input.kind.filter(|k| *k != current.kind) {
            row.kind = Set(kind);
            changed.push("kind");
        }
        if let Some(endpoint) = input.endpoint.filter(|e| *e != current.endpoint) {
            row.endpoint = Set(endpoint);
            changed.push("endpoint");
        }
        match &input.secret {
            Some(Some(secret)) => {
                row.secret_ciphertext = Set(Some(self.seal(id, secret.expose_secret())?));
                changed.push("secret");
                if url_secret {
                    row.endpoint = Set(redacted_url(secret.expose_secret()));
                }
            }
            Some(None) if current.secret_ciphertext.is_some() => {
                row.secret_ciphertext = Set(None);
                changed.push("secret");
            }
            _ => {}
        }
        if input.receives.is_some() || input.min_severity.is_some() || input.filter.is_some() {
            let receives = input.receives.unwrap_or_else(|| current.receives.clone());
            let min = input.min_severity.unwrap_or(current.min_severity);
            let filter = input.filter.unwrap_or(Filter {
                tenant: current.filter_tenant.clone(),
                source: current.filter_source.clone(),
                service: current.filter_service.clone(),
                operation: current.filter_operation.clone(),
                result: current.filter_result.clone(),
                actor: current.filter_actor.clone(),
            });
            Self::check_selection(&receives, min, &filter)?;
            Self::apply_selection(&mut row, &receives, min, &filter);
            changed.push("selection");
        }
        if let Some(format) = input.format.filter(|f| *f != current.format) {
            row.format = Set(format);
            changed.push("format");
        }
        if let Some(n) = input.batch_size.filter(|n| *n != current.batch_size) {
            row.batch_size = Set(n);
            changed.push("batch_size");
        }
        if let Some(n) = input.concurrency.filter(|n| *n != current.concurrency) {
            row.concurrency = Set(n);
            changed.push("concurrency");
        }
        if let Some(enabled) = input.enabled.filter(|e| *e != current.enabled) {
            row.enabled = Set(enabled);
            changed.push("enabled");
        }
        if changed.is_empty() {
            return self.get(id).await;
        }
        row.updated_at = Set(Utc::now());
        let txn = self.db.begin().await.map_err(db("destinations.update"))?;
        let stored = row.update(&txn).await.map_err(db("destinations.update"))?;
        let details =
            json!({ "name": stored.name, "changed": changed, "endpoint": stored.endpoint, "enabled": stored.enabled });
        super::annotations::audit(
            &txn,
            actor.caller,
            "destination.updated",
            "destination",
            Some(id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.update"))?;
        txn.commit().await.map_err(db("destinations.update"))?;
        self.get(id).await
    }

    /// Removes a destination with its queue (parked items included).
    pub async fn delete(&self, actor: Actor<'_>, id: i64) -> Result<(), AppError> {
        let current = self.find(id).await?;
        Self::refuse_environment(&current)?;
        let txn = self.db.begin().await.map_err(db("destinations.delete"))?;
        destinations::Entity::delete_by_id(id).exec(&txn).await.map_err(db("destinations.delete"))?;
        let details = json!({ "name": current.name, "endpoint": current.endpoint });
        super::annotations::audit(
            &txn,
            actor.caller,
            "destination.deleted",
            "destination",
            Some(id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.delete"))?;
        txn.commit().await.map_err(db("destinations.delete"))?;
        Ok(())
    }

    /// Delivers one synthetic record and reports the far end's answer.
    pub async fn test(&self, actor: Actor<'_>, id: i64) -> Result<TestOutcome, AppError> {
        let row = self.find(id).await?;
        let target = self.exporter.target(&row).map_err(|problem| AppError::new(ErrorCode::Conflict, problem))?;
        let document = if row.receives == "alerts" {
            crate::export::notify::test_alert_document(self.exporter.link_base())
        } else {
            crate::export::event_document(crate::export::test_event(Utc::now()))
        };
        let message_id = format!("aoc_test_{}", uuid::Uuid::new_v4().simple());
        let delivery = match self.exporter.send(&target, &message_id, &[document], None).await {
            crate::export::Sent::Batch(delivery) => delivery,
            crate::export::Sent::Items(items) => items.into_iter().next().unwrap_or(Delivery::Retry {
                status: None,
                retry_after: None,
                answer: "the far end answered for no record".into(),
            }),
        };
        let outcome = match delivery {
            Delivery::Delivered { status, answer } => TestOutcome { delivered: true, status: Some(status), answer },
            Delivery::Retry { status, answer, .. } => TestOutcome { delivered: false, status, answer },
            Delivery::Refused { status, answer } => TestOutcome { delivered: false, status: Some(status), answer },
        };
        let result = app::dto::DestinationTestResult {
            destination_id: id,
            delivered: outcome.delivered,
            status: outcome.status,
            answer: short_answer(&outcome.answer),
            at: Utc::now(),
        };
        self.last_tests.lock().unwrap_or_else(|e| e.into_inner()).insert(id, result);
        let details = json!({ "name": row.name, "delivered": outcome.delivered, "status": outcome.status });
        super::annotations::audit(
            &self.db,
            actor.caller,
            "destination.tested",
            "destination",
            Some(id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.test"))?;
        Ok(outcome)
    }

    /// Parked items of a destination, oldest first, after item id `after`.
    pub async fn parked(&self, id: i64, after: i64, limit: u64) -> Result<Vec<ParkedItem>, AppError> {
        self.find(id).await?;
        let items = outbox::parked(&self.db, id, after, limit).await.map_err(db("destinations.parked"))?;
        Ok(items
            .into_iter()
            .map(|i| ParkedItem {
                id: i.id,
                item_kind: i.item_kind,
                event_id: i.event_id,
                alert_id: i.alert_id,
                lane: i.lane,
                attempts: i.attempts,
                reason: i.last_error,
                queued_at: i.created_at,
                kept_copy: i.payload.is_some(),
            })
            .collect())
    }

    /// Puts parked items back in the queue (all, or those of `ids`); returns how many.
    pub async fn retry(&self, actor: Actor<'_>, id: i64, ids: Option<Vec<i64>>) -> Result<u64, AppError> {
        self.find(id).await?;
        let txn = self.db.begin().await.map_err(db("destinations.retry"))?;
        let n = outbox::requeue_parked(&txn, id, ids.as_deref()).await.map_err(db("destinations.retry"))?;
        let details = json!({ "items": ids, "requeued": n });
        super::annotations::audit(
            &txn,
            actor.caller,
            "destination.retried",
            "destination",
            Some(id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.retry"))?;
        txn.commit().await.map_err(db("destinations.retry"))?;
        Ok(n)
    }

    /// Queues the stored events since `from` that the destination selects and that are not
    /// queued; returns how many.
    pub async fn backfill(&self, actor: Actor<'_>, id: i64, from: DateTime<Utc>) -> Result<u64, AppError> {
        let row = self.find(id).await?;
        if !row.enabled {
            return Err(AppError::new(ErrorCode::Conflict, "the destination is disabled; enable it first"));
        }
        let txn = self.db.begin().await.map_err(db("destinations.backfill"))?;
        let n = outbox::backfill(&txn, id, from).await.map_err(db("destinations.backfill"))?;
        let details = json!({ "from": from, "queued": n });
        super::annotations::audit(
            &txn,
            actor.caller,
            "destination.backfilled",
            "destination",
            Some(id.to_string()),
            details,
            actor.request_id,
        )
        .await
        .map_err(db("destinations.backfill"))?;
        txn.commit().await.map_err(db("destinations.backfill"))?;
        Ok(n)
    }

    /// Keeps the environment's destination (SIEM_ENABLED + SIEM_WEBHOOK_URL) in step: created or
    /// enabled when configured, disabled (its queue kept) when not.
    pub async fn sync_environment(&self) -> Result<(), DbErr> {
        let siem = &self.settings.siem;
        let existing =
            destinations::Entity::find().filter(destinations::Column::Origin.eq("environment")).one(&self.db).await?;
        let now = Utc::now();
        match (siem.enabled, siem.webhook_url.as_ref(), existing) {
            (true, Some(url), None) => {
                let mut name = ENVIRONMENT_NAME.to_string();
                if destinations::Entity::find()
                    .filter(destinations::Column::Name.eq(&name))
                    .one(&self.db)
                    .await?
                    .is_some()
                {
                    name = format!("{ENVIRONMENT_NAME} (environment)");
                }
                let mut row = destinations::ActiveModel {
                    name: Set(name),
                    kind: Set("webhook".into()),
                    endpoint: Set(redacted_url(url.expose_secret())),
                    secret_ciphertext: Set(None),
                    format: Set("json".into()),
                    batch_size: Set(500),
                    concurrency: Set(2),
                    options: Set("{}".into()),
                    enabled: Set(true),
                    origin: Set("environment".into()),
                    delivered_total: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                };
                Self::apply_selection(&mut row, "all", 0, &Filter::default());
                row.insert(&self.db).await?;
                tracing::info!("SIEM_WEBHOOK_URL: every newly stored event is exported to the configured webhook");
            }
            (enabled, url, Some(current)) => {
                let want_enabled = enabled && url.is_some();
                let endpoint = url.map(|u| redacted_url(u.expose_secret())).unwrap_or_else(|| current.endpoint.clone());
                if current.enabled != want_enabled || current.endpoint != endpoint {
                    let mut row = current.into_active_model();
                    row.enabled = Set(want_enabled);
                    row.endpoint = Set(endpoint);
                    row.updated_at = Set(now);
                    row.update(&self.db).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl app::services::DestinationAdmin for DestinationService {
    async fn destinations_page(&self) -> Result<app::dto::DestinationsPage, AppError> {
        let views = self.list().await?;
        let tests = self.last_tests.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut destinations = Vec::with_capacity(views.len());
        for v in views {
            let parked_items = if v.queue.parked > 0 { self.parked(v.id, 0, 20).await? } else { Vec::new() };
            let options = v.options.as_object().cloned().unwrap_or_default();
            let rules = options
                .get("rules")
                .and_then(|r| r.as_array())
                .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let filter = [
                ("tenant", &v.filter.tenant),
                ("source", &v.filter.source),
                ("service", &v.filter.service),
                ("operation", &v.filter.operation),
                ("result", &v.filter.result),
                ("actor", &v.filter.actor),
            ]
            .into_iter()
            .filter_map(|(k, value)| value.clone().map(|value| (k.to_string(), value)))
            .collect();
            destinations.push(app::dto::DestinationRow {
                id: v.id,
                rate_per_minute: self.exporter.delivery_rate(v.id, v.delivered_total),
                name: v.name,
                kind: v.kind,
                endpoint: v.endpoint,
                has_secret: v.has_secret,
                receives: v.receives,
                min_severity: v.min_severity,
                filter,
                rules,
                options: options
                    .into_iter()
                    .filter(|(k, _)| k != "rules")
                    .map(|(k, value)| (k, value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())))
                    .collect(),
                format: v.format,
                batch_size: v.batch_size,
                enabled: v.enabled,
                origin: v.origin,
                pending: v.queue.pending,
                parked: v.queue.parked,
                oldest_age_seconds: v.queue.oldest_age_seconds,
                delivered_total: v.delivered_total,
                last_delivered_at: v.last_delivered_at,
                last_error: v.last_error,
                last_error_at: v.last_error_at,
                last_test: tests.get(&v.id).cloned(),
                parked_items: parked_items
                    .into_iter()
                    .map(|p| app::dto::ParkedItemRow {
                        id: p.id,
                        item: match (p.event_id, p.alert_id) {
                            (Some(e), _) => format!("event {e}"),
                            (None, Some(a)) => format!("alert {a}"),
                            _ => p.item_kind.clone(),
                        },
                        reason: p.reason,
                        attempts: p.attempts,
                        queued_at: p.queued_at,
                    })
                    .collect(),
            });
        }
        Ok(app::dto::DestinationsPage { destinations, can_store_secrets: self.cipher.is_some() })
    }

    async fn save_destination(
        &self,
        caller: &Caller,
        id: Option<i64>,
        form: app::dto::DestinationForm,
    ) -> Result<i64, AppError> {
        let body = form_body(&form, id.is_none()).to_string();
        let actor = Actor { caller, request_id: None };
        match id {
            None => {
                let input = crate::export::input::parse_destination(body.as_bytes(), true)?;
                Ok(self.create(actor, input).await?.id)
            }
            Some(id) => {
                let mut input = crate::export::input::parse_destination(body.as_bytes(), false)?;
                // The kind is fixed once created; the form names it only to pick its fields.
                input.kind = None;
                Ok(self.update(actor, id, input).await?.id)
            }
        }
    }

    async fn set_destination_enabled(&self, caller: &Caller, id: i64, enabled: bool) -> Result<(), AppError> {
        let input = DestinationInput { enabled: Some(enabled), ..Default::default() };
        self.update(Actor { caller, request_id: None }, id, input).await.map(|_| ())
    }

    async fn delete_destination(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.delete(Actor { caller, request_id: None }, id).await?;
        self.last_tests.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        Ok(())
    }

    async fn send_test(&self, caller: &Caller, id: i64) -> Result<app::dto::DestinationTestResult, AppError> {
        self.test(Actor { caller, request_id: None }, id).await?;
        self.last_tests.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned().ok_or_else(|| not_found(id))
    }

    async fn retry_parked(&self, caller: &Caller, id: i64, item: Option<i64>) -> Result<u64, AppError> {
        self.retry(Actor { caller, request_id: None }, id, item.map(|i| vec![i])).await
    }
}
