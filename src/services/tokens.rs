//! Personal API tokens: create (shown once), list, revoke; each change in the audit trail.

use app::auth::{AuthMethod, Caller, Permission};
use app::dto::{ApiTokenInfo, ApiTokenStatus, NewApiToken};
use app::error::{AppError, ErrorCode};
use app::input::TokenRequest;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::annotations::audit;
use super::db_failure;
use crate::auth::tokens::{mint, parse_role};
use crate::store::{self, entities::api_tokens};

/// Personal API tokens over one database.
#[derive(Clone)]
pub struct DbTokenService {
    db: DatabaseConnection,
    accepted: bool,
}

impl DbTokenService {
    pub fn new(db: DatabaseConnection, accepted: bool) -> Self {
        Self { db, accepted }
    }
}

fn info(row: api_tokens::Model, now: DateTime<Utc>) -> ApiTokenInfo {
    let status = if row.revoked_at.is_some() {
        ApiTokenStatus::Revoked
    } else if row.expires_at <= now {
        ApiTokenStatus::Expired
    } else {
        ApiTokenStatus::Active
    };
    ApiTokenInfo {
        id: row.id,
        role: parse_role(&row.role).unwrap_or(app::auth::Role::Reader),
        name: row.name,
        prefix: row.prefix,
        owner_subject: row.owner_subject,
        owner_name: row.owner_name,
        status,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
        revoked_by: row.revoked_by,
    }
}

fn not_found(id: i64) -> AppError {
    AppError::new(ErrorCode::NotFound, format!("no personal API token {id}"))
}

#[async_trait::async_trait]
impl app::services::TokenService for DbTokenService {
    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiTokenInfo>, AppError> {
        let owner = (!caller.can(Permission::ManageSettings)).then_some(caller.subject.as_str());
        let rows = store::tokens::list(&self.db, owner).await.map_err(|e| db_failure("list api tokens", e))?;
        let now = Utc::now();
        Ok(rows.into_iter().map(|row| info(row, now)).collect())
    }

    async fn create_token(&self, caller: &Caller, request: TokenRequest) -> Result<NewApiToken, AppError> {
        if !self.accepted {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "personal API tokens are accepted only with sign-in enabled (AUTH_ENABLED=true)",
            ));
        }
        if matches!(caller.method, AuthMethod::ApiToken { .. }) {
            return Err(AppError::forbidden("create a personal API token with a personal API token (sign in instead)"));
        }
        let minted = mint();
        let now = Utc::now();
        let expires_at = now + chrono::Duration::days(i64::from(request.expires_in_days));
        let txn = self.db.begin().await.map_err(|e| db_failure("create api token", e))?;
        let row = store::tokens::insert(
            &txn,
            store::tokens::NewToken {
                name: &request.name,
                token_hash: &minted.hash,
                prefix: &minted.prefix,
                owner_subject: &caller.subject,
                owner_name: &caller.display_name,
                role: request.role.as_str(),
                created_at: now,
                expires_at,
            },
        )
        .await
        .map_err(|e| db_failure("create api token", e))?;
        audit(
            &txn,
            caller,
            "api_token.create",
            "api_token",
            Some(row.id.to_string()),
            serde_json::json!({ "name": row.name, "role": row.role, "expires_at": row.expires_at, "prefix": row.prefix }),
            None,
        )
        .await
        .map_err(|e| db_failure("create api token", e))?;
        txn.commit().await.map_err(|e| db_failure("create api token", e))?;
        tracing::info!(token_id = row.id, owner = %caller.subject, "created a personal API token");
        Ok(NewApiToken { info: info(row, now), token: minted.token })
    }

    async fn revoke_token(&self, caller: &Caller, id: i64) -> Result<ApiTokenInfo, AppError> {
        let txn = self.db.begin().await.map_err(|e| db_failure("revoke api token", e))?;
        let row = store::tokens::get(&txn, id).await.map_err(|e| db_failure("revoke api token", e))?;
        let row = match row {
            Some(row) if row.owner_subject == caller.subject || caller.can(Permission::ManageSettings) => row,
            // Someone else's token is reported as missing, not as forbidden: ids are not secrets,
            // but whose tokens exist is none of the caller's business.
            _ => return Err(not_found(id)),
        };
        let now = Utc::now();
        if row.revoked_at.is_none() {
            store::tokens::revoke(&txn, id, &caller.display_name, now)
                .await
                .map_err(|e| db_failure("revoke api token", e))?;
            audit(
                &txn,
                caller,
                "api_token.revoke",
                "api_token",
                Some(id.to_string()),
                serde_json::json!({ "name": row.name, "owner_subject": row.owner_subject, "prefix": row.prefix }),
                None,
            )
            .await
            .map_err(|e| db_failure("revoke api token", e))?;
        }
        let row = store::tokens::get(&txn, id)
            .await
            .map_err(|e| db_failure("revoke api token", e))?
            .ok_or_else(|| not_found(id))?;
        txn.commit().await.map_err(|e| db_failure("revoke api token", e))?;
        Ok(info(row, now))
    }

    fn accepted(&self) -> bool {
        self.accepted
    }
}
