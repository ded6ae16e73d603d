//! Calls the simulator makes to clients: the Management Activity API's webhook validation and
//! notifications, and Graph's change-notification validation handshake and notifications.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::activity::Feed;
use super::content;
use super::state::SimState;

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
}

/// The validation POST Microsoft sends when a webhook is registered; `Err` says why it failed.
pub async fn validate_management_webhook(address: &str, auth_id: Option<&str>) -> Result<(), String> {
    let code = uuid::Uuid::new_v4().simple().to_string();
    let mut request = client(Duration::from_secs(10))
        .post(address)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Webhook-ValidationCode", &code)
        .json(&json!({ "validationCode": code }));
    if let Some(auth) = auth_id {
        request = request.header("Webhook-AuthID", auth);
    }
    match request.send().await {
        Ok(r) if r.status().as_u16() == 200 => Ok(()),
        Ok(r) => Err(format!("The endpoint did not return HTTP 200 (it returned {}).", r.status().as_u16())),
        Err(_) => Err("The endpoint could not be reached.".to_string()),
    }
}

/// Graph's validation handshake: `POST {url}?validationToken=...` must answer 200, text/plain,
/// with the token as the body, within 10 seconds.
pub async fn validate_graph_notification_url(url: &str) -> Result<(), String> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let separator = if url.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let response = client(Duration::from_secs(10))
        .post(format!("{url}{separator}validationToken={encoded}"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .send()
        .await
        .map_err(|_| "Subscription validation request failed. Notification endpoint must be reachable.".to_string())?;
    if response.status().as_u16() != 200 {
        return Err(format!("Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request (it returned {}).", response.status().as_u16()));
    }
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = response.text().await.unwrap_or_default();
    if !content_type.starts_with("text/plain") || body != token {
        return Err(
            "Subscription validation request failed. Response must exactly match validationToken query parameter."
                .into(),
        );
    }
    Ok(())
}

/// The notifications sent for a content type within a window (for `/subscriptions/notifications`).
pub fn notification_log(
    state: &SimState,
    tenant: usize,
    feed: Feed,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<serde_json::Value> {
    let rt = state.runtime();
    let Some(sub) = rt.subscriptions.get(&(tenant, feed)) else { return Vec::new() };
    if sub.webhook.is_none() {
        return Vec::new();
    }
    drop(rt);
    let now = state.clock.now();
    let t = &state.tenants[tenant];
    content::blobs_created_in(state, tenant, feed, start, end)
        .into_iter()
        .filter(|b| content::is_listed(state, b, now))
        .map(|b| {
            let id = b.content_id(state);
            json!({
                "contentType": feed.content_type(),
                "contentId": id,
                "contentUri": format!("{}/api/v1.0/{}/activity/feed/audit/{id}", state.base_url(), t.model.tenant_id),
                "contentCreated": b.created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "contentExpiration": b.expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "notificationSent": b.visible_from.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "notificationStatus": "success",
            })
        })
        .collect()
}

/// Pushes newly visible content to registered webhooks, forever (spawned at start-up).
pub async fn run_notifier(state: Arc<SimState>) {
    let interval = Duration::from_secs(state.config.notify_interval_secs.max(1));
    loop {
        tokio::time::sleep(interval).await;
        notify_management(&state).await;
        notify_graph(&state).await;
    }
}

/// A Management API subscription whose notification is due: its index, feed, address, auth id
/// and the content's creation time.
type DueNotification = (usize, Feed, String, Option<String>, DateTime<Utc>);

async fn notify_management(state: &SimState) {
    let now = state.clock.now();
    let due: Vec<DueNotification> = {
        let rt = state.runtime();
        rt.subscriptions
            .iter()
            .filter(|(_, s)| s.enabled)
            .filter_map(|((t, f), s)| {
                let w = s.webhook.as_ref()?;
                Some((*t, *f, w.address.clone(), w.auth_id.clone(), s.notified_until.unwrap_or(now)))
            })
            .collect()
    };
    for (tenant, feed, address, auth_id, since) in due {
        // Blobs created since the last push that are visible now (late ones are pushed later).
        let look_back = since - chrono::Duration::hours(5);
        let t = &state.tenants[tenant];
        let items: Vec<serde_json::Value> = content::blobs_created_in(state, tenant, feed, look_back, now)
            .into_iter()
            .filter(|b| b.visible_from > since && b.visible_from <= now && content::is_listed(state, b, now))
            .map(|b| {
                let id = b.content_id(state);
                json!({
                    "tenantId": t.model.tenant_id,
                    "clientId": t.apps[0].client_id,
                    "contentType": feed.content_type(),
                    "contentId": id,
                    "contentUri": format!("{}/api/v1.0/{}/activity/feed/audit/{id}", state.base_url(), t.model.tenant_id),
                    "contentCreated": b.created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    "contentExpiration": b.expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                })
            })
            .collect();
        if let Some(sub) = state.runtime().subscriptions.get_mut(&(tenant, feed)) {
            sub.notified_until = Some(now);
        }
        if items.is_empty() {
            continue;
        }
        let mut request = client(Duration::from_secs(10)).post(&address).json(&items);
        if let Some(auth) = &auth_id {
            request = request.header("Webhook-AuthID", auth);
        }
        if let Err(e) = request.send().await {
            tracing::debug!(error = %e, "webhook notification failed");
        }
    }
}

async fn notify_graph(state: &SimState) {
    let now = state.clock.now();
    let subs: Vec<_> = state.runtime().graph_subscriptions.values().filter(|s| s.expiration > now).cloned().collect();
    for sub in subs {
        let changed = super::graph::changed_users(state, sub.tenant, sub.notified_until, now);
        if let Some(s) = state.runtime().graph_subscriptions.get_mut(&sub.id) {
            s.notified_until = now;
        }
        if changed.is_empty() {
            continue;
        }
        let value: Vec<serde_json::Value> = changed
            .iter()
            .map(|user_id| {
                json!({
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": sub.expiration.to_rfc3339(),
                    "changeType": "updated",
                    "resource": format!("Users/{user_id}"),
                    "resourceData": {"@odata.type": "#Microsoft.Graph.User", "@odata.id": format!("Users/{user_id}"), "id": user_id},
                    "clientState": sub.client_state,
                    "tenantId": state.tenants[sub.tenant].model.tenant_id,
                })
            })
            .collect();
        if let Err(e) =
            client(Duration::from_secs(3)).post(&sub.notification_url).json(&json!({ "value": value })).send().await
        {
            tracing::debug!(error = %e, "graph notification failed");
        }
    }
}
