//! How the Management Activity API packages activity into content blobs, as Microsoft does:
//! each hour's records of a content type are split into a few blobs that become available
//! (contentCreated) minutes after the hour, in no particular order; a few blobs are listed only
//! hours after their contentCreated (so re-listing old windows finds them); a few records arrive
//! in the next hour's blobs (older events in later blobs); and about one record in a hundred is
//! published twice. Blobs expire seven days after contentCreated.
//!
//! Everything is derived from hashes, so any blob can be rebuilt from its contentId alone.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, TimeZone, Utc};

use super::activity::{Feed, Record};
use super::state::{stable_hash, SimState};

/// Index reserved for the oversized blob fault.
pub const OVERSIZED_INDEX: u32 = 999;

/// A content blob's identity and timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub tenant: usize,
    pub feed: Feed,
    /// The hour whose activity the blob carries.
    pub hour: DateTime<Utc>,
    pub index: u32,
    /// When the blob became available (what listings filter on).
    pub created: DateTime<Utc>,
    /// When listings start to show it (later than `created` for late blobs).
    pub visible_from: DateTime<Utc>,
    pub expiration: DateTime<Utc>,
}

fn hash(state: &SimState, tenant: usize, feed: Feed, hour: DateTime<Utc>, label: &str, n: u64) -> u64 {
    stable_hash(&[
        &state.config.seed.to_le_bytes(),
        &(tenant as u64).to_le_bytes(),
        feed.key().as_bytes(),
        &hour.timestamp().to_le_bytes(),
        label.as_bytes(),
        &n.to_le_bytes(),
    ])
}

fn record_hash(id: &str) -> u64 {
    stable_hash(&[id.as_bytes(), b"placement"])
}

/// Records that slip into the next hour's blobs (about 3 %).
fn is_straggler(id: &str) -> bool {
    record_hash(id) % 100 < 3
}

/// Records published a second time in the next hour's first blob (about 1 %).
fn is_duplicated(id: &str) -> bool {
    record_hash(id) % 100 == 99
}

/// How many blobs an hour of a content type is split into.
fn blob_count(state: &SimState, tenant: usize, feed: Feed, hour: DateTime<Utc>) -> u32 {
    let per_hour = f64::from(state.activity.events_per_day) * feed.share() / 24.0;
    let base = (per_hour / 400.0).ceil().clamp(1.0, 64.0) as u32;
    base + (hash(state, tenant, feed, hour, "blob-count", 0) % 2) as u32
}

impl Blob {
    fn new(state: &SimState, tenant: usize, feed: Feed, hour: DateTime<Utc>, index: u32) -> Self {
        let h = hash(state, tenant, feed, hour, "blob", u64::from(index));
        // Available 3 to 48 minutes after the hour ends, with millisecond precision.
        let lag_ms = 3 * 60_000 + (h % (45 * 60_000)) as i64;
        let created = hour + Duration::hours(1) + Duration::milliseconds(lag_ms);
        // About 8 % of blobs show up in listings only 30 minutes to 4 hours after contentCreated.
        let late_ms = if (h >> 20) % 100 < 8 { 30 * 60_000 + ((h >> 28) % (210 * 60_000)) as i64 } else { 0 };
        Blob {
            tenant,
            feed,
            hour,
            index,
            created,
            visible_from: created + Duration::milliseconds(late_ms),
            expiration: created + Duration::days(7),
        }
    }

    /// The oversized blob a tenant publishes while that fault is on.
    pub fn oversized(state: &SimState, tenant: usize) -> Self {
        let hour = state.origin + Duration::hours(30);
        let created = hour + Duration::hours(1) + Duration::minutes(17);
        Blob {
            tenant,
            feed: Feed::AuditSharePoint,
            hour,
            index: OVERSIZED_INDEX,
            created,
            visible_from: created,
            expiration: created + Duration::days(7),
        }
    }

