//! The rules that look at more than one event, pure: which alerts a set of observations stands
//! for. An observation is an event a stateful rule's condition matched (or a sequence's second
//! step, or a first-seen rule's baseline), with the rule's entity and the value it counts or
//! remembers. The evaluator stores observations and asks these functions about the windows new
//! observations touched; the backtest asks them about everything it scanned. Because the answer
//! depends only on the set of observations, never on the order or the batches in which they
//! arrived, late and out-of-order records give the same alerts as punctual ones.
//!
//! - **threshold**: windows are fixed (aligned to the epoch, `window` long). A window of an
//!   entity alerts when it holds at least `count` matching events, or with `distinct`, at least
//!   `count` different values of that field. The alert holds every matching event of the window.
//! - **sequence**: step A (the condition) then step B (`then`) by the same entity, B at most
//!   `window` after A. The alert of a window holds each B of that window that had an A before it
//!   within `window`, and those A events. With `any_order`, A and B at most `window` apart in
//!   either order (Sigma's `temporal`): the alert of a window holds each event of that window
//!   that had an event of the other step before it within `window`, and those events.
//! - **first seen**: an event whose value the entity has not shown in the `lookback` before it
//!   (counting the baseline: what was stored before the rule existed), from an entity that did
//!   show other values in that time. The alert reports that first event.
//!
//! Threshold and sequence decisions only grow as observations arrive (a window's count, a
//! pair), so their final alerts are exactly those of the final set, whatever the arrival order.
//! A first-seen decision can be taken back by an older record arriving late (the value was
//! known after all); an alert raised meanwhile stays, moved to the earliest new occurrence.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::engine::{Condition, FieldRef};

/// A condition match.
pub const STEP_MATCH: i16 = 0;
/// A sequence's second step.
pub const STEP_THEN: i16 = 1;
/// A first-seen rule's baseline (never alerts).
pub const STEP_BASELINE: i16 = 2;

/// What a rule does with its condition's matches.
#[derive(Clone, Debug)]
pub enum Logic {
    /// Every match is an alert (grouped by entity within the window).
    Match,
    Threshold {
        count: i64,
        distinct: Option<FieldRef>,
    },
    FirstSeen {
        field: FieldRef,
        lookback: Duration,
    },
    Sequence {
        then: Box<Condition>,
        /// A and B in either order (Sigma `temporal`), not only A then B.
        any_order: bool,
    },
}

impl Logic {
    pub fn is_stateful(&self) -> bool {
        !matches!(self, Logic::Match)
    }
}

/// One observation of one entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Obs {
    pub occurred_at: DateTime<Utc>,
    pub event_id: i64,
    pub step: i16,
    pub value: String,
}

/// An alert a stateful rule stands behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The window (threshold, sequence) or the first occurrence (first seen).
    pub window_start: DateTime<Utc>,
    /// (event id, time), oldest first, each once.
    pub events: Vec<(i64, DateTime<Utc>)>,
    /// The first-seen value.
    pub value: Option<String>,
}

/// The start of the fixed window holding `at`.
pub fn window_of(at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let w = window.num_seconds().max(1);
    let start = at.timestamp().div_euclid(w) * w;
    DateTime::from_timestamp(start, 0).unwrap_or(at)
}

fn shape(window_start: DateTime<Utc>, events: BTreeSet<(DateTime<Utc>, i64)>, value: Option<String>) -> Shape {
    Shape { window_start, events: events.into_iter().map(|(at, id)| (id, at)).collect(), value }
}

/// Threshold alerts of one entity's observations.
pub fn threshold(obs: &[Obs], window: Duration, count: i64, distinct: bool) -> Vec<Shape> {
    let mut windows: BTreeMap<DateTime<Utc>, Vec<&Obs>> = BTreeMap::new();
    for o in obs.iter().filter(|o| o.step == STEP_MATCH) {
        windows.entry(window_of(o.occurred_at, window)).or_default().push(o);
    }
    windows
        .into_iter()
        .filter(|(_, list)| {
            let n = if distinct {
                list.iter().filter(|o| !o.value.is_empty()).map(|o| o.value.as_str()).collect::<BTreeSet<_>>().len()
            } else {
                list.iter().map(|o| o.event_id).collect::<BTreeSet<_>>().len()
            };
            n as i64 >= count
        })
        .map(|(start, list)| shape(start, list.iter().map(|o| (o.occurred_at, o.event_id)).collect(), None))
        .collect()
}

