//! The Settings page: who you are, and the server's effective (non-secret) settings.

use leptos::prelude::*;

use crate::components::ErrorBanner;
use crate::dto::ServerInfo;
use crate::server::get_server_info;

/// The Settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_server_info());
    view! {
        <section class="page settings-page">
            <header class="page-header">
                <h1>"Settings"</h1>
                <p class="subtitle">"Effective configuration of this AOC server. Secrets are never shown."</p>
                <p>
                    <a href="/settings/tokens" id="api-tokens-link">"Personal API tokens"</a>" · "
                    <a href="/settings/sessions" id="sessions-link">"Sessions (administrators)"</a>
                </p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! { <InfoList info/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn on_off(value: bool) -> &'static str {
    if value {
        "on"
    } else {
        "off"
    }
}

#[component]
fn InfoList(info: ServerInfo) -> impl IntoView {
    let retention = info.retention_days.map_or_else(|| "kept forever".to_string(), |d| format!("{d} days"));
    view! {
        <dl class="facts" id="server-info">
            <dt>"Signed in as"</dt>
            <dd id="caller-name">{info.caller.display_name}</dd>
            <dt>"Role"</dt>
            <dd id="caller-role">{info.caller.role.as_str()}</dd>
            <dt>"Version"</dt>
            <dd>{info.version}</dd>
            <dt>"Database"</dt>
            <dd>{info.database_backend}</dd>
            <dt>"Sign-in (OIDC)"</dt>
            <dd>{on_off(info.auth_enabled)}</dd>
            <dt>"Periodic collection"</dt>
            <dd>{format!("{} (every {} min)", on_off(info.periodic_fetch_enabled), info.fetch_interval_minutes)}</dd>
            <dt>"Retention"</dt>
            <dd>{retention}</dd>
            <dt>"Alerts"</dt>
            <dd>{on_off(info.alerts_enabled)}</dd>
            <dt>"SIEM forwarding"</dt>
            <dd>{on_off(info.siem_enabled)}</dd>
        </dl>
    }
}
