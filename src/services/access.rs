//! Personal API tokens (create, shown once; list; revoke) and administrators ending people's
//! sessions; each change in the audit trail.

use app::auth::{AuthMethod, Caller, Permission};
use std::collections::HashMap;
use std::sync::Arc;

use app::dto::{ApiTokenInfo, ApiTokenStatus, EndedSessions, NewApiToken, SignedInPerson};
use app::error::{AppError, ErrorCode};
use app::input::TokenRequest;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::annotations::audit;
use super::db_failure;
use crate::auth::oidc::Oidc;
use crate::auth::tokens::{mint, parse_role};
use crate::store::{self, entities::api_tokens};

/// Personal API tokens over one database.
#[derive(Clone)]
pub struct DbAccessService {
    db: DatabaseConnection,
    oidc: Option<Arc<Oidc>>,
    accepted: bool,
}

impl DbAccessService {
    /// `oidc`: the sign-in provider, when sign-in is on.
    pub fn new(db: DatabaseConnection, oidc: Option<Arc<Oidc>>) -> Self {
        Self { db, accepted: oidc.is_some(), oidc }
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
impl app::services::AccessService for DbAccessService {
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
        // Through the writer connection on SQLite (a deferred read-then-write transaction fails
        // when another writer commits in between).
        let writer = store::writer(&self.db).await.map_err(|e| db_failure("create api token", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("create api token", e))?;
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
        // Through the writer connection on SQLite (a deferred read-then-write transaction fails
        // when another writer commits in between).
        let writer = store::writer(&self.db).await.map_err(|e| db_failure("revoke api token", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("revoke api token", e))?;
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

    async fn signed_in_people(&self) -> Result<Vec<SignedInPerson>, AppError> {
        let Some(oidc) = &self.oidc else { return Ok(Vec::new()) };
        let now = Utc::now();
        let since = now - chrono::Duration::hours(i64::from(oidc.session_max_hours()));
        let entries =
            store::sessions::sign_ins_since(&self.db, since).await.map_err(|e| db_failure("list sign-ins", e))?;
        let ended = store::sessions::revocations(&self.db).await.map_err(|e| db_failure("list sign-ins", e))?;
        // Per subject: the latest sign-in, and whether a sign-out followed it.
        let mut people: HashMap<String, (String, DateTime<Utc>, bool)> = HashMap::new();
        for entry in entries {
            let Some(subject) = entry.target_id else { continue };
            match entry.action.as_str() {
                "sign_in" => {
                    people.insert(subject, (entry.actor, entry.occurred_at, false));
                }
                _ => {
                    if let Some(person) = people.get_mut(&subject) {
                        person.2 = true;
                    }
                }
            }
        }
        let mut list: Vec<SignedInPerson> = people
            .into_iter()
            .map(|(subject, (name, last_sign_in, signed_out))| {
                let ended_at = ended.get(&subject).copied();
                let ended_after = ended_at.is_some_and(|at| last_sign_in.timestamp() <= at.timestamp());
                SignedInPerson { active: !signed_out && !ended_after, subject, name, last_sign_in, ended_at }
            })
            .collect();
        list.sort_by_key(|p| std::cmp::Reverse(p.last_sign_in));
        Ok(list)
    }

    async fn end_sessions(
        &self,
        caller: &Caller,
        subject: &str,
        revoke_tokens: bool,
    ) -> Result<EndedSessions, AppError> {
        let subject = subject.trim();
        if subject.is_empty() || subject.len() > 200 {
            return Err(AppError::invalid_input("subject", "expected the person's subject (object id)"));
        }
        let Some(oidc) = &self.oidc else {
            return Err(AppError::new(ErrorCode::Conflict, "there are no sessions to end: sign-in is disabled"));
        };
        let now = Utc::now();
        // Through the writer connection on SQLite (a deferred read-then-write transaction fails
        // when another writer commits in between).
        let writer = store::writer(&self.db).await.map_err(|e| db_failure("end sessions", e))?;
        let txn = writer.begin().await.map_err(|e| db_failure("end sessions", e))?;
        store::sessions::revoke(&txn, subject, now, &caller.display_name)
            .await
            .map_err(|e| db_failure("end sessions", e))?;
        let mut tokens_revoked = 0u32;
        if revoke_tokens {
            for token in store::tokens::list(&txn, Some(subject)).await.map_err(|e| db_failure("end sessions", e))? {
                if token.revoked_at.is_none() {
                    store::tokens::revoke(&txn, token.id, &caller.display_name, now)
                        .await
                        .map_err(|e| db_failure("end sessions", e))?;
                    tokens_revoked += 1;
                }
            }
        }
        audit(
            &txn,
            caller,
            "session.end_all",
            "session",
            Some(subject.to_string()),
            serde_json::json!({ "tokens_revoked": tokens_revoked }),
            None,
        )
        .await
        .map_err(|e| db_failure("end sessions", e))?;
        txn.commit().await.map_err(|e| db_failure("end sessions", e))?;
        oidc.forget_revocations();
        tracing::info!(user.oid = %subject, tokens_revoked, "an administrator ended a person's sessions");
        Ok(EndedSessions { subject: subject.to_string(), ended_at: now, tokens_revoked })
    }
}
