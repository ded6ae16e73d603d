//! Detection: the evaluator that runs the enabled rules over newly stored events exactly once,
//! and the rule and alert services the REST API calls (every change in the audit trail).
//!
//! Exactly once: the evaluator reads the events after the durable cursor (`detection_cursor`),
//! evaluates them, and commits the alerts they raised together with the advanced cursor in one
//! transaction, after checking under a lock that the cursor did not move meanwhile (another
//! replica, or an earlier pass). A crash before the commit leaves the cursor where it was, so
//! the same events are evaluated again and raise the same alerts once. Events only reach the
//! table through insert-if-absent, so a re-collected record is never a new row and raises
//! nothing. On PostgreSQL, event ids are allocated in one order and committed in another; the
//! evaluator reads only up to the id below which no insert is still in progress
//! (`store::detection::settled_upper_bound`).
//!
//! Grouping: matches of one rule on one entity (the rule's `group_by`) extend the newest open
//! alert of that rule and entity when they happen within the rule's window of it (count, first
//! and last seen, events), instead of raising one alert each.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use app::auth::Caller;
use app::error::{AppError, ErrorCode};

use super::annotations::audit;
use super::db_failure;
use crate::rules::{self, CompiledRule, Definition, EventDoc, RuleDraft};
use crate::store::detection::{self as store, AlertQuery, AlertRow, EventForRules, RuleRow};
use crate::store::writer::Subscribers;

/// Events evaluated per pass (one transaction).
pub const PASS_EVENTS: u64 = 2_000;

/// The name alerts' history gives the evaluator.
pub const EVALUATOR: &str = "AOC detection";

/// Most values kept per entity list of an alert.
const MAX_ENTITY_VALUES: usize = 25;

/// The entities of an alert.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Entities {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub apps: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
}

impl Entities {
    fn add(&mut self, doc: &EventDoc) {
        fn put(list: &mut Vec<String>, value: Option<&str>) {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                if list.len() < MAX_ENTITY_VALUES && !list.iter().any(|x| x == v) {
                    list.push(v.to_string());
                }
            }
        }
        put(&mut self.users, doc.actor_upn.as_deref().or(doc.actor_display.as_deref()));
        put(&mut self.ips, doc.actor_ip.as_deref());
        put(&mut self.apps, doc.actor_app_id.as_deref());
        put(&mut self.targets, doc.target_display.as_deref());
    }
}

/// The event an evaluator row becomes.
pub fn event_doc(e: &EventForRules) -> EventDoc {
    let mut doc = event_columns(e);
    doc.set_flattened(&e.flattened);
    doc
}

/// The event an evaluator row becomes, with the flattened fields `rules` read (all they can
/// tell apart, for less work than every field).
pub fn event_doc_for(e: &EventForRules, wanted: &rules::engine::FieldSet) -> EventDoc {
    let mut doc = event_columns(e);
    doc.set_flattened_for(&e.flattened, wanted);
    doc
}

/// The flattened keys any of `rules` reads.
pub fn fields_read(rules: &[CompiledRule]) -> rules::engine::FieldSet {
    let mut set = rules::engine::FieldSet::default();
    rules.iter().for_each(|r| r.note_fields(&mut set));
    set
}

fn event_columns(e: &EventForRules) -> EventDoc {
    EventDoc {
        tenant_id: e.tenant_id.clone(),
        source: e.source.clone(),
        content_type: e.content_type.clone(),
        service: e.service.clone(),
        operation: e.operation.clone(),
        result: e.result.clone(),
        actor_upn: e.actor_upn.clone(),
        actor_display: e.actor_display.clone(),
        actor_ip: e.actor_ip.clone(),
        actor_app_id: e.actor_app_id.clone(),
        target_display: e.target_display.clone(),
        severity: e.severity,
        record_id: e.record_id.clone(),
        ..Default::default()
    }
}

/// Every watchlist's items by lower-case list name (rules name watchlists; Sigma `expand`).
pub async fn watchlist_values(db: &impl ConnectionTrait) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let mut lists: HashMap<String, Vec<String>> = HashMap::new();
    for (name, _kind, value) in crate::store::watchlists::all_items(db).await? {
        lists.entry(name.to_lowercase()).or_default().push(value);
    }
    Ok(lists)
}

/// A stored definition with the items of the watchlists it names filled in.
pub fn resolve_definition(definition: &str, lists: &HashMap<String, Vec<String>>) -> String {
    match serde_json::from_str::<Value>(definition) {
        Ok(mut value) => {
            rules::engine::resolve_watchlists(&mut value, lists);
            value.to_string()
        }
        Err(_) => definition.to_string(),
    }
}

/// The enabled rules, compiled (with their watchlists' current items); a rule that no longer
/// compiles is skipped with a log line.
pub async fn load_rules(db: &impl ConnectionTrait) -> Result<Vec<CompiledRule>, DbErr> {
    let lists = watchlist_values(db).await?;
    Ok(store::enabled_rules(db)
        .await?
        .into_iter()
        .filter_map(|r| {
            let sources: Vec<String> = serde_json::from_str(&r.sources).unwrap_or_default();
            let definition = resolve_definition(&r.definition, &lists);
            match CompiledRule::new(r.id, &r.name, r.severity, r.hunting, sources, &definition) {
                Ok(rule) => Some(rule),
                Err(error) => {
                    tracing::error!(rule.id = r.id, %error, "a stored rule does not compile; it is skipped");
                    None
                }
            }
        })
        .collect())
}

/// One match of a rule on an event.
#[derive(Clone, Debug)]
pub struct Match {
    pub rule: usize,
    pub event_id: i64,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: String,
    pub group_key: String,
    pub doc: Arc<EventDoc>,
    /// Stateful rules: the observation's step and value (see `rules::stateful`).
    pub step: i16,
    pub value: String,
}

/// Every match of `rules` on `events` (in event order); for stateful rules, every observation.
pub fn evaluate(rules: &[CompiledRule], events: &[EventForRules]) -> Vec<Match> {
    let mut matches = Vec::new();
    let wanted = fields_read(rules);
    let index = rules::RuleIndex::new(rules);
    let mut candidates = Vec::with_capacity(rules.len());
    for e in events {
        let doc = Arc::new(event_doc_for(e, &wanted));
        index.candidates(&doc, &mut candidates);
        for &i in &candidates {
            let rule = &rules[i];
            let found = if rule.logic.is_stateful() {
                rule.observations(&doc)
            } else if rule.fires_on(&doc) {
                vec![(rules::stateful::STEP_MATCH, String::new())]
            } else {
                continue;
            };
            for (step, value) in found {
                let doc = doc.clone();
                matches.push(Match {
                    rule: i,
                    event_id: e.id,
                    occurred_at: e.occurred_at,
                    tenant_id: e.tenant_id.clone(),
                    group_key: doc.entity(&rule.group_by).unwrap_or_else(|| "(none)".into()),
                    doc,
                    step,
                    value,
                });
            }
        }
    }
    matches
}

/// A group of matches: (rule index, tenant, entity).
type GroupKey = (usize, String, String);

/// A backtest's matches of one (tenant, entity): (time, event id, record id).
type BacktestGroups = HashMap<(String, String), Vec<(DateTime<Utc>, i64, String)>>;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassOutcome {
    pub events: u64,
    pub matches: u64,
    pub alerts_created: u64,
    pub alerts_updated: u64,
}

