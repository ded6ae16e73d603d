//! The simulated tenants and their activity: who exists in each tenant, and every audit record
//! each feed publishes, hour by hour, deterministic from a seed. Pure code: no IO, no clock.
//!
//! The protocol side of the simulator (`management`, `graph`) packages these records into
//! content blobs and Graph pages; this module only decides *what happened*.
//!
//! Contract relied on by the rest of the simulator and by AOC's tests:
//! - `records_for_hour(config, tenant, feed, hour)` returns the same records (same ids, same JSON
//!   text, same order) for the same inputs, on every call and every machine.
//! - Every record's event time lies in `[hour, hour + 1h)`.
//! - Record ids are unique across the tenant and feed (a UAL `Id` is a GUID; Graph ids follow
//!   the shapes Microsoft uses). The same logical activity may appear in two feeds (an Entra
//!   directory change is in both `DirectoryAudits` and `AuditAzureActiveDirectory`), with
//!   different ids, as Microsoft does.
//! - JSON text is exactly what the API would send for one record (one element of a content
//!   blob array, or one element of a Graph `value` array).

use chrono::{DateTime, Utc};

mod records;
mod scenarios;
mod tenant;

pub use tenant::{build_tenant, Device, Person, ServicePrincipal, Tenant};

/// The feeds the simulator publishes: the five Management Activity API content types and the
/// three Graph resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    AuditAzureActiveDirectory,
    AuditExchange,
    AuditSharePoint,
    AuditGeneral,
    DlpAll,
    DirectoryAudits,
    SignIns,
    IntuneAuditEvents,
}

impl Feed {
    /// Every feed.
    pub const ALL: [Feed; 8] = [
        Feed::AuditAzureActiveDirectory,
        Feed::AuditExchange,
        Feed::AuditSharePoint,
        Feed::AuditGeneral,
        Feed::DlpAll,
        Feed::DirectoryAudits,
        Feed::SignIns,
        Feed::IntuneAuditEvents,
    ];

    /// The five Management Activity API content types.
    pub const CONTENT_TYPES: [Feed; 5] =
        [Feed::AuditAzureActiveDirectory, Feed::AuditExchange, Feed::AuditSharePoint, Feed::AuditGeneral, Feed::DlpAll];

    /// The Management Activity API content type name, for UAL feeds.
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            Feed::AuditAzureActiveDirectory => Some("Audit.AzureActiveDirectory"),
            Feed::AuditExchange => Some("Audit.Exchange"),
            Feed::AuditSharePoint => Some("Audit.SharePoint"),
            Feed::AuditGeneral => Some("Audit.General"),
            Feed::DlpAll => Some("DLP.All"),
            _ => None,
        }
    }

    /// The feed for a content type name (exact, as Microsoft spells it).
    pub fn from_content_type(name: &str) -> Option<Feed> {
        Feed::CONTENT_TYPES.into_iter().find(|f| f.content_type() == Some(name))
    }

    /// A short stable key, used in seeds and ground-truth queries.
    pub fn key(self) -> &'static str {
        match self {
            Feed::AuditAzureActiveDirectory => "audit_aad",
            Feed::AuditExchange => "audit_exchange",
            Feed::AuditSharePoint => "audit_sharepoint",
            Feed::AuditGeneral => "audit_general",
            Feed::DlpAll => "dlp_all",
            Feed::DirectoryAudits => "directory",
            Feed::SignIns => "signin",
            Feed::IntuneAuditEvents => "intune",
        }
    }

    /// Share of a tenant's daily events that this feed carries (sums to 1 over all feeds).
    pub fn share(self) -> f64 {
        match self {
            Feed::AuditAzureActiveDirectory => 0.14,
            Feed::AuditExchange => 0.26,
            Feed::AuditSharePoint => 0.24,
            Feed::AuditGeneral => 0.08,
            Feed::DlpAll => 0.02,
            Feed::DirectoryAudits => 0.08,
            Feed::SignIns => 0.15,
            Feed::IntuneAuditEvents => 0.03,
        }
    }
}

/// What drives the generator.
#[derive(Clone, Debug)]
pub struct ActivityConfig {
    /// Seed of everything.
    pub seed: u64,
    /// Average events per tenant per day over all feeds (before the daily rhythm shapes them).
    pub events_per_day: u32,
    /// Weave the attack scenarios of the detection reference into normal activity.
    pub scenarios: bool,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self { seed: 1, events_per_day: 2_000, scenarios: true }
    }
}

/// One generated audit record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// UAL `Id`, or Graph `id`.
    pub id: String,
    /// The event time (UAL `CreationTime`, Graph `activityDateTime` / `createdDateTime`).
    pub time: DateTime<Utc>,
    /// The record as the API sends it.
    pub json: String,
}

/// Every record `feed` published for `tenant` with an event time in the hour starting at
/// `hour_start` (which must be aligned to a whole hour), in a stable order.
pub fn records_for_hour(
    config: &ActivityConfig,
    tenant: &Tenant,
    feed: Feed,
    hour_start: DateTime<Utc>,
) -> Vec<Record> {
    records::records_for_hour(config, tenant, feed, hour_start)
}

/// The records of one attack scenario occurrence alone, in every feed that carries it: the first
/// positive (or near miss, with `near_miss`) occurrence of the scenario named `name` (see
/// [`scenario_names`]) for `tenant` from `from_day` (days since the Unix epoch) on. `None` for
/// an unknown name or a scenario without near misses. Detection tests use it.
pub fn scenario_records(
    config: &ActivityConfig,
    tenant: &Tenant,
    name: &str,
    near_miss: bool,
    from_day: i64,
) -> Option<Vec<(Feed, Record)>> {
    let plan = scenarios::find_occurrence(config, tenant, name, near_miss, from_day)?;
    Some(
        Feed::ALL
            .into_iter()
            .flat_map(|feed| records::scenario_records(tenant, feed, plan).into_iter().map(move |r| (feed, r)))
            .collect(),
    )
}

/// The names of the attack scenarios (`InboxForwardRule`, `GlobalAdminAdded`, ...).
pub fn scenario_names() -> Vec<String> {
    scenarios::names()
}
