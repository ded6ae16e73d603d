//! Hour-by-hour records of every feed, in the shapes Microsoft sends them
//! (`reference/microsoft-apis.md` §3 and §4.2–4.4), with the documented irregularities at low,
//! fixed rates:
//!
//! | irregularity | where | rate |
//! |---|---|---|
//! | `RecordType` as a JSON string (`"15"`) | every UAL record | 3 % |
//! | `UserType` as a JSON string | every UAL record | 3 % |
//! | `Version` as a JSON string | every UAL record | 2 % |
//! | `AzureActiveDirectoryEventType`, `Actor[].Type` as strings | AAD records | 5 % each |
//! | `ClientIP` as `ip:port` | UAL records with an address | 5 % |
//! | `ClientIP` as `[ipv6]:port` | UAL records with an address | 3 % |
//! | `ClientIP` as plain IPv6 | UAL records with an address | 4 % |
//! | `ClientIP` null / absent | AAD directory records (RecordType 8) | 5 % / 5 % |
//! | `Parameters` as a JSON string ("stringly JSON") | Exchange admin records | 5 % |
//! | an unknown extra field | every UAL record | 2 % |
//!
//! JSON inside strings (ModifiedProperties values, alert `Data`, `ExtendedProperties`
//! additionalDetails, Graph `oldValue`/`newValue`) and system actors
//! (`NT AUTHORITY\SYSTEM (Microsoft.Exchange.ServiceHost)`, `app@sharepoint`, `DlpAgent`) are part
//! of the normal shapes.
//!
//! Everything is serialized by serde from borrowed structs; tenants carry precomputed names and
//! URLs, and GUIDs stay 128-bit numbers until written, so a record costs few allocations.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::json;

use super::tenant::{fnv, mix, stable_seed, Device, Guid, Person, Place, ServicePrincipal, Site, SiteFile, Tenant};
use super::{scenarios, ActivityConfig, Feed, Record};

// ---------------------------------------------------------------------------------------------
// Seeds, the daily rhythm and counts

/// The seed of one (run, tenant, feed, hour): a stable mix of the values, never std's hasher.
pub(super) fn hour_seed(config: &ActivityConfig, tenant: &Tenant, feed: Feed, hour: DateTime<Utc>) -> u64 {
    stable_seed(&[config.seed, tenant.index as u64, fnv(feed.key()), hour.timestamp() as u64])
}

/// Relative activity of each hour of a working day (UTC): quiet nights, a morning ramp, a lunch
/// dip and a slow evening.
const WORKDAY: [f64; 24] = [
    0.22, 0.18, 0.16, 0.16, 0.2, 0.3, 0.55, 1.0, 1.7, 2.1, 2.2, 2.1, 1.7, 2.0, 2.1, 2.0, 1.7, 1.25, 0.85, 0.65, 0.5,
    0.4, 0.32, 0.26,
];

fn raw_weight(weekend: bool, hour: usize) -> f64 {
    // Weekends keep a little of the weekday shape on top of a floor.
    if weekend {
        0.1 + 0.2 * WORKDAY[hour]
    } else {
        WORKDAY[hour]
    }
}

/// Relative activity of the hour starting at `hour`; averages exactly 1 over a week.
pub(super) fn rhythm(hour: DateTime<Utc>) -> f64 {
    let week: f64 = (0..24).map(|h| 5.0 * raw_weight(false, h) + 2.0 * raw_weight(true, h)).sum();
    let weekend = hour.weekday().num_days_from_monday() >= 5;
    raw_weight(weekend, hour.hour() as usize) * 168.0 / week
}

/// A Poisson-distributed count (exact for small means, normal approximation above 30).
fn poisson(rng: &mut StdRng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut product: f64 = rng.random();
        let mut k = 0;
        while product > limit {
            product *= rng.random::<f64>();
            k += 1;
        }
        return k;
    }
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (mean + z * mean.sqrt()).round().max(0.0) as usize
}

/// The records of one feed for one hour: the normal activity, plus the scenarios' records when
/// they are woven in, sorted by time then id.
pub(super) fn records_for_hour(
    config: &ActivityConfig,
    tenant: &Tenant,
    feed: Feed,
    hour_start: DateTime<Utc>,
) -> Vec<Record> {
    let clock = Clock::new(hour_start);
    let mut rng = StdRng::seed_from_u64(hour_seed(config, tenant, feed, clock.start));
    let mean = f64::from(config.events_per_day) * feed.share() * rhythm(clock.start) / 24.0;
    let count = poisson(&mut rng, mean);
    let mut out = Out::new(tenant, &clock, count + 16);
    for _ in 0..count {
        let at = At::random(&mut rng);
        match feed {
            Feed::AuditExchange => exchange(&mut rng, &mut out, at),
            Feed::AuditSharePoint => sharepoint(&mut rng, &mut out, at),
            Feed::AuditAzureActiveDirectory => aad(&mut rng, &mut out, at),
            Feed::AuditGeneral => general(&mut rng, &mut out, at),
            Feed::DlpAll => dlp(&mut rng, &mut out, at),
            Feed::DirectoryAudits => directory(&mut rng, &mut out, at),
            Feed::SignIns => signin(&mut rng, &mut out, at),
            Feed::IntuneAuditEvents => intune(&mut rng, &mut out, at),
        }
    }
    if config.scenarios {
        scenarios::emit_hour(config, &mut out, feed);
    }
    let mut records = out.records;
    records.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    records
}

/// The records `feed` carries for one scenario occurrence alone (no normal activity).
pub(super) fn scenario_records(tenant: &Tenant, feed: Feed, plan: scenarios::Planned) -> Vec<Record> {
    let clock = Clock::new(plan.hour);
    let mut out = Out::new(tenant, &clock, 64);
    scenarios::emit_one(plan, &mut out, feed);
    let mut records = out.records;
    records.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    records
}

// ---------------------------------------------------------------------------------------------
// Time

/// The hour being generated, with its formatted prefix (`2026-11-16T10:`) shared by every
/// record's timestamp.
pub(super) struct Clock {
    start: DateTime<Utc>,
    prefix: String,
}

impl Clock {
    /// The clock of the hour containing `hour` (callers pass aligned hours; others are aligned
    /// down).
    pub(super) fn new(hour: DateTime<Utc>) -> Clock {
        let start = DateTime::from_timestamp(hour.timestamp().div_euclid(3600) * 3600, 0)
            .expect("an hour boundary of a valid time is a valid time");
        Clock { start, prefix: start.format("%Y-%m-%dT%H:").to_string() }
    }

    pub(super) fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The event time of a UAL record at `at` (whole seconds, as `CreationTime` has).
    pub(super) fn ual_time(&self, at: At) -> DateTime<Utc> {
        self.start + Duration::seconds(i64::from(at.secs))
    }

    /// The event time of a Graph record at `at` (microseconds; Graph's seventh digit is 0).
    pub(super) fn graph_time(&self, at: At) -> DateTime<Utc> {
        self.start + Duration::microseconds(i64::from(at.secs) * 1_000_000 + i64::from(at.micros))
    }

    fn ual(&self, at: At) -> UalTime<'_> {
        UalTime { prefix: &self.prefix, secs: at.secs }
    }

    fn graph(&self, at: At) -> GraphTime<'_> {
        GraphTime { prefix: &self.prefix, secs: at.secs, micros: at.micros }
    }
}

/// A moment inside the hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct At {
    secs: u32,
    micros: u32,
}

impl At {
    /// Uniformly anywhere in the hour.
    pub(super) fn random(rng: &mut StdRng) -> At {
        At { secs: rng.random_range(0..3600), micros: rng.random_range(0..1_000_000) }
    }

    /// Somewhere in `[from, to)` seconds after the hour starts (clamped to the hour).
    pub(super) fn between(rng: &mut StdRng, from: u32, to: u32) -> At {
        let from = from.min(3599);
        let to = to.clamp(from + 1, 3600);
        At { secs: rng.random_range(from..to), micros: rng.random_range(0..1_000_000) }
    }

    /// `secs` later, never past the end of the hour.
    pub(super) fn later(self, rng: &mut StdRng, secs: u32) -> At {
        At { secs: (self.secs + secs).min(3599), micros: rng.random_range(0..1_000_000) }
    }
}

/// UAL `CreationTime`: `YYYY-MM-DDTHH:MM:SS`, no zone.
struct UalTime<'a> {
    prefix: &'a str,
    secs: u32,
}

impl fmt::Display for UalTime<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}:{:02}", self.prefix, self.secs / 60, self.secs % 60)
    }
}

impl Serialize for UalTime<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Graph DateTimeOffset: seven fractional digits and `Z`; the seventh is always 0 so the value
/// survives a round trip through microsecond precision.
struct GraphTime<'a> {
    prefix: &'a str,
    secs: u32,
    micros: u32,
}

impl fmt::Display for GraphTime<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}:{:02}.{:06}0Z", self.prefix, self.secs / 60, self.secs % 60, self.micros)
    }
}

impl Serialize for GraphTime<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Irregularities and small serializable pieces

/// Per-mille rates of the documented irregularities (see the module table).
const STRING_RECORD_TYPE: u32 = 30;
const STRING_USER_TYPE: u32 = 30;
const STRING_VERSION: u32 = 20;
const STRING_EVENT_TYPE: u32 = 50;
const STRING_ACTOR_TYPE: u32 = 50;
const IP_WITH_PORT: u32 = 50;
const IPV6_BRACKETED: u32 = 30;
const IPV6_PLAIN: u32 = 40;
const AAD_IP_NULL: u32 = 50;
const AAD_IP_ABSENT: u32 = 50;
const STRINGLY_PARAMETERS: u32 = 50;
const UNKNOWN_FIELD: u32 = 20;

fn per_mille(rng: &mut StdRng, rate: u32) -> bool {
    rng.random_range(0..1000) < rate
}

/// An item of a non-empty list.
pub(super) fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("the generator only picks from non-empty lists")
}

/// A number Microsoft sometimes sends as a JSON string.
#[derive(Clone, Copy, Debug)]
pub(super) struct Num {
    value: i64,
    text: bool,
}

impl Num {
    pub(super) fn plain(value: i64) -> Num {
        Num { value, text: false }
    }

    fn quirky(rng: &mut StdRng, value: i64, rate: u32) -> Num {
        Num { value, text: per_mille(rng, rate) }
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.text {
            s.collect_str(&self.value)
        } else {
            s.serialize_i64(self.value)
        }
    }
}

/// UAL `ClientIP` in its observed forms.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ip<'a> {
    Absent,
    Null,
    Plain(&'a str),
    Port(&'a str, u16),
    Bracketed(&'a str, u16),
}

impl<'a> Ip<'a> {
    fn is_absent(&self) -> bool {
        matches!(self, Ip::Absent)
    }

    /// The address without port or brackets, if there is one.
    fn host(&self) -> Option<&'a str> {
        match *self {
            Ip::Absent | Ip::Null => None,
            Ip::Plain(ip) | Ip::Port(ip, _) | Ip::Bracketed(ip, _) => Some(ip),
        }
    }
}

impl Serialize for Ip<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Ip::Absent | Ip::Null => s.serialize_none(),
            Ip::Plain(ip) => s.serialize_str(ip),
            Ip::Port(ip, port) => s.collect_str(&format_args!("{ip}:{port}")),
            Ip::Bracketed(ip, port) => s.collect_str(&format_args!("[{ip}]:{port}")),
        }
    }
}

/// `ClientIP` for someone at `v4` (and, if they have one, `v6`), with the observed variations.
pub(super) fn ual_ip<'a>(rng: &mut StdRng, v4: &'a str, v6: Option<&'a str>) -> Ip<'a> {
    let roll = rng.random_range(0..1000);
    match (roll, v6) {
        (r, _) if r < IP_WITH_PORT => Ip::Port(v4, rng.random_range(1024..65535)),
        (r, Some(v6)) if r < IP_WITH_PORT + IPV6_BRACKETED => Ip::Bracketed(v6, rng.random_range(1024..65535)),
        (r, Some(v6)) if r < IP_WITH_PORT + IPV6_BRACKETED + IPV6_PLAIN => Ip::Plain(v6),
        _ => Ip::Plain(v4),
    }
}

/// `{Name, Value}`, the NameValuePair of UAL records.
#[derive(Serialize, Debug)]
pub(super) struct Nv<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Value")]
    value: Cow<'a, str>,
}

pub(super) fn nv<'a>(name: &'a str, value: impl Into<Cow<'a, str>>) -> Nv<'a> {
    Nv { name, value: value.into() }
}

/// `{ID, Type}`, the IdentityTypeValuePair of AAD records.
#[derive(Serialize)]
struct IdType<'a> {
    #[serde(rename = "ID")]
    id: Cow<'a, str>,
    #[serde(rename = "Type")]
    kind: Num,
}

/// `{Name, NewValue, OldValue}`, the ModifiedProperty of UAL records.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ModProp<'a> {
    name: &'a str,
    new_value: Cow<'a, str>,
    old_value: Cow<'a, str>,
}

/// An id written either from text or from a GUID.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ident<'a> {
    Text(&'a str),
    Guid(Guid),
}

impl Serialize for Ident<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ident::Text(text) => s.serialize_str(text),
            Ident::Guid(guid) => guid.serialize(s),
        }
    }
}

impl fmt::Display for Ident<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ident::Text(text) => f.write_str(text),
            Ident::Guid(guid) => guid.fmt(f),
        }
    }
}

/// A field the schema documents nowhere yet: Microsoft adds fields all the time.
#[derive(Clone, Copy)]
struct Unknown(u8);

impl Unknown {
    fn maybe(rng: &mut StdRng) -> Option<Unknown> {
        per_mille(rng, UNKNOWN_FIELD).then(|| Unknown(rng.random_range(0..4)))
    }
}

impl Serialize for Unknown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self.0 {
            0 => map.serialize_entry("DataResidencyRegion", "EUR")?,
            1 => map.serialize_entry("IsBackgroundOperation", &false)?,
            2 => map.serialize_entry("AuditSchemaRevision", &2)?,
            _ => map.serialize_entry("ProcessingTags", &["preview", "ring1"])?,
        }
        map.end()
    }
}

/// Nothing more: records whose workload adds no fields.
#[derive(Serialize)]
pub(super) struct Empty {}

/// An opaque base64-looking id (Exchange folder and item ids), stable in its seed.
#[derive(Clone, Copy)]
struct Opaque {
    prefix: &'static str,
    seed: u64,
}

impl Opaque {
    fn folder(owner: &Person, folder: &str) -> Opaque {
        Opaque { prefix: "LgAAAAA", seed: fnv(&owner.mailbox_guid) ^ fnv(folder) }
    }

    fn item(rng: &mut StdRng) -> Opaque {
        Opaque { prefix: "RgAAAAA", seed: rng.random() }
    }
}

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        f.write_str(self.prefix)?;
        // Ten characters from each 64-bit draw of a splitmix stream.
        let (mut state, mut x) = (self.seed, 0);
        for i in 0..48 {
            if i % 10 == 0 {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                x = mix(state);
            }
            f.write_char(char::from(ALPHABET[(x & 63) as usize]))?;
            x >>= 6;
        }
        f.write_str("AAAJ")
    }
}

impl Serialize for Opaque {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An RFC 5322 Message-ID under the tenant's domain.
#[derive(Clone, Copy)]
pub(super) struct MessageId<'a> {
    seed: u64,
    domain: &'a str,
}

impl<'a> MessageId<'a> {
    pub(super) fn new(rng: &mut StdRng, t: &'a Tenant) -> MessageId<'a> {
        MessageId { seed: rng.random(), domain: &t.domain }
    }
}

impl fmt::Display for MessageId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{:016X}{:08X}@mail.{}>", self.seed, mix(self.seed) as u32, self.domain)
    }
}

impl Serialize for MessageId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Text followed by CRLF, as Exchange writes `OriginatingServer` in mailbox audit records.
struct CrLf<'a>(&'a str);

impl Serialize for CrLf<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}\r\n", self.0))
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// Where one hour's records of one feed are collected.
pub(super) struct Out<'a> {
    pub t: &'a Tenant,
    pub clock: &'a Clock,
    buf: Vec<u8>,
    records: Vec<Record>,
}

impl<'a> Out<'a> {
    fn new(t: &'a Tenant, clock: &'a Clock, capacity: usize) -> Self {
        Out { t, clock, buf: Vec::with_capacity(4096), records: Vec::with_capacity(capacity) }
    }

    fn push<T: Serialize>(&mut self, id: String, time: DateTime<Utc>, value: &T) {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value)
            .expect("records serialize: string keys only and no fallible Serialize impls");
        let json = String::from_utf8(self.buf.clone()).expect("serde_json writes UTF-8");
        self.records.push(Record { id, time, json });
    }

    /// Writes a UAL record: the common envelope of `env` followed by the workload's `extra`
    /// fields.
    pub(super) fn ual<X: Serialize>(&mut self, rng: &mut StdRng, at: At, env: &Env<'_>, extra: X) {
        let (t, clock) = (self.t, self.clock);
        let id = Guid::random(rng);
        let record = Ual {
            creation_time: clock.ual(at),
            id,
            operation: env.op,
            organization_id: &t.tenant_id,
            record_type: Num::quirky(rng, env.record_type, STRING_RECORD_TYPE),
            result_status: env.result,
            user_key: env.user_key,
            user_type: Num::quirky(rng, env.user_type, STRING_USER_TYPE),
            version: Num::quirky(rng, 1, STRING_VERSION),
            workload: env.workload,
            client_ip: env.ip,
            object_id: env.object,
            user_id: env.user_id,
            extra,
            unknown: Unknown::maybe(rng),
        };
        self.push(id.to_string(), clock.ual_time(at), &record);
    }
}

