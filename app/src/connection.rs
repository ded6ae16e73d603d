//! Test connection: what the Sources page and `POST /api/tenants/{tenant_id}/test` show after
//! trying a tenant's credentials with read calls only (a token per API, the Management Activity
//! API's subscription list, one Graph page of one record per Graph source).

use serde::{Deserialize, Serialize};

/// One step of a connection test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionCheck {
    /// What was tried ("token for Microsoft Graph", "directory: one page of auditLogs/directoryAudits").
    pub step: String,
    /// The source it concerns, when it concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub ok: bool,
    /// What happened (the error with its AADSTS / AF code when it failed).
    pub detail: String,
    /// What to change when it failed (the permission, consent or setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The result of a connection test of one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    pub tenant_id: String,
    /// Every step passed.
    pub ok: bool,
    pub checks: Vec<ConnectionCheck>,
}
