//! The small component set every page uses: severity badge, facet list, toolbar, and the
//! collapsible JSON tree. Styled from `style/main.css` (design tokens, dark theme). Everything
//! they show may come from a tenant, so it is rendered as text only.

use leptos::prelude::*;
use serde_json::Value;

/// A severity as a coloured badge.
#[component]
pub fn SeverityBadge(#[prop(into)] level: String) -> impl IntoView {
    view! { <span class=format!("severity severity-{level}")>{level.clone()}</span> }
}

/// A button that copies `text` to the clipboard and says so. It needs JavaScript, so the style
/// sheet hides it until the page is hydrated.
#[component]
pub fn CopyButton(text: String, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let label = label.unwrap_or_else(|| "copy".into());
    let title = format!("{label} (to the clipboard)");
    view! {
        <button type="button" class="copy-button" title=title
            on:click=move |_| {
                copy_to_clipboard(&text);
                set_copied.set(true);
            }>
            {move || if copied.get() { "copied".to_string() } else { label.clone() }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    // The promise settles on its own; a refusal (no permission) leaves the clipboard as it was.
    let _ = window().navigator().clipboard().write_text(text);
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

/// One value of a facet list: its count, the address that filters by it and, when it can be
/// expressed, the address that excludes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetItem {
    pub value: String,
    /// Shown instead of the value when set (an application's name for its id).
    pub label: Option<String>,
    pub count: u64,
    pub filter_href: String,
    pub exclude_href: Option<String>,
    /// The value is the one chosen (its link then removes the choice).
    pub active: bool,
}

/// The search box under a facet list ("more": search within the facet's values), a plain GET
/// form that keeps the page's filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetSearchBox {
    /// The facet's parameter name (`actor`, …).
    pub field: &'static str,
    /// The page's filter, as hidden fields.
    pub hidden: Vec<(&'static str, String)>,
    /// The text searched, when the list shows a search's values.
    pub searching: Option<String>,
    /// The page without the search (the facet's top values again).
    pub clear_href: String,
}

/// A titled list of values with counts, each a link that filters by it and a button-like link
/// that excludes it (Kibana's field list), with an optional search within its values.
#[component]
pub fn FacetList(
    id: String,
    title: &'static str,
    items: Vec<FacetItem>,
    #[prop(optional)] search: Option<FacetSearchBox>,
) -> impl IntoView {
    let heading = format!("{id}-heading");
    let labelled_by = heading.clone();
    let search_box = search.map(|s| {
        let input_id = format!("{id}-search");
        let label_for = input_id.clone();
        let label = format!("Search the {} values", title.to_lowercase());
        let form_label = label.clone();
        let heading = s.searching.as_ref().map(|text| format!("Containing “{text}”"));
        let clear_href = s.clear_href.clone();
        view! {
            {heading.map(|h| view! {
                <p class="facet-searching">{h}" · "<a href=clear_href class="facet-clear">"top values"</a></p>
            })}
            <form method="get" action="/events" class="facet-search" role="search" aria-label=form_label>
                {s.hidden.into_iter().map(|(k, v)| view! { <input type="hidden" name=k value=v/> }).collect_view()}
                <input type="hidden" name="facet" value=s.field/>
                <label class="visually-hidden" for=label_for>{label}</label>
                <input type="search" name="facet_q" id=input_id value=s.searching.unwrap_or_default() placeholder="More values…" maxlength="200"/>
                <button type="submit" class="facet-search-button">"Search"</button>
            </form>
        }
    });
    view! {
        <section class="facet" id=id aria-labelledby=labelled_by>
            <h3 id=heading>{title}</h3>
            {if items.is_empty() {
                view! { <p class="muted facet-empty">"No values"</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {items.into_iter().map(|item| {
                            let label = if item.active { format!("Remove the filter {title} = {}", item.value) } else { format!("Filter by {title} = {}", item.value) };
                            let exclude_label = format!("Exclude {title} = {}", item.value);
                            let shown = match &item.label {
                                Some(name) => name.clone(),
                                None if item.value.is_empty() => "(empty)".to_string(),
                                None => item.value.clone(),
                            };
                            view! {
                                <li class:active=item.active>
                                    <a class="facet-value" href=item.filter_href aria-label=label title=item.value.clone()>{shown}</a>
                                    <span class="facet-count">{item.count}</span>
                                    {item.exclude_href.map(|href| view! {
                                        <a class="facet-exclude" href=href aria-label=exclude_label.clone() title=exclude_label>"−"</a>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {search_box}
        </section>
    }
}

/// A row of actions above a list.
#[component]
pub fn Toolbar(#[prop(optional)] label: &'static str, children: Children) -> impl IntoView {
    view! { <div class="toolbar" role="toolbar" aria-label=label>{children()}</div> }
}

/// Builds the links a JSON tree offers on a scalar: `(filter, exclude)` addresses for `path`.
pub type ValueLinks = fn(path: &str, value: &str) -> Option<(String, String)>;

/// A JSON value as nested `details`/`summary` elements (collapsible without JavaScript), with
/// "filter" and "exclude" links on scalars that `links` can express as a query.
#[component]
pub fn JsonTree(value: Value, links: ValueLinks) -> impl IntoView {
    view! { <div class="json-tree" id="event-raw-tree">{json_node(String::new(), None, value, links, 0)}</div> }
}

fn json_node(path: String, key: Option<String>, value: Value, links: ValueLinks, depth: usize) -> AnyView {
    let key_view = key.clone().map(|k| view! { <span class="json-key">{k}</span>": " });
    // Deeper than this is shown as compact text (records nest a few levels; a hostile one may not).
    let value =
        if depth > 24 && (value.is_object() || value.is_array()) { Value::String(value.to_string()) } else { value };
    match value {
        Value::Object(map) => {
            let count = format!("{{{}}}", map.len());
            let children: Vec<AnyView> = map
                .into_iter()
                .map(|(k, v)| {
                    let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    json_node(child, Some(k), v, links, depth + 1)
                })
                .collect();
            view! {
                <details open=depth < 2>
                    <summary>{key_view}<span class="muted">{count}</span></summary>
                    <ul>{children.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
                </details>
            }
            .into_any()
        }
        Value::Array(items) => {
            let count = format!("[{}]", items.len());
            let children: Vec<AnyView> = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| json_node(path.clone(), Some(i.to_string()), v, links, depth + 1))
                .collect();
            view! {
                <details open=depth < 2>
                    <summary>{key_view}<span class="muted">{count}</span></summary>
                    <ul>{children.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
                </details>
            }
            .into_any()
        }
        scalar => {
            let text = match &scalar {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let class = match &scalar {
                Value::String(_) => "json-string",
                Value::Number(_) => "json-number",
                _ => "json-literal",
            };
            let actions = (!text.is_empty()).then(|| links(&path, &text)).flatten().map(|(filter, exclude)| {
                view! {
                    " "<a class="json-filter" href=filter title="Filter by this value">"filter"</a>
                    " "<a class="json-exclude" href=exclude title="Exclude this value">"exclude"</a>
                }
            });
            let copy = text.clone();
            view! {
                <span class="json-scalar">{key_view}<span class=class>{text}</span>{actions}" "<CopyButton text=copy/></span>
            }
            .into_any()
        }
    }
}