/// The common schema of every UAL record (microsoft-apis.md §3.1).
#[derive(Serialize)]
struct Ual<'a, X> {
    #[serde(rename = "CreationTime")]
    creation_time: UalTime<'a>,
    #[serde(rename = "Id")]
    id: Guid,
    #[serde(rename = "Operation")]
    operation: &'a str,
    #[serde(rename = "OrganizationId")]
    organization_id: &'a str,
    #[serde(rename = "RecordType")]
    record_type: Num,
    #[serde(rename = "ResultStatus", skip_serializing_if = "Option::is_none")]
    result_status: Option<&'a str>,
    #[serde(rename = "UserKey")]
    user_key: Key<'a>,
    #[serde(rename = "UserType")]
    user_type: Num,
    #[serde(rename = "Version")]
    version: Num,
    #[serde(rename = "Workload")]
    workload: &'a str,
    #[serde(rename = "ClientIP", skip_serializing_if = "Ip::is_absent")]
    client_ip: Ip<'a>,
    #[serde(rename = "ObjectId", skip_serializing_if = "Option::is_none")]
    object_id: Option<&'a str>,
    #[serde(rename = "UserId")]
    user_id: &'a str,
    #[serde(flatten)]
    extra: X,
    #[serde(flatten)]
    unknown: Option<Unknown>,
}

/// `UserKey` in the forms workloads use for the same person.
#[derive(Clone, Copy, Debug)]
pub(super) enum Key<'a> {
    /// As is: a PUID, or a system account's name.
    Plain(&'a str),
    /// SharePoint's claims form: `i:0h.f|membership|<puid lower-case>@live.com`.
    Claims(&'a str),
    /// Entra's form: `<PUID>@<domain>`.
    AtDomain(&'a str, &'a str),
}

impl Serialize for Key<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Lower<'a>(&'a str);
        impl fmt::Display for Lower<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.chars().try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
            }
        }
        match *self {
            Key::Plain(key) => s.serialize_str(key),
            Key::Claims(puid) => s.collect_str(&format_args!("i:0h.f|membership|{}@live.com", Lower(puid))),
            Key::AtDomain(puid, domain) => s.collect_str(&format_args!("{puid}@{domain}")),
        }
    }
}

/// Who did what, as the UAL envelope records it.
pub(super) struct Env<'a> {
    pub op: &'a str,
    pub record_type: i64,
    pub workload: &'a str,
    pub result: Option<&'a str>,
    pub user_id: &'a str,
    pub user_key: Key<'a>,
    pub user_type: i64,
    pub ip: Ip<'a>,
    pub object: Option<&'a str>,
}

impl<'a> Env<'a> {
    /// `p` acting from their usual address.
    pub(super) fn person(rng: &mut StdRng, p: &'a Person, op: &'a str, record_type: i64, workload: &'a str) -> Self {
        Env {
            op,
            record_type,
            workload,
            result: Some("Succeeded"),
            user_id: &p.upn,
            user_key: Key::Plain(&p.user_key),
            user_type: 0,
            ip: ual_ip(rng, &p.home_ip, Some(&p.home_ipv6)),
            object: None,
        }
    }

    /// `p` acting from `ip` (an address without an IPv6 twin, such as an attacker's).
    pub(super) fn person_at(
        rng: &mut StdRng,
        p: &'a Person,
        ip: &'a str,
        op: &'a str,
        record_type: i64,
        workload: &'a str,
    ) -> Self {
        Env { ip: ual_ip(rng, ip, None), ..Env::person(rng, p, op, record_type, workload) }
    }

