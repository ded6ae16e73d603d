//! The delivery worker: a supervisor that starts one delivery task per enabled destination (and
//! stops it when the destination is changed, disabled or deleted), and the task itself, which
//! delivers while it holds the destination's lease (`destination_leases`): on PostgreSQL several
//! AOC processes share the outbox and never deliver one destination at the same time.
//!
//! Within a destination, each lane (an event source; alerts have their own) is delivered in queue
//! order, one batch at a time; up to `concurrency` lanes at once. A failed batch holds its lane
//! until it is due again (order is kept); a batch of several items refused with a 4xx is sent
//! again one item at a time, so only the item that is refused is parked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use secrecy::{ExposeSecret, SecretString};

use super::{backoff, event_document, event_from_payload, Delivery, Sent};
use crate::config::{Settings, SiemSettings};
use crate::store::entities::destinations;
use crate::store::export::{self as outbox, OutboxItem};
use crate::tenants::crypto::{SecretCipher, SecretKind};

/// Timings of the worker (tests shorten them).
#[derive(Clone, Debug)]
pub struct Tuning {
    /// How often an idle lane looks for new items, and the supervisor for changed destinations.
    pub poll: Duration,
    /// How long a lease runs without renewal (a stopped process's destinations are taken over
    /// after it).
    pub lease: Duration,
    /// The first retry's wait; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Per request.
    pub timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The lanes of a destination's queue.
pub fn lanes() -> Vec<&'static str> {
    let mut lanes: Vec<&'static str> = crate::normalize::Source::ALL.iter().map(|s| s.as_str()).collect();
    lanes.push("alert");
    lanes
}

/// Where and how a destination is reached.
pub struct Target {
    /// webhook, splunk_hec or elasticsearch.
    pub kind: String,
    pub url: String,
    /// The webhook signing key (the bytes of the `whsec_` secret).
    pub key: Option<Vec<u8>>,
    /// The credential (HEC token, Elasticsearch API key or `user:password`).
    pub secret: Option<SecretString>,
    /// Kind-specific settings.
    pub options: serde_json::Value,
    /// The HEC channel of this process.
    pub channel: String,
    /// json, or cef (syslog).
    pub format: String,
    /// The Entra token of a Sentinel destination.
    pub tokens: super::sentinel::TokenCache,
}

/// The delivery side of export in one process.
pub struct Exporter {
    db: DatabaseConnection,
    cipher: Option<SecretCipher>,
    siem: SiemSettings,
    holder: String,
    tuning: Tuning,
    client: reqwest::Client,
    /// AOC's address for links in notices (AOC_PUBLIC_URL, else the listen address).
    link_base: String,
    /// Samples of each destination's delivered total, for its delivery rate.
    rates: std::sync::Mutex<HashMap<i64, Samples>>,
}

/// (when, delivered total) samples of one destination, oldest first.
type Samples = std::collections::VecDeque<(DateTime<Utc>, i64)>;

/// How far back the delivery rate looks.
const RATE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What a lane remembers between rounds.
#[derive(Clone, Debug, Default)]
struct Lane {
    /// Send items one at a time up to this outbox id (a batch of them was refused).
    isolate_through: Option<i64>,
}

/// The outcome of one round of a lane.
struct Round {
    delivered: usize,
    /// When the lane has something due next (nothing to do: `None`).
    due: Option<DateTime<Utc>>,
}