/// Sequence alerts of one entity's observations: each event of a step (B, or with `any_order`
/// either) that has an event of the other step at most `window` before it opens the pair into
/// the window of the later event.
pub fn sequence(obs: &[Obs], window: Duration, any_order: bool) -> Vec<Shape> {
    let mut steps: Vec<&Obs> = obs.iter().filter(|o| o.step == STEP_MATCH || o.step == STEP_THEN).collect();
    steps.sort();
    let mut windows: BTreeMap<DateTime<Utc>, BTreeSet<(DateTime<Utc>, i64)>> = BTreeMap::new();
    for later in steps.iter().filter(|o| any_order || o.step == STEP_THEN) {
        let from = later.occurred_at - window;
        let before: Vec<&&Obs> = steps
            .iter()
            .filter(|a| {
                a.step != later.step
                    && a.occurred_at >= from
                    && a.occurred_at <= later.occurred_at
                    && a.event_id != later.event_id
            })
            .collect();
        if before.is_empty() {
            continue;
        }
        let events = windows.entry(window_of(later.occurred_at, window)).or_default();
        events.insert((later.occurred_at, later.event_id));
        events.extend(before.iter().map(|a| (a.occurred_at, a.event_id)));
    }
    windows.into_iter().map(|(start, events)| shape(start, events, None)).collect()
}

/// First-seen alerts of one entity's observations (all its values): an observation whose value
/// the entity did not show in the look-back before it, while the entity did show others (an
/// entity's very first activity is not news: it has no history to differ from).
pub fn first_seen(obs: &[Obs], lookback: Duration) -> Vec<Shape> {
    let mut list: Vec<&Obs> = obs.iter().filter(|o| !o.value.is_empty()).collect();
    list.sort_by_key(|o| (o.occurred_at, o.event_id, o.step));
    let mut out = Vec::new();
    for (i, o) in list.iter().enumerate() {
        if o.step != STEP_MATCH {
            continue;
        }
        let earlier = list[..i].iter().rev().take_while(|p| p.occurred_at >= o.occurred_at - lookback);
        let (mut same, mut other) = (false, false);
        for p in earlier.filter(|p| p.event_id != o.event_id) {
            if p.value == o.value {
                same = true;
                break;
            }
            other = true;
        }
        if !same && other {
            out.push(shape(o.occurred_at, BTreeSet::from([(o.occurred_at, o.event_id)]), Some(o.value.clone())));
        }
    }
    out.sort_by_key(|s| (s.window_start, s.value.clone()));
    out
}

/// The observations of `value` in `[low, high]` that have no observation of that value in the
/// look-back before them: the candidates of `first_seen` among them. `span` holds every
/// observation of the value in `[low, high]`; `before` is the time of the newest one before
/// `low`. A candidate is an alert when the entity showed another value in its look-back
/// (`first_seen` decides the same, given all the entity's observations).
///
/// When the span's observations are new and the newest is at `high`, no observation after
/// `high` can be first seen within the look-back (that one comes before it), so the first-seen
/// alerts of `value` in `[low, high + lookback]` are found from this little: the evaluator
/// reads the span, not the two look-backs around it.
pub fn first_seen_candidates(span: &[Obs], before: Option<DateTime<Utc>>, lookback: Duration) -> Vec<Obs> {
    let mut list: Vec<&Obs> = span.iter().filter(|o| !o.value.is_empty()).collect();
    list.sort_by_key(|o| (o.occurred_at, o.event_id, o.step));
    let mut previous = before;
    let mut out = Vec::new();
    for o in list {
        let known = previous.is_some_and(|p| p >= o.occurred_at - lookback);
        if o.step == STEP_MATCH && !known {
            out.push(o.clone());
        }
        previous = Some(o.occurred_at);
    }
    out
}