    /// A service account such as `NT AUTHORITY\SYSTEM (Microsoft.Exchange.ServiceHost)`.
    pub(super) fn system(account: &'a str, op: &'a str, record_type: i64, workload: &'a str) -> Self {
        Env {
            op,
            record_type,
            workload,
            result: Some("Succeeded"),
            user_id: account,
            user_key: Key::Plain(account),
            user_type: 4,
            ip: Ip::Plain(MICROSOFT_SERVICE_IP),
            object: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference values

/// A first-party application or resource.
#[derive(Clone, Copy, Debug)]
pub(super) struct App {
    pub id: &'static str,
    pub name: &'static str,
}

pub(super) const GRAPH: App = App { id: "00000003-0000-0000-c000-000000000000", name: "Microsoft Graph" };
pub(super) const EXCHANGE_ONLINE: App =
    App { id: "00000002-0000-0ff1-ce00-000000000000", name: "Office 365 Exchange Online" };
pub(super) const SHAREPOINT_ONLINE: App =
    App { id: "00000003-0000-0ff1-ce00-000000000000", name: "Office 365 SharePoint Online" };
pub(super) const OFFICE: App = App { id: "d3590ed6-52b3-4102-aeff-aad2292ab01c", name: "Microsoft Office" };
const OFFICE_HOME: App = App { id: "4765445b-32c6-49b0-83e6-1d93765276ca", name: "OfficeHome" };
const TEAMS_CLIENT: App = App { id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264", name: "Microsoft Teams" };
const TEAMS_SERVICES: App = App { id: "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", name: "Microsoft Teams Services" };
const OUTLOOK_MOBILE: App = App { id: "27922004-5251-4030-b22d-91ecd9a37ea4", name: "Outlook Mobile" };
const ONEDRIVE_SYNC: App = App { id: "ab9b8c07-8f02-4f72-87fa-80105867a763", name: "OneDrive SyncEngine" };
const AZURE_PORTAL: App = App { id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", name: "Azure Portal" };
const AZURE_MANAGEMENT: App =
    App { id: "797f4846-ba00-4fd7-ba43-dac1f8f63013", name: "Windows Azure Service Management API" };
const AUTH_BROKER: App = App { id: "29d9ed98-a469-4536-ade2-f981bc1d605e", name: "Microsoft Authentication Broker" };
const DEVICE_REGISTRATION: App =
    App { id: "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", name: "Device Registration Service" };
const INTUNE_PORTAL: App =
    App { id: "5926fc8e-304e-4f59-8bed-58ca97cc39a4", name: "Microsoft Intune portal extension" };

/// Where Microsoft's own services act from (a documentation address standing in for a
/// datacenter).
const MICROSOFT_SERVICE_IP: &str = "2001:db8:ffff::1";
pub(super) const EXCHANGE_SYSTEM: &str = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";
const SHAREPOINT_APP: &str = "app@sharepoint";
const SHAREPOINT_APP_KEY: &str = "i:0i.t|00000003-0000-0ff1-ce00-000000000000|app@sharepoint";

/// A directory role.
#[derive(Clone, Copy, Debug)]
pub(super) struct Role {
    pub name: &'static str,
    pub template: &'static str,
}

pub(super) const GLOBAL_ADMINISTRATOR: Role =
    Role { name: "Global Administrator", template: "62e90394-69f5-4237-9190-012177145e10" };
/// Roles that grant little: normal assignments, and the near miss of the privileged ones.
pub(super) const READER_ROLES: &[Role] = &[
    Role { name: "Reports Reader", template: "4a5d8f65-41da-4de4-8968-e035b65339cf" },
    Role { name: "Message Center Reader", template: "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b" },
    Role { name: "Usage Summary Reports Reader", template: "75934031-6c7e-415a-99d7-48dbd49e875e" },
    Role { name: "Directory Readers", template: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b" },
];

/// A browser or client as sign-ins describe it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Agent {
    pub os: &'static str,
    pub browser: &'static str,
    /// UAL `DeviceProperties` BrowserType.
    pub browser_type: &'static str,
    pub user_agent: &'static str,
}

pub(super) const AGENTS: &[Agent] = &[
    Agent {
        os: "Windows 10",
        browser: "Edge 131.0.0",
        browser_type: "Edge",
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    },
    Agent {
        os: "Windows 10",
        browser: "Chrome 131.0.0",
        browser_type: "Chrome",
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    },
    Agent {
        os: "MacOs",
        browser: "Safari 17.6",
        browser_type: "Safari",
        user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    },
    Agent {
        os: "Ios",
        browser: "Mobile Safari 17.6",
        browser_type: "Safari",
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    },
    Agent {
        os: "Android",
        browser: "Chrome Mobile 131.0.0",
        browser_type: "Chrome",
        user_agent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    },
    Agent {
        os: "Windows 10",
        browser: "Rich Client 4.66.0.0",
        browser_type: "Other",
        user_agent: "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)",
    },
];

/// The agent of a script or attack tool (password spray, mass download).
pub(super) const TOOL_AGENT: Agent =
    Agent { os: "", browser: "Python Requests 2.32", browser_type: "Other", user_agent: "python-requests/2.32.3" };

fn agent_for(rng: &mut StdRng, device: Option<&Device>) -> Agent {
    match device.map(|d| d.os.as_str()) {
        Some("Windows") => *pick(rng, &[AGENTS[0], AGENTS[1], AGENTS[5]]),
        Some("MacOs") => AGENTS[2],
        Some("iOS") => AGENTS[3],
        Some("Android") => AGENTS[4],
        _ => *pick(rng, &AGENTS[..5]),
    }
}

const SUBJECTS: &[&str] = &[
    "Quarterly numbers",
    "Re: Project update",
    "Invoice 4471",
    "Lunch on Friday?",
    "FW: Contract draft",
    "Weekly status",
    "Meeting notes",
    "Re: Budget 2026",
    "Travel itinerary",
    "Customer escalation",
    "Welcome aboard!",
    "Your order has shipped",
    "Re: \"Q4 plan\" – comments",
];

// ---------------------------------------------------------------------------------------------
// Exchange (Audit.Exchange)

/// The mailbox clients of mailbox audit records: `ClientInfoString` and the client's app id.
const MAIL_CLIENTS: &[(&str, &str)] = &[
    ("Client=OWA;Action=ViaProxy", "00000002-0000-0ff1-ce00-000000000000"),
    ("Client=MSExchangeRPC", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
    ("Client=REST;Client=RESTSystem;;", "27922004-5251-4030-b22d-91ecd9a37ea4"),
    ("Client=OutlookService;Outlook-iOS/2.0;", "27922004-5251-4030-b22d-91ecd9a37ea4"),
];

/// Fields of every mailbox audit record, followed by the operation's own.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MailboxFields<'a, X> {
    app_id: &'a str,
    client_app_id: &'a str,
    client_info_string: &'a str,
    #[serde(rename = "ClientIPAddress")]
    client_ip_address: &'a str,
    external_access: bool,
    internal_logon_type: i64,
    logon_type: i64,
    logon_user_sid: &'a str,
    mailbox_guid: &'a str,
    mailbox_owner_sid: &'a str,
    #[serde(rename = "MailboxOwnerUPN")]
    mailbox_owner_upn: &'a str,
    organization_name: &'a str,
    originating_server: CrLf<'a>,
    session_id: Guid,
    #[serde(flatten)]
    operation: X,
}

/// The mailbox context of `actor` working in `owner`'s mailbox from `ip`.
pub(super) struct Mailbox<'a> {
    pub actor: &'a Person,
    pub owner: &'a Person,
    pub ip: &'a str,
    pub client: (&'a str, &'a str),
}

impl<'a> Mailbox<'a> {
    pub(super) fn own(rng: &mut StdRng, p: &'a Person) -> Self {
        Mailbox { actor: p, owner: p, ip: &p.home_ip, client: *pick(rng, MAIL_CLIENTS) }
    }

    /// The mailbox fields of a record whose envelope is `env` (whose address they repeat).
    fn fields<X>(&self, rng: &mut StdRng, t: &'a Tenant, env: &Env<'a>, operation: X) -> MailboxFields<'a, X> {
        let delegated = self.actor.upn != self.owner.upn;
        MailboxFields {
            app_id: self.client.1,
            client_app_id: self.client.1,
            client_info_string: self.client.0,
            client_ip_address: env.ip.host().unwrap_or(self.ip),
            external_access: false,
            internal_logon_type: 0,
            logon_type: if delegated { 2 } else { 0 },
            logon_user_sid: &self.actor.sid,
            mailbox_guid: &self.owner.mailbox_guid,
            mailbox_owner_sid: &self.owner.sid,
            mailbox_owner_upn: &self.owner.upn,
            organization_name: &t.domain,
            originating_server: CrLf(pick(rng, &t.servers).as_str()),
            session_id: Guid::random(rng),
            operation,
        }
    }

    fn env(&self, rng: &mut StdRng, op: &'a str, record_type: i64) -> Env<'a> {
        let mut env = Env::person(rng, self.actor, op, record_type, "Exchange");
        if self.ip != self.actor.home_ip {
            env.ip = ual_ip(rng, self.ip, None);
        }
        env
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Folder<'a> {
    id: Opaque,
    path: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FolderItem<'a> {
    id: Opaque,
    internet_message_id: MessageId<'a>,
    size_in_bytes: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AccessedFolder<'a> {
    id: Opaque,
    path: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    folder_items: Vec<FolderItem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Accessed<'a> {
    operation_count: u32,
    operation_properties: [Nv<'a>; 2],
    folders: Vec<AccessedFolder<'a>>,
}

/// `MailItemsAccessed` (RecordType 50): `count` items read in one folder.
pub(super) fn mail_items_accessed(rng: &mut StdRng, out: &mut Out<'_>, at: At, mailbox: &Mailbox<'_>, count: u32) {
    let t = out.t;
    let path = *pick(rng, &["\\Inbox", "\\Inbox", "\\Sent Items", "\\Archive", "\\Inbox\\Projects"]);
    // Sync reads a whole folder and lists no items; Bind lists what it read.
    let sync = rng.random_range(0..100) < 15;
    let items = if sync {
        Vec::new()
    } else {
        (0..count.min(12))
            .map(|_| FolderItem {
                id: Opaque::item(rng),
                internet_message_id: MessageId::new(rng, t),
                size_in_bytes: rng.random_range(4_000..400_000),
            })
            .collect()
    };
    let operation = Accessed {
        operation_count: count,
        operation_properties: [
            nv("MailAccessType", if sync { "Sync" } else { "Bind" }),
            nv("IsThrottled", if count > 1000 { "True" } else { "False" }),
        ],
        folders: vec![AccessedFolder { id: Opaque::folder(mailbox.owner, path), path, folder_items: items }],
    };
    let env = mailbox.env(rng, "MailItemsAccessed", 50);
    let fields = mailbox.fields(rng, t, &env, operation);
    out.ual(rng, at, &env, fields);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MailItem<'a> {
    id: Opaque,
    internet_message_id: MessageId<'a>,
    parent_folder: Folder<'a>,
    size_in_bytes: u32,
    subject: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SingleItem<'a> {
    item: MailItem<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_properties: Option<[&'a str; 2]>,
}

/// `Send` (RecordType 2): `mailbox.owner` sends a message.
pub(super) fn mail_send(rng: &mut StdRng, out: &mut Out<'_>, at: At, mailbox: &Mailbox<'_>, subject: &str) {
    let t = out.t;
    let item = MailItem {
        id: Opaque::item(rng),
        internet_message_id: MessageId::new(rng, t),
        parent_folder: Folder { id: Opaque::folder(mailbox.owner, "\\Sent Items"), path: "\\Sent Items" },
        size_in_bytes: rng.random_range(3_000..2_000_000),
        subject,
    };
    let env = mailbox.env(rng, "Send", 2);
    let fields = mailbox.fields(rng, t, &env, SingleItem { item, modified_properties: None });
    out.ual(rng, at, &env, fields);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AffectedItem<'a> {
    id: Opaque,
    internet_message_id: MessageId<'a>,
    parent_folder: Folder<'a>,
    subject: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ItemGroup<'a> {
    affected_items: Vec<AffectedItem<'a>>,
    cross_mailbox_operations: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_folder: Option<Folder<'a>>,
    folder: Folder<'a>,
}

/// `SoftDelete`, `HardDelete` or `MoveToDeletedItems` (RecordType 3) of `count` messages.
pub(super) fn mail_delete(rng: &mut StdRng, out: &mut Out<'_>, at: At, mailbox: &Mailbox<'_>, op: &str, count: usize) {
    let t = out.t;
    let (path, dest) = match op {
        "MoveToDeletedItems" => ("\\Inbox", Some("\\Deleted Items")),
        "HardDelete" => ("\\Deleted Items", None),
        _ => (*pick(rng, &["\\Inbox", "\\Deleted Items", "\\Junk Email"]), None),
    };
    let owner = mailbox.owner;
    let items = (0..count)
        .map(|_| AffectedItem {
            id: Opaque::item(rng),
            internet_message_id: MessageId::new(rng, t),
            parent_folder: Folder { id: Opaque::folder(owner, path), path },
            subject: SUBJECTS[rng.random_range(0..SUBJECTS.len())],
        })
        .collect();
    let group = ItemGroup {
        affected_items: items,
        cross_mailbox_operations: false,
        dest_folder: dest.map(|d| Folder { id: Opaque::folder(owner, d), path: d }),
        folder: Folder { id: Opaque::folder(owner, path), path },
    };
    let env = mailbox.env(rng, op, 3);
    let fields = mailbox.fields(rng, t, &env, group);
    out.ual(rng, at, &env, fields);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OperationProperties<'a> {
    operation_properties: Vec<Nv<'a>>,
}

/// `UpdateInboxRules` (RecordType 2): an Outlook client saved a rule.
pub(super) fn update_inbox_rules(
    rng: &mut StdRng,
    out: &mut Out<'_>,
    at: At,
    mailbox: &Mailbox<'_>,
    rule: &str,
    actions: &str,
) {
    let t = out.t;
    let properties = vec![
        nv("RuleName", rule),
        nv("RuleId", format!("{:016x}", rng.random::<u64>())),
        nv("RuleState", "Enabled"),
        nv("RuleActions", actions),
        nv("RuleOperation", "AddMailboxRule"),
        nv("ServerRule", "True"),
    ];
    let env = mailbox.env(rng, "UpdateInboxRules", 2);
    let fields = mailbox.fields(rng, t, &env, OperationProperties { operation_properties: properties });
    out.ual(rng, at, &env, fields);
}

/// `Parameters`: a NameValuePair list, sometimes delivered as a JSON string.
struct Params<'a> {
    list: &'a [Nv<'a>],
    stringly: bool,
}

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.stringly {
            let text = serde_json::to_string(self.list).map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        } else {
            self.list.serialize(s)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AdminFields<'a> {
    app_id: &'a str,
    client_app_id: &'a str,
    external_access: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_object_resolved_name: Option<&'a str>,
    organization_name: &'a str,
    originating_server: &'a str,
    parameters: Params<'a>,
}

/// An Exchange admin cmdlet (RecordType 1). `env.result` should be `"True"`/`"False"`.
pub(super) fn exchange_cmdlet(
    rng: &mut StdRng,
    out: &mut Out<'_>,
    at: At,
    env: &Env<'_>,
    resolved_name: Option<&str>,
    params: &[Nv<'_>],
) {
    let t = out.t;
    let fields = AdminFields {
        app_id: "",
        client_app_id: "",
        // Microsoft's own service accounts act with ExternalAccess true.
        external_access: env.user_type == 4,
        modified_object_resolved_name: resolved_name,
        organization_name: &t.domain,
        originating_server: pick(rng, &t.servers).as_str(),
        parameters: Params { list: params, stringly: per_mille(rng, STRINGLY_PARAMETERS) },
    };
    out.ual(rng, at, env, fields);
}

/// `{domain}\{alias}`, the `ObjectId` of mailbox cmdlets.
pub(super) fn mailbox_identity(t: &Tenant, p: &Person) -> String {
    format!("{}\\{}", t.domain, p.alias)
}

fn exchange(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    let u = pick(rng, &t.users);
    match rng.random_range(0..100) {
        0..=37 => {
            // Now and then a delegate reads a colleague's mailbox.
            let mut mailbox = Mailbox::own(rng, u);
            if rng.random_range(0..100) < 3 {
                mailbox.owner = pick(rng, &t.users);
            }
            let count = if rng.random_range(0..10) == 0 { rng.random_range(10..80) } else { rng.random_range(1..6) };
            mail_items_accessed(rng, out, at, &mailbox, count);
        }
        38..=51 => {
            let mailbox = Mailbox::own(rng, u);
            let subject = *pick(rng, SUBJECTS);
            mail_send(rng, out, at, &mailbox, subject);
        }
        52..=69 => {
            let mailbox = Mailbox::own(rng, u);
            let (op, count) = match rng.random_range(0..18) {
                0..=7 => ("MoveToDeletedItems", rng.random_range(1..4)),
                8..=14 => ("SoftDelete", rng.random_range(1..4)),
                _ => ("HardDelete", rng.random_range(1..3)),
            };
            mail_delete(rng, out, at, &mailbox, op, count);
        }
        70..=74 => {
            let mailbox = Mailbox::own(rng, u);
            let item = MailItem {
                id: Opaque::item(rng),
                internet_message_id: MessageId::new(rng, t),
                parent_folder: Folder { id: Opaque::folder(u, "\\Inbox"), path: "\\Inbox" },
                size_in_bytes: rng.random_range(3_000..200_000),
                subject: SUBJECTS[rng.random_range(0..SUBJECTS.len())],
            };
            let env = mailbox.env(rng, "Update", 2);
            let fields =
                mailbox.fields(rng, t, &env, SingleItem { item, modified_properties: Some(["IsRead", "Flag"]) });
            out.ual(rng, at, &env, fields);
        }
        75..=78 => {
            let mailbox = Mailbox::own(rng, u);
            let env = mailbox.env(rng, "MailboxLogin", 2);
            let fields = mailbox.fields(rng, t, &env, Empty {});
            out.ual(rng, at, &env, fields);
        }
        79..=80 => {
            let mailbox = Mailbox::own(rng, u);
            update_inbox_rules(
                rng,
                out,
                at,
                &mailbox,
                "Newsletters",
                "[{\"ActionType\":\"MoveToFolderAction\",\"Folder\":\"Newsletters\"}]",
            );
        }
        _ => exchange_admin(rng, out, at, u),
    }
}

/// Exchange admin cmdlets of a normal day, including the harmless cousins of the dangerous ones.
fn exchange_admin(rng: &mut StdRng, out: &mut Out<'_>, at: At, user: &Person) {
    let t = out.t;
    let admin = pick(rng, &t.admins);
    let other = pick(rng, &t.users);
    let failed = rng.random_range(0..100) < 2;
    let as_admin = |rng: &mut StdRng, op| {
        let mut env = Env::person(rng, admin, op, 1, "Exchange");
        env.user_type = 2;
        env.result = Some(if failed { "False" } else { "True" });
        env
    };
    let as_user = |rng: &mut StdRng, op| {
        let mut env = Env::person(rng, user, op, 1, "Exchange");
        env.result = Some(if failed { "False" } else { "True" });
        env
    };
    let identity = mailbox_identity(t, user);
    match rng.random_range(0..100) {
        0..=21 => {
            let mut env = as_admin(rng, "Set-Mailbox");
            env.object = Some(&identity);
            let change: Vec<Nv> = match rng.random_range(0..100) {
                0..=29 => vec![nv("ProhibitSendQuota", "49.5 GB (53,150,220,288 bytes)")],
                30..=49 => vec![nv("RetainDeletedItemsFor", "30.00:00:00")],
                50..=64 => vec![nv("LitigationHoldEnabled", "True")],
                65..=79 => vec![nv("GrantSendOnBehalfTo", other.alias.as_str())],
                80..=94 => vec![nv("Type", "Shared")],
                // Forwarding inside the tenant, keeping a copy: the near miss of the attack.
                _ => vec![
                    nv("ForwardingSmtpAddress", format!("smtp:{}", other.mail)),
                    nv("DeliverToMailboxAndForward", "True"),
                ],
            };
            let mut params = vec![nv("Identity", user.alias.as_str())];
            params.extend(change);
            exchange_cmdlet(rng, out, at, &env, Some(&user.display_name), &params);
        }
        22..=33 => {
            let rule = *pick(rng, &["Newsletters", "From my manager", "Project mail", "Receipts"]);
            let object = format!("{}\\{rule}", user.alias);
            let mut env = as_user(rng, "New-InboxRule");
            env.object = Some(&object);
            let params = [
                nv("Name", rule),
                nv("From", "news@vendor.example"),
                nv("MoveToFolder", rule),
                nv("StopProcessingRules", "False"),
                nv("AlwaysDeleteOutlookRulesBlob", "False"),
                nv("Force", "False"),
            ];
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
        34..=39 => {
            let object = format!("{}\\Newsletters", user.alias);
            let mut env = as_user(rng, "Set-InboxRule");
            env.object = Some(&object);
            let params = [nv("Identity", object.as_str()), nv("MarkAsRead", "True")];
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
        40..=54 => {
            // Mostly the service account provisioning mailboxes; sometimes an admin granting a
            // shared mailbox.
            let shared = format!("{}\\finance-shared", t.domain);
            if rng.random_range(0..100) < 70 {
                let mut env = Env::system(EXCHANGE_SYSTEM, "Add-MailboxPermission", 1, "Exchange");
                env.result = Some("True");
                env.object = Some(&identity);
                let params = [
                    nv("Identity", user.mailbox_guid.as_str()),
                    nv("User", "NT AUTHORITY\\SELF"),
                    nv("AccessRights", "FullAccess, ReadPermission"),
                    nv("InheritanceType", "All"),
                ];
                exchange_cmdlet(rng, out, at, &env, Some(&user.display_name), &params);
            } else {
                let mut env = as_admin(rng, "Add-MailboxPermission");
                env.object = Some(&shared);
                let params = [
                    nv("Identity", "finance-shared"),
                    nv("User", user.upn.as_str()),
                    nv("AccessRights", "FullAccess"),
                    nv("InheritanceType", "All"),
                    nv("AutoMapping", "True"),
                ];
                exchange_cmdlet(rng, out, at, &env, Some("Finance Shared"), &params);
            }
        }
        55..=69 => {
            let mut env = as_user(rng, "Set-MailboxRegionalConfiguration");
            env.object = Some(&identity);
            let zone = *pick(rng, &["W. Europe Standard Time", "GMT Standard Time", "Pacific Standard Time"]);
            let params = [nv("Identity", user.mailbox_guid.as_str()), nv("Language", "en-US"), nv("TimeZone", zone)];
            exchange_cmdlet(rng, out, at, &env, Some(&user.display_name), &params);
        }
        70..=79 => {
            let mut env = Env::system(EXCHANGE_SYSTEM, "Set-MailboxJunkEmailConfiguration", 1, "Exchange");
            env.result = Some("True");
            env.object = Some(&identity);
            let params = [nv("Identity", user.mailbox_guid.as_str()), nv("TrustedSendersAndDomains", "vendor.example")];
            exchange_cmdlet(rng, out, at, &env, Some(&user.display_name), &params);
        }
        80..=87 => {
            let group = pick(rng, &t.groups);
            let mut env = as_admin(rng, "Add-DistributionGroupMember");
            env.object = Some(&group.name);
            let params = [nv("Identity", group.name.as_str()), nv("Member", user.alias.as_str())];
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
        88..=94 => {
            let mut env = as_admin(rng, "Set-CASMailbox");
            env.object = Some(&identity);
            let params = [nv("Identity", user.alias.as_str()), nv("PopEnabled", "False"), nv("ImapEnabled", "False")];
            exchange_cmdlet(rng, out, at, &env, Some(&user.display_name), &params);
        }
        95..=97 => {
            let mut env = as_user(rng, "Remove-InboxRule");
            let object = format!("{}\\Receipts", user.alias);
            env.object = Some(&object);
            let params = [nv("Identity", object.as_str()), nv("Confirm", "False")];
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
        98 => {
            let mut env = as_admin(rng, "New-TransportRule");
            env.object = Some("External email disclaimer");
            let params = [
                nv("Name", "External email disclaimer"),
                nv("FromScope", "InOrganization"),
                nv("SentToScope", "NotInOrganization"),
                nv("ApplyHtmlDisclaimerLocation", "Append"),
                nv("ApplyHtmlDisclaimerText", "<p style=\"color:gray\">Confidential &amp; for the addressee only.</p>"),
            ];
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
        _ => {
            // Harmless audit configuration: retention, or ingestion confirmed on.
            let mut env = as_admin(rng, "Set-AdminAuditLogConfig");
            env.object = Some("Admin Audit Log Settings");
            let params = if rng.random_bool(0.5) {
                [nv("AdminAuditLogAgeLimit", "180.00:00:00")]
            } else {
                [nv("UnifiedAuditLogIngestionEnabled", "True")]
            };
            exchange_cmdlet(rng, out, at, &env, None, &params);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SharePoint and OneDrive (Audit.SharePoint)

const BROWSER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Microsoft Office Excel/16.0.18129.20158 (Windows/10.0; Desktop x64; en-US; Desktop app; Dell Inc./Latitude 7440)",
    "Microsoft Office Word/16.0.18129.20158 (Windows/10.0; Desktop x64; en-US; Desktop app)",
];
const SYNC_AGENT: &str = "Microsoft SkyDriveSync 24.201.1006.0005 ship; Windows NT 10.0 (22631)";

/// What a SharePoint/OneDrive record is about.
pub(super) struct SpTarget<'a> {
    pub site_url: &'a str,
    pub site: Guid,
    pub web: Guid,
    pub list: Option<Guid>,
    pub relative: &'a str,
    /// `(name, extension, list item unique id)` for file-level operations.
    pub file: Option<(&'a str, &'a str, Guid)>,
    /// The `ObjectId`: full URL of the item.
    pub object: &'a str,
    pub item_type: &'a str,
}

impl<'a> SpTarget<'a> {
    /// A file in a team site's document library.
    pub(super) fn site_file(site: &'a Site, file: &'a SiteFile) -> Self {
        SpTarget {
            site_url: &site.url,
            site: site.site_id,
            web: site.web_id,
            list: Some(site.list_id),
            relative: "Shared Documents",
            file: Some((&file.name, &file.extension, file.unique_id)),
            object: &file.url,
            item_type: "File",
        }
    }

    /// A file in `owner`'s OneDrive; `object` is its full URL and `name` its file name.
    fn onedrive_file(owner: &'a Person, name: &'a str, extension: &'a str, object: &'a str) -> Self {
        let site = Guid::derived(&[fnv(&owner.upn), 1]);
        SpTarget {
            site_url: &owner.onedrive_url,
            site,
            web: Guid::derived(&[fnv(&owner.upn), 2]),
            list: Some(Guid::derived(&[fnv(&owner.upn), 3])),
            relative: "Documents",
            file: Some((name, extension, Guid::derived(&[fnv(&owner.upn), fnv(name)]))),
            object,
            item_type: "File",
        }
    }

    /// A whole site (searches, page views, administration).
    pub(super) fn site(site: &'a Site, item_type: &'a str) -> Self {
        SpTarget {
            site_url: &site.url,
            site: site.site_id,
            web: site.web_id,
            list: None,
            relative: "",
            file: None,
            object: &site.url,
            item_type,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SpFields<'a, X> {
    site: Guid,
    item_type: &'a str,
    event_source: &'a str,
    user_agent: &'a str,
    correlation_id: Guid,
    web_id: Guid,
    #[serde(skip_serializing_if = "Option::is_none")]
    list_id: Option<Guid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list_item_unique_id: Option<Guid>,
    site_url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    source_relative_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_file_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_file_extension: Option<&'a str>,
    #[serde(flatten)]
    extra: X,
}

/// A SharePoint or OneDrive record about `target`, performed as `env` says.
pub(super) fn sharepoint_event<X: Serialize>(
    rng: &mut StdRng,
    out: &mut Out<'_>,
    at: At,
    env: &Env<'_>,
    target: &SpTarget<'_>,
    user_agent: &str,
    extra: X,
) {
    let fields = SpFields {
        site: target.site,
        item_type: target.item_type,
        event_source: "SharePoint",
        user_agent,
        correlation_id: Guid::random(rng),
        web_id: target.web,
        list_id: target.list,
        list_item_unique_id: target.file.map(|f| f.2),
        site_url: target.site_url,
        source_relative_url: target.relative,
        source_file_name: target.file.map(|f| f.0),
        source_file_extension: target.file.map(|f| f.1),
        extra,
    };
    out.ual(rng, at, env, fields);
}

/// The fields sharing operations (RecordType 14) add.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Sharing<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_user_or_group_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_user_or_group_type: Option<&'a str>,
    pub event_data: &'a str,
    pub unique_sharing_id: Guid,
}

/// A SharePoint user's `Env`: claims-form `UserKey`.
pub(super) fn sharepoint_env<'a>(
    rng: &mut StdRng,
    p: &'a Person,
    ip: Option<&'a str>,
    op: &'a str,
    record_type: i64,
    workload: &'a str,
) -> Env<'a> {
    let mut env = match ip {
        Some(ip) => Env::person_at(rng, p, ip, op, record_type, workload),
        None => Env::person(rng, p, op, record_type, workload),
    };
    env.user_key = Key::Claims(&p.user_key);
    env
}

fn sharepoint(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    let roll = rng.random_range(0..1000);
    // Guests work on team sites now and then.
    let u = if roll % 20 == 0 { pick(rng, &t.guests) } else { pick(rng, &t.users) };
    let site = pick(rng, &t.sites);
    let file = pick(rng, &site.files);
    let agent = *pick(rng, BROWSER_AGENTS);
    let (op, record_type) = match roll {
        0..=349 => ("FileAccessed", 6),
        350..=429 => ("FilePreviewed", 6),
        430..=529 => ("FileDownloaded", 6),
        530..=599 => ("FileUploaded", 6),
        600..=719 => ("FileModified", 6),
        720..=739 => ("FileDeleted", 6),
        740..=749 => ("FileRecycled", 6),
        750..=769 => ("FileSyncDownloadedFull", 6),
        770..=799 => ("PageViewed", 4),
        800..=829 => ("SearchQueryPerformed", 4),
        830..=859 => ("SharingSet", 14),
        860..=874 => ("SharingInvitationCreated", 14),
        875..=889 => ("SecureLinkCreated", 14),
        890..=899 => ("AddedToSecureLink", 14),
        900..=902 => ("AnonymousLinkCreated", 14),
        903..=949 => ("ListItemUpdated", 36),
        950..=979 => ("FolderCreated", 6),
        980..=994 => ("FileModified", 6),
        _ => ("SiteCollectionAdminAdded", 4),
    };
    match (op, roll) {
        ("FileModified", 980..) | ("SiteCollectionAdminAdded", _) => {
            // The platform itself: workflows touching files, provisioning adding site admins.
            let mut env = Env::system(SHAREPOINT_APP, op, record_type, "SharePoint");
            env.user_key = Key::Plain(SHAREPOINT_APP_KEY);
            env.user_type = 0;
            if op == "SiteCollectionAdminAdded" {
                env.object = Some(&site.url);
                let target = SpTarget::site(site, "Site");
                let admin = pick(rng, &t.admins);
                let extra = json!({"ModifiedProperties": [{"Name": "SiteAdmin", "NewValue": admin.upn, "OldValue": ""}],
                                   "TargetUserOrGroupName": admin.upn, "TargetUserOrGroupType": "Member"});
                sharepoint_event(rng, out, at, &env, &target, "", extra);
            } else {
                env.object = Some(&file.url);
                let target = SpTarget::site_file(site, file);
                sharepoint_event(rng, out, at, &env, &target, "", Empty {});
            }
        }
        ("PageViewed", _) => {
            let page = format!("{}SitePages/Home.aspx", site.url);
            let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
            env.object = Some(&page);
            let mut target = SpTarget::site(site, "Page");
            target.relative = "SitePages";
            target.object = &page;
            sharepoint_event(rng, out, at, &env, &target, agent, Empty {});
        }
        ("SearchQueryPerformed", _) => {
            let query = *pick(
                rng,
                &["quarterly report", "holiday schedule", "expense policy", "vpn setup", "org chart", "salary bands"],
            );
            let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
            env.object = Some(&site.url);
            let target = SpTarget::site(site, "Site");
            sharepoint_event(rng, out, at, &env, &target, agent, json!({"SearchQueryText": query}));
        }
        ("ListItemUpdated", _) => {
            let item = format!("{}Lists/Tasks/{}_.000", site.url, rng.random_range(1..400));
            let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
            env.object = Some(&item);
            let mut target = SpTarget::site(site, "ListItem");
            target.relative = "Lists/Tasks";
            target.object = &item;
            let extra = json!({"ListTitle": "Tasks", "ListBaseType": "GenericList", "ListBaseTemplateType": "171",
                               "IsHiddenList": false, "IsDocLib": false, "ListItemUniqueId": Guid::random(rng)});
            sharepoint_event(rng, out, at, &env, &target, agent, extra);
        }
        ("FolderCreated", _) => {
            let folder = format!("{}Shared Documents/{}", site.url, pick(rng, &["Archive", "Drafts", "2026", "Scans"]));
            let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
            env.object = Some(&folder);
            let mut target = SpTarget::site(site, "Folder");
            target.relative = "Shared Documents";
            target.object = &folder;
            sharepoint_event(rng, out, at, &env, &target, agent, Empty {});
        }
        (_, _) if record_type == 14 => {
            let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
            env.object = Some(&file.url);
            let target = SpTarget::site_file(site, file);
            let colleague = pick(rng, &t.users);
            let guest = pick(rng, &t.guests);
            let sharing = match op {
                "SharingSet" => Sharing {
                    target_user_or_group_name: Some(&colleague.upn),
                    target_user_or_group_type: Some("Member"),
                    event_data: "<PermissionsGranted>Contribute</PermissionsGranted>",
                    unique_sharing_id: Guid::random(rng),
                },
                "SharingInvitationCreated" => Sharing {
                    target_user_or_group_name: Some(&guest.mail),
                    target_user_or_group_type: Some("Guest"),
                    event_data: "<Type>View</Type>",
                    unique_sharing_id: Guid::random(rng),
                },
                "AddedToSecureLink" => Sharing {
                    target_user_or_group_name: Some(&colleague.upn),
                    target_user_or_group_type: Some("Member"),
                    event_data: "<Type>View</Type>",
                    unique_sharing_id: Guid::random(rng),
                },
                _ => Sharing {
                    target_user_or_group_name: None,
                    target_user_or_group_type: None,
                    event_data: if op == "AnonymousLinkCreated" {
                        "<Type>View</Type><MembersCanShare>False</MembersCanShare>"
                    } else {
                        "<Type>View</Type><MembersCanShare>True</MembersCanShare>"
                    },
                    unique_sharing_id: Guid::random(rng),
                },
            };
            sharepoint_event(rng, out, at, &env, &target, agent, sharing);
        }
        _ => {
            // File operations: a third of them in the person's own OneDrive.
            let agent = if op == "FileSyncDownloadedFull" { SYNC_AGENT } else { agent };
            if u.upn.contains("#EXT#") || rng.random_range(0..100) >= 30 {
                let mut env = sharepoint_env(rng, u, None, op, record_type, "SharePoint");
                env.object = Some(&file.url);
                let target = SpTarget::site_file(site, file);
                sharepoint_event(rng, out, at, &env, &target, agent, Empty {});
            } else {
                let object = format!("{}Documents/{}", u.onedrive_url, file.name);
                let mut env = sharepoint_env(rng, u, None, op, record_type, "OneDrive");
                env.object = Some(&object);
                let target = SpTarget::onedrive_file(u, &file.name, &file.extension, &object);
                sharepoint_event(rng, out, at, &env, &target, agent, Empty {});
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-ins: Graph signIns and UAL STS logons (RecordType 15)

/// A place a sign-in comes from.
#[derive(Clone, Copy, Debug)]
pub(super) struct Where<'a> {
    pub city: &'a str,
    pub state: &'a str,
    pub country: &'a str,
    pub lat: f64,
    pub lon: f64,
}

impl<'a> From<&'a Person> for Where<'a> {
    fn from(p: &'a Person) -> Self {
        Where { city: &p.city, state: &p.state, country: &p.country, lat: p.latitude, lon: p.longitude }
    }
}

impl From<Place> for Where<'static> {
    fn from(p: Place) -> Self {
        Where { city: p.city, state: p.state, country: p.country, lat: p.lat, lon: p.lon }
    }
}

/// Identity Protection's view of a sign-in.
#[derive(Clone, Copy, Debug)]
pub(super) struct Risk {
    pub during: &'static str,
    pub aggregated: &'static str,
    pub state: &'static str,
    pub detail: &'static str,
    pub events: &'static [&'static str],
}

pub(super) const NO_RISK: Risk =
    Risk { during: "none", aggregated: "none", state: "none", detail: "none", events: &[] };
/// What tenants without Entra ID P2 see.
pub(super) const HIDDEN_RISK: Risk =
    Risk { during: "hidden", aggregated: "hidden", state: "none", detail: "hidden", events: &[] };

/// One sign-in, renderable as a Graph signIn and as a UAL STS logon.
pub(super) struct Logon<'a> {
    pub user: &'a Person,
    pub at: At,
    pub ip: &'a str,
    pub place: Where<'a>,
    pub app: App,
    pub resource: App,
    pub client: &'static str,
    /// AADSTS error code, 0 for success.
    pub error: u32,
    pub device: Option<&'a Device>,
    pub agent: Agent,
    pub correlation: Guid,
    pub risk: Risk,
    pub interactive: bool,
}

/// The usual apps: `(app, resource, clientAppUsed)`.
const SIGN_IN_APPS: &[(App, App, &str)] = &[
    (OFFICE, EXCHANGE_ONLINE, "Mobile Apps and Desktop clients"),
    (OFFICE_HOME, SHAREPOINT_ONLINE, "Browser"),
    (TEAMS_CLIENT, TEAMS_SERVICES, "Mobile Apps and Desktop clients"),
    (OUTLOOK_MOBILE, EXCHANGE_ONLINE, "Mobile Apps and Desktop clients"),
    (ONEDRIVE_SYNC, SHAREPOINT_ONLINE, "Mobile Apps and Desktop clients"),
    (OFFICE_HOME, GRAPH, "Browser"),
    (AUTH_BROKER, DEVICE_REGISTRATION, "Mobile Apps and Desktop clients"),
];

impl<'a> Logon<'a> {
    /// An interactive sign-in of `user` from their usual place and device, succeeding.
    pub(super) fn usual(rng: &mut StdRng, t: &'a Tenant, user: &'a Person, at: At) -> Self {
        let device = t.users.iter().position(|u| u.upn == user.upn).and_then(|i| t.devices.get(i));
        let device = device.filter(|_| rng.random_range(0..100) < 80);
        let (app, resource, client) = *pick(rng, SIGN_IN_APPS);
        Logon {
            user,
            at,
            ip: if rng.random_range(0..100) < 8 { &user.home_ipv6 } else { &user.home_ip },
            place: Where::from(user),
            app,
            resource,
            client,
            error: 0,
            device,
            agent: agent_for(rng, device),
            correlation: Guid::random(rng),
            risk: if t.premium { NO_RISK } else { HIDDEN_RISK },
            interactive: true,
        }
    }
}

/// `(failureReason, UAL LogonError)` of an AADSTS code.
fn failure(code: u32) -> (&'static str, &'static str) {
    match code {
        0 => ("Other.", ""),
        50126 => ("Error validating credentials due to invalid username or password.", "InvalidUserNameOrPassword"),
        50074 => ("Strong Authentication is required.", "UserStrongAuthClientAuthNRequiredInterrupt"),
        50076 => (
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
            "UserStrongAuthClientAuthNRequired",
        ),
        50140 => (
            "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
            "KmsiInterrupt",
        ),
        53003 => (
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            "BlockedByConditionalAccess",
        ),
        500121 => ("Authentication failed during strong authentication request.", "UserStrongAuthFailed"),
        50055 => ("The password is expired.", "InvalidPasswordExpiredPassword"),
        50053 => (
            "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
            "IdsLocked",
        ),
        _ => ("Authentication failed.", "Other"),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignInStatus<'a> {
    error_code: u32,
    failure_reason: &'a str,
    additional_details: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceDetail<'a> {
    device_id: &'a str,
    display_name: Option<&'a str>,
    operating_system: &'a str,
    browser: &'a str,
    is_compliant: Option<bool>,
    is_managed: Option<bool>,
    trust_type: Option<&'a str>,
}

#[derive(Serialize)]
struct GeoCoordinates {
    altitude: Option<f64>,
    latitude: f64,
    longitude: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    city: &'a str,
    state: &'a str,
    country_or_region: &'a str,
    geo_coordinates: GeoCoordinates,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppliedPolicy<'a> {
    id: Guid,
    display_name: &'a str,
    enforced_grant_controls: &'a [&'a str],
    enforced_session_controls: &'a [&'a str],
    result: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignIn<'a> {
    id: Guid,
    created_date_time: GraphTime<'a>,
    user_display_name: &'a str,
    user_principal_name: &'a str,
    user_id: &'a str,
    app_id: &'a str,
    app_display_name: &'a str,
    ip_address: &'a str,
    client_app_used: &'a str,
    correlation_id: Guid,
    conditional_access_status: &'a str,
    is_interactive: bool,
    risk_detail: &'a str,
    risk_level_aggregated: &'a str,
    risk_level_during_sign_in: &'a str,
    risk_state: &'a str,
    risk_event_types: &'a [&'a str],
    #[serde(rename = "riskEventTypes_v2")]
    risk_event_types_v2: &'a [&'a str],
    resource_display_name: &'a str,
    resource_id: &'a str,
    status: SignInStatus<'a>,
    device_detail: DeviceDetail<'a>,
    location: Location<'a>,
    applied_conditional_access_policies: Vec<AppliedPolicy<'a>>,
}

const LEGACY_CLIENTS: &[&str] = &["Exchange ActiveSync", "IMAP4", "POP3", "Authenticated SMTP", "Other clients"];

/// Writes `logon` as a Graph signIn.
pub(super) fn sign_in(rng: &mut StdRng, out: &mut Out<'_>, logon: &Logon<'_>) {
    let (t, clock) = (out.t, out.clock);
    let admin = t.admins.iter().any(|a| a.upn == logon.user.upn);
    let legacy = LEGACY_CLIENTS.contains(&logon.client);
    let mfa_failed = matches!(logon.error, 50074 | 50076 | 500121);
    let policies = t
        .policies
        .iter()
        .map(|p| {
            let result = match p.grant {
                _ if p.report_only => {
                    if logon.device.is_some_and(|d| d.compliant) {
                        "reportOnlySuccess"
                    } else {
                        "reportOnlyFailure"
                    }
                }
                "Block" if legacy => "failure",
                "Block" => "notApplied",
                _ if p.name.contains("administrators") && !admin => "notApplied",
                _ if logon.error == 53003 || mfa_failed => "failure",
                _ if logon.error != 0 => "notApplied",
                _ => "success",
            };
            let grant: &[&str] = match (result, p.grant) {
                ("notApplied", _) => &[],
                (_, "Mfa") => &["Mfa"],
                (_, "Block") => &["Block"],
                _ => &["RequireCompliantDevice"],
            };
            AppliedPolicy {
                id: p.id,
                display_name: p.name,
                enforced_grant_controls: grant,
                enforced_session_controls: &[],
                result,
            }
        })
        .collect::<Vec<_>>();
    let status = if policies.iter().any(|p| p.result == "failure") {
        "failure"
    } else if policies.iter().any(|p| p.result == "success") {
        "success"
    } else {
        "notApplied"
    };
    let (reason, _) = failure(logon.error);
    let details = match logon.error {
        0 if logon.interactive && rng.random_range(0..100) < 40 => {
            Some("MFA requirement satisfied by claim in the token")
        }
        0 if logon.interactive && rng.random_range(0..100) < 30 => Some("MFA completed in Azure AD"),
        500121 => Some("MFA denied; user declined the authentication"),
        _ => None,
    };
    let id = Guid::random(rng);
    let record = SignIn {
        id,
        created_date_time: clock.graph(logon.at),
        user_display_name: &logon.user.display_name,
        user_principal_name: &logon.user.upn,
        user_id: &logon.user.object_id,
        app_id: logon.app.id,
        app_display_name: logon.app.name,
        ip_address: logon.ip,
        client_app_used: logon.client,
        correlation_id: logon.correlation,
        conditional_access_status: status,
        is_interactive: logon.interactive,
        risk_detail: logon.risk.detail,
        risk_level_aggregated: logon.risk.aggregated,
        risk_level_during_sign_in: logon.risk.during,
        risk_state: logon.risk.state,
        risk_event_types: logon.risk.events,
        risk_event_types_v2: logon.risk.events,
        resource_display_name: logon.resource.name,
        resource_id: logon.resource.id,
        status: SignInStatus { error_code: logon.error, failure_reason: reason, additional_details: details },
        device_detail: DeviceDetail {
            device_id: logon.device.map_or("", |d| d.id.as_str()),
            display_name: logon.device.map(|d| d.display_name.as_str()),
            operating_system: logon.agent.os,
            browser: logon.agent.browser,
            is_compliant: logon.device.map(|d| d.compliant),
            is_managed: logon.device.map(|_| true),
            trust_type: logon.device.map(|d| d.trust_type.as_str()),
        },
        location: Location {
            city: logon.place.city,
            state: logon.place.state,
            country_or_region: logon.place.country,
            geo_coordinates: GeoCoordinates { altitude: None, latitude: logon.place.lat, longitude: logon.place.lon },
        },
        applied_conditional_access_policies: policies,
    };
    out.push(id.to_string(), clock.graph_time(logon.at), &record);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StsFields<'a> {
    azure_active_directory_event_type: Num,
    extended_properties: [Nv<'a>; 3],
    modified_properties: [Nv<'a>; 0],
    actor: [IdType<'a>; 2],
    actor_context_id: &'a str,
    actor_ip_address: &'a str,
    inter_systems_id: Guid,
    intra_system_id: Guid,
    support_ticket_id: &'a str,
    target: [IdType<'a>; 1],
    target_context_id: &'a str,
    application_id: &'a str,
    device_properties: Vec<Nv<'a>>,
    error_code: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logon_error: Option<&'a str>,
}

/// Writes `logon` as a UAL STS logon (RecordType 15, `UserLoggedIn`/`UserLoginFailed`).
pub(super) fn sts_logon(rng: &mut StdRng, out: &mut Out<'_>, logon: &Logon<'_>) {
    let t = out.t;
    let user = logon.user;
    let op = if logon.error == 0 { "UserLoggedIn" } else { "UserLoginFailed" };
    let (_, logon_error) = failure(logon.error);
    let v6 = logon.ip.contains(':');
    let mut env = Env::person(rng, user, op, 15, "AzureActiveDirectory");
    env.ip = if v6 { Ip::Plain(logon.ip) } else { ual_ip(rng, logon.ip, None) };
    // For STS logons ResultStatus describes the HTTP exchange, so failures say Success too.
    env.result = Some("Success");
    env.user_key = Key::AtDomain(&user.user_key, &t.domain);
    env.object = Some(logon.resource.id);
    let request_type = match logon.error {
        0 if logon.client == "Browser" => "OAuth2:Authorize",
        0 => "OAuth2:Token",
        50140 => "Kmsi:kmsi",
        50074 | 50076 | 500121 => "SAS:ProcessAuth",
        _ => "Login:login",
    };
    let mut device = Vec::with_capacity(6);
    device.push(nv("OS", logon.agent.os));
    device.push(nv("BrowserType", logon.agent.browser_type));
    if let Some(d) = logon.device {
        device.push(nv("Id", d.id.as_str()));
        device.push(nv("DisplayName", d.display_name.as_str()));
        device.push(nv("TrustType", if d.trust_type == "Azure AD joined" { "1" } else { "2" }));
        device.push(nv("IsCompliantAndManaged", if d.compliant { "True" } else { "False" }));
    } else {
        device.push(nv("IsCompliantAndManaged", "False"));
    }
    let fields = StsFields {
        azure_active_directory_event_type: Num::quirky(rng, 1, STRING_EVENT_TYPE),
        extended_properties: [
            nv("ResultStatusDetail", if matches!(logon.error, 50140 | 50074) { "Redirect" } else { "Success" }),
            nv("UserAgent", logon.agent.user_agent),
            nv("RequestType", request_type),
        ],
        modified_properties: [],
        actor: [
            IdType { id: Cow::Borrowed(&user.object_id), kind: Num::quirky(rng, 0, STRING_ACTOR_TYPE) },
            IdType { id: Cow::Borrowed(&user.upn), kind: Num::quirky(rng, 5, STRING_ACTOR_TYPE) },
        ],
        actor_context_id: &t.tenant_id,
        actor_ip_address: logon.ip,
        inter_systems_id: logon.correlation,
        intra_system_id: Guid::random(rng),
        support_ticket_id: "",
        target: [IdType { id: Cow::Borrowed(logon.resource.id), kind: Num::plain(0) }],
        target_context_id: &t.tenant_id,
        application_id: logon.app.id,
        device_properties: device,
        error_code: if logon.error == 0 { Cow::Borrowed("0") } else { Cow::Owned(logon.error.to_string()) },
        logon_error: (logon.error != 0).then_some(logon_error),
    };
    out.ual(rng, logon.at, &env, fields);
}

/// A sign-in of a normal day: mostly successes from home, some failures.
fn normal_logon<'a>(rng: &mut StdRng, t: &'a Tenant, at: At) -> Logon<'a> {
    let roll = rng.random_range(0..100);
    let user = if roll < 90 {
        pick(rng, &t.users)
    } else if roll < 97 {
        pick(rng, &t.admins)
    } else {
        pick(rng, &t.guests)
    };
    let mut logon = Logon::usual(rng, t, user, at);
    if (90..97).contains(&roll) && rng.random_bool(0.5) {
        (logon.app, logon.resource, logon.client) = (AZURE_PORTAL, AZURE_MANAGEMENT, "Browser");
    }
    logon.error = match rng.random_range(0..1000) {
        0..=39 => 50126,
        40..=59 => 50074,
        60..=74 => 50140,
        75..=84 => 53003,
        85..=92 => 500121,
        93..=96 => 50055,
        97..=98 => 50053,
        _ => 0,
    };
    if rng.random_range(0..100) == 0 {
        // Legacy protocols, mostly stopped by the tenant's policy.
        (logon.app, logon.resource) = (EXCHANGE_ONLINE, EXCHANGE_ONLINE);
        logon.client = *pick(rng, LEGACY_CLIENTS);
        logon.device = None;
        logon.interactive = false;
        if rng.random_bool(0.7) {
            logon.error = 53003;
        }
    }
    logon
}

fn signin(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let logon = normal_logon(rng, out.t, at);
    sign_in(rng, out, &logon);
}

fn aad(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    if rng.random_range(0..100) < 80 {
        let mut logon = normal_logon(rng, t, at);
        // The UAL names no MFA-denial outcome; such attempts show as interrupted logons there.
        if logon.error == 500121 {
            logon.error = 50074;
        }
        sts_logon(rng, out, &logon);
    } else {
        let change = normal_change(rng, t);
        ual_directory(rng, out, at, &change);
    }
}

// ---------------------------------------------------------------------------------------------
// Directory changes: Graph directoryAudits and UAL AAD records (RecordType 8)

/// Who made a directory change.
#[derive(Clone, Copy)]
pub(super) enum Initiator<'a> {
    User(&'a Person, &'a str),
    App { name: &'a str, app_id: &'a str, sp_id: Ident<'a>, first_party: bool },
}

/// What a directory change was made to.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    User(&'a Person),
    App(&'a ServicePrincipal),
    Other { id: Ident<'a>, name: &'a str, kind: &'a str },
}

/// A modified property's value.
#[derive(Clone, Debug)]
pub(super) enum Val<'a> {
    Null,
    /// A plain string: Graph JSON-encodes it (`"\"x\""`), the UAL writes it as is.
    Text(Cow<'a, str>),
    /// Already JSON (`[\"a\"]`, `{...}`): both write the text as is.
    Json(Cow<'a, str>),
}

/// One modified property.
#[derive(Clone, Debug)]
pub(super) struct Change<'a> {
    pub name: &'a str,
    pub old: Val<'a>,
    pub new: Val<'a>,
}

impl<'a> Change<'a> {
    pub(super) fn text(name: &'a str, old: Option<&'a str>, new: impl Into<Cow<'a, str>>) -> Self {
        Change { name, old: old.map_or(Val::Null, |o| Val::Text(o.into())), new: Val::Text(new.into()) }
    }

    pub(super) fn json(name: &'a str, old: impl Into<Cow<'a, str>>, new: impl Into<Cow<'a, str>>) -> Self {
        Change { name, old: Val::Json(old.into()), new: Val::Json(new.into()) }
    }
}

/// One directory change, renderable as a Graph directoryAudit and as a UAL record.
pub(super) struct DirChange<'a> {
    /// Graph `activityDisplayName`; the UAL `Operation` adds a trailing ".".
    pub activity: &'a str,
    pub category: &'a str,
    pub service: &'a str,
    pub operation_type: &'a str,
    pub success: bool,
    pub result_reason: &'a str,
    pub by: Initiator<'a>,
    pub target: Target<'a>,
    pub changes: Vec<Change<'a>>,
    /// Lists the changed property names in an extra "Included Updated Properties" entry.
    pub included: bool,
    pub details: Vec<(&'a str, Cow<'a, str>)>,
    pub correlation: Guid,
}

impl<'a> DirChange<'a> {
    pub(super) fn new(
        rng: &mut StdRng,
        activity: &'a str,
        category: &'a str,
        operation_type: &'a str,
        by: Initiator<'a>,
        target: Target<'a>,
    ) -> Self {
        DirChange {
            activity,
            category,
            service: "Core Directory",
            operation_type,
            success: true,
            result_reason: "",
            by,
            target,
            changes: Vec::new(),
            included: false,
            details: Vec::new(),
            correlation: Guid::random(rng),
        }
    }

    fn included_names(&self) -> String {
        self.changes.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    id: &'a str,
    display_name: &'a str,
    user_principal_name: &'a str,
    ip_address: &'a str,
    user_type: Option<&'a str>,
    home_tenant_id: &'a str,
    home_tenant_name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppIdentity<'a> {
    app_id: Option<&'a str>,
    display_name: &'a str,
    service_principal_id: Ident<'a>,
    service_principal_name: Option<&'a str>,
}

#[derive(Serialize)]
struct InitiatedBy<'a> {
    app: Option<AppIdentity<'a>>,
    user: Option<UserIdentity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphModified<'a> {
    display_name: &'a str,
    old_value: Option<Cow<'a, str>>,
    new_value: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetResource<'a> {
    id: Ident<'a>,
    display_name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    user_principal_name: Option<&'a str>,
    group_type: Option<&'a str>,
    modified_properties: Vec<GraphModified<'a>>,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryAudit<'a> {
    id: &'a str,
    category: &'a str,
    correlation_id: Guid,
    result: &'a str,
    result_reason: &'a str,
    activity_display_name: &'a str,
    activity_date_time: GraphTime<'a>,
    logged_by_service: &'a str,
    operation_type: &'a str,
    initiated_by: InitiatedBy<'a>,
    target_resources: [TargetResource<'a>; 1],
    additional_details: Vec<KeyValue<'a>>,
}

fn graph_value<'a>(value: &'a Val<'a>) -> Option<Cow<'a, str>> {
    match value {
        Val::Null => None,
        Val::Text(text) => Some(Cow::Owned(serde_json::Value::from(text.as_ref()).to_string())),
        Val::Json(text) => Some(Cow::Borrowed(text.as_ref())),
    }
}

fn ual_value<'a>(value: &'a Val<'a>) -> Cow<'a, str> {
    match value {
        Val::Null => Cow::Borrowed(""),
        Val::Text(text) | Val::Json(text) => Cow::Borrowed(text.as_ref()),
    }
}

/// Writes `change` as a Graph directoryAudit.
pub(super) fn directory_audit(rng: &mut StdRng, out: &mut Out<'_>, at: At, change: &DirChange<'_>) {
    let (t, clock) = (out.t, out.clock);
    // Self-service group operations carry the SSGM prefix; everything else the directory's.
    let prefix = if change.service == "Self-service Group Management" { "SSGM" } else { "Directory" };
    let letters: String = (0..5).map(|_| char::from(b'A' + rng.random_range(0..26u8))).collect();
    let id = format!("{prefix}_{}_{letters}_{}", change.correlation, rng.random_range(10_000_000..99_999_999u32));
    let (app, user) = match change.by {
        Initiator::User(p, ip) => (
            None,
            Some(UserIdentity {
                id: &p.object_id,
                display_name: &p.display_name,
                user_principal_name: &p.upn,
                ip_address: ip,
                user_type: None,
                home_tenant_id: &t.tenant_id,
                home_tenant_name: None,
            }),
        ),
        Initiator::App { name, app_id, sp_id, .. } => (
            Some(AppIdentity {
                app_id: Some(app_id),
                display_name: name,
                service_principal_id: sp_id,
                service_principal_name: None,
            }),
            None,
        ),
    };
    let mut modified: Vec<GraphModified> = change
        .changes
        .iter()
        .map(|c| GraphModified { display_name: c.name, old_value: graph_value(&c.old), new_value: graph_value(&c.new) })
        .collect();
    if change.included {
        let names = serde_json::Value::from(change.included_names()).to_string();
        modified.push(GraphModified {
            display_name: "Included Updated Properties",
            old_value: None,
            new_value: Some(Cow::Owned(names)),
        });
    }
    let target = match change.target {
        Target::User(p) => TargetResource {
            id: Ident::Text(&p.object_id),
            display_name: Some(&p.display_name),
            kind: "User",
            user_principal_name: Some(&p.upn),
            group_type: None,
            modified_properties: modified,
        },
        Target::App(sp) => TargetResource {
            id: Ident::Text(&sp.object_id),
            display_name: Some(&sp.display_name),
            kind: "ServicePrincipal",
            user_principal_name: None,
            group_type: None,
            modified_properties: modified,
        },
        Target::Other { id, name, kind } => TargetResource {
            id,
            display_name: Some(name),
            kind,
            user_principal_name: None,
            group_type: (kind == "Group").then_some("unifiedGroups"),
            modified_properties: modified,
        },
    };
    let mut details: Vec<KeyValue> = change.details.iter().map(|(k, v)| KeyValue { key: k, value: v }).collect();
    if let Initiator::User(..) = change.by {
        details.push(KeyValue { key: "User-Agent", value: AGENTS[0].user_agent });
    }
    let record = DirectoryAudit {
        id: &id,
        category: change.category,
        correlation_id: change.correlation,
        result: if change.success { "success" } else { "failure" },
        result_reason: change.result_reason,
        activity_display_name: change.activity,
        activity_date_time: clock.graph(at),
        logged_by_service: change.service,
        operation_type: change.operation_type,
        initiated_by: InitiatedBy { app, user },
        target_resources: [target],
        additional_details: details,
    };
    out.push(id.clone(), clock.graph_time(at), &record);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DirectoryFields<'a> {
    azure_active_directory_event_type: Num,
    extended_properties: Vec<Nv<'a>>,
    modified_properties: Vec<ModProp<'a>>,
    actor: Vec<IdType<'a>>,
    actor_context_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_ip_address: Option<&'a str>,
    inter_systems_id: Guid,
    intra_system_id: Guid,
    support_ticket_id: &'a str,
    target: Vec<IdType<'a>>,
    target_context_id: &'a str,
}

/// Writes `change` as a UAL AzureActiveDirectory record (RecordType 8, `Operation` with the
/// trailing ".").
pub(super) fn ual_directory(rng: &mut StdRng, out: &mut Out<'_>, at: At, change: &DirChange<'_>) {
    let t = out.t;
    let op = format!("{}.", change.activity);
    let actor_type = |rng: &mut StdRng, n| Num::quirky(rng, n, STRING_ACTOR_TYPE);
    let (mut env, actor, actor_ip) = match change.by {
        Initiator::User(p, ip) => {
            let mut env = Env::person(rng, p, &op, 8, "AzureActiveDirectory");
            env.ip = if ip.contains(':') { Ip::Plain(ip) } else { ual_ip(rng, ip, None) };
            env.user_key = Key::AtDomain(&p.user_key, &t.domain);
            let actor = vec![
                IdType { id: Cow::Borrowed(&p.upn), kind: actor_type(rng, 5) },
                IdType { id: Cow::Borrowed(&p.user_key), kind: actor_type(rng, 3) },
                IdType { id: Cow::Owned(format!("User_{}", p.object_id)), kind: actor_type(rng, 2) },
            ];
            (env, actor, Some(ip))
        }
        Initiator::App { name, app_id, sp_id, first_party } => {
            let mut env = Env::system(name, &op, 8, "AzureActiveDirectory");
            env.user_key = Key::Plain("Not Available");
            env.user_type = if first_party { 4 } else { 6 };
            env.ip = Ip::Absent;
            let actor = vec![
                IdType { id: Cow::Borrowed(name), kind: actor_type(rng, 1) },
                IdType { id: Cow::Borrowed(app_id), kind: actor_type(rng, 2) },
                IdType { id: Cow::Owned(format!("ServicePrincipal_{sp_id}")), kind: actor_type(rng, 2) },
            ];
            (env, actor, None)
        }
    };
    env.result = Some(if change.success { "Success" } else { "Failure" });
    // Some directory records come without an address, as null or not at all.
    let roll = rng.random_range(0..1000);
    if roll < AAD_IP_NULL {
        env.ip = Ip::Null;
    } else if roll < AAD_IP_NULL + AAD_IP_ABSENT {
        env.ip = Ip::Absent;
    }
    let (object, target) = match change.target {
        Target::User(p) => (
            Cow::Borrowed(p.upn.as_str()),
            vec![
                IdType { id: Cow::Owned(format!("User_{}", p.object_id)), kind: actor_type(rng, 2) },
                IdType { id: Cow::Borrowed(&p.upn), kind: actor_type(rng, 5) },
            ],
        ),
        Target::App(sp) => (
            Cow::Borrowed(sp.display_name.as_str()),
            vec![
                IdType { id: Cow::Owned(format!("ServicePrincipal_{}", sp.object_id)), kind: actor_type(rng, 2) },
                IdType { id: Cow::Borrowed(&sp.display_name), kind: actor_type(rng, 1) },
                IdType { id: Cow::Borrowed(&sp.app_id), kind: actor_type(rng, 2) },
            ],
        ),
        Target::Other { id, name, kind } => (
            Cow::Borrowed(name),
            vec![
                IdType { id: Cow::Owned(format!("{kind}_{id}")), kind: actor_type(rng, 2) },
                IdType { id: Cow::Borrowed(name), kind: actor_type(rng, 1) },
            ],
        ),
    };
    env.object = Some(&object);
    let mut modified: Vec<ModProp> = change
        .changes
        .iter()
        .map(|c| ModProp { name: c.name, new_value: ual_value(&c.new), old_value: ual_value(&c.old) })
        .collect();
    if change.included {
        modified.push(ModProp {
            name: "Included Updated Properties",
            new_value: Cow::Owned(change.included_names()),
            old_value: Cow::Borrowed(""),
        });
    }
    let mut details = serde_json::Map::new();
    for (k, v) in &change.details {
        details.insert((*k).to_string(), serde_json::Value::from(v.as_ref()));
    }
    if let Initiator::User(..) = change.by {
        details.insert("User-Agent".into(), AGENTS[0].user_agent.into());
    }
    let extended = vec![
        nv("additionalDetails", serde_json::Value::Object(details).to_string()),
        nv("extendedAuditEventCategory", extended_category(change)),
        nv("resultType", if change.success { "Success" } else { "Failure" }),
        nv("auditEventCategory", change.category),
        nv("correlationId", change.correlation.to_string()),
    ];
    let fields = DirectoryFields {
        azure_active_directory_event_type: Num::quirky(rng, 1, STRING_EVENT_TYPE),
        extended_properties: extended,
        modified_properties: modified,
        actor,
        actor_context_id: &t.tenant_id,
        actor_ip_address: actor_ip,
        inter_systems_id: change.correlation,
        intra_system_id: Guid::random(rng),
        support_ticket_id: "",
        target,
        target_context_id: &t.tenant_id,
    };
    out.ual(rng, at, &env, fields);
}

fn extended_category(change: &DirChange<'_>) -> &'static str {
    match change.target {
        Target::User(_) => "User",
        Target::App(_) => "ServicePrincipal",
        Target::Other { kind: "Group", .. } => "Group",
        Target::Other { kind: "Policy", .. } => "Policy",
        Target::Other { kind: "Device", .. } => "Device",
        Target::Other { .. } => "Directory",
    }
}

/// The object id a directory role has in tenant `t`.
pub(super) fn role_object_id(t: &Tenant, role: &Role) -> String {
    Guid::derived(&[fnv(&t.tenant_id), fnv(role.template)]).to_string()
}

/// The modified properties of a role assignment.
pub(super) fn role_changes<'a>(t: &Tenant, role: &'a Role) -> Vec<Change<'a>> {
    vec![
        Change::text("Role.ObjectID", None, role_object_id(t, role)),
        Change::text("Role.DisplayName", None, role.name),
        Change::text("Role.TemplateId", None, role.template),
        Change::text(
            "Role.WellKnownObjectName",
            None,
            if role.template == GLOBAL_ADMINISTRATOR.template { "TenantAdmins" } else { "" },
        ),
    ]
}

/// A first-party Microsoft service acting in the directory.
pub(super) fn microsoft_app(name: &'static str, app_id: &'static str) -> Initiator<'static> {
    Initiator::App { name, app_id, sp_id: Ident::Guid(Guid::derived(&[fnv(app_id)])), first_party: true }
}

const USER_EDITS: &[(&str, &str, &str)] = &[
    ("JobTitle", "[\"Analyst\"]", "[\"Senior Analyst\"]"),
    ("Department", "[\"Sales\"]", "[\"Marketing\"]"),
    ("TelephoneNumber", "[]", "[\"+1 555 0100\"]"),
    ("UsageLocation", "[\"US\"]", "[\"GB\"]"),
    ("Mobile", "[\"+44 20 7946 0000\"]", "[\"+44 20 7946 0018\"]"),
    ("AccountEnabled", "[true]", "[false]"),
    ("City", "[\"Seattle\"]", "[\"Redmond\"]"),
];

/// A directory change of a normal day.
pub(super) fn normal_change<'a>(rng: &mut StdRng, t: &'a Tenant) -> DirChange<'a> {
    let admin = pick(rng, &t.admins);
    let user = pick(rng, &t.users);
    let by_admin = Initiator::User(admin, &admin.home_ip);
    let roll = rng.random_range(0..1000);
    match roll {
        0..=219 => {
            let mut c = DirChange::new(rng, "Update user", "UserManagement", "Update", by_admin, Target::User(user));
            let (name, old, new) = *pick(rng, USER_EDITS);
            c.changes.push(Change::json(name, old, new));
            c.included = true;
            c
        }
        220..=289 => {
            let by = microsoft_app("Microsoft Substrate Management", "98db8bd6-0cc0-4e67-9de5-f187f1cd1b41");
            let mut c = DirChange::new(
                rng,
                "Update StsRefreshTokenValidFrom Timestamp",
                "UserManagement",
                "Update",
                by,
                Target::User(user),
            );
            c.changes.push(Change::json(
                "StsRefreshTokensValidFrom",
                "[\"2026-01-05T08:12:40Z\"]",
                "[\"2026-11-02T09:30:00Z\"]",
            ));
            c.included = true;
            c
        }
        290..=459 => {
            let group = pick(rng, &t.groups);
            let (activity, op) =
                if roll < 410 { ("Add member to group", "Assign") } else { ("Remove member from group", "Unassign") };
            let self_service = rng.random_range(0..10) == 0;
            let by = if self_service { Initiator::User(user, &user.home_ip) } else { by_admin };
            let mut c = DirChange::new(rng, activity, "GroupManagement", op, by, Target::User(user));
            if self_service {
                c.service = "Self-service Group Management";
            }
            c.changes.push(Change::text("Group.ObjectID", None, group.id.to_string()));
            c.changes.push(Change::text("Group.DisplayName", None, group.name.as_str()));
            c
        }
        460..=509 => {
            let by = microsoft_app("Microsoft Azure AD Group-Based Licensing", "59ff2c2d-7e0a-4a8b-b8a1-c2d2a7b5a16d");
            let mut c = DirChange::new(rng, "Change user license", "UserManagement", "Update", by, Target::User(user));
            c.changes.push(Change::json("AssignedLicense", "[]", "[\"[SkuName=ENTERPRISEPREMIUM, AccountId=…]\"]"));
            c.included = true;
            c
        }
        510..=549 => {
            DirChange::new(rng, "Reset user password", "UserManagement", "Update", by_admin, Target::User(user))
        }
        550..=579 => {
            let by = Initiator::User(user, &user.home_ip);
            let mut c = DirChange::new(
                rng,
                "Reset password (self-service)",
                "UserManagement",
                "Update",
                by,
                Target::User(user),
            );
            c.service = "Self-service Password Management";
            c.result_reason = "Successfully completed reset.";
            c
        }
        580..=609 => {
            let by = Initiator::User(user, &user.home_ip);
            DirChange::new(rng, "Change user password", "UserManagement", "Update", by, Target::User(user))
        }
        610..=639 => {
            let mut c = DirChange::new(rng, "Add user", "UserManagement", "Add", by_admin, Target::User(user));
            c.changes.push(Change::json("AccountEnabled", "[]", "[true]"));
            c.changes.push(Change::json(
                "DisplayName",
                Cow::Borrowed("[]"),
                Cow::Owned(serde_json::json!([user.display_name]).to_string()),
            ));
            c.changes.push(Change::json("UserType", "[]", "[\"Member\"]"));
            c.included = true;
            c
        }
        640..=649 => DirChange::new(rng, "Delete user", "UserManagement", "Delete", by_admin, Target::User(user)),
        650..=669 => {
            let guest = pick(rng, &t.guests);
            let by = Initiator::User(user, &user.home_ip);
            let mut c = DirChange::new(rng, "Invite external user", "UserManagement", "Add", by, Target::User(guest));
            c.service = "Invited Users";
            c.details.push(("invitedUserEmailAddress", Cow::Borrowed(&guest.mail)));
            c
        }
        670..=689 => {
            // Non-privileged roles: the everyday assignments.
            let role = pick(rng, READER_ROLES);
            let mut c =
                DirChange::new(rng, "Add member to role", "RoleManagement", "Assign", by_admin, Target::User(user));
            c.changes = role_changes(t, role);
            c
        }
        690..=699 => {
            let role = pick(rng, READER_ROLES);
            let mut c = DirChange::new(
                rng,
                "Remove member from role",
                "RoleManagement",
                "Unassign",
                by_admin,
                Target::User(user),
            );
            c.changes = role_changes(t, role);
            c
        }
        700..=779 => {
            let device = pick(rng, &t.devices);
            let by = microsoft_app("Device Registration Service", DEVICE_REGISTRATION.id);
            let target = Target::Other { id: Ident::Text(&device.id), name: &device.display_name, kind: "Device" };
            let (activity, op) = if roll < 740 { ("Update device", "Update") } else { ("Register device", "Add") };
            let mut c = DirChange::new(rng, activity, "Device", op, by, target);
            c.service = "Device Registration Service";
            c.changes.push(Change::json(
                "DeviceOSVersion",
                "[]",
                Cow::Owned(serde_json::json!([device.os_version]).to_string()),
            ));
            c.included = true;
            c
        }
        780..=839 => {
            let by = Initiator::User(user, &user.home_ip);
            let mut c =
                DirChange::new(rng, "User registered security info", "UserManagement", "Add", by, Target::User(user));
            c.service = "Authentication Methods";
            c.result_reason = "User registered Authenticator App with Notification and Code";
            c
        }
        840..=879 => {
            // Consent to a harmless sign-in scope: the near miss of the illicit grant.
            let app = pick(rng, &t.service_principals);
            let by = Initiator::User(user, &user.home_ip);
            let mut c =
                DirChange::new(rng, "Consent to application", "ApplicationManagement", "Assign", by, Target::App(app));
            c.changes = consent_changes(app, user, "User.Read openid profile email", false);
            c
        }
        880..=919 => {
            let app = pick(rng, &t.service_principals);
            let mut c = DirChange::new(
                rng,
                "Add app role assignment grant to user",
                "ApplicationManagement",
                "Assign",
                by_admin,
                Target::App(app),
            );
            c.changes.push(Change::text("User.UPN", None, user.upn.as_str()));
            c.changes.push(Change::text("AppRole.Value", None, "User"));
            c
        }
        920..=959 => {
            let app = pick(rng, &t.service_principals);
            let mut c = DirChange::new(
                rng,
                "Update application",
                "ApplicationManagement",
                "Update",
                by_admin,
                Target::App(app),
            );
            c.changes.push(Change::json(
                "AppAddress",
                "[{\"AddressType\":0,\"Address\":\"https://app.example/signin\"}]",
                "[{\"AddressType\":0,\"Address\":\"https://app.example/auth/callback\"}]",
            ));
            c.included = true;
            c
        }
        960..=979 => {
            let app = pick(rng, &t.service_principals);
            let mut c = DirChange::new(
                rng,
                "Add service principal",
                "ApplicationManagement",
                "Add",
                by_admin,
                Target::App(app),
            );
            c.changes.push(Change::json("AccountEnabled", "[]", "[true]"));
            c.changes.push(Change::json(
                "AppPrincipalId",
                Cow::Borrowed("[]"),
                Cow::Owned(serde_json::json!([app.app_id]).to_string()),
            ));
            c.included = true;
            c
        }
        _ => {
            // A policy edit that keeps it enabled: the near miss of disabling it.
            let policy = pick(rng, &t.policies[..3]);
            let target = Target::Other { id: Ident::Guid(policy.id), name: policy.name, kind: "Policy" };
            let mut c = DirChange::new(rng, "Update conditional access policy", "Policy", "Update", by_admin, target);
            c.service = "Conditional Access";
            let old = ca_policy_json(policy.id, policy.name, "enabled", &[]);
            let new = ca_policy_json(policy.id, policy.name, "enabled", &["Break glass"]);
            c.changes.push(Change::json("ConditionalAccessPolicy", old, new));
            c
        }
    }
}

/// A conditional access policy as the audit log's JSON-in-string shows it.
pub(super) fn ca_policy_json(id: Guid, name: &str, state: &str, exclude_groups: &[&str]) -> String {
    json!({
        "id": id, "displayName": name, "createdDateTime": "2025-06-02T10:14:03.0000000+00:00",
        "state": state,
        "conditions": {"applications": {"includeApplications": ["All"]},
                       "users": {"includeUsers": ["All"], "excludeGroups": exclude_groups},
                       "clientAppTypes": ["all"]},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
    })
    .to_string()
}

/// The modified properties of a consent grant.
pub(super) fn consent_changes<'a>(
    app: &'a ServicePrincipal,
    user: &Person,
    scope: &str,
    admin_consent: bool,
) -> Vec<Change<'a>> {
    let permissions = format!(
        "[] => [[Id: {}, ClientId: {}, PrincipalId: {}, ResourceId: {}, ConsentType: {}, Scope:  {scope}, CreatedDateTime: , LastModifiedDateTime ]]; ",
        Guid::derived(&[fnv(&app.object_id), fnv(&user.object_id)]),
        app.object_id,
        if admin_consent { "" } else { user.object_id.as_str() },
        Guid::derived(&[fnv(GRAPH.id)]),
        if admin_consent { "AllPrincipals" } else { "Principal" },
    );
    let flag = if admin_consent { "True" } else { "False" };
    vec![
        Change::text("ConsentContext.IsAdminConsent", None, flag),
        Change::text("ConsentContext.IsAppOnly", None, "False"),
        Change::text("ConsentContext.OnBehalfOfAll", None, flag),
        Change::text("ConsentContext.Tags", None, "WindowsAzureActiveDirectoryIntegratedApp"),
        Change::text("ConsentAction.Permissions", None, permissions),
        Change::text("TargetId.ServicePrincipalNames", None, app.app_id.as_str()),
    ]
}

fn directory(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let mut change = normal_change(rng, out.t);
    // Now and then a change fails.
    if rng.random_range(0..100) < 2 {
        change.success = false;
        change.result_reason = "Microsoft.Online.Workflows.ObjectAlreadyExistsException";
    }
    directory_audit(rng, out, at, &change);
}

// ---------------------------------------------------------------------------------------------
// Intune (Graph deviceManagement/auditEvents)

/// Who acted in Intune.
#[derive(Clone, Copy)]
pub(super) enum IntuneActor<'a> {
    User(&'a Person, &'a str),
    App(&'a ServicePrincipal),
}

/// A resource an Intune event touched.
pub(super) struct IntuneResource<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub id: Ident<'a>,
    pub changes: Vec<(&'a str, Cow<'a, str>, Cow<'a, str>)>,
}

/// One Intune audit event.
pub(super) struct IntuneEvent<'a> {
    pub activity: &'a str,
    pub operation: &'a str,
    pub category: &'a str,
    pub component: &'a str,
    pub by: IntuneActor<'a>,
    pub resources: Vec<IntuneResource<'a>>,
    pub success: bool,
    pub correlation: Guid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IntuneActorJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    audit_actor_type: &'a str,
    user_permissions: &'a [&'a str],
    application_id: &'a str,
    application_display_name: &'a str,
    user_principal_name: Option<&'a str>,
    service_principal_name: Option<&'a str>,
    ip_address: Option<&'a str>,
    user_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IntuneProperty<'a> {
    display_name: &'a str,
    old_value: &'a str,
    new_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IntuneResourceJson<'a> {
    display_name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    audit_resource_type: &'a str,
    resource_id: Ident<'a>,
    modified_properties: Vec<IntuneProperty<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEvent<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'a str,
    id: Guid,
    display_name: &'a str,
    component_name: &'a str,
    actor: IntuneActorJson<'a>,
    activity: &'a str,
    activity_date_time: GraphTime<'a>,
    activity_type: &'a str,
    activity_operation_type: &'a str,
    activity_result: &'a str,
    correlation_id: Guid,
    resources: Vec<IntuneResourceJson<'a>>,
    category: &'a str,
}

/// Writes `event` as an Intune auditEvent.
pub(super) fn intune_event(rng: &mut StdRng, out: &mut Out<'_>, at: At, event: &IntuneEvent<'_>) {
    let clock = out.clock;
    let actor = match event.by {
        IntuneActor::User(p, ip) => IntuneActorJson {
            kind: "ItPro",
            audit_actor_type: "ItPro",
            user_permissions: &["*"],
            application_id: INTUNE_PORTAL.id,
            application_display_name: INTUNE_PORTAL.name,
            user_principal_name: Some(&p.upn),
            service_principal_name: None,
            ip_address: Some(ip),
            user_id: Some(&p.object_id),
        },
        IntuneActor::App(sp) => IntuneActorJson {
            kind: "Application",
            audit_actor_type: "Application",
            user_permissions: &[],
            application_id: &sp.app_id,
            application_display_name: &sp.display_name,
            user_principal_name: None,
            service_principal_name: Some(&sp.display_name),
            ip_address: None,
            user_id: None,
        },
    };
    let resources = event
        .resources
        .iter()
        .map(|r| IntuneResourceJson {
            display_name: r.name,
            kind: r.kind,
            audit_resource_type: r.kind,
            resource_id: r.id,
            modified_properties: r
                .changes
                .iter()
                .map(|(name, old, new)| IntuneProperty { display_name: name, old_value: old, new_value: new })
                .collect(),
        })
        .collect();
    let id = Guid::random(rng);
    let record = AuditEvent {
        odata_type: "#microsoft.graph.auditEvent",
        id,
        display_name: event.activity,
        component_name: event.component,
        actor,
        activity: event.activity,
        activity_date_time: clock.graph(at),
        activity_type: event.activity,
        activity_operation_type: event.operation,
        activity_result: if event.success { "Success" } else { "Failure" },
        correlation_id: event.correlation,
        resources,
        category: event.category,
    };
    out.push(id.to_string(), clock.graph_time(at), &record);
}

/// An Intune action on a managed device (`wipe`, `retire`, `syncDevice`, ...).
pub(super) fn device_action<'a>(
    rng: &mut StdRng,
    activity: &'a str,
    by: IntuneActor<'a>,
    device: &'a Device,
) -> IntuneEvent<'a> {
    IntuneEvent {
        activity,
        operation: if activity.starts_with("Delete") { "Delete" } else { "Action" },
        category: "Device",
        component: "ManagedDevices",
        by,
        resources: vec![IntuneResource {
            name: &device.display_name,
            kind: "ManagedDevice",
            id: Ident::Text(&device.id),
            changes: Vec::new(),
        }],
        success: true,
        correlation: Guid::random(rng),
    }
}

const CONFIGURATIONS: &[(&str, &str, &str, &str, &str)] = &[
    ("Win11 security baseline", "DeviceConfiguration", "PasswordMinimumLength", "8", "14"),
    ("BitLocker policy", "DeviceConfiguration", "BitLockerEncryptDevice", "false", "true"),
    ("Windows Update ring", "DeviceConfiguration", "QualityUpdatesDeferralPeriodInDays", "7", "3"),
    ("iOS compliance", "DeviceCompliancePolicy", "OsMinimumVersion", "16.0", "17.0"),
    ("Windows compliance", "DeviceCompliancePolicy", "SecureBootEnabled", "false", "true"),
];

fn intune(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    let admin = pick(rng, &t.admins);
    let by = if rng.random_range(0..10) == 0 {
        IntuneActor::App(pick(rng, &t.service_principals))
    } else {
        IntuneActor::User(admin, &admin.home_ip)
    };
    let device = pick(rng, &t.devices);
    let event = match rng.random_range(0..1000) {
        0..=299 => {
            let (name, kind, property, old, new) = *pick(rng, CONFIGURATIONS);
            let compliance = kind == "DeviceCompliancePolicy";
            IntuneEvent {
                activity: if compliance { "Patch DeviceCompliancePolicy" } else { "Patch DeviceConfiguration" },
                operation: "Patch",
                category: if compliance { "Compliance" } else { "DeviceConfiguration" },
                component: if compliance { "DeviceCompliance" } else { "DeviceConfiguration" },
                by,
                resources: vec![IntuneResource {
                    name,
                    kind,
                    id: Ident::Guid(Guid::derived(&[fnv(&t.tenant_id), fnv(name)])),
                    changes: vec![(property, Cow::Borrowed(old), Cow::Borrowed(new))],
                }],
                success: rng.random_range(0..100) < 98,
                correlation: Guid::random(rng),
            }
        }
        300..=349 => {
            let (name, kind, ..) = *pick(rng, CONFIGURATIONS);
            IntuneEvent {
                activity: "assign DeviceConfiguration",
                operation: "Action",
                category: "DeviceConfiguration",
                component: "DeviceConfiguration",
                by,
                resources: vec![IntuneResource {
                    name,
                    kind,
                    id: Ident::Guid(Guid::derived(&[fnv(&t.tenant_id), fnv(name)])),
                    changes: vec![("Assignments", Cow::Borrowed("[]"), Cow::Borrowed("[\"All Users\"]"))],
                }],
                success: true,
                correlation: Guid::random(rng),
            }
        }
        350..=479 => {
            let app =
                *pick(rng, &["Company Portal", "Microsoft Teams", "Zoom Workplace", "7-Zip", "Adobe Acrobat Reader"]);
            let (activity, operation) = *pick(
                rng,
                &[("Create MobileApp", "Create"), ("Patch MobileApp", "Patch"), ("assign MobileApp", "Action")],
            );
            IntuneEvent {
                activity,
                operation,
                category: "Application",
                component: "MobileApp",
                by,
                resources: vec![IntuneResource {
                    name: app,
                    kind: "MobileApp",
                    id: Ident::Guid(Guid::derived(&[fnv(&t.tenant_id), fnv(app)])),
                    changes: Vec::new(),
                }],
                success: true,
                correlation: Guid::random(rng),
            }
        }
        480..=789 => device_action(rng, "syncDevice ManagedDevice", by, device),
        790..=839 => device_action(rng, "rebootNow ManagedDevice", by, device),
        840..=899 => {
            let mut e = device_action(rng, "Patch ManagedDevice", by, device);
            e.operation = "Patch";
            e.resources[0].changes.push((
                "ManagedDeviceOwnerType",
                Cow::Borrowed("personal"),
                Cow::Borrowed("company"),
            ));
            e
        }
        900..=929 => IntuneEvent {
            activity: "Patch DeviceEnrollmentConfiguration",
            operation: "Patch",
            category: "Enrollment",
            component: "Enrollment",
            by,
            resources: vec![IntuneResource {
                name: "Windows enrollment restrictions",
                kind: "DeviceEnrollmentConfiguration",
                id: Ident::Guid(Guid::derived(&[fnv(&t.tenant_id), 7])),
                changes: vec![("PersonalDeviceEnrollmentBlocked", Cow::Borrowed("false"), Cow::Borrowed("true"))],
            }],
            success: true,
            correlation: Guid::random(rng),
        },
        930..=939 => IntuneEvent {
            activity: "Create RoleAssignment",
            operation: "Create",
            category: "Role",
            component: "RoleBasedAccessControl",
            by,
            resources: vec![IntuneResource {
                name: "Help Desk Operator",
                kind: "RoleAssignment",
                id: Ident::Guid(Guid::random(rng)),
                changes: Vec::new(),
            }],
            success: true,
            correlation: Guid::random(rng),
        },
        940..=969 => device_action(rng, "retire ManagedDevice", by, device),
        970..=989 => device_action(rng, "Delete ManagedDevice", by, device),
        // A single wipe of a lost phone: the near miss of the bulk wipe.
        _ => device_action(rng, "wipe ManagedDevice", by, device),
    };
    intune_event(rng, out, at, &event);
}

// ---------------------------------------------------------------------------------------------
// Audit.General: Teams, Power BI, Power Automate, Forms, Viva Engage, threat intelligence,
// Security & Compliance alerts and eDiscovery

/// `Members[]` of Teams records.
#[derive(Serialize)]
pub(super) struct Member<'a> {
    #[serde(rename = "UPN")]
    pub upn: &'a str,
    #[serde(rename = "Role")]
    pub role: u8,
    #[serde(rename = "DisplayName")]
    pub display_name: &'a str,
}