/// An alert being built or grown in a pass.
struct Pending {
    id: Option<i64>,
    count: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    entities: Entities,
    events: Vec<(i64, DateTime<Utc>)>,
    matched: Vec<(String, String)>,
}

/// Evaluates the next events after the cursor and commits their alerts with the cursor.
pub async fn evaluate_pass(db: &DatabaseConnection, rules: &[CompiledRule]) -> Result<PassOutcome, DbErr> {
    let position = store::cursor(db).await?;
    let upto = store::settled_upper_bound(db).await?;
    if upto.is_some_and(|u| u <= position) {
        return Ok(PassOutcome::default());
    }
    let events = store::events_after(db, position, upto, PASS_EVENTS).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(PassOutcome::default());
    };
    let mut matches = evaluate(rules, &events);
    // Suppressed matches raise and count nothing.
    if let Some(oldest) = matches.iter().map(|m| m.occurred_at).min() {
        let suppressions = store::suppressions(db, None, oldest).await?;
        if !suppressions.is_empty() {
            matches.retain(|m| !suppressions.iter().any(|s| s.covers(rules[m.rule].id, &m.group_key, m.occurred_at)));
        }
    }
    let now = Utc::now();
    let writer = crate::store::writer(db).await?;
    let txn = writer.begin().await?;
    if store::lock_cursor(&txn).await? != position {
        // Someone else evaluated these meanwhile.
        txn.rollback().await?;
        return Ok(PassOutcome::default());
    }
    let mut outcome = PassOutcome { events: events.len() as u64, matches: matches.len() as u64, ..Default::default() };
    // Group the matches by (rule, tenant, entity), keeping event order within each.
    let mut groups: Vec<(GroupKey, Vec<&Match>)> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let (stateful, plain): (Vec<&Match>, Vec<&Match>) = matches.iter().partition(|m| rules[m.rule].logic.is_stateful());
    for m in plain {
        let key = (m.rule, m.tenant_id.clone(), m.group_key.clone());
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(m);
    }
    for ((rule_index, tenant, key), mut group) in groups {
        let rule = &rules[rule_index];
        group.sort_by_key(|m| (m.occurred_at, m.event_id));
        let mut current: Option<Pending> =
            store::latest_open_alert(&txn, rule.id, &tenant, &key).await?.map(|open| Pending {
                id: Some(open.id),
                count: open.count,
                first_seen: open.first_seen,
                last_seen: open.last_seen,
                entities: serde_json::from_str(&open.entities).unwrap_or_default(),
                events: Vec::new(),
                matched: Vec::new(),
            });
        for m in group {
            let fits = current.as_ref().is_some_and(|a| {
                m.occurred_at >= a.first_seen - rule.window && m.occurred_at <= a.last_seen + rule.window
            });
            if !fits {
                if let Some(done) = current.take() {
                    flush(&txn, rule, &tenant, &key, done, now, &mut outcome).await?;
                }
                current = Some(Pending {
                    id: None,
                    count: 0,
                    first_seen: m.occurred_at,
                    last_seen: m.occurred_at,
                    entities: Entities::default(),
                    events: Vec::new(),
                    matched: rule.condition.explain(&m.doc),
                });
            }
            if let Some(a) = current.as_mut() {
                a.count += 1;
                a.first_seen = a.first_seen.min(m.occurred_at);
                a.last_seen = a.last_seen.max(m.occurred_at);
                a.entities.add(&m.doc);
                a.events.push((m.event_id, m.occurred_at));
            }
        }
        if let Some(done) = current.take() {
            flush(&txn, rule, &tenant, &key, done, now, &mut outcome).await?;
        }
    }
    apply_stateful(&txn, rules, &stateful, now, &mut outcome).await?;
    store::advance_cursor(&txn, last, now).await?;
    txn.commit().await?;
    if outcome.alerts_created > 0 || outcome.alerts_updated > 0 {
        metrics::counter!("aoc_alerts_created_total").increment(outcome.alerts_created);
    }
    metrics::counter!("aoc_rules_events_evaluated_total").increment(outcome.events);
    Ok(outcome)
}

async fn flush(
    txn: &impl ConnectionTrait,
    rule: &CompiledRule,
    tenant: &str,
    key: &str,
    alert: Pending,
    now: DateTime<Utc>,
    outcome: &mut PassOutcome,
) -> Result<(), DbErr> {
    if alert.events.is_empty() {
        return Ok(());
    }
    let entities = serde_json::to_string(&alert.entities).unwrap_or_else(|_| "{}".into());
    let id = match alert.id {
        Some(id) => {
            store::grow_alert(txn, id, alert.count, alert.first_seen, alert.last_seen, &entities, now).await?;
            outcome.alerts_updated += 1;
            id
        }
        None => {
            let matched: Vec<Value> = alert
                .matched
                .iter()
                .map(|(condition, value)| json!({"condition": condition, "value": value}))
                .collect();
            let id = store::insert_alert(
                txn,
                store::NewAlert {
                    rule_id: rule.id,
                    tenant_id: tenant,
                    group_key: key,
                    title: &format!("{}: {key}", rule.name),
                    severity: rule.severity,
                    hunting: rule.hunting,
                    count: alert.count,
                    first_seen: alert.first_seen,
                    last_seen: alert.last_seen,
                    entities: &entities,
                    matched: &Value::Array(matched).to_string(),
                    window_start: None,
                    now,
                },
            )
            .await?;
            store::insert_history(txn, id, EVALUATOR, "created", &json!({"count": alert.count}), now).await?;
            crate::store::export::enqueue_alert(txn, id).await?;
            outcome.alerts_created += 1;
            id
        }
    };
    store::link_events(txn, id, &alert.events).await
}

