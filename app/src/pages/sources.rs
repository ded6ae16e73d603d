//! The Sources page: collection health per tenant and source, the coverage ledger of the last
//! two days as a timeline of hours per source (failed windows with their reasons and a button
//! to collect them again), Collect now with a look-back and the progress of the runs, and the
//! tenants stored in the database (add, enable or disable, delete) for administrators. Every
//! control is a server-function form, so the page works before hydration too; once hydrated,
//! the page refreshes itself every two seconds while a run is going. Tenant names and error
//! texts are shown as text only.

use chrono::{DateTime, Duration, DurationRound, Utc};
use leptos::prelude::*;

use crate::components::ErrorBanner;
use crate::dto::{CollectionRun, CoverageWindow, SourceHealthRow, SourcesOverview, TenantRow};
use crate::server::{get_sources_overview, AddTenant, CollectNow, RemoveTenant, SetTenantEnabled, TestConnection};

/// Hours shown per source in the coverage timeline.
const TIMELINE_HOURS: i64 = 48;

/// The Sources page.
#[component]
pub fn SourcesPage() -> impl IntoView {
    let collect = ServerAction::<CollectNow>::new();
    let add = ServerAction::<AddTenant>::new();
    let toggle = ServerAction::<SetTenantEnabled>::new();
    let remove = ServerAction::<RemoveTenant>::new();
    let test = ServerAction::<TestConnection>::new();
    // Bumped every two seconds while a collection runs (hydrated pages only: effects do not
    // run on the server), so the progress moves without a reload.
    let tick = RwSignal::new(0u32);
    let overview = Resource::new(
        move || {
            (collect.version().get(), add.version().get(), toggle.version().get(), remove.version().get(), tick.get())
        },
        |_| get_sources_overview(),
    );
    Effect::new(move |_| {
        let running = overview.get().is_some_and(|o| o.is_ok_and(|o| o.runs.iter().any(|r| r.finished_at.is_none())));
        if running {
            set_timeout(move || tick.update(|t| *t += 1), std::time::Duration::from_secs(2));
        }
    });
    let actions = TenantActions { add, toggle, remove, test };
    view! {
        <section class="page sources-page">
            <header class="page-header">
                <h1>"Sources"</h1>
                <p class="subtitle">"Tenants, the health of every source AOC collects, and whether every hour was collected."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading sources…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <Overview overview=o collect actions/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The tenant forms' actions.
#[derive(Clone, Copy)]
struct TenantActions {
    add: ServerAction<AddTenant>,
    toggle: ServerAction<SetTenantEnabled>,
    remove: ServerAction<RemoveTenant>,
    test: ServerAction<TestConnection>,
}

#[component]
fn Overview(overview: SourcesOverview, collect: ServerAction<CollectNow>, actions: TenantActions) -> impl IntoView {
    let collected = move || {
        match collect.value().get() {
        Some(Ok(n)) => Some(view! { <p class="notice-inline" role="status" id="collect-result">{format!("Collection of {n} sources started.")}</p> }.into_any()),
        Some(Err(e)) => Some(view! { <p class="error-banner" role="alert">{e.message}</p> }.into_any()),
        None => None,
    }
    };
    let since = overview.coverage_since;
    let retry = overview.can_collect.then_some(collect);
    view! {
        {overview.can_collect.then(|| view! {
            <div class="toolbar" role="toolbar" aria-label="Collection">
                <ActionForm action=collect attr:id="collect-form">
                    <label for="collect-hours">"Look back"</label>
                    <select name="hours" id="collect-hours">
                        <option value="" selected>"from where each source stopped"</option>
                        <option value="1">"1 hour"</option>
                        <option value="6">"6 hours"</option>
                        <option value="24">"24 hours"</option>
                        <option value="72">"3 days"</option>
                        <option value="168">"7 days"</option>
                        <option value="720">"30 days (Graph sources; the audit log keeps 7)"</option>
                    </select>
                    <button type="submit" id="collect-now" class="primary">"Collect now"</button>
                </ActionForm>
                <span class="muted">"Collects every enabled source in the background; what was stored already is not stored twice."</span>
            </div>
        })}
        {collected}
        <CollectionRuns runs=overview.runs.clone()/>
        <h2>"Health"</h2>
        <HealthTable rows=overview.health.clone()/>
        <h2>"Coverage, last " {TIMELINE_HOURS} " hours"</h2>
        <CoverageTimeline health=overview.health windows=overview.coverage since retry/>
        {overview.tenants.map(|tenants| view! { <TenantsSection tenants actions/> })}
    }
}

/// The runs of this server's collector: what each is doing (windows done of planned, records,
/// throttling) or how the last one ended.
#[component]
fn CollectionRuns(runs: Vec<CollectionRun>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted" id="collection-runs">"No collection has run since AOC started."</p> }
            .into_any();
    }
    let running = runs.iter().filter(|r| r.finished_at.is_none()).count();
    let caption = if running > 0 {
        format!("Collection: {running} running")
    } else {
        "Collection: the last run of each source".to_string()
    };
    view! {
        <table class="events runs" id="collection-runs" data-running=running.to_string()>
            <caption>{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Tenant"</th>
                    <th scope="col">"Source"</th>
                    <th scope="col">"Started (UTC)"</th>
                    <th scope="col">"Look-back"</th>
                    <th scope="col">"Windows"</th>
                    <th scope="col">"Records received / new"</th>
                    <th scope="col">"Throttled"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let state = match (&r.finished_at, &r.outcome) {
                        (None, _) => "running".to_string(),
                        (Some(_), Some(outcome)) => outcome.clone(),
                        (Some(_), None) => "ended".to_string(),
                    };
                    let ended = r.finished_at.map(|t| format!(" at {}", t.format("%H:%M:%S"))).unwrap_or_default();
                    let look_back = r.hours.map(|h| format!("{h} h")).unwrap_or_else(|| "from the watermark".into());
                    let windows = format!("{} of {}", r.windows_done, r.windows_planned);
                    let (max, value) = (r.windows_planned.max(1).to_string(), r.windows_done.to_string());
                    let label = format!("{} {}: {windows} windows", r.tenant_id, r.source);
                    let (tenant_key, source_key) = (r.tenant_id.clone(), r.source.clone());
                    view! {
                        <tr data-tenant=tenant_key data-source=source_key data-state=state.clone()>
                            <td class="mono">{r.tenant_id}</td>
                            <td>{r.source}</td>
                            <td>{r.started_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                            <td>{look_back}</td>
                            <td class="run-windows">
                                <progress max=max value=value aria-label=label></progress>" "{windows}
                            </td>
                            <td class="run-records">{format!("{} / {}", r.fetched, r.inserted)}</td>
                            <td>{r.throttled}</td>
                            <td>
                                <span class=format!("state state-{state}")>{state.clone()}</span>{ended}
                                {r.error.map(|e| view! { <p class="summary run-error">{e}</p> })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}

fn when(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())
}

#[component]
fn HealthTable(rows: Vec<SourceHealthRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <div class="empty-state" id="source-health">
                <p>"No tenant is connected yet."</p>
                <p class="muted">"Add one below (administrators), or set TENANT_ID, CLIENT_ID and CLIENT_SECRET."</p>
            </div>
        }
        .into_any();
    }
    view! {
        <table class="events health" id="source-health">
            <thead>
                <tr>
                    <th scope="col">"Tenant"</th>
                    <th scope="col">"Source"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Lag"</th>
                    <th scope="col">"Last success (UTC)"</th>
                    <th scope="col">"Records, last hour"</th>
                    <th scope="col">"Last error / reason"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let state = r.state.clone();
                    let problem = r.reason.clone().or(r.last_error.clone()).unwrap_or_default();
                    let (tenant_key, source_key) = (r.tenant_id.clone(), r.source.clone());
                    view! {
                        <tr data-tenant=tenant_key data-source=source_key>
                            <td class="mono">{r.tenant_id}</td>
                            <td>{r.source}</td>
                            <td><span class=format!("state state-{state}")>{state.clone()}</span></td>
                            <td>{r.lag_seconds.map(ago).unwrap_or_else(|| "–".into())}</td>
                            <td>{when(r.last_success_at)}</td>
                            <td>{r.records_last_hour}</td>
                            <td class="summary">{problem}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The state of one hour of a source: the worst state of the windows that overlap it.
pub(crate) fn hour_state(windows: &[&CoverageWindow], start: DateTime<Utc>) -> (&'static str, i64, Option<String>) {
    let end = start + Duration::hours(1);
    let mut worst = ("missing", 0u8);
    let mut records = 0;
    let mut error = None;
    for w in windows.iter().filter(|w| w.window_start < end && w.window_end > start) {
        let rank = match w.state.as_str() {
            "failed" => ("failed", 4),
            "parked" => ("parked", 3),
            "planned" => ("planned", 2),
            _ => ("done", 1),
        };
        if rank.1 > worst.1 {
            worst = rank;
        }
        records += w.record_count;
        if w.last_error.is_some() {
            error = w.last_error.clone();
        }
    }
    (worst.0, records, error)
}

#[component]
fn CoverageTimeline(
    health: Vec<SourceHealthRow>,
    windows: Vec<CoverageWindow>,
    since: DateTime<Utc>,
    /// Collect now, for those who may: each failed window gets a button to collect it again.
    retry: Option<ServerAction<CollectNow>>,
) -> impl IntoView {
    let mut keys: Vec<(String, String)> = health.iter().map(|h| (h.tenant_id.clone(), h.source.clone())).collect();
    for w in &windows {
        let key = (w.tenant.clone(), w.source.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return view! { <p class="muted" id="coverage-timeline">"Nothing collected yet."</p> }.into_any();
    }
    let first = since.duration_trunc(Duration::hours(1)).unwrap_or(since) + Duration::hours(1);
    let hours: Vec<DateTime<Utc>> = (0..TIMELINE_HOURS).map(|i| first + Duration::hours(i)).collect();
    view! {
        <div class="coverage" id="coverage-timeline">
            <p class="legend muted">
                <span class="cell done"></span>" done "
                <span class="cell planned"></span>" planned "
                <span class="cell failed"></span>" failed "
                <span class="cell parked"></span>" parked "
                <span class="cell missing"></span>" missing (no window)"
            </p>
            {keys.into_iter().map(|(tenant, source)| {
                let mine: Vec<&CoverageWindow> = windows.iter().filter(|w| w.tenant == tenant && w.source == source).collect();
                let label = format!("{source} · {tenant}");
                let cells = hours.iter().map(|h| {
                    let (state, records, error) = hour_state(&mine, *h);
                    let mut title = format!("{} UTC: {state}, {records} records", h.format("%Y-%m-%d %H:00"));
                    if let Some(e) = error {
                        title.push_str(" — ");
                        title.push_str(&e);
                    }
                    view! { <span class=format!("cell {state}") title=title.clone() role="img" aria-label=title></span> }
                }).collect_view();
                let failures: Vec<&CoverageWindow> = mine.iter().copied().filter(|w| w.state == "failed" || w.state == "parked").collect();
                view! {
                    <div class="coverage-row" data-source=source.clone()>
                        <span class="coverage-label">{label}</span>
                        <span class="coverage-cells">{cells}</span>
                    </div>
                    {(!failures.is_empty()).then(|| view! {
                        <ul class="coverage-failures">
                            {failures.into_iter().map(|w| {
                                let again = retry.map(|action| {
                                    let label = format!("Collect {} {} again from {}", w.tenant, w.source, w.window_start.format("%m-%d %H:%M"));
                                    let (from, tenant, source) = (w.window_start.to_rfc3339(), w.tenant.clone(), w.source.clone());
                                    view! {
                                        <ActionForm action attr:class="inline-form retry-window">
                                            <input type="hidden" name="from" value=from/>
                                            <input type="hidden" name="tenant_id" value=tenant/>
                                            <input type="hidden" name="source" value=source/>
                                            <button type="submit" class="retry-window-button" aria-label=label>"Collect again"</button>
                                        </ActionForm>
                                    }
                                });
                                view! {
                                    <li>
                                        <span class=format!("state state-{}", w.state)>{w.state.clone()}</span>" "
                                        {format!("{} – {} ({} attempts): ", w.window_start.format("%m-%d %H:%M"), w.window_end.format("%m-%d %H:%M"), w.attempts)}
                                        {w.last_error.clone().unwrap_or_default()}
                                        {again}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    })}
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// A connection test: per step whether it works, and for what fails the fix.
#[component]
fn ConnectionResult(test: crate::connection::ConnectionTest) -> impl IntoView {
    let heading = if test.ok {
        format!("Connection test of {}: everything works", test.tenant_id)
    } else {
        format!("Connection test of {}: something needs fixing", test.tenant_id)
    };
    view! {
        <section class="connection-test" id="connection-test" role="status" data-ok=test.ok.to_string()>
            <h3>{heading}</h3>
            <ul>
                {test.checks.into_iter().map(|c| {
                    let state = if c.ok { "state state-ok" } else { "state state-failed" };
                    view! {
                        <li data-ok=c.ok.to_string() data-source=c.source.clone().unwrap_or_default()>
                            <span class=state>{if c.ok { "works" } else { "fails" }}</span>" "
                            <strong>{c.step}</strong>": "<span class="check-detail">{c.detail}</span>
                            {c.fix.map(|f| view! { <p class="check-fix"><strong>"Fix: "</strong><span>{f}</span></p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn TenantsSection(tenants: Vec<TenantRow>, actions: TenantActions) -> impl IntoView {
    let TenantActions { add, toggle, remove, test } = actions;
    let error = move || {
        [add.value().get(), toggle.value().get(), remove.value().get()]
            .into_iter()
            .flatten()
            .find_map(|r| r.err())
            .map(|e| view! { <p class="error-banner" role="alert" id="tenant-error">{e.message}</p> })
    };
    view! {
        <h2>"Tenants"</h2>
        {error}
        {if tenants.is_empty() {
            view! { <p class="muted" id="tenants">"No tenant is stored in the database."</p> }.into_any()
        } else {
            view! {
                <table class="events tenants" id="tenants">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Tenant id"</th>
                            <th scope="col">"Cloud"</th>
                            <th scope="col">"Sources"</th>
                            <th scope="col">"Credential"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {tenants.into_iter().map(|t| {
                            let id = t.tenant_id.clone();
                            let (id_toggle, id_remove, id_key, id_test) = (id.clone(), id.clone(), id.clone(), id.clone());
                            let next = (!t.enabled).to_string();
                            let toggle_text = if t.enabled { "Disable" } else { "Enable" };
                            let status = format!("{}{}", t.status, t.status_reason.map(|r| format!(": {r}")).unwrap_or_default());
                            view! {
                                <tr data-tenant=id_key>
                                    <td>{t.display_name}</td>
                                    <td class="mono">{id}</td>
                                    <td>{t.cloud}</td>
                                    <td>{t.sources.join(", ")}</td>
                                    <td>{t.credential_kind}</td>
                                    <td class="summary">{status}</td>
                                    <td class="actions">
                                        <ActionForm action=test attr:class="inline-form">
                                            <input type="hidden" name="tenant_id" value=id_test/>
                                            <button type="submit" class="tenant-test">"Test connection"</button>
                                        </ActionForm>
                                        <ActionForm action=toggle attr:class="inline-form">
                                            <input type="hidden" name="tenant_id" value=id_toggle/>
                                            <input type="hidden" name="enabled" value=next/>
                                            <button type="submit" class="tenant-toggle">{toggle_text}</button>
                                        </ActionForm>
                                        <details class="confirm">
                                            <summary>"Delete…"</summary>
                                            <ActionForm action=remove attr:class="inline-form">
                                                <input type="hidden" name="tenant_id" value=id_remove/>
                                                <button type="submit" class="danger tenant-delete">"Delete this tenant (events stay)"</button>
                                            </ActionForm>
                                        </details>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {move || test.pending().get().then(|| view! { <p class="muted" role="status" id="connection-testing">"Testing the connection…"</p> })}
        {move || test.value().get().map(|result| match result {
            Ok(t) => view! { <ConnectionResult test=t/> }.into_any(),
            Err(e) => view! { <p class="error-banner" role="alert" id="connection-test">{e.message}</p> }.into_any(),
        })}
        <details class="add-tenant" id="add-tenant">
            <summary>"Add a tenant"</summary>
            <ActionForm action=add attr:class="filters" attr:id="add-tenant-form">
                <label class="filter"><span>"Display name"</span><input type="text" name="display_name" id="tenant-name" required maxlength="200"/></label>
                <label class="filter"><span>"Tenant id (GUID)"</span><input type="text" name="tenant_id" id="tenant-id" required/></label>
                <label class="filter"><span>"Application (client) id"</span><input type="text" name="client_id" id="tenant-client-id" required/></label>
                <fieldset class="credential" id="tenant-credential">
                    <legend>"Credential: a client secret, or a certificate and its private key (both write-only)"</legend>
                    <label class="filter"><span>"Client secret"</span><input type="password" name="client_secret" id="tenant-secret" autocomplete="off"/></label>
                    <label class="filter"><span>"Certificate (PEM)"</span>
                        <textarea name="certificate_pem" id="tenant-certificate" rows="3" spellcheck="false" placeholder="-----BEGIN CERTIFICATE-----"></textarea>
                    </label>
                    <label class="filter"><span>"Private key (PEM)"</span>
                        <textarea name="private_key_pem" id="tenant-private-key" rows="3" spellcheck="false" autocomplete="off" placeholder="-----BEGIN PRIVATE KEY-----"></textarea>
                    </label>
                </fieldset>
                <label class="filter"><span>"Cloud"</span>
                    <select name="cloud" id="tenant-cloud">
                        <option value="worldwide">"Worldwide"</option>
                        <option value="gcc">"GCC"</option>
                        <option value="gcchigh">"GCC High"</option>
                        <option value="dod">"DoD"</option>
                        <option value="china">"China (21Vianet)"</option>
                    </select>
                </label>
                <label class="filter"><span>"Sources"</span><input type="text" name="sources" id="tenant-sources" value="unified,directory,signin,intune"/></label>
                <div class="filter-actions"><button type="submit" id="tenant-add">"Add tenant"</button></div>
            </ActionForm>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(state: &str, start: &str, hours: i64, error: Option<&str>) -> CoverageWindow {
        let start = DateTime::parse_from_rfc3339(start).unwrap().with_timezone(&Utc);
        CoverageWindow {
            id: 1,
            tenant: "t".into(),
            source: "unified".into(),
            content_type: "Audit.General".into(),
            window_start: start,
            window_end: start + Duration::hours(hours),
            state: state.into(),
            record_count: 5,
            attempts: 1,
            last_error: error.map(str::to_string),
            updated_at: start,
        }
    }

    #[test]
    fn an_hour_takes_the_worst_state_of_the_windows_over_it() {
        let done = window("done", "2026-12-01T00:00:00Z", 24, None);
        let failed = window("failed", "2026-12-01T05:30:00Z", 1, Some("AF20055: throttled"));
        let windows = [&done, &failed];
        let at = |h: &str| DateTime::parse_from_rfc3339(h).unwrap().with_timezone(&Utc);
        assert_eq!(hour_state(&windows, at("2026-12-01T03:00:00Z")).0, "done");
        let (state, records, error) = hour_state(&windows, at("2026-12-01T05:00:00Z"));
        assert_eq!((state, records, error.as_deref()), ("failed", 10, Some("AF20055: throttled")));
        assert_eq!(hour_state(&windows, at("2026-12-02T01:00:00Z")).0, "missing");
    }
}