/// The fields Teams records (RecordType 25) add.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TeamsFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_guid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_guid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_on_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_on_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communication_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
}

const ALERTS: &[(&str, &str, &str)] = &[
    ("Email messages containing malicious URL removed after delivery", "Informational", "ThreatManagement"),
    ("A potentially malicious URL click was detected", "High", "ThreatManagement"),
    ("Email reported by user as malware or phish", "Informational", "ThreatManagement"),
    ("Messages have been delayed", "Medium", "MailFlow"),
    ("Creation of forwarding/redirect rule", "Informational", "ThreatManagement"),
];

/// A Security & Compliance alert (RecordType 40) named `name`, about `subject`.
pub(super) fn alert(rng: &mut StdRng, out: &mut Out<'_>, at: At, name: &str, severity: &str, subject: &Person) {
    let t = out.t;
    let alert_id = Guid::random(rng);
    let alert_text = alert_id.to_string();
    let data = json!({
        "etype": "User", "eid": subject.upn, "op": "AlertTriggered", "tdc": "1", "suid": subject.upn,
        "ut": "Regular", "ssic": "0", "tid": t.tenant_id, "f3u": subject.upn, "an": name, "sev": severity,
        "ts": out.clock.ual(at).to_string(), "wl": "SecurityComplianceCenter"
    })
    .to_string();
    let mut env = Env::system("SecurityComplianceAlerts", "AlertTriggered", 40, "SecurityComplianceCenter");
    env.ip = Ip::Absent;
    env.object = Some(&alert_text);
    let extra = json!({
        "AlertId": alert_id, "AlertType": "System", "Name": name, "PolicyId": Guid::derived(&[fnv(name)]),
        "Status": "Active", "Severity": severity, "Category": "ThreatManagement",
        "Source": "Office 365 Security & Compliance", "Comments": "New alert", "Data": data,
        "AlertEntityId": subject.upn, "EntityType": "User"
    });
    out.ual(rng, at, &env, extra);
}

