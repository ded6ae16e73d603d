//! Server functions of the Destinations page (administrators). Plain form posts, so every form
//! works before hydration; the page shows each destination's last Send test, so its answer is
//! seen without JavaScript too.

use leptos::prelude::*;

use crate::dto::{DestinationTestResult, DestinationsPage};
use crate::error::AppError;

/// Every destination with its queue, delivery rate, parked items and last test.
#[server(endpoint = "destinations_page")]
pub async fn destination_overview() -> Result<DestinationsPage, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    caller()?.require(Permission::ManageSettings)?;
    services()?.destinations.destinations_page().await
}

#[cfg(feature = "ssr")]
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

#[cfg(feature = "ssr")]
fn checked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| matches!(v, "on" | "true" | "1"))
}

/// Adds a destination (no `id`) or changes one. Empty fields are left out; an empty `secret`
/// keeps the stored credential, `clear_secret` removes it.
#[server(endpoint = "save_destination")]
#[allow(clippy::too_many_arguments)]
pub async fn save_destination(
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    endpoint: Option<String>,
    secret: Option<String>,
    clear_secret: Option<String>,
    receives: Option<String>,
    min_severity: Option<String>,
    rules: Option<String>,
    format: Option<String>,
    batch_size: Option<String>,
    enabled: Option<String>,
    backfill_from: Option<String>,
    filter_tenant: Option<String>,
    filter_source: Option<String>,
    filter_service: Option<String>,
    filter_operation: Option<String>,
    filter_result: Option<String>,
    filter_actor: Option<String>,
    opt_index: Option<String>,
    opt_host: Option<String>,
    opt_ack: Option<String>,
    opt_dcr_immutable_id: Option<String>,
    opt_stream: Option<String>,
    opt_tenant_id: Option<String>,
    opt_client_id: Option<String>,
    opt_authority: Option<String>,
    opt_ca_file: Option<String>,
    opt_from: Option<String>,
    opt_to: Option<String>,
    opt_tls: Option<String>,
    opt_username: Option<String>,
) -> Result<i64, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;
    use crate::dto::DestinationForm;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let id = text(id).map(|s| crate::input::parse_id("id", &s)).transpose()?;
    let pairs = |list: Vec<(&str, Option<String>)>| -> Vec<(String, String)> {
        list.into_iter().filter_map(|(k, v)| text(v).map(|v| (k.to_string(), v))).collect()
    };
    let mut options = pairs(vec![
        ("index", opt_index),
        ("host", opt_host),
        ("dcr_immutable_id", opt_dcr_immutable_id),
        ("stream", opt_stream),
        ("tenant_id", opt_tenant_id),
        ("client_id", opt_client_id),
        ("authority", opt_authority),
        ("ca_file", opt_ca_file),
        ("from", opt_from),
        ("to", opt_to),
        ("tls", opt_tls),
        ("username", opt_username),
    ]);
    if checked(&opt_ack) {
        options.push(("ack".into(), "true".into()));
    }
    let form = DestinationForm {
        kind: text(kind),
        name: text(name),
        endpoint: text(endpoint),
        secret: text(secret),
        clear_secret: checked(&clear_secret),
        receives: text(receives),
        min_severity: text(min_severity),
        rules: text(rules),
        format: text(format),
        batch_size: text(batch_size),
        enabled: checked(&enabled),
        backfill_from: text(backfill_from),
        filter: pairs(vec![
            ("tenant", filter_tenant),
            ("source", filter_source),
            ("service", filter_service),
            ("operation", filter_operation),
            ("result", filter_result),
            ("actor", filter_actor),
        ]),
        options,
    };
    services()?.destinations.save_destination(&caller, id, form).await
}

/// Switches a destination's delivery on or off.
#[server(endpoint = "set_destination_enabled")]
pub async fn set_destination_enabled(id: String, enabled: String) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let id = crate::input::parse_id("id", &id)?;
    let enabled = match enabled.as_str() {
        "true" | "on" | "1" => true,
        "false" | "off" | "0" => false,
        _ => return Err(AppError::invalid_input("enabled", "must be true or false")),
    };
    services()?.destinations.set_destination_enabled(&caller, id, enabled).await
}

/// Removes a destination with its queue.
#[server(endpoint = "delete_destination")]
pub async fn delete_destination(id: String) -> Result<(), AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let id = crate::input::parse_id("id", &id)?;
    services()?.destinations.delete_destination(&caller, id).await
}

/// Delivers one synthetic record and returns the far end's answer.
#[server(endpoint = "test_destination")]
pub async fn test_destination(id: String) -> Result<DestinationTestResult, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let id = crate::input::parse_id("id", &id)?;
    services()?.destinations.send_test(&caller, id).await
}

/// Puts a parked item (`item`) or every parked item of the destination back in its queue.
#[server(endpoint = "retry_parked_items")]
pub async fn retry_parked_items(id: String, item: Option<String>) -> Result<u64, AppError> {
    use super::ssr::{caller, services};
    use crate::auth::Permission;

    let caller = caller()?;
    caller.require(Permission::ManageSettings)?;
    let id = crate::input::parse_id("id", &id)?;
    let item = text(item).map(|s| crate::input::parse_id("item", &s)).transpose()?;
    services()?.destinations.retry_parked(&caller, id, item).await
}
