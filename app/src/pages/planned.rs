//! Pages whose features are not built yet. They say so plainly instead of showing empty lists
//! that would suggest the feature works.

use leptos::prelude::*;

#[component]
fn NotYetAvailable(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <section class="page">
            <header class="page-header"><h1>{title}</h1></header>
            <div class="notice" role="status">
                <p><strong>"Not available yet. "</strong>{what}</p>
            </div>
        </section>
    }
}

/// Alerts raised by detection rules.
#[component]
pub fn AlertsPage() -> impl IntoView {
    view! { <NotYetAvailable title="Alerts" what="Alerting on dangerous changes arrives with the detection rules engine."/> }
}

/// Detection rules.
#[component]
pub fn RulesPage() -> impl IntoView {
    view! { <NotYetAvailable title="Rules" what="Detection rules (native and Sigma) arrive with the rules engine."/> }
}