fn general(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    let u = pick(rng, &t.users);
    let team = pick(rng, &t.teams);
    let roll = rng.random_range(0..1000);
    let (op, teams) = match roll {
        0..=179 => ("MessageSent", true),
        180..=319 => ("TeamsSessionStarted", true),
        320..=399 => ("MeetingParticipantDetail", true),
        400..=459 => ("ChatCreated", true),
        460..=519 => ("MemberAdded", true),
        520..=539 => ("MemberRemoved", true),
        540..=569 => ("ChannelAdded", true),
        570..=579 => ("TeamCreated", true),
        580..=594 => ("TabAdded", true),
        595..=604 => ("AppInstalled", true),
        605..=609 => ("TeamSettingChanged", true),
        610..=611 => ("TeamsTenantSettingChanged", true),
        _ => ("", false),
    };
    if teams {
        let colleague = pick(rng, &t.users);
        let mut env = Env::person(rng, u, op, 25, "MicrosoftTeams");
        env.object = Some(&team.name);
        let mut fields =
            TeamsFields { team_name: Some(&team.name), team_guid: Some(&team.thread), ..Default::default() };
        match op {
            "MessageSent" => {
                fields.channel_name = Some("General");
                fields.channel_guid = Some(&team.thread);
                fields.message_id = Some(rng.random_range(1_700_000_000_000..1_800_000_000_000));
            }
            "TeamsSessionStarted" | "MeetingParticipantDetail" => {
                env.object = None;
                fields.team_name = None;
                fields.team_guid = None;
            }
            "ChatCreated" => {
                env.object = None;
                (fields.team_name, fields.team_guid) = (None, None);
                fields.communication_type = Some("OneOnOne");
                fields.members = vec![
                    Member { upn: &u.upn, role: 1, display_name: &u.display_name },
                    Member { upn: &colleague.upn, role: 0, display_name: &colleague.display_name },
                ];
            }
            "MemberAdded" | "MemberRemoved" => {
                // Guests join teams too; these are invited by owners, not the attack's guests.
                let member = if rng.random_range(0..10) == 0 { pick(rng, &t.guests) } else { colleague };
                let role = if member.upn.contains("#EXT#") { 2 } else { 0 };
                fields.members = vec![Member { upn: &member.upn, role, display_name: &member.display_name }];
            }
            "ChannelAdded" => {
                fields.channel_name = Some(*pick(rng, &["Planning", "Announcements", "Random", "Q4 launch"]));
                fields.channel_type = Some("Standard");
            }
            "TabAdded" | "AppInstalled" => {
                fields.add_on_type = Some(3);
                fields.add_on_name = Some(*pick(rng, &["Planner", "OneNote", "Website", "Power BI"]));
            }
            "TeamSettingChanged" => {
                fields.name = Some("Team access type");
                fields.old_value = Some("Private");
                fields.new_value = Some("Public");
            }
            "TeamsTenantSettingChanged" => {
                let admin = pick(rng, &t.admins);
                env = Env::person(rng, admin, op, 25, "MicrosoftTeams");
                env.user_type = 2;
                fields = TeamsFields {
                    name: Some("Allow cloud file storage: Box"),
                    old_value: Some("True"),
                    new_value: Some("False"),
                    ..Default::default()
                };
            }
            _ => {}
        }
        out.ual(rng, at, &env, fields);
        return;
    }
    match roll {
        612..=719 => {
            let op = *pick(rng, &["ViewReport", "ViewReport", "ViewDashboard", "ExportReport"]);
            let report = *pick(rng, &["Sales pipeline", "Finance KPIs", "Support backlog", "HR headcount"]);
            let mut env = Env::person(rng, u, op, 20, "PowerBI");
            env.object = Some(report);
            let extra = json!({"Activity": op, "ItemName": report, "WorkSpaceName": "Company reports",
                               "DatasetName": report, "ReportName": report, "IsSuccess": true,
                               "RequestId": Guid::random(rng), "ActivityId": Guid::random(rng),
                               "UserAgent": AGENTS[0].user_agent, "DistributionMethod": "Workspace"});
            out.ual(rng, at, &env, extra);
        }
        720..=769 => {
            let op = *pick(rng, &["CreateFlow", "EditFlow", "ExecuteFlow"]);
            let mut env = Env::person(rng, u, op, 30, "MicrosoftFlow");
            env.object = Some("Save attachments to OneDrive");
            let extra = json!({"FlowDetailsUrl": "https://make.powerautomate.example/flows/details",
                               "LicenseDisplayName": "Microsoft 365 E5", "UserTypeInitiated": 1,
                               "UserUPN": u.upn, "FlowConnectorNames": "Office 365 Outlook, OneDrive for Business"});
            out.ual(rng, at, &env, extra);
        }
        770..=809 => {
            let op = *pick(rng, &["ViewForm", "CreateForm", "ViewResponses"]);
            let mut env = Env::person(rng, u, op, 66, "MicrosoftForms");
            env.object = Some("Team offsite survey");
            let extra = json!({"FormId": Guid::random(rng), "FormName": "Team offsite survey", "FormTypes": ["Form"],
                               "SourceApp": "Microsoft Forms"});
            out.ual(rng, at, &env, extra);
        }
        810..=839 => {
            // Viva Engage writes its ResultStatus in capitals.
            let mut env = Env::person(rng, u, "MessageCreated", 22, "Yammer");
            env.result = Some("TRUE");
            let extra = json!({"ActorUserId": u.mail, "ActorYammerUserId": rng.random_range(1_000_000_000u64..9_000_000_000),
                               "GroupName": "All Company", "MessageId": rng.random_range(1_000_000_000u64..9_000_000_000),
                               "YammerNetworkId": 1_234_567});
            out.ual(rng, at, &env, extra);
        }
        840..=919 => {
            // Threat intelligence: inbound mail, mostly blocked or clean.
            let delivered = rng.random_range(0..10) < 7;
            let mut env = Env::system("ThreatIntel", "TIMailData", 28, "ThreatIntelligence");
            env.ip = Ip::Absent;
            env.result = None;
            let message = MessageId::new(rng, t).to_string();
            env.object = Some(&message);
            let extra = json!({
                "AttachmentData": [], "DeliveryAction": if delivered { "Delivered" } else { "Blocked" },
                "Directionality": "Inbound", "InternetMessageId": message, "MessageTime": out.clock.ual(at).to_string(),
                "NetworkMessageId": Guid::random(rng), "P1Sender": "newsletter@bulk-sender.example",
                "P2Sender": "newsletter@bulk-sender.example", "Recipients": [u.mail],
                "SenderIp": "198.51.100.200", "Subject": if delivered { "Your weekly digest" } else { "Invoice overdue!!" },
                "Verdict": if delivered { "Spam" } else { "Phish" }, "PolicyAction": if delivered { "MoveToJmf" } else { "Quarantine" },
                "DetectionMethod": if delivered { "Spam: Bulk" } else { "Phish: URL malicious reputation" }
            });
            out.ual(rng, at, &env, extra);
        }
        920..=969 => {
            let (name, severity, _) = *pick(rng, ALERTS);
            alert(rng, out, at, name, severity, u);
        }
        _ => {
            // eDiscovery of a normal day: a named case searching one mailbox.
            let admin = pick(rng, &t.admins);
            let op = *pick(rng, &["SearchCreated", "SearchStarted", "SearchViewed", "CaseViewed"]);
            let search = format!("HR case {} – {}", rng.random_range(100..999), u.alias);
            let mut env = Env::person(rng, admin, op, 24, "SecurityComplianceCenter");
            env.user_type = 2;
            env.object = Some(&search);
            let extra = json!({"Case": "HR investigations", "CaseId": Guid::derived(&[fnv(&t.tenant_id), 24]),
                               "Query": "(c:c)(date>=2026-01-01)", "ExchangeLocations": [u.mail],
                               "SharePointLocations": [], "ObjectType": "Search"});
            out.ual(rng, at, &env, extra);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DLP (DLP.All)

/// A DLP policy and the sensitive information type it looks for.
#[derive(Clone, Copy, Debug)]
pub(super) struct DlpPolicy {
    pub name: &'static str,
    pub rule: &'static str,
    pub sensitive_type: &'static str,
    pub type_name: &'static str,
}

pub(super) const DLP_POLICIES: &[DlpPolicy] = &[
    DlpPolicy {
        name: "PCI outbound",
        rule: "Card numbers to external recipients",
        sensitive_type: "50842eb7-edc8-4019-85dd-5a5c1f2bb085",
        type_name: "Credit Card Number",
    },
    DlpPolicy {
        name: "U.S. PII",
        rule: "SSN in documents",
        sensitive_type: "a44669fe-0d48-453d-a9b1-2cc83f2cba77",
        type_name: "U.S. Social Security Number (SSN)",
    },
    DlpPolicy {
        name: "Banking data",
        rule: "IBAN shared",
        sensitive_type: "e7dc4711-11b7-4cb0-b88b-2c394a771f0e",
        type_name: "International Banking Account Number (IBAN)",
    },
];

/// What a DLP match found.
pub(super) struct DlpMatch<'a> {
    pub policy: &'a DlpPolicy,
    pub severity: &'a str,
    pub count: u32,
    pub actions: &'a [&'a str],
}

fn policy_details(t: &Tenant, m: &DlpMatch<'_>, location: &str) -> serde_json::Value {
    json!([{
        "PolicyId": Guid::derived(&[fnv(&t.tenant_id), fnv(m.policy.name)]),
        "PolicyName": m.policy.name,
        "Rules": [{
            "RuleId": Guid::derived(&[fnv(&t.tenant_id), fnv(m.policy.rule)]),
            "RuleName": m.policy.rule,
            "Actions": m.actions,
            "OverriddenActions": [],
            "Severity": m.severity,
            "RuleMode": "Enable",
            "ManagementRuleId": Guid::derived(&[fnv(m.policy.rule), 9]),
            "ConditionsMatched": {"SensitiveInformation": [{
                "SensitiveType": m.policy.sensitive_type,
                "SensitiveInformationTypeName": m.policy.type_name,
                "Count": m.count, "Confidence": 85, "UniqueCount": m.count.min(40), "Location": location,
                "SensitiveInformationDetailedClassificationAttributes": [{"Confidence": 85, "Count": m.count, "IsMatch": true}]
            }]}
        }]
    }])
}

/// A DLP match on a mail (RecordType 13): `UserId` DlpAgent, UserType 4.
pub(super) fn dlp_mail(
    rng: &mut StdRng,
    out: &mut Out<'_>,
    at: At,
    sender: &Person,
    to: &[&str],
    subject: &str,
    m: &DlpMatch<'_>,
) {
    let t = out.t;
    let message = MessageId::new(rng, t).to_string();
    let user_key = format!("{}", 1_153_800_000_000_000_000u64 + u64::from(rng.random::<u32>()));
    let mut env = Env::system("DlpAgent", "DlpRuleMatch", 13, "Exchange");
    env.user_key = Key::Plain(&user_key);
    env.ip = Ip::Absent;
    env.result = None;
    env.object = Some(&message);
    let extra = json!({
        "IncidentId": Guid::random(rng),
        "PolicyDetails": policy_details(t, m, "Message Body"),
        "SensitiveInfoDetectionIsIncluded": false,
        "ExchangeMetaData": {"MessageID": message, "From": sender.mail, "To": to, "CC": [], "BCC": [],
                             "Subject": subject, "Sent": out.clock.ual(at).to_string(), "RecipientCount": to.len(),
                             "UniqueID": Guid::random(rng), "FileSize": rng.random_range(20_000..4_000_000)}
    });
    out.ual(rng, at, &env, extra);
}

/// A DLP match on a SharePoint/OneDrive file (RecordType 11).
pub(super) fn dlp_file(
    rng: &mut StdRng,
    out: &mut Out<'_>,
    at: At,
    owner: &Person,
    site: &Site,
    file: &SiteFile,
    m: &DlpMatch<'_>,
) {
    let t = out.t;
    let mut env = sharepoint_env(rng, owner, None, "DlpRuleMatch", 11, "SharePoint");
    env.result = None;
    env.ip = Ip::Absent;
    env.object = Some(&file.url);
    let extra = json!({
        "IncidentId": Guid::random(rng),
        "PolicyDetails": policy_details(t, m, "File Content"),
        "SensitiveInfoDetectionIsIncluded": false,
        "SharePointMetaData": {"From": owner.upn, "itemCreationTime": "2026-03-11T09:12:44", "SiteCollectionGuid": site.site_id,
                               "SiteCollectionUrl": site.url, "FileName": file.name, "FileOwner": owner.upn,
                               "FilePathUrl": file.url, "DocumentLastModifier": owner.upn, "DocumentSharer": owner.upn,
                               "UniqueId": file.unique_id, "LastModifiedTime": out.clock.ual(at).to_string(),
                               "IsViewableByExternalUsers": false, "IsVisibleOnlyToOdbOwner": false, "ExceptionInfo": ""}
    });
    out.ual(rng, at, &env, extra);
}

fn dlp(rng: &mut StdRng, out: &mut Out<'_>, at: At) {
    let t = out.t;
    let u = pick(rng, &t.users);
    let policy = pick(rng, DLP_POLICIES);
    let severity = *pick(rng, &["Low", "Low", "Medium", "High"]);
    let m = DlpMatch { policy, severity, count: rng.random_range(1..6), actions: &["NotifyUser"] };
    if rng.random_bool(0.5) {
        // Mostly internal mail; sometimes a partner (a guest's home domain).
        let colleague = pick(rng, &t.users);
        let to = if rng.random_range(0..10) < 8 { colleague.mail.as_str() } else { pick(rng, &t.guests).mail.as_str() };
        let subject = *pick(rng, SUBJECTS);
        dlp_mail(rng, out, at, u, &[to], subject, &m);
    } else {
        let site = pick(rng, &t.sites);
        let file = pick(rng, &site.files);
        dlp_file(rng, out, at, u, site, file, &m);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;
    use serde_json::Value;

    use super::*;
    use crate::simulator::activity::build_tenant;

    fn config() -> ActivityConfig {
        ActivityConfig { seed: 21, events_per_day: 2_000, scenarios: true }
    }

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap()
    }

    fn week(tenant: &Tenant, feed: Feed) -> Vec<Record> {
        (0..24 * 7).flat_map(|h| records_for_hour(&config(), tenant, feed, monday() + Duration::hours(h))).collect()
    }

    fn parse(r: &Record) -> Value {
        serde_json::from_str(&r.json).unwrap_or_else(|e| panic!("{e}: {}", r.json))
    }

    const UAL_FIELDS: &[&str] = &[
        "CreationTime",
        "Id",
        "Operation",
        "OrganizationId",
        "RecordType",
        "UserKey",
        "UserType",
        "Version",
        "Workload",
        "UserId",
    ];
    const DIRECTORY_FIELDS: &[&str] = &[
        "id",
        "category",
        "correlationId",
        "result",
        "resultReason",
        "activityDisplayName",
        "activityDateTime",
        "loggedByService",
        "operationType",
        "initiatedBy",
        "targetResources",
        "additionalDetails",
    ];
    const SIGN_IN_FIELDS: &[&str] = &[
        "id",
        "createdDateTime",
        "userDisplayName",
        "userPrincipalName",
        "userId",
        "appId",
        "appDisplayName",
        "ipAddress",
        "clientAppUsed",
        "correlationId",
        "conditionalAccessStatus",
        "isInteractive",
        "riskDetail",
        "riskLevelAggregated",
        "riskLevelDuringSignIn",
        "riskState",
        "riskEventTypes",
        "riskEventTypes_v2",
        "resourceDisplayName",
        "resourceId",
        "status",
        "deviceDetail",
        "location",
        "appliedConditionalAccessPolicies",
    ];
    const INTUNE_FIELDS: &[&str] = &[
        "@odata.type",
        "id",
        "displayName",
        "componentName",
        "actor",
        "activity",
        "activityDateTime",
        "activityType",
        "activityOperationType",
        "activityResult",
        "correlationId",
        "resources",
        "category",
    ];

    fn number(v: &Value) -> Option<i64> {
        v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }

    #[test]
    fn the_same_inputs_give_the_same_records() {
        let tenant = build_tenant(21, 0);
        let hour = Utc.with_ymd_and_hms(2026, 11, 18, 10, 0, 0).unwrap();
        for feed in Feed::ALL {
            let first = records_for_hour(&config(), &tenant, feed, hour);
            assert!(!first.is_empty(), "{feed:?} has activity on a weekday morning");
            assert_eq!(first, records_for_hour(&config(), &tenant, feed, hour), "{feed:?}");
            assert_eq!(first, records_for_hour(&config(), &build_tenant(21, 0), feed, hour), "{feed:?}");
        }
    }

    #[test]
    fn other_seeds_hours_and_tenants_give_other_records() {
        let tenant = build_tenant(21, 0);
        let hour = Utc.with_ymd_and_hms(2026, 11, 18, 10, 0, 0).unwrap();
        let base = records_for_hour(&config(), &tenant, Feed::AuditExchange, hour);
        let other_seed = ActivityConfig { seed: 22, ..config() };
        assert_ne!(base, records_for_hour(&other_seed, &tenant, Feed::AuditExchange, hour));
        assert_ne!(base, records_for_hour(&config(), &tenant, Feed::AuditExchange, hour + Duration::hours(1)));
        assert_ne!(base, records_for_hour(&config(), &build_tenant(21, 1), Feed::AuditExchange, hour));
    }

    #[test]
    fn records_are_inside_their_hour_in_order_with_times_matching_their_text() {
        let tenant = build_tenant(21, 1);
        for feed in Feed::ALL {
            for h in [9, 14, 27, 100] {
                let hour = monday() + Duration::hours(h);
                let records = records_for_hour(&config(), &tenant, feed, hour);
                for pair in records.windows(2) {
                    assert!((pair[0].time, &pair[0].id) <= (pair[1].time, &pair[1].id), "{feed:?} is sorted");
                }
                for r in &records {
                    assert!(r.time >= hour && r.time < hour + Duration::hours(1), "{feed:?} {}", r.time);
                    let v = parse(r);
                    let text = match feed {
                        Feed::DirectoryAudits | Feed::IntuneAuditEvents => v["activityDateTime"].as_str().unwrap(),
                        Feed::SignIns => v["createdDateTime"].as_str().unwrap(),
                        _ => v["CreationTime"].as_str().unwrap(),
                    };
                    if feed.content_type().is_some() {
                        assert_eq!(text.len(), 19, "{text}");
                        assert_eq!(text, r.time.format("%Y-%m-%dT%H:%M:%S").to_string());
                    } else {
                        assert_eq!(text.len(), 28, "{text}");
                        assert!(text.ends_with("0Z"), "the seventh digit is 0: {text}");
                        let parsed = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
                        assert_eq!(parsed, r.time);
                    }
                }
            }
        }
    }

    #[test]
    fn ids_are_unique_within_a_week_of_hours_for_a_tenant_and_feed() {
        let tenant = build_tenant(21, 0);
        for feed in Feed::ALL {
            let mut ids = HashSet::new();
            for r in week(&tenant, feed) {
                assert!(ids.insert(r.id.clone()), "{feed:?} repeats {}", r.id);
            }
            assert!(ids.len() > 50, "{feed:?} has {} records in a week", ids.len());
        }
    }

    #[test]
    fn every_record_is_an_object_with_the_fields_its_feed_requires() {
        let tenant = build_tenant(21, 2);
        for feed in Feed::ALL {
            for r in week(&tenant, feed) {
                let v = parse(&r);
                let object = v.as_object().unwrap_or_else(|| panic!("{feed:?} record is an object: {}", r.json));
                let required = match feed {
                    Feed::DirectoryAudits => DIRECTORY_FIELDS,
                    Feed::SignIns => SIGN_IN_FIELDS,
                    Feed::IntuneAuditEvents => INTUNE_FIELDS,
                    _ => UAL_FIELDS,
                };
                for field in required {
                    assert!(object.contains_key(*field), "{feed:?} lacks {field}: {}", r.json);
                }
                match feed {
                    Feed::DirectoryAudits => {
                        assert!(r.id.starts_with("Directory_") || r.id.starts_with("SSGM_"), "{}", r.id);
                        assert_eq!(v["id"], r.id.as_str());
                        let by = &v["initiatedBy"];
                        assert!(by["user"].is_null() != by["app"].is_null(), "exactly one initiator: {by}");
                        for t in v["targetResources"].as_array().unwrap() {
                            for m in t["modifiedProperties"].as_array().unwrap() {
                                for key in ["oldValue", "newValue"] {
                                    if let Some(text) = m[key].as_str() {
                                        assert!(serde_json::from_str::<Value>(text).is_ok(), "JSON-encoded: {text}");
                                    }
                                }
                            }
                        }
                    }
                    Feed::SignIns | Feed::IntuneAuditEvents => {
                        assert_eq!(v["id"], r.id.as_str());
                        assert!(uuid::Uuid::parse_str(&r.id).is_ok());
                    }
                    _ => {
                        assert_eq!(v["Id"], r.id.as_str());
                        assert!(uuid::Uuid::parse_str(&r.id).is_ok());
                        assert_eq!(v["OrganizationId"], tenant.tenant_id.as_str());
                        let workloads: &[&str] = match feed {
                            Feed::AuditExchange => &["Exchange"],
                            Feed::AuditSharePoint => &["SharePoint", "OneDrive"],
                            Feed::AuditAzureActiveDirectory => &["AzureActiveDirectory"],
                            Feed::DlpAll => &["Exchange", "SharePoint"],
                            _ => &[
                                "MicrosoftTeams",
                                "PowerBI",
                                "MicrosoftFlow",
                                "MicrosoftForms",
                                "Yammer",
                                "ThreatIntelligence",
                                "SecurityComplianceCenter",
                            ],
                        };
                        assert!(workloads.contains(&v["Workload"].as_str().unwrap()), "{feed:?}: {}", v["Workload"]);
                        assert!(number(&v["RecordType"]).is_some() && number(&v["UserType"]).is_some());
                    }
                }
            }
        }
    }

    #[test]
    fn ual_directory_operations_end_with_a_dot() {
        let records = week(&build_tenant(21, 0), Feed::AuditAzureActiveDirectory);
        let operations: Vec<String> = records
            .iter()
            .map(parse)
            .filter(|v| number(&v["RecordType"]) == Some(8))
            .map(|v| v["Operation"].as_str().unwrap().to_string())
            .collect();
        assert!(operations.len() > 20, "{}", operations.len());
        assert!(operations.iter().all(|op| op.ends_with('.') && !op.ends_with("..")), "{operations:?}");
        assert!(operations.iter().any(|op| op == "Update user."));
    }

    #[test]
    fn string_numbers_ports_ipv6_and_stringly_parameters_occur_over_a_week() {
        let tenant = build_tenant(21, 0);
        let exchange: Vec<Value> = week(&tenant, Feed::AuditExchange).iter().map(parse).collect();
        let aad: Vec<Value> = week(&tenant, Feed::AuditAzureActiveDirectory).iter().map(parse).collect();
        let all: Vec<&Value> = exchange.iter().chain(&aad).collect();
        let ip = |v: &&Value| v["ClientIP"].as_str().map(str::to_string);
        assert!(all.iter().any(|v| v["RecordType"].is_string()), "RecordType as a string");
        assert!(all.iter().any(|v| v["UserType"].is_string()), "UserType as a string");
        assert!(all.iter().any(|v| v["Version"].is_string()), "Version as a string");
        assert!(aad.iter().any(|v| v["AzureActiveDirectoryEventType"].is_string()));
        assert!(aad.iter().any(|v| v["Actor"].as_array().unwrap().iter().any(|a| a["Type"].is_string())));
        assert!(all
            .iter()
            .filter_map(ip)
            .any(|ip| ip.starts_with("203.") || ip.starts_with("198.") || ip.starts_with("192.")));
        assert!(
            all.iter().filter_map(ip).any(|ip| !ip.starts_with('[') && ip.matches(':').count() == 1),
            "an IPv4 address with a port"
        );
        assert!(all.iter().filter_map(ip).any(|ip| ip.starts_with("[2001:db8:") && ip.contains("]:")));
        assert!(all.iter().filter_map(ip).any(|ip| ip.starts_with("2001:db8:")), "plain IPv6");
        assert!(aad.iter().any(|v| v.get("ClientIP") == Some(&Value::Null)), "null ClientIP");
        assert!(aad.iter().any(|v| v.get("ClientIP").is_none()), "absent ClientIP");
        assert!(exchange.iter().any(|v| v["Parameters"].is_string()), "stringly Parameters");
        let stringly = exchange.iter().find(|v| v["Parameters"].is_string()).unwrap();
        assert!(serde_json::from_str::<Value>(stringly["Parameters"].as_str().unwrap()).unwrap().is_array());
        assert!(exchange.iter().any(|v| v["UserId"] == EXCHANGE_SYSTEM), "a system actor");
        let known: HashSet<&str> =
            ["DataResidencyRegion", "IsBackgroundOperation", "AuditSchemaRevision", "ProcessingTags"].into();
        assert!(
            all.iter().any(|v| v.as_object().unwrap().keys().any(|k| known.contains(k.as_str()))),
            "an unknown field"
        );
    }

    #[test]
    fn addresses_in_records_come_from_documentation_ranges() {
        let tenant = build_tenant(21, 3);
        let documented = |ip: &str| {
            ["192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:", "[2001:db8:"].iter().any(|p| ip.starts_with(p))
        };
        for feed in [Feed::AuditExchange, Feed::AuditAzureActiveDirectory, Feed::SignIns, Feed::AuditSharePoint] {
            for r in week(&tenant, feed) {
                let v = parse(&r);
                for key in ["ClientIP", "ipAddress", "ActorIpAddress", "ClientIPAddress"] {
                    if let Some(ip) = v[key].as_str() {
                        assert!(documented(ip), "{feed:?} {key} {ip}");
                    }
                }
            }
        }
    }

    #[test]
    fn counts_follow_the_daily_rhythm() {
        // Averaged over tenants and feeds: Monday 10:00 against Sunday 03:00.
        let quiet = ActivityConfig { scenarios: false, ..config() };
        let busy_hour = monday() + Duration::hours(10);
        let quiet_hour = monday() + Duration::hours(6 * 24 + 3);
        let (mut busy, mut night) = (0, 0);
        for index in 0..6 {
            let tenant = build_tenant(21, index);
            for feed in Feed::ALL {
                busy += records_for_hour(&quiet, &tenant, feed, busy_hour).len();
                night += records_for_hour(&quiet, &tenant, feed, quiet_hour).len();
            }
        }
        assert!(busy > 4 * night, "{busy} vs {night}");
        let week: f64 = (0..168).map(|h| rhythm(monday() + Duration::hours(h))).sum();
        assert!((week / 168.0 - 1.0).abs() < 1e-9, "weights average to 1 over a week");
    }

    #[test]
    fn a_week_holds_about_events_per_day_times_seven() {
        let quiet = ActivityConfig { scenarios: false, ..config() };
        let tenant = build_tenant(21, 4);
        let total: usize = Feed::ALL
            .iter()
            .map(|&feed| {
                (0..168)
                    .map(|h| records_for_hour(&quiet, &tenant, feed, monday() + Duration::hours(h)).len())
                    .sum::<usize>()
            })
            .sum();
        let expected = 2_000.0 * 7.0;
        assert!((total as f64 - expected).abs() < expected * 0.05, "{total} against {expected}");
    }

    #[test]
    fn poisson_counts_have_the_requested_mean() {
        let mut rng = StdRng::seed_from_u64(5);
        for mean in [0.4, 3.0, 25.0, 120.0] {
            let n = 4_000;
            let total: usize = (0..n).map(|_| poisson(&mut rng, mean)).sum();
            let average = total as f64 / n as f64;
            assert!((average - mean).abs() < 0.1 * mean + 0.05, "{average} against {mean}");
        }
    }

    #[test]
    fn graph_times_keep_microseconds_and_ual_times_whole_seconds() {
        let clock = Clock::new(Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap());
        let at = At { secs: 224, micros: 123_456 };
        assert_eq!(clock.ual(at).to_string(), "2026-03-02T08:03:44");
        assert_eq!(clock.graph(at).to_string(), "2026-03-02T08:03:44.1234560Z");
        assert_eq!(clock.ual_time(at), Utc.with_ymd_and_hms(2026, 3, 2, 8, 3, 44).unwrap());
        assert_eq!(clock.graph_time(at).timestamp_subsec_micros(), 123_456);
    }

    /// Prints the generation rate of a release build:
    /// `cargo test --release --lib simulator::activity::records::tests::generation_rate -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn generation_rate() {
        let big = ActivityConfig { seed: 1, events_per_day: 200_000, scenarios: true };
        let tenant = build_tenant(1, 0);
        let started = std::time::Instant::now();
        let mut records = 0;
        let mut bytes = 0;
        for h in 0..48 {
            for feed in Feed::ALL {
                for r in records_for_hour(&big, &tenant, feed, monday() + Duration::hours(h)) {
                    records += 1;
                    bytes += r.json.len();
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{records} records ({} MB) in {seconds:.2} s: {:.0} records/s",
            bytes / 1_000_000,
            records as f64 / seconds
        );
    }
}
