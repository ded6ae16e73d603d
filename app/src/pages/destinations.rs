//! The Destinations page (`/destinations`, administrators): where AOC forwards events and alert
//! notices, each destination's queue (size, age of the oldest item, delivery rate), its parked
//! items with the far end's answer and a Retry, a Send test that shows the far end's answer, and
//! add / change / remove forms per kind. Credentials are write-only: a form can replace or remove
//! one, the page never shows it. Every form is a plain post to a server function, so the page
//! works before hydration (the last test's answer is part of the page).

use leptos::prelude::*;

use crate::components::ErrorBanner;
use crate::dto::{DestinationRow, DestinationsPage as PageData};
use crate::server::{
    destination_overview, DeleteDestination, RetryParkedItems, SaveDestination, SetDestinationEnabled, TestDestination,
};

/// The kinds a form can add: (key, label, what the credential is).
const KINDS: &[(&str, &str, &str)] = &[
    ("webhook", "HTTPS webhook", "Signing secret (whsec_…, optional)"),
    ("splunk_hec", "Splunk HTTP Event Collector", "HEC token"),
    ("elasticsearch", "Elasticsearch / OpenSearch", "API key, or user:password (optional)"),
    ("syslog", "Syslog (RFC 5424 over TCP or TLS)", ""),
    ("sentinel", "Microsoft Sentinel (Logs Ingestion API)", "App client secret"),
    ("teams", "Microsoft Teams (alert notices)", "Incoming-webhook URL"),
    ("slack", "Slack (alert notices)", "Incoming-webhook URL"),
    ("email", "E-mail over SMTP (alert notices)", "SMTP password (optional)"),
];

const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _, _)| *k == kind).map(|(_, label, _)| *label).unwrap_or("destination")
}

/// Kinds that receive alert notices only.
fn notice_kind(kind: &str) -> bool {
    matches!(kind, "teams" | "slack" | "email")
}

