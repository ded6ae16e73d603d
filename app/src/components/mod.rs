//! The document shell and the app frame: navigation, routes, and the hydration marker that
//! end-to-end tests wait for; the shared components live in [`ui`].

pub mod ui;

pub use ui::{CopyButton, FacetItem, FacetList, FacetSearchBox, JsonTree, SeverityBadge, Toolbar};

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode, StaticSegment};

use crate::error::AppError;
use crate::pages::{
    AlertDetailPage, AlertsPage, AuditPage, DestinationsPage, EventDetailPage, EventsPage, InvestigatePage,
    RuleEditorPage, RulesPage, SessionsPage, SettingsPage, SourcesPage, TokensPage, WatchlistsPage,
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The Content-Security-Policy of a page: scripts only from AOC itself and the inline hydration
/// scripts that carry this request's nonce (Leptos adds it to every script it writes), WebAssembly
/// compilation for the hydrated app, no plugins, no framing, no foreign form targets. Inline
/// `style` attributes (the histogram's bar heights) are allowed; style elements are not.
#[cfg(feature = "ssr")]
fn set_page_security_policy() {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let scripts = match leptos::nonce::use_nonce() {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_string(),
    };
    let policy = format!(
        "default-src 'self'; script-src {scripts}; style-src 'self'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The application: navigation and pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Pages with data render in SsrMode::Async: the server waits for their resources and sends
    // complete HTML, so they work without JavaScript. Effects run only in the browser, so this
    // flips once hydration has happened.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/aoc.css"/>
        <Title text="AOC · Admin Operations Center"/>
        <Router>
            <div class="frame" id="app" data-hydrated=move || hydrated.get().to_string()>
                <nav class="sidebar" aria-label="Main">
                    <A href="/events" attr:class="brand">
                        <span class="brand-mark">"AOC"</span>
                        <span class="brand-name">"Admin Operations Center"</span>
                    </A>
                    <SignedInAs/>
                    <ul>
                        <li><A href="/events">"Events"</A></li>
                        <li><A href="/watchlists">"Watchlists"</A></li>
                        <li><A href="/alerts">"Alerts"</A></li>
                        <li><A href="/rules">"Rules"</A></li>
                        <li><A href="/sources">"Sources"</A></li>
                        <li><A href="/audit">"Audit trail"</A></li>
                        <li><A href="/settings">"Settings"</A></li>
                        <AdminLinks/>
                    </ul>
                </nav>
                <main class="content">
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=StaticSegment("events") view=EventsPage ssr=SsrMode::Async/>
                        <Route path=path!("/events/:id") view=EventDetailPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("investigate") view=InvestigatePage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("watchlists") view=WatchlistsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("alerts") view=AlertsPage ssr=SsrMode::Async/>
                        <Route path=path!("/alerts/:id") view=AlertDetailPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("rules") view=RulesPage ssr=SsrMode::Async/>
                        <Route path=path!("/rules/:id") view=RuleEditorPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("sources") view=SourcesPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("audit") view=AuditPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("settings") view=SettingsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("destinations") view=DestinationsPage ssr=SsrMode::Async/>
                        <Route path=path!("/settings/tokens") view=TokensPage ssr=SsrMode::Async/>
                        <Route path=path!("/settings/sessions") view=SessionsPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Navigation entries only administrators can use.
#[component]
fn AdminLinks() -> impl IntoView {
    use crate::auth::Permission;
    let info = Resource::new(|| (), |_| crate::server::get_server_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                info.await.ok().filter(|i| i.caller.can(Permission::ManageSettings)).map(|_| view! {
                    <li><A href="/destinations">"Destinations"</A></li>
                })
            })}
        </Suspense>
    }
}

/// Who is signed in, their AOC role, and the Sign out control (a plain form, so it works before
/// hydration and without JavaScript).
#[component]
fn SignedInAs() -> impl IntoView {
    use crate::auth::AuthMethod;
    let info = Resource::new(|| (), |_| crate::server::get_server_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                info.await.ok().map(|info| {
                    let caller = info.caller;
                    let session = caller.method == AuthMethod::Session;
                    view! {
                        <div class="signed-in" id="signed-in" data-role=caller.role.as_str()>
                            <span class="signed-in-name" id="signed-in-name">{caller.display_name.clone()}</span>
                            <span class="signed-in-role" id="signed-in-role">{caller.role.as_str()}</span>
                            {session.then(|| view! {
                                <form method="post" action="/auth/logout" class="sign-out">
                                    <button type="submit" id="sign-out">"Sign out"</button>
                                </form>
                            })}
                        </div>
                    }
                })
            })}
        </Suspense>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="page">
            <h1>"Not found"</h1>
            <p>"There is no page at this address."</p>
        </section>
    }
}

/// An error from the server, shown in place of the content that failed to load.
#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    let code = error.code.as_str();
    view! {
        <div class="error-banner" role="alert" data-code=code>
            <strong>"Could not load: "</strong>
            {error.message}
        </div>
    }
}
