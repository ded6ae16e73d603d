//! The document shell and the app frame: navigation, routes, and the hydration marker that
//! end-to-end tests wait for.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode, StaticSegment};

use crate::error::AppError;
use crate::pages::{AlertsPage, EventDetailPage, EventsPage, RulesPage, SettingsPage, SourcesPage};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
                    <ul>
                        <li><A href="/events">"Events"</A></li>
                        <li><A href="/alerts">"Alerts"</A></li>
                        <li><A href="/rules">"Rules"</A></li>
                        <li><A href="/sources">"Sources"</A></li>
                        <li><A href="/settings">"Settings"</A></li>
                    </ul>
                </nav>
                <main class="content">
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=StaticSegment("events") view=EventsPage ssr=SsrMode::Async/>
                        <Route path=path!("/events/:id") view=EventDetailPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("alerts") view=AlertsPage/>
                        <Route path=StaticSegment("rules") view=RulesPage/>
                        <Route path=StaticSegment("sources") view=SourcesPage/>
                        <Route path=StaticSegment("settings") view=SettingsPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
        </Router>
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