/// Whether an observation `other` (of another, non-empty value) counts as history before the
/// candidate `o` in the look-back: earlier in (time, event, step) order and of another event.
pub fn is_history_of(other: &Obs, o: &Obs, lookback: Duration) -> bool {
    other.event_id != o.event_id
        && other.occurred_at >= o.occurred_at - lookback
        && (other.occurred_at, other.event_id, other.step) < (o.occurred_at, o.event_id, o.step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn obs(id: i64, minute: i64, step: i16, value: &str) -> Obs {
        Obs { occurred_at: at(minute), event_id: id, step, value: value.into() }
    }

    #[test]
    fn threshold_counts_events_or_distinct_values_per_fixed_window() {
        let w = Duration::minutes(30);
        // 09:00–09:30: three events, two users; 09:30–10:00: one.
        let list = [obs(1, 1, 0, "a"), obs(2, 5, 0, "b"), obs(3, 29, 0, "a"), obs(4, 31, 0, "c")];
        let events = threshold(&list, w, 3, false);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].window_start, at(0));
        assert_eq!(events[0].events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(threshold(&list, w, 3, true).is_empty(), "two distinct users are not three");
        assert_eq!(threshold(&list, w, 2, true).len(), 1);
        // The same set in another order gives the same answer.
        let mut reversed = list.to_vec();
        reversed.reverse();
        assert_eq!(threshold(&reversed, w, 3, false), events);
    }

    #[test]
    fn sequence_needs_the_first_step_before_the_second_within_the_window() {
        let w = Duration::minutes(60);
        // A at 0, B at 30 → alert; B at 200 with A at 100 (100 minutes before) → none.
        let list = [obs(1, 0, 0, ""), obs(2, 30, 1, ""), obs(3, 100, 0, ""), obs(4, 200, 1, "")];
        let shapes = sequence(&list, w, false);
        assert_eq!(shapes.len(), 1);
        assert_eq!(shapes[0].events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
        // B before A is no sequence.
        assert!(sequence(&[obs(1, 10, 1, ""), obs(2, 20, 0, "")], w, false).is_empty());
        // One event matching both steps is not a sequence by itself.
        assert!(sequence(&[obs(1, 10, 0, ""), obs(1, 10, 1, "")], w, false).is_empty());
        assert!(sequence(&[obs(1, 10, 0, ""), obs(1, 10, 1, "")], w, true).is_empty());
    }

    #[test]
    fn any_order_sequences_pair_both_steps_within_the_window_whichever_comes_first() {
        let w = Duration::minutes(60);
        // B at 10 then A at 40: a pair in either order only.
        let list = [obs(1, 10, 1, ""), obs(2, 40, 0, "")];
        assert!(sequence(&list, w, false).is_empty());
        let shapes = sequence(&list, w, true);
        assert_eq!(shapes.len(), 1);
        assert_eq!(shapes[0].window_start, at(0));
        assert_eq!(shapes[0].events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
        // Two A events and no B: nothing; A and B 61 minutes apart: nothing.
        assert!(sequence(&[obs(1, 0, 0, ""), obs(2, 5, 0, "")], w, true).is_empty());
        assert!(sequence(&[obs(1, 0, 1, ""), obs(2, 61, 0, "")], w, true).is_empty());
        // The pair lands in the window of the later event, whatever order the set is given in.
        let list = [obs(1, 50, 0, ""), obs(2, 70, 1, ""), obs(3, 75, 0, "")];
        let mut reversed = list.to_vec();
        reversed.reverse();
        let shapes = sequence(&list, w, true);
        assert_eq!(shapes, sequence(&reversed, w, true));
        assert_eq!(shapes.len(), 1);
        assert_eq!(shapes[0].window_start, at(60));
        assert_eq!(shapes[0].events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn candidates_of_a_new_span_give_the_same_first_seen_alerts_as_every_observation() {
        use rand::{Rng, SeedableRng};
        let l = Duration::days(3);
        let day = 24 * 60;
        for seed in 0..400u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let values = ["NL", "BR", "PT", ""];
            let n = rng.random_range(2..40);
            let mut list: Vec<Obs> = (0..n)
                .map(|i| {
                    let step = if rng.random_bool(0.2) { STEP_BASELINE } else { STEP_MATCH };
                    // Coarse times, so that ties and exact look-back edges happen.
                    obs(i, rng.random_range(0..10) * day / 2, step, values[rng.random_range(0..values.len())])
                })
                .collect();
            // The pass: observations of one value, the newest at `high`.
            let value = values[rng.random_range(0..3)];
            let (a, b) = (rng.random_range(0..10) * day / 2, rng.random_range(0..10) * day / 2);
            let (low, high) = (at(a.min(b)), at(a.max(b)));
            list.push(obs(100, a.max(b), STEP_MATCH, value));
            list.push(obs(101, a.min(b), STEP_MATCH, value));
            let expected: Vec<Shape> = first_seen(&list, l)
                .into_iter()
                .filter(|s| s.value.as_deref() == Some(value) && s.window_start >= low && s.window_start <= high + l)
                .collect();
            let of_value: Vec<&Obs> = list.iter().filter(|o| o.value == value).collect();
            let span: Vec<Obs> = of_value
                .iter()
                .filter(|o| o.occurred_at >= low && o.occurred_at <= high)
                .map(|o| (*o).clone())
                .collect();
            let before = of_value.iter().filter(|o| o.occurred_at < low).map(|o| o.occurred_at).max();
            let got: Vec<Shape> = first_seen_candidates(&span, before, l)
                .into_iter()
                .filter(|o| list.iter().any(|p| !p.value.is_empty() && p.value != value && is_history_of(p, o, l)))
                .map(|o| shape(o.occurred_at, BTreeSet::from([(o.occurred_at, o.event_id)]), Some(o.value.clone())))
                .collect();
            assert_eq!(got, expected, "seed {seed}: {list:?}");
        }
    }

    #[test]
    fn first_seen_reports_values_new_within_the_lookback_and_respects_the_baseline() {
        let l = Duration::days(30);
        let day = 24 * 60;
        let list = [
            obs(1, 0, STEP_BASELINE, "NL"),
            obs(2, day, 0, "NL"),      // known from the baseline
            obs(3, 2 * day, 0, "BR"),  // new
            obs(4, 3 * day, 0, "BR"),  // seen the day before
            obs(5, 40 * day, 0, "BR"), // nothing else in the 30 days before: no history, no news
            obs(6, 41 * day, 0, "NL"), // 38 days after the last NL, with BR the day before
        ];
        let shapes = first_seen(&list, l);
        let got: Vec<(i64, Option<String>)> = shapes.iter().map(|s| (s.events[0].0, s.value.clone())).collect();
        assert_eq!(got, [(3, Some("BR".into())), (6, Some("NL".into()))]);
        // An entity's first activity alone is not new.
        assert!(first_seen(&[obs(1, 0, 0, "PT")], l).is_empty());
    }
}