    /// The opaque contentId, in the shape Microsoft uses today:
    /// `{t1}${t2}${content_type_lower}${Content_Type}${shard}`.
    pub fn content_id(&self, state: &SimState) -> String {
        let ct = self.feed.content_type().unwrap_or("Audit.General");
        let t1 = format!("{}{:09}", self.hour.format("%Y%m%d%H%M%S"), self.index);
        let t2 = format!("{}{:03}000000", self.created.format("%Y%m%d%H%M%S"), self.created.timestamp_subsec_millis());
        let shard = 10 + hash(state, self.tenant, self.feed, self.hour, "shard", 0) % 80;
        format!("{t1}${t2}${}${}$na00{shard}", ct.to_lowercase().replace('.', "_"), ct.replace('.', "_"))
    }

    /// Parses a contentId back into its blob; `None` when malformed or not ours.
    pub fn parse(state: &SimState, tenant: usize, content_id: &str) -> Option<Blob> {
        let mut parts = content_id.split('$');
        let t1 = parts.next()?;
        let t2 = parts.next()?;
        let ct_lower = parts.next()?;
        let ct = parts.next()?;
        let _shard = parts.next()?;
        if parts.next().is_some() || t1.len() != 23 || t2.len() != 23 {
            return None;
        }
        let feed = Feed::from_content_type(&ct.replace('_', "."))?;
        if ct_lower != ct.to_lowercase() {
            return None;
        }
        let hour = Utc.from_utc_datetime(&NaiveDateTime::parse_from_str(&t1[..14], "%Y%m%d%H%M%S").ok()?);
        let index: u32 = t1[14..].parse().ok()?;
        if hour.duration_trunc(Duration::hours(1)).ok()? != hour {
            return None;
        }
        let blob = if index == OVERSIZED_INDEX {
            Blob::oversized(state, tenant)
        } else {
            if index >= blob_count(state, tenant, feed, hour) {
                return None;
            }
            Blob::new(state, tenant, feed, hour, index)
        };
        (blob.content_id(state) == content_id).then_some(blob)
    }
}

/// The blobs carrying `hour` of `feed` (the oversized blob is not among them).
pub fn blobs_of_hour(state: &SimState, tenant: usize, feed: Feed, hour: DateTime<Utc>) -> Vec<Blob> {
    if hour < state.origin {
        return Vec::new();
    }
    (0..blob_count(state, tenant, feed, hour)).map(|i| Blob::new(state, tenant, feed, hour, i)).collect()
}