impl Exporter {
    /// A worker over `db`; `holder` names this process in leases.
    pub fn new(db: DatabaseConnection, settings: &Settings, tuning: Tuning) -> Self {
        let client = reqwest::Client::builder()
            .timeout(tuning.timeout)
            .connect_timeout(Duration::from_secs(10))
            // Never follow a redirect: records and credentials go to the configured host only.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("AOC/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            db,
            cipher: settings.encryption_key.as_ref().map(SecretCipher::new),
            siem: settings.siem.clone(),
            holder: format!("aoc-{}", uuid::Uuid::new_v4().simple()),
            tuning,
            client,
            link_base: settings
                .public_url
                .as_ref()
                .map(|p| p.origin())
                .unwrap_or_else(|| format!("http://{}", settings.listen_addr)),
            rates: Default::default(),
        }
    }

    /// Records a destination's delivered total (read from the database, so it counts every AOC
    /// process's deliveries) and returns its delivery rate in items per minute over the last five
    /// minutes (`None` until two samples a few seconds apart exist).
    pub fn delivery_rate(&self, destination: i64, delivered_total: i64) -> Option<f64> {
        let now = Utc::now();
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let samples = rates.entry(destination).or_default();
        if samples.back().is_none_or(|(t, n)| *n != delivered_total || now - *t >= chrono::TimeDelta::seconds(5)) {
            samples.push_back((now, delivered_total));
        }
        while samples.len() > 2 && samples.front().is_some_and(|(t, _)| now - *t > RATE_WINDOW) {
            samples.pop_front();
        }
        let (t0, n0) = *samples.front()?;
        let seconds = (now - t0).num_milliseconds() as f64 / 1000.0;
        (seconds >= 5.0).then(|| (delivered_total - n0).max(0) as f64 * 60.0 / seconds)
    }

    /// AOC's address for links in notices.
    pub fn link_base(&self) -> &str {
        &self.link_base
    }

    /// The HTTP client deliveries use.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Where `destination` is reached, or why it cannot be.
    pub fn target(&self, destination: &destinations::Model) -> Result<Target, String> {
        if destination.origin == "environment" {
            let url = self.siem.webhook_url.as_ref().ok_or("SIEM_WEBHOOK_URL is not set")?;
            let key = self.siem.webhook_secret.as_ref().and_then(|s| super::webhook::secret_key(s.expose_secret()));
            return Ok(Target {
                kind: "webhook".into(),
                url: url.expose_secret().to_string(),
                key,
                secret: None,
                options: serde_json::Value::Null,
                channel: String::new(),
                format: "json".into(),
                tokens: Default::default(),
            });
        }
        let secret = match &destination.secret_ciphertext {
            None => None,
            Some(sealed) => {
                let cipher = self.cipher.as_ref().ok_or(
                    "the destination's secret is stored encrypted and AOC_ENCRYPTION_KEY is not set: set it to the key \
                     the secret was stored with",
                )?;
                let secret: SecretString = cipher
                    .open(SecretKind::DestinationSecret, &destination.id.to_string(), sealed)
                    .map_err(|e| format!("the destination's secret cannot be read: {e}"))?;
                Some(secret)
            }
        };
        let key = match (&secret, destination.kind.as_str()) {
            (Some(secret), "webhook") => Some(
                super::webhook::secret_key(secret.expose_secret()).ok_or("the stored secret is not a whsec_ secret")?,
            ),
            _ => None,
        };
        if destination.kind == "splunk_hec" && secret.is_none() {
            return Err("a Splunk HEC destination needs its token as `secret`".into());
        }
        if destination.kind == "sentinel" && secret.is_none() {
            return Err("a Sentinel destination needs its app's client secret as `secret`".into());
        }
        let url = if super::input::URL_SECRET_KINDS.contains(&destination.kind.as_str()) {
            secret.as_ref().map(|s| s.expose_secret().to_string()).ok_or("the destination's webhook URL is not set")?
        } else {
            destination.endpoint.clone()
        };
        Ok(Target {
            kind: destination.kind.clone(),
            url,
            key,
            secret,
            options: serde_json::from_str(&destination.options).unwrap_or(serde_json::Value::Null),
            channel: uuid::Uuid::new_v4().to_string(),
            format: destination.format.clone(),
            tokens: Default::default(),
        })
    }

    /// Sends `documents` to `target` as one message (`event_id` when it is one event).
    pub async fn send(
        &self,
        target: &Target,
        message_id: &str,
        documents: &[serde_json::Value],
        event_id: Option<i64>,
    ) -> Sent {
        let secret = target.secret.as_ref().map(|s| s.expose_secret());
        match target.kind.as_str() {
            "teams" | "slack" => {
                let mut outcomes = Vec::with_capacity(documents.len());
                for doc in documents {
                    outcomes.push(super::notify::send(&self.client, &target.kind, &target.url, doc).await);
                }
                Sent::Items(outcomes)
            }
            "email" => {
                let mut outcomes = Vec::with_capacity(documents.len());
                for doc in documents {
                    outcomes
                        .push(super::email::send(&target.url, secret, &target.options, doc, self.tuning.timeout).await);
                }
                Sent::Items(outcomes)
            }
            "splunk_hec" => Sent::Batch(
                super::splunk::send(
                    &self.client,
                    &target.url,
                    secret.unwrap_or_default(),
                    &target.channel,
                    &target.options,
                    documents,
                    self.tuning.timeout * 2,
                )
                .await,
            ),
            "sentinel" => Sent::Batch(
                super::sentinel::send(
                    &self.client,
                    &target.url,
                    secret.unwrap_or_default(),
                    &target.options,
                    &target.tokens,
                    documents,
                )
                .await,
            ),
            "syslog" => Sent::Batch(
                super::syslog::send(
                    &target.url,
                    &target.options,
                    target.format == "cef",
                    documents,
                    self.tuning.timeout,
                )
                .await,
            ),
            "elasticsearch" => {
                match super::elastic::send(&self.client, &target.url, secret, &target.options, documents).await {
                    Ok(items) => Sent::Items(items),
                    Err(delivery) => Sent::Batch(delivery),
                }
            }
            _ => {
                let body = serde_json::to_vec(documents).unwrap_or_default();
                Sent::Batch(
                    super::webhook::send(&self.client, &target.url, target.key.as_deref(), message_id, body, event_id)
                        .await,
                )
            }
        }
    }

    /// Starts the supervisor; it runs until the handle is aborted.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.supervise().await })
    }

    async fn supervise(self: Arc<Self>) {
        let mut running: HashMap<i64, (DateTime<Utc>, tokio::task::JoinHandle<()>)> = HashMap::new();
        let mut ticks: u64 = 0;
        loop {
            match destinations::Entity::find().all(&self.db).await {
                Ok(rows) => {
                    let wanted: HashMap<i64, &destinations::Model> =
                        rows.iter().filter(|d| d.enabled).map(|d| (d.id, d)).collect();
                    running.retain(|id, (updated, handle)| {
                        let keep = !handle.is_finished() && wanted.get(id).is_some_and(|d| d.updated_at == *updated);
                        if !keep {
                            handle.abort();
                        }
                        keep
                    });
                    for (id, destination) in wanted {
                        if let std::collections::hash_map::Entry::Vacant(slot) = running.entry(id) {
                            let task = tokio::spawn(self.clone().deliver(destination.clone()));
                            slot.insert((destination.updated_at, task));
                        }
                    }
                    if ticks.is_multiple_of(4) {
                        self.publish_metrics(&rows).await;
                    }
                    for row in &rows {
                        self.delivery_rate(row.id, row.delivered_total);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the export destinations; retrying"),
            }
            ticks += 1;
            tokio::time::sleep(self.tuning.poll.max(Duration::from_millis(100)) * 2).await;
        }
    }

    async fn publish_metrics(&self, rows: &[destinations::Model]) {
        let Ok(stats) = outbox::queue_stats(&self.db).await else { return };
        let now = Utc::now();
        for destination in rows {
            let s = stats.iter().find(|s| s.destination_id == destination.id).cloned().unwrap_or_default();
            let name = destination.name.clone();
            metrics::gauge!("aoc_export_outbox_items", "destination" => name.clone(), "state" => "pending")
                .set(s.pending as f64);
            metrics::gauge!("aoc_export_outbox_items", "destination" => name.clone(), "state" => "parked")
                .set(s.parked as f64);
            let age = s.oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            metrics::gauge!("aoc_export_oldest_item_age_seconds", "destination" => name).set(age);
        }
    }

    /// Delivers one destination for as long as it holds (or can take) its lease.
    async fn deliver(self: Arc<Self>, destination: destinations::Model) {
        let target = match self.target(&destination) {
            Ok(target) => target,
            Err(problem) => {
                tracing::error!(destination = %destination.name, problem = %problem, "an export destination cannot be delivered");
                let _ = outbox::record_error(&self.db, destination.id, &problem).await;
                // The supervisor starts it again; a changed destination gets a new task at once.
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        };
        let mut lanes: HashMap<&'static str, Lane> = lanes().into_iter().map(|l| (l, Lane::default())).collect();
        let concurrency = destination.concurrency.clamp(1, 5) as usize;
        loop {
            let until = Utc::now() + chrono::Duration::from_std(self.tuning.lease).unwrap_or_default();
            match outbox::take_lease(&self.db, destination.id, &self.holder, until).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another process delivers it; try again when its lease may have run out.
                    tokio::time::sleep(self.tuning.poll.max(self.tuning.lease / 4)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(destination = %destination.name, error = %e, "could not take an export lease");
                    tokio::time::sleep(self.tuning.poll * 4).await;
                    continue;
                }
            }
            // Up to `concurrency` lanes at once.
            let mut work = std::mem::take(&mut lanes).into_iter();
            let mut in_flight = futures_util::stream::FuturesUnordered::new();
            let mut rounds = Vec::new();
            for (name, lane) in work.by_ref() {
                if in_flight.len() >= concurrency {
                    if let Some(done) = in_flight.next().await {
                        rounds.push(done);
                    }
                }
                in_flight.push(self.lane_round(&destination, &target, name, lane));
            }
            while let Some(done) = in_flight.next().await {
                rounds.push(done);
            }
            let mut delivered = 0;
            let mut next: Option<DateTime<Utc>> = None;
            for (name, lane, round) in rounds {
                lanes.insert(name, lane);
                match round {
                    Ok(round) => {
                        delivered += round.delivered;
                        next = match (next, round.due) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    Err(e) => {
                        tracing::warn!(destination = %destination.name, lane = name, error = %e, "export lane failed; retrying")
                    }
                }
            }
            if delivered == 0 {
                let mut wait = self.tuning.poll;
                if let Some(due) = next {
                    let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    wait = wait.min(until_due.max(Duration::from_millis(20)));
                }
                tokio::time::sleep(wait).await;
            }
        }
    }

    async fn lane_round(
        &self,
        destination: &destinations::Model,
        target: &Target,
        name: &'static str,
        mut lane: Lane,
    ) -> (&'static str, Lane, Result<Round, DbErr>) {
        let round = self.deliver_lane(destination, target, name, &mut lane).await;
        (name, lane, round)
    }

    /// Sends the next batch of one lane, if it is due.
    async fn deliver_lane(
        &self,
        destination: &destinations::Model,
        target: &Target,
        lane_name: &str,
        lane: &mut Lane,
    ) -> Result<Round, DbErr> {
        let batch = destination.batch_size.clamp(1, 5_000) as u64;
        let mut items = outbox::pending(&self.db, destination.id, lane_name, batch).await?;
        let Some(first) = items.first() else {
            lane.isolate_through = None;
            return Ok(Round { delivered: 0, due: None });
        };
        let now = Utc::now();
        if first.next_attempt_at > now {
            return Ok(Round { delivered: 0, due: Some(first.next_attempt_at) });
        }
        if lane.isolate_through.is_some_and(|through| first.id <= through) {
            items.truncate(1);
        } else {
            lane.isolate_through = None;
        }
        let (items, documents) = self.documents(destination, items).await?;
        if items.is_empty() {
            return Ok(Round { delivered: 0, due: Some(now) });
        }
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let message_id = format!("aoc_{}_{}_{}", destination.id, ids[0], ids[ids.len() - 1]);
        let single = (items.len() == 1).then(|| items[0].event_id).flatten();
        let delivery = match self.send(target, &message_id, &documents, single).await {
            Sent::Batch(delivery) => delivery,
            Sent::Items(outcomes) => return self.settle_items(destination, lane_name, &items, outcomes).await,
        };
        let name = destination.name.clone();
        let writer = crate::store::writer(&self.db).await?;
        match &delivery {
            Delivery::Delivered { .. } => {
                outbox::mark_delivered(&*writer, destination.id, &ids).await?;
                metrics::counter!("aoc_export_delivered_total", "destination" => name).increment(ids.len() as u64);
                Ok(Round { delivered: ids.len(), due: Some(now) })
            }
            Delivery::Retry { retry_after, .. } => {
                let attempts = items.iter().map(|i| i.attempts).max().unwrap_or(0);
                let wait = retry_after
                    .map(|w| w.min(Duration::from_secs(3_600)))
                    .unwrap_or_else(|| backoff(attempts, self.tuning.base_backoff, self.tuning.max_backoff));
                let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                outbox::retry_later(&*writer, destination.id, &ids, next, &delivery.describe()).await?;
                metrics::counter!("aoc_export_failures_total", "destination" => name, "outcome" => "retry")
                    .increment(1);
                tracing::warn!(destination = %destination.name, lane = lane_name, items = ids.len(), wait_ms = wait.as_millis() as u64, answer = %delivery.describe(), "export batch not delivered; will retry");
                Ok(Round { delivered: 0, due: Some(next) })
            }
            Delivery::Refused { .. } if ids.len() > 1 => {
                // Which record is refused is unknown: send them one at a time.
                lane.isolate_through = ids.last().copied();
                outbox::record_error(&*writer, destination.id, &delivery.describe()).await?;
                Ok(Round { delivered: 0, due: Some(now) })
            }
            Delivery::Refused { .. } => {
                outbox::park(&*writer, destination.id, ids[0], &delivery.describe()).await?;
                metrics::counter!("aoc_export_failures_total", "destination" => name, "outcome" => "parked")
                    .increment(1);
                tracing::warn!(destination = %destination.name, item = ids[0], answer = %delivery.describe(), "export item refused; parked");
                Ok(Round { delivered: 0, due: Some(now) })
            }
        }
    }

    /// Records an answer per item: delivered ones leave the queue, refused ones are parked, and
    /// the ones to retry (which stay first in their lane) wait for the back-off.
    async fn settle_items(
        &self,
        destination: &destinations::Model,
        lane_name: &str,
        items: &[OutboxItem],
        outcomes: Vec<Delivery>,
    ) -> Result<Round, DbErr> {
        let now = Utc::now();
        let name = destination.name.clone();
        let mut delivered = Vec::new();
        let mut retry = Vec::new();
        let mut retry_after: Option<Duration> = None;
        let mut retry_answer = String::new();
        let writer = crate::store::writer(&self.db).await?;
        for (item, outcome) in items.iter().zip(outcomes) {
            match &outcome {
                Delivery::Delivered { .. } => delivered.push(item.id),
                Delivery::Retry { retry_after: after, .. } => {
                    retry.push(item.id);
                    retry_after = retry_after.max(*after);
                    retry_answer = outcome.describe();
                }
                Delivery::Refused { .. } => {
                    outbox::park(&*writer, destination.id, item.id, &outcome.describe()).await?;
                    metrics::counter!("aoc_export_failures_total", "destination" => name.clone(), "outcome" => "parked")
                        .increment(1);
                    tracing::warn!(destination = %destination.name, item = item.id, answer = %outcome.describe(), "export item refused; parked");
                }
            }
        }
        outbox::mark_delivered(&*writer, destination.id, &delivered).await?;
        metrics::counter!("aoc_export_delivered_total", "destination" => name.clone())
            .increment(delivered.len() as u64);
        if retry.is_empty() {
            return Ok(Round { delivered: delivered.len(), due: Some(now) });
        }
        let attempts = items.iter().filter(|i| retry.contains(&i.id)).map(|i| i.attempts).max().unwrap_or(0);
        let wait = retry_after
            .map(|w| w.min(Duration::from_secs(3_600)))
            .unwrap_or_else(|| backoff(attempts, self.tuning.base_backoff, self.tuning.max_backoff));
        let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
        outbox::retry_later(&*writer, destination.id, &retry, next, &retry_answer).await?;
        metrics::counter!("aoc_export_failures_total", "destination" => name, "outcome" => "retry").increment(1);
        tracing::warn!(destination = %destination.name, lane = lane_name, items = retry.len(), "export items not delivered; will retry");
        Ok(Round { delivered: delivered.len(), due: Some(next) })
    }

    /// The documents of `items`, in order; items whose event is gone without a kept copy are
    /// parked (and left out).
    async fn documents(
        &self,
        destination: &destinations::Model,
        items: Vec<OutboxItem>,
    ) -> Result<(Vec<OutboxItem>, Vec<serde_json::Value>), DbErr> {
        let ids: Vec<i64> = items.iter().filter_map(|i| i.event_id).collect();
        let mut events: HashMap<i64, crate::store::query::StoredEvent> =
            outbox::events_by_id(&self.db, &ids).await?.into_iter().map(|e| (e.id, e)).collect();
        let mut kept = Vec::with_capacity(items.len());
        let mut documents = Vec::with_capacity(items.len());
        for item in items {
            if item.item_kind == "alert" {
                let alert = match item.alert_id {
                    Some(id) => crate::store::detection::get_alert(&self.db, id).await?,
                    None => None,
                };
                match alert {
                    Some(alert) => {
                        documents.push(super::notify::alert_document(&alert, &self.link_base));
                        kept.push(item);
                    }
                    None => {
                        let writer = crate::store::writer(&self.db).await?;
                        outbox::park(&*writer, destination.id, item.id, "the alert no longer exists in AOC").await?;
                    }
                }
                continue;
            }
            let event = item
                .event_id
                .and_then(|id| events.remove(&id))
                .or_else(|| item.payload.as_deref().and_then(event_from_payload));
            match event {
                Some(event) => {
                    documents.push(event_document(event));
                    kept.push(item);
                }
                None => {
                    let writer = crate::store::writer(&self.db).await?;
                    outbox::park(&*writer, destination.id, item.id, "the record no longer exists in AOC").await?;
                }
            }
        }
        Ok((kept, documents))
    }
}
