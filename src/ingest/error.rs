//! Why a collection step failed. Every error has two texts: its `Display`, a message an operator
//! may see in answers and in the ledger (what failed and what to do, no upstream or database
//! text), and its `detail`, what Microsoft or the database said, which is only logged: once, by
//! [`IngestError::report`], under an error id that the message carries.

use super::links::RefusedLink;
use super::summary::SourceState;

fn aadsts(code: &Option<u32>) -> String {
    code.map(|c| format!("AADSTS{c}")).unwrap_or_else(|| "no AADSTS code".into())
}

/// Why a collection step failed, phrased so an operator knows what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The token endpoint (or an API, with 401) refused the credentials.
    #[error("sign-in to Microsoft failed ({}). Fix: {hint}", aadsts(code))]
    Auth { code: Option<u32>, detail: String, hint: String },
    /// The app lacks a permission.
    #[error("permission missing: {what}. Fix: {hint}")]
    Permission { what: String, detail: String, hint: String },
    /// The tenant lacks the licence a source needs.
    #[error("not licensed: {what}")]
    Unlicensed { what: String, detail: String },
    /// The API kept throttling after the retries.
    #[error("throttled by Microsoft: {0}")]
    Throttled(String),
    /// A transient failure that outlived the retries (5xx, timeouts, malformed bodies).
    #[error("{what}")]
    Transient { what: String, detail: String },
    /// A failure retrying will not fix.
    #[error("{what}")]
    Fatal { what: String, detail: String },
    /// The database failed.
    #[error("storing the collection failed: the database answered with an error (see the server log)")]
    Db(String),
    /// Microsoft answered with a link AOC may not send the token to.
    #[error("{0}")]
    UntrustedLink(#[from] RefusedLink),
    /// Another process holds the lease.
    #[error("another AOC process is collecting this source")]
    Leased,
}

impl From<sea_orm::DbErr> for IngestError {
    fn from(e: sea_orm::DbErr) -> Self {
        IngestError::Db(e.to_string())
    }
}

/// An error as users see it: the message (with the id) and the id to quote.
#[derive(Clone, Debug)]
pub struct Reported {
    pub id: String,
    pub message: String,
}

/// A new error id: short enough to quote, unique enough to find in the log.
pub fn new_error_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

impl IngestError {
    /// A transient failure described by AOC's own words.
    pub fn transient(what: impl Into<String>) -> Self {
        IngestError::Transient { what: what.into(), detail: String::new() }
    }

    /// A transient failure, with what Microsoft said (logged only).
    pub fn transient_with(what: impl Into<String>, detail: impl Into<String>) -> Self {
        IngestError::Transient { what: what.into(), detail: detail.into() }
    }

    /// A failure retrying will not fix, described by AOC's own words.
    pub fn fatal(what: impl Into<String>) -> Self {
        IngestError::Fatal { what: what.into(), detail: String::new() }
    }

    /// A failure retrying will not fix, with what Microsoft said (logged only).
    pub fn fatal_with(what: impl Into<String>, detail: impl Into<String>) -> Self {
        IngestError::Fatal { what: what.into(), detail: detail.into() }
    }

    /// What Microsoft or the database said, for the log only.
    pub fn detail(&self) -> &str {
        match self {
            IngestError::Auth { detail, .. }
            | IngestError::Permission { detail, .. }
            | IngestError::Unlicensed { detail, .. }
            | IngestError::Transient { detail, .. }
            | IngestError::Fatal { detail, .. }
            | IngestError::Db(detail) => detail,
            IngestError::Throttled(_) | IngestError::UntrustedLink(_) | IngestError::Leased => "",
        }
    }

    /// The source state this error puts the source in.
    pub fn state(&self) -> SourceState {
        match self {
            IngestError::Unlicensed { .. } => SourceState::Unlicensed,
            IngestError::Throttled(_) => SourceState::Throttled,
            IngestError::Leased => SourceState::Skipped,
            _ => SourceState::Failing,
        }
    }

    /// Logs the error once with its detail under a new id, and returns what users see.
    pub fn report(&self, tenant: &str, what: &str) -> Reported {
        let id = new_error_id();
        tracing::warn!(error.id = %id, tenant.id = %tenant, %what, detail = self.detail(), "{self}");
        Reported { message: format!("{self} (error id {id})"), id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_fix_but_not_what_microsoft_or_the_database_said() {
        let e = IngestError::Permission {
            what: "auditLogs/signIns".into(),
            detail: "Insufficient privileges <script>".into(),
            hint: "grant AuditLog.Read.All".into(),
        };
        let reported = e.report("t", "signin");
        assert!(reported.message.contains("AuditLog.Read.All") && reported.message.contains(&reported.id));
        assert!(!reported.message.contains("Insufficient"));
        let db = IngestError::from(sea_orm::DbErr::Custom("relation \"events\" does not exist".into()));
        assert!(!db.to_string().contains("relation"));
        let auth =
            IngestError::Auth { code: Some(7_000_215), detail: "Invalid client secret".into(), hint: "fix".into() };
        assert!(auth.to_string().contains("AADSTS7000215") && !auth.to_string().contains("Invalid"));
    }
}
