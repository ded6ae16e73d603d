//! Who is calling and what they may do. The roles are ordered (reader < analyst < admin) and each
//! permission names the least role that holds it. The server decides the caller once per request
//! (`src/auth`); every server function and REST handler asks [`Caller::require`] before acting.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A role in AOC. Later roles include everything earlier roles may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May view events, alerts, rules, sources and health.
    Reader,
    /// May also tag and comment on events and handle alerts.
    Analyst,
    /// May also manage rules, connectors and settings, and start collections.
    Admin,
}

impl Role {
    /// The lower-case name used in configuration and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// Something a caller may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewEvents,
    TagEvents,
    CommentOnEvents,
    HandleAlerts,
    ManageRules,
    ManageConnectors,
    ManageSettings,
    RunCollection,
    DeleteComments,
    ViewAuditTrail,
    /// Create, list and revoke one's own personal API tokens.
    ManageOwnTokens,
}

impl Permission {
    /// The least role that holds this permission.
    pub fn least_role(self) -> Role {
        match self {
            Permission::ViewEvents => Role::Reader,
            Permission::TagEvents
            | Permission::CommentOnEvents
            | Permission::HandleAlerts
            | Permission::ManageOwnTokens => Role::Analyst,
            Permission::ManageRules
            | Permission::ManageConnectors
            | Permission::ManageSettings
            | Permission::RunCollection
            | Permission::DeleteComments
            | Permission::ViewAuditTrail => Role::Admin,
        }
    }

    /// What the permission allows, phrased to follow "you do not have permission to".
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ViewEvents => "view events",
            Permission::TagEvents => "tag events",
            Permission::CommentOnEvents => "comment on events",
            Permission::HandleAlerts => "handle alerts",
            Permission::ManageRules => "manage rules",
            Permission::ManageConnectors => "manage connectors",
            Permission::ManageSettings => "manage settings",
            Permission::RunCollection => "start a collection",
            Permission::DeleteComments => "delete comments",
            Permission::ViewAuditTrail => "view the audit trail",
            Permission::ManageOwnTokens => "manage personal API tokens",
        }
    }
}

/// How the caller was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Authentication is disabled: the single local administrator (loopback only).
    LocalAdmin,
    /// A browser session from OpenID Connect sign-in.
    Session,
    /// A bearer token on the REST API.
    BearerToken,
    /// A personal API token (AOC's own, created by the person it acts for).
    ApiToken {
        /// The token's id in AOC (recorded with every audit-trail entry it causes).
        token_id: i64,
    },
}

/// The person or program behind a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Stable subject id (the `oid`/`sub` claim, or `local-admin`).
    pub subject: String,
    /// Name to show and to record in the audit trail.
    pub display_name: String,
    /// The highest role the caller holds.
    pub role: Role,
    /// How the caller was established.
    pub method: AuthMethod,
}

impl Caller {
    /// The caller when authentication is disabled.
    pub fn local_admin() -> Self {
        Self {
            subject: "local-admin".into(),
            display_name: "Local administrator".into(),
            role: Role::Admin,
            method: AuthMethod::LocalAdmin,
        }
    }

    /// Whether the caller holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.role >= permission.least_role()
    }

    /// `Ok` when the caller holds `permission`, otherwise a `forbidden` error naming it.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden(permission.describe()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller { role, ..Caller::local_admin() }
    }

    #[test]
    fn readers_may_view_but_not_tag_or_manage() {
        let reader = caller(Role::Reader);
        assert!(reader.require(Permission::ViewEvents).is_ok());
        let err = reader.require(Permission::TagEvents).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Forbidden);
        assert!(err.message.contains("tag events"));
        assert!(!reader.can(Permission::ManageRules));
    }

    #[test]
    fn analysts_may_tag_comment_and_handle_alerts_but_not_manage() {
        let analyst = caller(Role::Analyst);
        for p in [Permission::ViewEvents, Permission::TagEvents, Permission::CommentOnEvents, Permission::HandleAlerts]
        {
            assert!(analyst.can(p), "{p:?}");
        }
        for p in [
            Permission::ManageRules,
            Permission::ManageConnectors,
            Permission::ManageSettings,
            Permission::RunCollection,
        ] {
            assert!(!analyst.can(p), "{p:?}");
        }
    }

    #[test]
    fn the_local_admin_holds_every_permission() {
        let admin = Caller::local_admin();
        for p in [
            Permission::ViewEvents,
            Permission::TagEvents,
            Permission::CommentOnEvents,
            Permission::HandleAlerts,
            Permission::ManageRules,
            Permission::ManageConnectors,
            Permission::ManageSettings,
            Permission::RunCollection,
        ] {
            assert!(admin.can(p), "{p:?}");
        }
    }
}