/// Every blob whose contentCreated falls in `[start, end)`, visible or not, in no useful order
/// (the API does not sort either).
pub fn blobs_created_in(
    state: &SimState,
    tenant: usize,
    feed: Feed,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Blob> {
    // contentCreated lies 1h03m..1h48m after the blob's hour.
    let first = (start - Duration::hours(2)).duration_trunc(Duration::hours(1)).expect("hour divides time");
    let mut out = Vec::new();
    let mut hour = first.max(state.origin);
    while hour < end {
        out.extend(
            blobs_of_hour(state, tenant, feed, hour).into_iter().filter(|b| b.created >= start && b.created < end),
        );
        hour += Duration::hours(1);
    }
    if state.runtime().faults.oversized_blob_mb > 0 && feed == Feed::AuditSharePoint {
        let big = Blob::oversized(state, tenant);
        if big.created >= start && big.created < end {
            out.push(big);
        }
    }
    // Shuffle deterministically: listings are not ordered by event time.
    out.sort_by_key(|b| stable_hash(&[&b.created.timestamp_millis().to_le_bytes(), &b.index.to_le_bytes()]));
    out
}

/// The records inside a regular blob, in blob order.
pub fn blob_records(state: &SimState, blob: &Blob) -> Vec<Arc<Vec<Record>>> {
    // Returned as the two hours involved plus a selection list would be faster to stream, but
    // blobs are small (a few hundred records); the oversized blob is streamed separately.
    vec![
        state.hour(blob.tenant, blob.feed, blob.hour),
        state.hour(blob.tenant, blob.feed, blob.hour - Duration::hours(1)),
    ]
}

/// The JSON texts of a regular blob's records, in blob order.
pub fn blob_record_texts(state: &SimState, blob: &Blob) -> Vec<(String, String)> {
    let n = u64::from(blob_count(state, blob.tenant, blob.feed, blob.hour));
    let hours = blob_records(state, blob);
    let (this_hour, previous_hour) = (&hours[0], &hours[1]);
    let mut picked: Vec<(u64, &Record)> = Vec::new();
    for r in this_hour.iter() {
        if !is_straggler(&r.id) && record_hash(&r.id) % n == u64::from(blob.index) {
            picked.push((record_hash(&r.id), r));
        }
    }
    for r in previous_hour.iter() {
        let straggles_here = is_straggler(&r.id) && record_hash(&r.id) % n == u64::from(blob.index);
        let duplicated_here = is_duplicated(&r.id) && blob.index == 0;
        if straggles_here || duplicated_here {
            picked.push((record_hash(&r.id), r));
        }
    }
    // Records inside a blob are not chronological either (ids are unique, so the order is total
    // up to hash collisions, which the stable sort settles by generation order).
    picked.sort_by_key(|(h, _)| h.rotate_left(17));
    picked.into_iter().map(|(_, r)| (r.id.clone(), r.json.clone())).collect()
}

/// Whether the blob can be listed now for its tenant's subscription state.
pub fn is_listed(state: &SimState, blob: &Blob, now: DateTime<Utc>) -> bool {
    if blob.visible_from > now {
        return false;
    }
    let runtime = state.runtime();
    runtime.subscriptions.get(&(blob.tenant, blob.feed)).is_some_and(|s| s.covers(blob.created))
}

/// Whether the blob has expired (seven days, or the `expire_before` fault).
pub fn is_expired(state: &SimState, blob: &Blob, now: DateTime<Utc>) -> bool {
    let forced = state.runtime().faults.expire_before.is_some_and(|t| blob.created < t);
    forced || now >= blob.expiration
}

/// Approximate size of one record in the oversized blob, bytes.
const BIG_RECORD_BYTES: usize = 1_024;

/// How many records the oversized blob holds.
pub fn oversized_record_count(megabytes: u32) -> u64 {
    (u64::from(megabytes) * 1024 * 1024) / BIG_RECORD_BYTES as u64
}

/// Record `i` of a tenant's oversized blob: a realistic SharePoint FileAccessed record padded
/// to about a kilobyte.
pub fn oversized_record(state: &SimState, tenant: usize, i: u64) -> (String, String) {
    let t = &state.tenants[tenant].model;
    let h = stable_hash(&[
        b"oversized",
        &state.config.seed.to_le_bytes(),
        &(tenant as u64).to_le_bytes(),
        &i.to_le_bytes(),
    ]);
    let id = super::state::guid_from(h, super::state::splitmix(h));
    let blob = Blob::oversized(state, tenant);
    let time = blob.hour + Duration::seconds((h % 3600) as i64);
    let user = &t.users[(h % t.users.len().max(1) as u64) as usize];
    let mut record = serde_json::json!({
        "CreationTime": time.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "Id": id,
        "Operation": "FileAccessed",
        "OrganizationId": t.tenant_id,
        "RecordType": 6,
        "UserKey": user.user_key,
        "UserType": 0,
        "Version": 1,
        "Workload": "SharePoint",
        "ClientIP": "203.0.113.80",
        "ObjectId": format!("https://{}.sharepoint.com/sites/archive/Shared Documents/export-{i:09}.csv", t.domain.split('.').next().unwrap_or("tenant")),
        "UserId": user.upn,
        "EventSource": "SharePoint",
        "ItemType": "File",
        "SourceFileName": format!("export-{i:09}.csv"),
        "SourceFileExtension": "csv",
        "SiteUrl": format!("https://{}.sharepoint.com/sites/archive/", t.domain.split('.').next().unwrap_or("tenant")),
        "SourceRelativeUrl": "Shared Documents",
        "UserAgent": "",
    });
    // Pad the user agent so that each record plus its separator is exactly BIG_RECORD_BYTES.
    let len = record.to_string().len();
    let prefix = "OneDriveMpc-Transform_Thumbnail/1.0 ";
    let fill = (BIG_RECORD_BYTES - 1).saturating_sub(len);
    let user_agent =
        if fill > prefix.len() { format!("{prefix}{}", "x".repeat(fill - prefix.len())) } else { prefix.to_string() };
    record["UserAgent"] = serde_json::Value::String(user_agent);
    (id, record.to_string())
}