/// Stores the observations of stateful rules and raises or reshapes the alerts of the windows
/// they touched, each recomputed from all the stored observations of its window (so the answer
/// does not depend on the order or batching of arrival).
async fn apply_stateful(
    txn: &impl ConnectionTrait,
    rules: &[CompiledRule],
    matches: &[&Match],
    now: DateTime<Utc>,
    outcome: &mut PassOutcome,
) -> Result<(), DbErr> {
    use rules::stateful::{self as st, Logic};
    if matches.is_empty() {
        return Ok(());
    }
    let rows: Vec<store::Observation> = matches
        .iter()
        .map(|m| store::Observation {
            rule_id: rules[m.rule].id,
            tenant_id: m.tenant_id.clone(),
            entity: m.group_key.clone(),
            step: m.step,
            value: m.value.clone(),
            occurred_at: m.occurred_at,
            event_id: m.event_id,
        })
        .collect();
    store::insert_observations(txn, &rows).await?;
    let docs: HashMap<i64, Arc<EventDoc>> = matches.iter().map(|m| (m.event_id, m.doc.clone())).collect();
    let mut touched: std::collections::BTreeMap<(usize, String, String), Vec<&Match>> = Default::default();
    for m in matches {
        touched.entry((m.rule, m.tenant_id.clone(), m.group_key.clone())).or_default().push(m);
    }
    for ((index, tenant, entity), list) in touched {
        let rule = &rules[index];
        let w = rule.window;
        match &rule.logic {
            Logic::Match => {}
            Logic::Threshold { count, distinct } => {
                let windows: BTreeSet<DateTime<Utc>> = list.iter().map(|m| st::window_of(m.occurred_at, w)).collect();
                for start in windows {
                    let obs = store::observations(txn, rule.id, &tenant, &entity, start, start + w).await?;
                    if let Some(shape) =
                        st::threshold(&obs, w, *count, distinct.is_some()).into_iter().find(|s| s.window_start == start)
                    {
                        let detail = match distinct {
                            Some(field) => {
                                format!("{} distinct {} in {} min", count_values(&obs), field.name, w.num_minutes())
                            }
                            None => format!("{} events in {} min", shape.events.len(), w.num_minutes()),
                        };
                        let window = Window { group_key: &entity, lookup: (start, start), detail };
                        upsert_window(txn, rule, &tenant, window, shape, &docs, now, outcome).await?;
                    }
                }
            }
            Logic::Sequence { any_order, .. } => {
                let mut windows = BTreeSet::new();
                for m in &list {
                    windows.insert(st::window_of(m.occurred_at, w));
                    if m.step == st::STEP_MATCH || *any_order {
                        windows.insert(st::window_of(m.occurred_at + w, w));
                    }
                }
                for start in windows {
                    let obs = store::observations(txn, rule.id, &tenant, &entity, start - w, start + w).await?;
                    if let Some(shape) = st::sequence(&obs, w, *any_order).into_iter().find(|s| s.window_start == start)
                    {
                        let window = Window {
                            group_key: &entity,
                            lookup: (start, start),
                            detail: if *any_order {
                                format!("both steps, in either order, within {} min", w.num_minutes())
                            } else {
                                format!("first step then second step within {} min", w.num_minutes())
                            },
                        };
                        upsert_window(txn, rule, &tenant, window, shape, &docs, now, outcome).await?;
                    }
                }
            }
            Logic::FirstSeen { field, lookback } => {
                let mut spans: std::collections::BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = Default::default();
                for m in &list {
                    let span = spans.entry(m.value.as_str()).or_insert((m.occurred_at, m.occurred_at));
                    span.0 = span.0.min(m.occurred_at);
                    span.1 = span.1.max(m.occurred_at);
                }
                for (value, (low, high)) in spans {
                    // The alerts of `value` in [low, high + lookback] (`st::first_seen` over the
                    // entity's observations there) are among the span's candidates: this pass
                    // stored the value at `high` (see `st::first_seen_candidates`).
                    let span = store::value_observations(txn, rule.id, &tenant, &entity, value, low, high).await?;
                    let before = store::latest_value_before(txn, rule.id, &tenant, &entity, value, low).await?;
                    for o in st::first_seen_candidates(&span, before, *lookback) {
                        let from = o.occurred_at - *lookback;
                        let others =
                            store::earliest_other_values(txn, rule.id, &tenant, &entity, value, from, o.occurred_at)
                                .await?;
                        if !others.iter().any(|p| st::is_history_of(p, &o, *lookback)) {
                            continue;
                        }
                        let shape = st::Shape {
                            window_start: o.occurred_at,
                            events: vec![(o.event_id, o.occurred_at)],
                            value: Some(o.value.clone()),
                        };
                        let key = format!("{entity} · {value}");
                        let start = shape.window_start;
                        let window = Window {
                            group_key: &key,
                            // A later alert of the value within the look-back is no longer the
                            // first: this one takes its place.
                            lookup: (start, start + *lookback),
                            detail: format!(
                                "{} = {value}: not seen for this entity in {} days",
                                field.name,
                                lookback.num_days()
                            ),
                        };
                        upsert_window(txn, rule, &tenant, window, shape, &docs, now, outcome).await?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn count_values(obs: &[rules::stateful::Obs]) -> usize {
    obs.iter().filter(|o| !o.value.is_empty()).map(|o| o.value.as_str()).collect::<BTreeSet<_>>().len()
}

/// Which alert a stateful shape is: its group, where to look for it, and what fired.
struct Window<'a> {
    group_key: &'a str,
    lookup: (DateTime<Utc>, DateTime<Utc>),
    detail: String,
}

/// Raises the alert of a window, or sets an existing one to what its window now holds.
#[allow(clippy::too_many_arguments)]
async fn upsert_window(
    txn: &impl ConnectionTrait,
    rule: &CompiledRule,
    tenant: &str,
    window: Window<'_>,
    shape: rules::stateful::Shape,
    docs: &HashMap<i64, Arc<EventDoc>>,
    now: DateTime<Utc>,
    outcome: &mut PassOutcome,
) -> Result<(), DbErr> {
    let (Some(first), Some(last)) = (shape.events.first().map(|e| e.1), shape.events.last().map(|e| e.1)) else {
        return Ok(());
    };
    // The entities of the window's events (the stored ones this pass did not read are loaded).
    let ids: Vec<i64> = shape.events.iter().map(|e| e.0).take(200).collect();
    let missing: Vec<i64> = ids.iter().copied().filter(|id| !docs.contains_key(id)).collect();
    let loaded: HashMap<i64, EventDoc> =
        store::events_by_ids(txn, &missing).await?.iter().map(|e| (e.id, event_doc(e))).collect();
    let mut entities = Entities::default();
    let mut first_doc: Option<&EventDoc> = None;
    for id in &ids {
        if let Some(doc) = docs.get(id).map(|d| d.as_ref()).or_else(|| loaded.get(id)) {
            entities.add(doc);
            first_doc.get_or_insert(doc);
        }
    }
    let entities = serde_json::to_string(&entities).unwrap_or_else(|_| "{}".into());
    let count = shape.events.len() as i64;
    let existing =
        store::alert_for_window(txn, rule.id, tenant, window.group_key, window.lookup.0, window.lookup.1).await?;
    let id = match existing {
        Some(alert) => {
            store::reshape_alert(txn, alert.id, shape.window_start, count, first, last, &entities, now).await?;
            if alert.count != count || alert.window_start != Some(shape.window_start) {
                outcome.alerts_updated += 1;
            }
            alert.id
        }
        None => {
            let mut matched: Vec<Value> = first_doc
                .map(|doc| rule.condition.explain(doc))
                .unwrap_or_default()
                .into_iter()
                .map(|(condition, value)| json!({"condition": condition, "value": value}))
                .collect();
            matched.push(json!({"condition": rule.logic_name(), "value": window.detail}));
            let id = store::insert_alert(
                txn,
                store::NewAlert {
                    rule_id: rule.id,
                    tenant_id: tenant,
                    group_key: window.group_key,
                    title: &format!("{}: {}", rule.name, window.group_key),
                    severity: rule.severity,
                    hunting: rule.hunting,
                    count,
                    first_seen: first,
                    last_seen: last,
                    entities: &entities,
                    matched: &Value::Array(matched).to_string(),
                    window_start: Some(shape.window_start),
                    now,
                },
            )
            .await?;
            store::insert_history(txn, id, EVALUATOR, "created", &json!({"count": count}), now).await?;
            crate::store::export::enqueue_alert(txn, id).await?;
            outcome.alerts_created += 1;
            id
        }
    };
    store::link_events(txn, id, &shape.events).await
}

/// Records what a first-seen rule counts as known: the values its entities showed in the
/// stored events of the look-back, up to the newest stored event (later events are evaluated).
/// Runs in the transaction that stores or changes the rule, so the evaluator never sees the rule
/// without its baseline. Returns the number of events read (at most `max_events`).
pub async fn record_baseline(
    txn: &impl ConnectionTrait,
    rule_id: i64,
    draft: &RuleDraft,
    max_events: u64,
) -> Result<u64, DbErr> {
    let lists = watchlist_values(txn).await?;
    let definition = resolve_definition(&serde_json::to_string(&draft.definition).unwrap_or_default(), &lists);
    let Ok(rule) =
        CompiledRule::new(rule_id, &draft.name, draft.severity, draft.hunting, draft.sources.clone(), &definition)
    else {
        return Ok(0);
    };
    let rules::stateful::Logic::FirstSeen { lookback, .. } = &rule.logic else { return Ok(0) };
    let upto = store::max_event_id(txn).await?;
    let from = Utc::now() - *lookback;
    let far = Utc::now() + chrono::Duration::days(3650);
    let (mut after, mut read) = (0, 0u64);
    while read < max_events {
        let page = store::events_between(txn, from, far, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        read += page.len() as u64;
        let rows: Vec<store::Observation> = evaluate(std::slice::from_ref(&rule), &page)
            .into_iter()
            .filter(|m| m.event_id <= upto)
            .map(|m| store::Observation {
                rule_id,
                tenant_id: m.tenant_id,
                entity: m.group_key,
                step: rules::stateful::STEP_BASELINE,
                value: m.value,
                occurred_at: m.occurred_at,
                event_id: m.event_id,
            })
            .collect();
        store::insert_observations(txn, &rows).await?;
        if after >= upto {
            break;
        }
    }
    Ok(read)
}

/// Most events a first-seen rule's baseline reads.
pub const BASELINE_MAX_EVENTS: u64 = 500_000;

/// How long the evaluator lets announced batches gather before a pass.
const GATHER: Duration = Duration::from_millis(500);

/// Runs passes until the cursor reaches the newest event.
pub async fn catch_up(db: &DatabaseConnection) -> Result<PassOutcome, DbErr> {
    let rules = load_rules(db).await?;
    let mut total = PassOutcome::default();
    loop {
        let pass = evaluate_pass(db, &rules).await?;
        total.events += pass.events;
        total.matches += pass.matches;
        total.alerts_created += pass.alerts_created;
        total.alerts_updated += pass.alerts_updated;
        if pass.events < PASS_EVENTS {
            return Ok(total);
        }
    }
}

/// The evaluator task: a pass whenever the write path announces new events, and every `tick`
/// (events written by other processes, and anything a failed pass left). Rules are reloaded
/// for every pass, so an edit applies from the next batch.
pub fn spawn_evaluator(
    db: DatabaseConnection,
    subscribers: &Subscribers,
    tick: Duration,
) -> tokio::task::JoinHandle<()> {
    let mut announcements = subscribers.subscribe();
    tokio::spawn(async move {
        loop {
            match catch_up(&db).await {
                Ok(outcome) if outcome.alerts_created + outcome.alerts_updated > 0 => {
                    tracing::info!(
                        events = outcome.events,
                        created = outcome.alerts_created,
                        updated = outcome.alerts_updated,
                        "rules raised alerts"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "rule evaluation failed; it will be retried"),
            }
            tokio::select! {
                received = announcements.recv() => {
                    if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        tokio::time::sleep(tick).await;
                    } else {
                        // Collection stores in bursts of batches: gathering them into one pass
                        // takes the writer (and reloads the rules) once instead of once a batch.
                        tokio::time::sleep(GATHER.min(tick)).await;
                        while matches!(
                            announcements.try_recv(),
                            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
                        ) {}
                    }
                }
                _ = tokio::time::sleep(tick) => {}
            }
        }
    })
}

/// Stores the built-in rules that are not stored yet (by uid); returns how many were added.
pub async fn seed_builtin(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let now = Utc::now();
    let mut added = 0;
    for builtin in rules::builtin::pack() {
        let Ok(draft) = builtin.draft.validate() else { continue };
        // With its baseline, in one transaction (on SQLite through the writer connection).
        let writer = crate::store::writer(db).await?;
        let txn = writer.begin().await?;
        if let Some(id) = store::insert_rule(&txn, &draft, true, "AOC", now).await? {
            record_baseline(&txn, id, &draft, BASELINE_MAX_EVENTS).await?;
            added += 1;
        }
        txn.commit().await?;
    }
    Ok(added)
}

// ---------------------------------------------------------------------------------------------
// Rules and alerts for the API

/// A rule as written by a person: every field optional (a PUT changes only what it names).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// info, low, medium, high or critical.
    pub severity: Option<String>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub owner: Option<String>,
    /// unified, directory, signin, intune (empty: all).
    pub sources: Option<Vec<String>>,
    pub hunting: Option<bool>,
    /// `match` (default), `threshold`, `first_seen` or `sequence`.
    pub kind: Option<String>,
    /// The condition (see the README's rule language).
    #[schema(value_type = Object)]
    pub condition: Option<Value>,
    /// actor (default), target, ip, app, tenant or field:<name>, or several of them separated
    /// by commas (`actor, ip`).
    pub group_by: Option<String>,
    /// 1–10080, default 60.
    pub window_minutes: Option<i64>,
    /// Threshold rules: `{"count": 15, "distinct": "actor"}`.
    pub threshold: Option<rules::ThresholdSpec>,
    /// First-seen rules: `{"field": "country", "lookback_days": 30}`.
    pub first_seen: Option<rules::FirstSeenSpec>,
    /// Sequence rules: the second step's condition.
    #[schema(value_type = Object)]
    pub then: Option<Value>,
    /// Sequence rules: the two steps in either order (Sigma `temporal`); default false (the
    /// condition, then `then`).
    pub any_order: Option<bool>,
    /// A Sigma rule's YAML text.
    pub sigma: Option<String>,
}

fn invalid(e: rules::RuleError) -> AppError {
    AppError::invalid_input(&e.field, e.problem)
}

/// The draft a stored rule was made from.
pub fn draft_from(row: &RuleRow) -> RuleDraft {
    RuleDraft {
        uid: row.uid.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        kind: row.kind.clone(),
        severity: row.severity,
        enabled: row.enabled,
        hunting: row.hunting,
        owner: row.owner.clone(),
        sources: serde_json::from_str(&row.sources).unwrap_or_default(),
        tags: serde_json::from_str(&row.tags).unwrap_or_default(),
        definition: serde_json::from_str(&row.definition).unwrap_or_default(),
        sigma_id: row.sigma_id.clone(),
        sigma_yaml: row.sigma_yaml.clone(),
    }
}

/// Applies `input` on top of `base`.
fn merge(base: RuleDraft, input: RuleInput) -> Result<RuleDraft, AppError> {
    let base = match input.sigma.as_deref() {
        Some(yaml) => {
            let hunting = input.hunting.unwrap_or(base.hunting);
            let mut parsed =
                rules::sigma::parse(yaml, hunting).map_err(|e| AppError::invalid_input("sigma", e.to_string()))?.draft;
            // An edited Sigma rule keeps its row's identity and switch.
            if base.sigma_yaml.is_some() || base.sigma_id.is_some() {
                parsed.uid = base.uid;
                parsed.enabled = base.enabled;
            }
            parsed
        }
        None if base.sigma_yaml.is_some() && (input.condition.is_some() || input.kind.is_some()) => {
            return Err(AppError::invalid_input("condition", "a Sigma rule is changed by sending its YAML as `sigma`"));
        }
        None => base,
    };
    let severity = match input.severity.as_deref() {
        Some(text) => rules::parse_severity(text)
            .ok_or_else(|| AppError::invalid_input("severity", "info, low, medium, high or critical"))?,
        None => base.severity,
    };
    // The kind named, or the one whose part the input gives, or the rule's own.
    let kind = input
        .kind
        .clone()
        .or_else(|| input.threshold.as_ref().map(|_| "threshold".to_string()))
        .or_else(|| input.first_seen.as_ref().map(|_| "first_seen".to_string()))
        .or_else(|| input.then.as_ref().map(|_| "sequence".to_string()))
        .unwrap_or(base.kind.clone());
    for (field, given, of) in [
        ("threshold", input.threshold.is_some(), "threshold"),
        ("first_seen", input.first_seen.is_some(), "first_seen"),
        ("then", input.then.is_some(), "sequence"),
        ("any_order", input.any_order == Some(true), "sequence"),
    ] {
        if given && kind != of {
            return Err(AppError::invalid_input(field, format!("`{field}` belongs to rules of kind {of}, not {kind}")));
        }
    }
    let draft = RuleDraft {
        uid: base.uid,
        name: input.name.unwrap_or(base.name),
        description: input.description.unwrap_or(base.description),
        kind: kind.clone(),
        severity,
        enabled: input.enabled.unwrap_or(base.enabled),
        hunting: input.hunting.unwrap_or(base.hunting),
        owner: input.owner.unwrap_or(base.owner),
        sources: input.sources.unwrap_or(base.sources),
        tags: input.tags.unwrap_or(base.tags),
        definition: Definition {
            condition: input.condition.unwrap_or(base.definition.condition),
            group_by: input.group_by.unwrap_or(base.definition.group_by),
            window_minutes: input.window_minutes.unwrap_or(base.definition.window_minutes),
            // A kind's own part is kept only while the rule stays of that kind.
            threshold: input.threshold.or(base.definition.threshold).filter(|_| kind == "threshold"),
            first_seen: input.first_seen.or(base.definition.first_seen).filter(|_| kind == "first_seen"),
            then: input.then.or(base.definition.then).filter(|_| kind == "sequence"),
            any_order: input.any_order.unwrap_or(base.definition.any_order) && kind == "sequence",
        },
        sigma_id: base.sigma_id,
        sigma_yaml: base.sigma_yaml,
    };
    draft.validate().map_err(invalid)
}

/// Refuses a rule that names a watchlist that does not exist (a Sigma rule: its placeholder is
/// not set).
async fn check_watchlists(db: &impl ConnectionTrait, draft: &RuleDraft) -> Result<(), AppError> {
    let names = rules::sigma::placeholders(draft);
    if names.is_empty() {
        return Ok(());
    }
    let lists = watchlist_values(db).await.map_err(|e| db_failure("check_watchlists", e))?;
    let missing: Vec<String> = names.into_iter().filter(|n| !lists.contains_key(&n.to_lowercase())).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(if draft.sigma_yaml.is_some() {
        AppError::invalid_input("sigma", rules::sigma::placeholders_unset(&missing))
    } else {
        AppError::invalid_input(
            "condition",
            format!(
                "no watchlist named {} (create it on the Watchlists page or POST /api/watchlists)",
                missing.join(", ")
            ),
        )
    })
}

/// What a rule looks like in the audit trail (before / after).
fn audit_view(d: &RuleDraft) -> Value {
    json!({
        "uid": d.uid, "name": d.name, "description": d.description, "kind": d.kind,
        "severity": app::dto::Severity::from_level(d.severity).as_str(), "enabled": d.enabled, "hunting": d.hunting,
        "owner": d.owner, "sources": d.sources, "tags": d.tags, "definition": d.definition, "sigma_id": d.sigma_id,
    })
}

/// A triage change.
#[derive(Clone, Debug, Default)]
pub struct Triage {
    pub status: Option<String>,
    /// `Some(None)`: unassign.
    pub assignee: Option<Option<String>>,
    pub comment: Option<String>,
}

impl Triage {
    /// Checks the values.
    pub fn validate(self) -> Result<Self, AppError> {
        if let Some(status) = &self.status {
            if !rules::STATUSES.contains(&status.as_str()) {
                return Err(AppError::invalid_input("status", format!("one of {}", rules::STATUSES.join(", "))));
            }
        }
        if let Some(Some(who)) = &self.assignee {
            if who.trim().is_empty() || who.chars().count() > 200 {
                return Err(AppError::invalid_input("assignee", "1–200 characters, or null to unassign"));
            }
        }
        if let Some(body) = &self.comment {
            if body.trim().is_empty() || body.chars().count() > 10_000 {
                return Err(AppError::invalid_input("comment", "1–10,000 characters"));
            }
        }
        if self.status.is_none() && self.assignee.is_none() && self.comment.is_none() {
            return Err(AppError::invalid_input("body", "give status, assignee or comment"));
        }
        Ok(self)
    }
}

/// A suppression being set: the entity (`None`: every entity), the span of event time it covers
/// (from `starts_at`, default now), and why.
#[derive(Clone, Debug)]
pub struct SuppressionRequest {
    pub entity: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
}

impl SuppressionRequest {
    /// Checks the values.
    pub fn validate(self) -> Result<Self, AppError> {
        let entity = self.entity.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
        if entity.as_ref().is_some_and(|e| e.chars().count() > 500) {
            return Err(AppError::invalid_input("entity", "at most 500 characters"));
        }
        let reason = self.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 1_000 {
            return Err(AppError::invalid_input("reason", "say why, in 1–1,000 characters"));
        }
        let starts_at = self.starts_at.unwrap_or_else(Utc::now);
        if self.ends_at <= starts_at {
            return Err(AppError::invalid_input("until", "must be after the start"));
        }
        if self.ends_at - starts_at > chrono::Duration::days(366) {
            return Err(AppError::invalid_input("until", "a suppression lasts at most a year"));
        }
        Ok(Self { entity, reason, ..self })
    }
}

/// An alert with its events, comments and history.
pub struct AlertDetail {
    pub alert: AlertRow,
    /// (event id, record id), oldest first.
    pub events: Vec<(i64, String)>,
    pub comments: Vec<store::AlertNote>,
    pub history: Vec<store::AlertNote>,
    pub rule: Option<RuleRow>,
}

/// Rules and alerts over one database. Writes go through `store::writer` (on SQLite the writer
/// connection), so they never fail against the write path's or the evaluator's commits.
#[derive(Clone)]
pub struct DetectionService {
    db: DatabaseConnection,
}

impl DetectionService {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn list_rules(&self) -> Result<Vec<RuleRow>, AppError> {
        store::list_rules(&self.db).await.map_err(|e| db_failure("list_rules", e))
    }

    pub async fn rule(&self, id: i64) -> Result<RuleRow, AppError> {
        store::get_rule(&self.db, id)
            .await
            .map_err(|e| db_failure("get_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("rule {id} does not exist")))
    }

    /// Creates a rule from `input` (name and condition required).
    pub async fn create_rule(&self, caller: &Caller, input: RuleInput) -> Result<RuleRow, AppError> {
        if input.sigma.is_some() && input.condition.is_some() {
            return Err(AppError::invalid_input("condition", "give either `sigma` or `condition`, not both"));
        }
        if input.sigma.is_none() && input.name.is_none() {
            return Err(AppError::invalid_input("name", "a rule needs a name"));
        }
        if input.sigma.is_none() && input.condition.is_none() {
            return Err(AppError::invalid_input("condition", "a rule needs a condition"));
        }
        let base = RuleDraft {
            uid: uuid::Uuid::new_v4().to_string(),
            name: String::new(),
            description: String::new(),
            kind: "match".into(),
            severity: 2,
            enabled: true,
            hunting: false,
            owner: caller.display_name.clone(),
            sources: Vec::new(),
            tags: Vec::new(),
            definition: Definition::default(),
            sigma_id: None,
            sigma_yaml: None,
        };
        let draft = merge(base, input)?;
        check_watchlists(&self.db, &draft).await?;
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("create_rule", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("create_rule", e))?;
        if store::name_taken(&txn, &draft.name, None).await.map_err(|e| db_failure("create_rule", e))? {
            return Err(AppError::new(ErrorCode::Conflict, format!("a rule named `{}` exists", draft.name)));
        }
        let id = store::insert_rule(&txn, &draft, false, &caller.display_name, Utc::now())
            .await
            .map_err(|e| db_failure("create_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::Conflict, "a rule with this name or Sigma id exists"))?;
        record_baseline(&txn, id, &draft, BASELINE_MAX_EVENTS).await.map_err(|e| db_failure("create_rule", e))?;
        audit(&txn, caller, "rule.create", "rule", Some(id.to_string()), json!({"after": audit_view(&draft)}), None)
            .await
            .map_err(|e| db_failure("create_rule", e))?;
        txn.commit().await.map_err(|e| db_failure("create_rule", e))?;
        self.rule(id).await
    }

    /// Changes the fields `input` names.
    pub async fn update_rule(&self, caller: &Caller, id: i64, input: RuleInput) -> Result<RuleRow, AppError> {
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("update_rule", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("update_rule", e))?;
        let row = store::get_rule(&txn, id)
            .await
            .map_err(|e| db_failure("update_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("rule {id} does not exist")))?;
        let before = draft_from(&row);
        let after = merge(before.clone(), input)?;
        check_watchlists(&txn, &after).await?;
        if store::name_taken(&txn, &after.name, Some(id)).await.map_err(|e| db_failure("update_rule", e))? {
            return Err(AppError::new(ErrorCode::Conflict, format!("a rule named `{}` exists", after.name)));
        }
        store::update_rule(&txn, id, &after, Utc::now()).await.map_err(|e| db_failure("update_rule", e))?;
        if before.kind != after.kind || before.definition != after.definition || before.sources != after.sources {
            // A stateful rule whose definition changed starts its state afresh.
            store::clear_observations(&txn, id).await.map_err(|e| db_failure("update_rule", e))?;
            record_baseline(&txn, id, &after, BASELINE_MAX_EVENTS).await.map_err(|e| db_failure("update_rule", e))?;
        }
        audit(
            &txn,
            caller,
            "rule.update",
            "rule",
            Some(id.to_string()),
            json!({"before": audit_view(&before), "after": audit_view(&after)}),
            None,
        )
        .await
        .map_err(|e| db_failure("update_rule", e))?;
        txn.commit().await.map_err(|e| db_failure("update_rule", e))?;
        self.rule(id).await
    }

    /// Deletes a rule and its alerts.
    pub async fn delete_rule(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("delete_rule", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("delete_rule", e))?;
        let row = store::get_rule(&txn, id)
            .await
            .map_err(|e| db_failure("delete_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("rule {id} does not exist")))?;
        store::delete_rule(&txn, id).await.map_err(|e| db_failure("delete_rule", e))?;
        audit(
            &txn,
            caller,
            "rule.delete",
            "rule",
            Some(id.to_string()),
            json!({"before": audit_view(&draft_from(&row)), "alerts_deleted": row.alerts}),
            None,
        )
        .await
        .map_err(|e| db_failure("delete_rule", e))?;
        txn.commit().await.map_err(|e| db_failure("delete_rule", e))
    }

    /// A page of alerts, with the ids of their events (at most `events_per_alert` each) and the
    /// counts per status of the whole filter.
    pub async fn list_alerts(
        &self,
        query: &AlertQuery,
        events_per_alert: usize,
    ) -> Result<(Vec<AlertRow>, HashMap<i64, Vec<(i64, String)>>, Vec<(String, i64)>), AppError> {
        let rows = store::list_alerts(&self.db, query).await.map_err(|e| db_failure("list_alerts", e))?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut events: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
        for (alert, event, record) in
            store::alert_event_ids(&self.db, &ids, events_per_alert).await.map_err(|e| db_failure("list_alerts", e))?
        {
            events.entry(alert).or_default().push((event, record));
        }
        let counts = store::status_counts(&self.db, query).await.map_err(|e| db_failure("list_alerts", e))?;
        Ok((rows, events, counts))
    }

    pub async fn alert(&self, id: i64) -> Result<AlertDetail, AppError> {
        let alert = store::get_alert(&self.db, id)
            .await
            .map_err(|e| db_failure("get_alert", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("alert {id} does not exist")))?;
        let events = store::alert_event_ids(&self.db, &[id], 1_000)
            .await
            .map_err(|e| db_failure("get_alert", e))?
            .into_iter()
            .map(|(_, e, r)| (e, r))
            .collect();
        let comments = store::alert_comments(&self.db, id).await.map_err(|e| db_failure("get_alert", e))?;
        let history = store::alert_history(&self.db, id).await.map_err(|e| db_failure("get_alert", e))?;
        let rule = store::get_rule(&self.db, alert.rule_id).await.map_err(|e| db_failure("get_alert", e))?;
        Ok(AlertDetail { alert, events, comments, history, rule })
    }

    /// Applies a triage change to alerts (all or nothing); each change lands in the alert's
    /// history and the audit trail.
    pub async fn triage(&self, caller: &Caller, ids: &[i64], change: Triage) -> Result<(), AppError> {
        let change = change.validate()?;
        let now = Utc::now();
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("triage", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("triage", e))?;
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        for id in unique {
            let alert = store::get_alert(&txn, id)
                .await
                .map_err(|e| db_failure("triage", e))?
                .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("alert {id} does not exist")))?;
            let status = change.status.clone().unwrap_or(alert.status.clone());
            let assignee = match &change.assignee {
                Some(a) => a.clone(),
                None => alert.assignee.clone(),
            };
            let mut changes = serde_json::Map::new();
            if status != alert.status {
                changes.insert("status".into(), json!({"before": alert.status, "after": status}));
            }
            if assignee != alert.assignee {
                changes.insert("assignee".into(), json!({"before": alert.assignee, "after": assignee}));
            }
            if !changes.is_empty() {
                store::set_triage(&txn, id, &status, assignee.as_deref(), now)
                    .await
                    .map_err(|e| db_failure("triage", e))?;
                let details = Value::Object(changes);
                store::insert_history(&txn, id, &caller.display_name, "triaged", &details, now)
                    .await
                    .map_err(|e| db_failure("triage", e))?;
                audit(&txn, caller, "alert.triage", "alert", Some(id.to_string()), details, None)
                    .await
                    .map_err(|e| db_failure("triage", e))?;
            }
            if let Some(body) = &change.comment {
                store::insert_comment(&txn, id, &caller.display_name, body.trim(), now)
                    .await
                    .map_err(|e| db_failure("comment_alert", e))?;
                store::insert_history(&txn, id, &caller.display_name, "commented", &json!({}), now)
                    .await
                    .map_err(|e| db_failure("comment_alert", e))?;
                audit(
                    &txn,
                    caller,
                    "alert.comment",
                    "alert",
                    Some(id.to_string()),
                    json!({"length": body.len()}),
                    None,
                )
                .await
                .map_err(|e| db_failure("comment_alert", e))?;
            }
        }
        txn.commit().await.map_err(|e| db_failure("triage", e))
    }

    /// Keeps a rule quiet for `entity` (every entity when `None`) over `[starts_at, ends_at)` of
    /// event time; audited with the reason.
    pub async fn suppress(
        &self,
        caller: &Caller,
        rule_id: i64,
        request: SuppressionRequest,
    ) -> Result<store::Suppression, AppError> {
        let request = request.validate()?;
        let now = Utc::now();
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("suppress_rule", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("suppress_rule", e))?;
        let rule = store::get_rule(&txn, rule_id)
            .await
            .map_err(|e| db_failure("suppress_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("rule {rule_id} does not exist")))?;
        let (starts_at, ends_at) = (request.starts_at.unwrap_or(now), request.ends_at);
        let id = store::insert_suppression(
            &txn,
            rule_id,
            request.entity.as_deref(),
            starts_at,
            ends_at,
            &request.reason,
            &caller.display_name,
            now,
        )
        .await
        .map_err(|e| db_failure("suppress_rule", e))?;
        audit(
            &txn,
            caller,
            "rule.suppress",
            "rule",
            Some(rule_id.to_string()),
            json!({"suppression": id, "rule": rule.name, "entity": request.entity, "starts_at": starts_at,
                   "ends_at": ends_at, "reason": request.reason}),
            None,
        )
        .await
        .map_err(|e| db_failure("suppress_rule", e))?;
        txn.commit().await.map_err(|e| db_failure("suppress_rule", e))?;
        store::get_suppression(&self.db, id)
            .await
            .map_err(|e| db_failure("suppress_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("suppression {id} does not exist")))
    }

    /// Ends a suppression (deletes it); audited.
    pub async fn unsuppress(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        let writer = crate::store::writer(&self.db).await.map_err(|e| db_failure("unsuppress_rule", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("unsuppress_rule", e))?;
        let found = store::get_suppression(&txn, id)
            .await
            .map_err(|e| db_failure("unsuppress_rule", e))?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("suppression {id} does not exist")))?;
        store::delete_suppression(&txn, id).await.map_err(|e| db_failure("unsuppress_rule", e))?;
        audit(
            &txn,
            caller,
            "rule.unsuppress",
            "rule",
            Some(found.rule_id.to_string()),
            json!({"suppression": id, "entity": found.entity, "ends_at": found.ends_at, "reason": found.reason}),
            None,
        )
        .await
        .map_err(|e| db_failure("unsuppress_rule", e))?;
        txn.commit().await.map_err(|e| db_failure("unsuppress_rule", e))
    }

    /// The suppressions of a rule that have not ended.
    pub async fn suppressions(&self, rule_id: i64) -> Result<Vec<store::Suppression>, AppError> {
        self.rule(rule_id).await?;
        store::suppressions(&self.db, Some(rule_id), Utc::now()).await.map_err(|e| db_failure("suppressions", e))
    }

    pub async fn comments(&self, id: i64) -> Result<Vec<store::AlertNote>, AppError> {
        self.alert(id).await.map(|d| d.comments)
    }
}

/// What `aoc rules import` did with one file.
#[derive(Clone, Debug, Serialize)]
pub struct ImportOutcome {
    pub path: String,
    /// `loaded` (new), `updated` (same Sigma id) or `refused`.
    pub status: &'static str,
    pub rule_id: Option<i64>,
    pub title: Option<String>,
    pub sigma_id: Option<String>,
    /// Why it was refused (with line and column for YAML syntax errors).
    pub reason: Option<String>,
}

/// Loads Sigma rules (path, YAML text): a rule whose Sigma id is stored already is updated
/// (keeping its enabled switch), others are added; every change is audited as `caller`.
pub async fn import_sigma(
    db: &DatabaseConnection,
    caller: &Caller,
    files: Vec<(String, String)>,
) -> Vec<ImportOutcome> {
    let mut out = Vec::with_capacity(files.len());
    for (path, text) in files {
        let hunting = path.contains("rules-threat-hunting");
        let refused = |reason: String| ImportOutcome {
            path: path.clone(),
            status: "refused",
            rule_id: None,
            title: None,
            sigma_id: None,
            reason: Some(reason),
        };
        let parsed = match rules::sigma::parse(&text, hunting) {
            Ok(p) => p.draft,
            Err(e) => {
                out.push(refused(e.to_string()));
                continue;
            }
        };
        let result = import_one(db, caller, &parsed).await;
        out.push(match result {
            Ok((id, updated)) => ImportOutcome {
                path: path.clone(),
                status: if updated { "updated" } else { "loaded" },
                rule_id: Some(id),
                title: Some(parsed.name.clone()),
                sigma_id: parsed.sigma_id.clone(),
                reason: None,
            },
            Err(e) => refused(e.message),
        });
    }
    out
}

async fn import_one(db: &DatabaseConnection, caller: &Caller, draft: &RuleDraft) -> Result<(i64, bool), AppError> {
    check_watchlists(db, draft).await?;
    let writer = crate::store::writer(db).await.map_err(|e| db_failure("import_rule", e))?;
    let txn = writer.begin().await.map_err(|e| db_failure("import_rule", e))?;
    let existing = store::list_rules(&txn)
        .await
        .map_err(|e| db_failure("import_rule", e))?
        .into_iter()
        .find(|r| r.uid == draft.uid);
    let except = existing.as_ref().map(|r| r.id);
    if store::name_taken(&txn, &draft.name, except).await.map_err(|e| db_failure("import_rule", e))? {
        return Err(AppError::new(ErrorCode::Conflict, format!("another rule is named `{}`", draft.name)));
    }
    let (id, updated) = match existing {
        Some(row) => {
            let mut after = draft.clone();
            after.enabled = row.enabled;
            store::update_rule(&txn, row.id, &after, Utc::now()).await.map_err(|e| db_failure("import_rule", e))?;
            audit(
                &txn,
                caller,
                "rule.update",
                "rule",
                Some(row.id.to_string()),
                json!({"before": audit_view(&draft_from(&row)), "after": audit_view(&after), "via": "import"}),
                None,
            )
            .await
            .map_err(|e| db_failure("import_rule", e))?;
            (row.id, true)
        }
        None => {
            let id = store::insert_rule(&txn, draft, false, &caller.display_name, Utc::now())
                .await
                .map_err(|e| db_failure("import_rule", e))?
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "a rule with this name or Sigma id exists"))?;
            audit(
                &txn,
                caller,
                "rule.create",
                "rule",
                Some(id.to_string()),
                json!({"after": audit_view(draft), "via": "import"}),
                None,
            )
            .await
            .map_err(|e| db_failure("import_rule", e))?;
            (id, false)
        }
    };
    txn.commit().await.map_err(|e| db_failure("import_rule", e))?;
    Ok((id, updated))
}

/// The `.yml`/`.yaml` files under `paths` (files as given, folders recursively), sorted.
pub fn sigma_files(paths: &[std::path::PathBuf]) -> Vec<(String, Result<String, String>)> {
    fn walk(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                let mut children: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                children.sort();
                for child in children {
                    walk(&child, out);
                }
            }
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path.to_path_buf());
        }
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("could not read the file: {e}"));
            (p.display().to_string(), text)
        })
        .collect()
}

/// An alert a backtest would raise.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestAlert {
    pub tenant: String,
    /// The grouping value (the rule's `group_by`).
    pub key: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// AOC's ids of the first (at most 20) events.
    pub aoc_event_ids: Vec<i64>,
    /// Their source record ids (the `id`s of `GET /api/events`).
    pub event_ids: Vec<String>,
}

/// What a rule would have raised over stored events.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct BacktestResult {
    pub events_scanned: u64,
    pub matches: u64,
    pub alerts: Vec<BacktestAlert>,
    /// The scan stopped at the event limit before the end of the range.
    pub truncated: bool,
    pub seconds: f64,
}

/// Most events a backtest scans.
pub const BACKTEST_MAX_EVENTS: u64 = 2_000_000;

/// Runs `draft` over the stored events of `[from, to)` (at most `max_events`) and groups its
/// matches the way the evaluator would (as if no alert were open).
pub async fn backtest(
    db: &DatabaseConnection,
    draft: &RuleDraft,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_events: u64,
) -> Result<BacktestResult, AppError> {
    let started = std::time::Instant::now();
    let lists = watchlist_values(db).await.map_err(|e| db_failure("backtest", e))?;
    let rule = CompiledRule::new(
        0,
        &draft.name,
        draft.severity,
        draft.hunting,
        draft.sources.clone(),
        &resolve_definition(&serde_json::to_string(&draft.definition).unwrap_or_default(), &lists),
    )
    .map_err(|e| AppError::invalid_input("condition", e))?;
    if rule.logic.is_stateful() {
        return backtest_stateful(db, rule, from, to, max_events, started).await;
    }
    let rules = [rule];
    let mut result = BacktestResult::default();
    let mut groups: BacktestGroups = HashMap::new();
    let mut after = 0;
    loop {
        let page = store::events_between(db, from, to, after, 5_000).await.map_err(|e| db_failure("backtest", e))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        result.events_scanned += page.len() as u64;
        let records: HashMap<i64, &str> = page.iter().map(|e| (e.id, e.record_id.as_str())).collect();
        for m in evaluate(&rules, &page) {
            result.matches += 1;
            let record = records.get(&m.event_id).copied().unwrap_or_default().to_string();
            groups.entry((m.tenant_id, m.group_key)).or_default().push((m.occurred_at, m.event_id, record));
        }
        if result.events_scanned >= max_events {
            result.truncated = page.len() as u64 == 5_000;
            break;
        }
    }
    let window = rules[0].window;
    let mut alerts = Vec::new();
    for ((tenant, key), mut matches) in groups {
        matches.sort();
        let mut current: Option<BacktestAlert> = None;
        for (at, id, record) in matches {
            if current.as_ref().is_some_and(|a| at > a.last_seen + window) {
                alerts.extend(current.take());
            }
            let a = current.get_or_insert_with(|| BacktestAlert {
                tenant: tenant.clone(),
                key: key.clone(),
                count: 0,
                first_seen: at,
                last_seen: at,
                aoc_event_ids: Vec::new(),
                event_ids: Vec::new(),
            });
            a.count += 1;
            a.last_seen = at;
            if a.aoc_event_ids.len() < 20 {
                a.aoc_event_ids.push(id);
                a.event_ids.push(record);
            }
        }
        alerts.extend(current);
    }
    alerts.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.key.cmp(&b.key)));
    result.alerts = alerts;
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

/// The backtest of a threshold, first-seen or sequence rule: its observations over the range
/// (for first-seen, the look-back before the range is read as the baseline), then the same
/// decisions the evaluator makes.
async fn backtest_stateful(
    db: &DatabaseConnection,
    rule: CompiledRule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_events: u64,
    started: std::time::Instant,
) -> Result<BacktestResult, AppError> {
    use rules::stateful::{self as st, Logic, Obs};
    let scan_from = match &rule.logic {
        Logic::FirstSeen { lookback, .. } => from - *lookback,
        _ => from,
    };
    let rules = [rule];
    let mut result = BacktestResult::default();
    let mut entities: std::collections::BTreeMap<(String, String), Vec<Obs>> = Default::default();
    let mut records: HashMap<i64, String> = HashMap::new();
    let mut after = 0;
    loop {
        let page =
            store::events_between(db, scan_from, to, after, 5_000).await.map_err(|e| db_failure("backtest", e))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        result.events_scanned += page.len() as u64;
        let record_of: HashMap<i64, &str> = page.iter().map(|e| (e.id, e.record_id.as_str())).collect();
        for m in evaluate(&rules, &page) {
            let step = if m.occurred_at < from { st::STEP_BASELINE } else { m.step };
            if step != st::STEP_BASELINE {
                result.matches += 1;
                records.insert(m.event_id, record_of.get(&m.event_id).copied().unwrap_or_default().to_string());
            }
            entities.entry((m.tenant_id, m.group_key)).or_default().push(Obs {
                occurred_at: m.occurred_at,
                event_id: m.event_id,
                step,
                value: m.value,
            });
        }
        if result.events_scanned >= max_events {
            result.truncated = page.len() as u64 == 5_000;
            break;
        }
    }
    let rule = &rules[0];
    let mut alerts = Vec::new();
    for ((tenant, entity), obs) in entities {
        let shapes = match &rule.logic {
            Logic::Threshold { count, distinct } => st::threshold(&obs, rule.window, *count, distinct.is_some()),
            Logic::Sequence { any_order, .. } => st::sequence(&obs, rule.window, *any_order),
            Logic::FirstSeen { lookback, .. } => st::first_seen(&obs, *lookback),
            Logic::Match => Vec::new(),
        };
        for shape in shapes {
            let (Some(first), Some(last)) = (shape.events.first(), shape.events.last()) else { continue };
            let key = match &shape.value {
                Some(value) => format!("{entity} · {value}"),
                None => entity.clone(),
            };
            let shown: Vec<&(i64, DateTime<Utc>)> = shape.events.iter().take(20).collect();
            alerts.push(BacktestAlert {
                tenant: tenant.clone(),
                key,
                count: shape.events.len() as u64,
                first_seen: first.1,
                last_seen: last.1,
                aoc_event_ids: shown.iter().map(|e| e.0).collect(),
                event_ids: shown.iter().map(|e| records.get(&e.0).cloned().unwrap_or_default()).collect(),
            });
        }
    }
    alerts.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.key.cmp(&b.key)));
    result.alerts = alerts;
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

impl DetectionService {
    /// Backtests a stored rule (`rule_id`), a rule being written (`input`), or a stored rule with
    /// `input`'s changes.
    pub async fn backtest(
        &self,
        rule_id: Option<i64>,
        input: Option<RuleInput>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BacktestResult, AppError> {
        let base = match rule_id {
            Some(id) => draft_from(&self.rule(id).await?),
            None => RuleDraft {
                uid: "backtest".into(),
                name: "Backtest".into(),
                description: String::new(),
                kind: "match".into(),
                severity: 2,
                enabled: true,
                hunting: false,
                owner: String::new(),
                sources: Vec::new(),
                tags: Vec::new(),
                definition: Definition::default(),
                sigma_id: None,
                sigma_yaml: None,
            },
        };
        let draft = match input {
            Some(input) => merge(base, input)?,
            None if rule_id.is_some() => base,
            None => return Err(AppError::invalid_input("rule", "give `rule_id` or `rule`")),
        };
        backtest(&self.db, &draft, from, to, BACKTEST_MAX_EVENTS).await
    }
}