/// Kinds whose URL is their credential.
fn url_secret_kind(kind: &str) -> bool {
    matches!(kind, "teams" | "slack")
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "42 s", "5 min", "3 h 10 min".
fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

/// What a destination receives, in words.
fn receives_text(d: &DestinationRow) -> String {
    let mut text = match d.receives.as_str() {
        "all" => "every new event".to_string(),
        "min_severity" => format!("events of severity {} or worse", d.min_severity),
        "filter" => {
            let parts: Vec<String> = d.filter.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let mut t = format!("events where {}", parts.join(" and "));
            if d.min_severity != "info" {
                t.push_str(&format!(", severity {} or worse", d.min_severity));
            }
            t
        }
        "alerts" => format!("alerts of severity {} or worse", d.min_severity),
        other => other.to_string(),
    };
    if d.receives == "alerts" && !d.rules.is_empty() {
        text.push_str(&format!(" from the rules {}", d.rules.join(", ")));
    }
    text
}

/// The Destinations page.
#[component]
pub fn DestinationsPage() -> impl IntoView {
    let save = ServerAction::<SaveDestination>::new();
    let toggle = ServerAction::<SetDestinationEnabled>::new();
    let remove = ServerAction::<DeleteDestination>::new();
    let test = ServerAction::<TestDestination>::new();
    let retry = ServerAction::<RetryParkedItems>::new();
    let page = Resource::new(
        move || {
            (
                save.version().get(),
                toggle.version().get(),
                remove.version().get(),
                test.version().get(),
                retry.version().get(),
            )
        },
        |_| destination_overview(),
    );
    let errors = move || {
        [
            save.value().get().and_then(|r| r.err()),
            toggle.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(|r| r.err()),
            test.value().get().and_then(|r| r.err()),
            retry.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
    };
    let retried = move || retry.value().get().and_then(|r| r.ok());
    view! {
        <section class="page destinations-page">
            <header class="page-header">
                <h1>"Destinations"</h1>
                <p class="subtitle">
                    "Where AOC forwards events (a SIEM) and alert notices (Teams, Slack). Each record enters a destination's queue when it is stored and leaves it once the far end accepted it; a record the far end refuses for good is parked here with its answer."
                </p>
            </header>
            <div id="destination-errors">
                {move || errors().into_iter().map(|e| view! {
                    <p class="error-banner" role="alert">{e.message}</p>
                }).collect_view()}
            </div>
            {move || retried().map(|n| view! {
                <p class="notice notice-success" role="status" id="destination-retried">{format!("{n} parked item(s) queued again.")}</p>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading destinations…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(data) => view! { <Destinations data save toggle remove test retry/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Destinations(
    data: PageData,
    save: ServerAction<SaveDestination>,
    toggle: ServerAction<SetDestinationEnabled>,
    remove: ServerAction<DeleteDestination>,
    test: ServerAction<TestDestination>,
    retry: ServerAction<RetryParkedItems>,
) -> impl IntoView {
    let secrets = data.can_store_secrets;
    view! {
        {(!secrets).then(|| view! {
            <p class="notice" id="destinations-no-key">
                "AOC_ENCRYPTION_KEY is not set, so credentials cannot be stored: destinations that need a token, secret or webhook URL cannot be added until it is."
            </p>
        })}
        {if data.destinations.is_empty() {
            view! { <div class="empty-state" id="destinations-empty"><p>"No destinations yet: add one below."</p></div> }.into_any()
        } else {
            view! {
                <table class="data-table" id="destinations-table">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Endpoint"</th>
                            <th scope="col">"Receives"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Queued"</th>
                            <th scope="col">"Oldest"</th>
                            <th scope="col">"Rate"</th>
                            <th scope="col">"Delivered"</th>
                            <th scope="col">"Parked"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {data.destinations.iter().map(|d| {
                            let anchor = format!("#destination-{}", d.id);
                            view! {
                                <tr data-destination=d.name.clone() data-enabled=d.enabled.to_string()>
                                    <td><a href=anchor>{d.name.clone()}</a></td>
                                    <td>{kind_label(&d.kind)}</td>
                                    <td><code>{d.endpoint.clone()}</code></td>
                                    <td>{receives_text(d)}</td>
                                    <td>{if d.enabled { "on" } else { "off" }}</td>
                                    <td class="num" data-metric="pending">{d.pending}</td>
                                    <td class="num" data-metric="oldest">{d.oldest_age_seconds.map(age).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num" data-metric="rate">{d.rate_per_minute.map(|r| format!("{r:.1}/min")).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num" data-metric="delivered">{d.delivered_total}</td>
                                    <td class="num" data-metric="parked">{d.parked}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {data.destinations.into_iter().map(|d| view! { <DestinationCard d save toggle remove test retry/> }).collect_view()}
        <section class="destination-new" aria-labelledby="destination-new-heading">
            <h2 id="destination-new-heading">"Add a destination"</h2>
            {KINDS.iter().map(|(kind, label, _)| view! {
                <details class="destination-kind" id=format!("add-{kind}")>
                    <summary>{*label}</summary>
                    <ActionForm action=save attr:id=format!("new-{kind}") attr:class="destination-form">
                        <DestinationFields kind=kind.to_string() current=None/>
                        <button type="submit">{format!("Add {label}")}</button>
                    </ActionForm>
                </details>
            }).collect_view()}
        </section>
    }
}

#[component]
fn DestinationCard(
    d: DestinationRow,
    save: ServerAction<SaveDestination>,
    toggle: ServerAction<SetDestinationEnabled>,
    remove: ServerAction<DeleteDestination>,
    test: ServerAction<TestDestination>,
    retry: ServerAction<RetryParkedItems>,
) -> impl IntoView {
    let id = d.id.to_string();
    let environment = d.origin == "environment";
    let heading = format!("destination-{}-heading", d.id);
    let section_id = format!("destination-{}", d.id);
    let name = d.name.clone();
    let title = format!("({})", kind_label(&d.kind));
    let settings = (!d.options.is_empty())
        .then(|| d.options.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "));
    let queue = format!(
        "{} waiting{}; {} parked",
        d.pending,
        d.oldest_age_seconds.map(|s| format!(", the oldest for {}", age(s))).unwrap_or_default(),
        d.parked
    );
    let delivered = format!(
        "{} in all{}{}",
        d.delivered_total,
        d.rate_per_minute.map(|r| format!(", {r:.1} per minute over the last 5 minutes")).unwrap_or_default(),
        d.last_delivered_at.map(|t| format!(", last at {}", when(t))).unwrap_or_default()
    );
    let last_error = d
        .last_error
        .clone()
        .map(|e| format!("{}{}", d.last_error_at.map(|t| format!("{}: ", when(t))).unwrap_or_default(), e));
    let toggle_form = (!environment).then(|| {
        let (id, enabled) = (id.clone(), (!d.enabled).to_string());
        let label = if d.enabled { "Turn off" } else { "Turn on" };
        view! {
            <ActionForm action=toggle attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="enabled" value=enabled/>
                <button type="submit" data-action="toggle">{label}</button>
            </ActionForm>
        }
    });
    let test_result = d.last_test.clone().map(|t| {
        let outcome = if t.delivered { "Delivered" } else { "Not delivered" };
        let status = t.status.filter(|s| *s > 0).map(|s| format!("status {s}")).unwrap_or_else(|| "no status".into());
        let class = if t.delivered { "test-result notice notice-success" } else { "test-result error-banner" };
        let headline = format!("Send test at {}: {outcome} ({status})", when(t.at));
        let answer = if t.answer.is_empty() { "(empty answer)".to_string() } else { t.answer.clone() };
        view! {
            <div class=class role="status" data-delivered=t.delivered.to_string()>
                <p><strong>{headline}</strong></p>
                <pre class="answer">{answer}</pre>
            </div>
        }
    });
    let parked = (d.parked > 0).then(|| {
        let rows = d
            .parked_items
            .iter()
            .map(|p| {
                let (id, item, row_item) = (id.clone(), p.id.to_string(), p.id.to_string());
                view! {
                    <tr data-item=row_item>
                        <td>{p.item.clone()}</td>
                        <td>{when(p.queued_at)}</td>
                        <td class="num">{p.attempts}</td>
                        <td><code class="answer">{p.reason.clone().unwrap_or_default()}</code></td>
                        <td>
                            <ActionForm action=retry attr:class="inline-form">
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="item" value=item/>
                                <button type="submit" data-action="retry">"Retry"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        let more = (d.parked > d.parked_items.len() as i64)
            .then(|| format!("The oldest {} of {} are shown.", d.parked_items.len(), d.parked));
        let all = format!("Retry all {} parked", d.parked);
        let id = id.clone();
        view! {
            <h3>"Parked items"</h3>
            <table class="data-table parked-items">
                <thead>
                    <tr>
                        <th scope="col">"Item"</th>
                        <th scope="col">"Queued"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"The far end's answer"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {more.map(|m| view! { <p class="muted">{m}</p> })}
            <ActionForm action=retry attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" data-action="retry-all">{all}</button>
            </ActionForm>
        }
    });
    let change = if environment {
        view! { <p class="muted">"Configured by SIEM_ENABLED and SIEM_WEBHOOK_URL in AOC's environment: change it there."</p> }
            .into_any()
    } else {
        let (kind, current, id_edit, id_delete) = (d.kind.clone(), d.clone(), id.clone(), id.clone());
        view! {
            <details class="destination-edit">
                <summary>"Change"</summary>
                <ActionForm action=save attr:class="destination-form">
                    <input type="hidden" name="id" value=id_edit/>
                    <DestinationFields kind current=Some(current)/>
                    <button type="submit" data-action="save">"Save"</button>
                </ActionForm>
            </details>
            <ActionForm action=remove attr:class="inline-form">
                <input type="hidden" name="id" value=id_delete/>
                <button type="submit" class="danger" data-action="delete">"Delete this destination"</button>
            </ActionForm>
        }
        .into_any()
    };
    let credential = if d.has_secret { "stored (write-only)" } else { "none" };
    let receives = receives_text(&d);
    let endpoint = d.endpoint.clone();
    let (card_name, labelled_by) = (name.clone(), heading.clone());
    view! {
        <section class="destination-card" id=section_id data-destination=card_name aria-labelledby=labelled_by>
            <h2 id=heading>{name}" "<span class="muted">{title}</span></h2>
            <dl class="facts">
                <dt>"Endpoint"</dt><dd><code>{endpoint}</code></dd>
                <dt>"Credential"</dt><dd>{credential}</dd>
                <dt>"Receives"</dt><dd>{receives}</dd>
                {settings.map(|s| view! { <dt>"Settings"</dt><dd>{s}</dd> })}
                <dt>"Queue"</dt><dd data-metric="queue">{queue}</dd>
                <dt>"Delivered"</dt><dd>{delivered}</dd>
                {last_error.map(|e| view! { <dt>"Last error"</dt><dd class="error-text">{e}</dd> })}
            </dl>
            <div class="destination-actions">
                <ActionForm action=test attr:class="inline-form">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" data-action="test">"Send test"</button>
                </ActionForm>
                {toggle_form}
            </div>
            {test_result}
            {parked}
            {change}
        </section>
    }
}

fn option_value(current: &Option<DestinationRow>, key: &str) -> String {
    current.as_ref().and_then(|d| d.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())).unwrap_or_default()
}

fn filter_value(current: &Option<DestinationRow>, key: &str) -> String {
    current.as_ref().and_then(|d| d.filter.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())).unwrap_or_default()
}

/// The fields of a destination of `kind`, filled from `current` when changing one.
#[component]
fn DestinationFields(kind: String, current: Option<DestinationRow>) -> impl IntoView {
    let creating = current.is_none();
    let notice = notice_kind(&kind);
    let credential = KINDS.iter().find(|(k, _, _)| *k == kind).map(|(_, _, c)| *c).unwrap_or("");
    let name = current.as_ref().map(|d| d.name.clone()).unwrap_or_default();
    let endpoint = current.as_ref().map(|d| d.endpoint.clone()).unwrap_or_default();
    let enabled = current.as_ref().is_none_or(|d| d.enabled);
    let has_secret = current.as_ref().is_some_and(|d| d.has_secret);
    let receives = current.as_ref().map(|d| d.receives.clone()).unwrap_or_else(|| {
        if notice {
            "alerts".into()
        } else {
            "all".into()
        }
    });
    let min_severity = current.as_ref().map(|d| d.min_severity.clone()).unwrap_or_else(|| {
        if notice {
            "medium".into()
        } else {
            "info".into()
        }
    });
    let rules = current.as_ref().map(|d| d.rules.join(", ")).unwrap_or_default();
    let format = current.as_ref().map(|d| d.format.clone()).unwrap_or_else(|| "json".into());
    let batch = current.as_ref().map(|d| d.batch_size.to_string()).unwrap_or_else(|| "500".into());
    let endpoint_hint = match kind.as_str() {
        "splunk_hec" => "https://splunk.example:8088",
        "elasticsearch" => "https://es.example:9200",
        "syslog" => "tls://syslog.example:6514 or tcp://syslog.example:514",
        "sentinel" => "https://my-dce.westeurope-1.ingest.monitor.azure.com",
        "email" => "smtp://mail.example:587",
        _ => "https://siem.example/aoc",
    };
    let secret_placeholder = if has_secret { "stored: leave empty to keep" } else { "" };
    let secret_required = creating && matches!(kind.as_str(), "splunk_hec" | "sentinel" | "teams" | "slack");
    let tls_mode = option_value(&current, "tls");
    let text_option = |key: &'static str, label: &'static str, hint: &'static str| {
        let value = option_value(&current, key);
        view! { <label>{label}" "<input type="text" name=format!("opt_{key}") value=value placeholder=hint maxlength="255"/></label> }
    };
    view! {
        <input type="hidden" name="kind" value=kind.clone()/>
        <label>"Name "<input type="text" name="name" value=name required maxlength="100"/></label>
        {(!url_secret_kind(&kind)).then(|| view! {
            <label>"Endpoint "<input type="text" name="endpoint" value=endpoint required placeholder=endpoint_hint maxlength="2000"/></label>
        })}
        {(!credential.is_empty()).then(|| view! {
            <label>{credential}" "
                <input type="password" name="secret" autocomplete="off" placeholder=secret_placeholder required=secret_required maxlength="4096"/>
            </label>
        })}
        {(has_secret && !url_secret_kind(&kind) && !matches!(kind.as_str(), "splunk_hec" | "sentinel")).then(|| view! {
            <label class="check"><input type="checkbox" name="clear_secret" value="on"/>" remove the stored credential"</label>
        })}
        {match kind.as_str() {
            "splunk_hec" => view! {
                {text_option("index", "Index", "main")}
                {text_option("host", "Host field", "aoc")}
                <label class="check"><input type="checkbox" name="opt_ack" value="on" checked=option_value(&current, "ack") == "true"/>" indexer acknowledgement"</label>
            }.into_any(),
            "elasticsearch" => text_option("index", "Index", "aoc-events").into_any(),
            "syslog" => view! {
                {text_option("host", "HOSTNAME field", "aoc")}
                {text_option("ca_file", "CA file for tls:// (PEM path on the AOC server; default: public roots)", "/etc/ssl/certs/siem-ca.pem")}
                <label>"Message body "
                    <select name="format">
                        <option value="json" selected=format == "json">"JSON"</option>
                        <option value="cef" selected=format == "cef">"CEF"</option>
                    </select>
                </label>
            }.into_any(),
            "sentinel" => view! {
                {text_option("dcr_immutable_id", "DCR immutable id", "dcr-…")}
                {text_option("stream", "Stream", "Custom-AOC_CL")}
                {text_option("tenant_id", "Entra tenant id", "")}
                {text_option("client_id", "App (client) id", "")}
                {text_option("authority", "Authority (optional)", "https://login.microsoftonline.com")}
            }.into_any(),
            "email" => view! {
                {text_option("from", "From", "AOC <aoc@contoso.example>")}
                <label>"To (comma-separated) "
                    <input type="text" name="opt_to" value=option_value(&current, "to") required placeholder="soc@contoso.example" maxlength="2000"/>
                </label>
                <label>"Encryption "
                    <select name="opt_tls">
                        <option value="starttls" selected={tls_mode.is_empty() || tls_mode == "starttls"}>"STARTTLS (required)"</option>
                        <option value="tls" selected=tls_mode == "tls">"implicit TLS (port 465)"</option>
                        <option value="none" selected=tls_mode == "none">"none (trusted relay only)"</option>
                    </select>
                </label>
                {text_option("username", "User name (optional)", "")}
                {text_option("ca_file", "CA file (PEM path on the AOC server; default: public roots)", "")}
            }.into_any(),
            _ => ().into_any(),
        }}
        {if notice {
            view! {
                <input type="hidden" name="receives" value="alerts"/>
            }.into_any()
        } else {
            view! {
                <label>"Receives "
                    <select name="receives">
                        <option value="all" selected=receives == "all">"every new event"</option>
                        <option value="min_severity" selected=receives == "min_severity">"events of a minimum severity"</option>
                        <option value="filter" selected=receives == "filter">"events matching a filter"</option>
                        <option value="alerts" selected=receives == "alerts">"alerts only"</option>
                    </select>
                </label>
            }.into_any()
        }}
        <label>"Minimum severity "
            <select name="min_severity">
                {SEVERITIES.iter().map(|s| view! { <option value=*s selected=*s == min_severity>{*s}</option> }).collect_view()}
            </select>
        </label>
        {(!notice).then(|| view! {
            <fieldset class="filter-fields">
                <legend>"Filter (when receiving events matching a filter; every field given must match)"</legend>
                {[("tenant", "Tenant"), ("source", "Source"), ("service", "Service"), ("operation", "Operation"), ("result", "Result"), ("actor", "Actor (UPN)")]
                    .into_iter().map(|(key, label)| {
                        let value = filter_value(&current, key);
                        view! { <label>{label}" "<input type="text" name=format!("filter_{key}") value=value maxlength="512"/></label> }
                    }).collect_view()}
            </fieldset>
            <label>"Batch size "<input type="number" name="batch_size" value=batch.clone() min="1" max="5000"/></label>
        })}
        <label class="wide">"Only alerts of these rules (ids or names, comma-separated; empty: every rule) "
            <input type="text" name="rules" value=rules maxlength="4000"/>
        </label>
        {creating.then(|| view! {
            <label>"Also queue what was stored since (UTC, optional) "<input type="datetime-local" name="backfill_from"/></label>
        })}
        <label class="check"><input type="checkbox" name="enabled" value="on" checked=enabled/>" deliver (on)"</label>
    }
}
