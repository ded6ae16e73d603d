//! The API tokens page (`/settings/tokens`): create a personal API token for scripts (shown
//! once), list and revoke tokens. Server-function forms, so it works without JavaScript.

use leptos::either::Either;
use leptos::prelude::*;

use crate::auth::Role;
use crate::components::ErrorBanner;
use crate::dto::{ApiTokenInfo, ApiTokenPage, ApiTokenStatus, NewApiToken};
use crate::server::{list_api_tokens, signed_in_people, CreateApiToken, EndSessions, RevokeApiToken};

/// The API tokens page.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let page = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_tokens());
    view! {
        <section class="page tokens-page">
            <header class="page-header">
                <h1>"API tokens"</h1>
                <p class="subtitle">
                    "Personal tokens let your scripts call AOC's REST API as you: "
                    <code>"Authorization: Bearer aoc_pat_…"</code>
                    ". A token has at most your role, expires, and every use is recorded in the audit trail under your name."
                </p>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => Either::Left(view! { <TokenList page create revoke/> }),
                        Err(error) => Either::Right(view! { <ErrorBanner error/> }),
                    }
                })}
            </Transition>
        </section>
    }
}

fn roles_up_to(max: Role) -> Vec<Role> {
    [Role::Reader, Role::Analyst, Role::Admin].into_iter().filter(|r| *r <= max).collect()
}

#[component]
fn TokenList(
    page: ApiTokenPage,
    create: ServerAction<CreateApiToken>,
    revoke: ServerAction<RevokeApiToken>,
) -> impl IntoView {
    // A token created with JavaScript comes in the action's answer; without, through the page.
    let fresh = move || create.value().get().and_then(Result::ok).or_else(|| page.fresh.clone());
    let create_error = move || create.value().get().and_then(Result::err);
    let revoke_error = move || revoke.value().get().and_then(Result::err);
    let max_role = page.max_role;
    let show_owner = page.items.iter().any(|t| t.owner_subject != page.items[0].owner_subject);
    view! {
        {(!page.accepted).then(|| view! {
            <p class="notice" id="tokens-not-accepted">
                "Sign-in is disabled on this server, so AOC does not accept personal API tokens (everyone on loopback is the local administrator)."
            </p>
        })}
        {move || fresh().map(|t| view! { <FreshToken token=t/> })}
        {move || create_error().map(|error| view! { <ErrorBanner error/> })}
        {move || revoke_error().map(|error| view! { <ErrorBanner error/> })}
        <ActionForm action=create attr:id="token-form" attr:class="form-row">
            <label>"Name" <input type="text" name="name" required maxlength="100" placeholder="e.g. SIEM export script"/></label>
            <label>"Role"
                <select name="role">
                    {roles_up_to(max_role).into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == max_role>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Expires in"
                <select name="expires_in_days">
                    <option value="7">"7 days"</option>
                    <option value="30">"30 days"</option>
                    <option value="90" selected>"90 days"</option>
                    <option value="180">"180 days"</option>
                    <option value="366">"1 year"</option>
                </select>
            </label>
            <button type="submit" id="create-token">"Create token"</button>
        </ActionForm>
        <table class="data-table" id="token-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Token"</th>
                    {show_owner.then(|| view! { <th scope="col">"Owner"</th> })}
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {page.items.into_iter().map(|t| view! { <TokenRow token=t show_owner revoke/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn FreshToken(token: NewApiToken) -> impl IntoView {
    view! {
        <div class="notice notice-success" id="fresh-token" role="status">
            <p>{format!("Token “{}” created. Copy it now: AOC keeps only its hash and will not show it again.", token.info.name)}</p>
            <code id="new-token" class="secret">{token.token}</code>
        </div>
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[component]
fn TokenRow(token: ApiTokenInfo, show_owner: bool, revoke: ServerAction<RevokeApiToken>) -> impl IntoView {
    let active = token.status == ApiTokenStatus::Active;
    view! {
        <tr data-token-id=token.id data-status=token.status.as_str()>
            <td>{token.name}</td>
            <td><code>{format!("{}…", token.prefix)}</code></td>
            {show_owner.then(|| view! { <td>{token.owner_name}</td> })}
            <td>{token.role.as_str()}</td>
            <td><span class=format!("badge badge-{}", token.status.as_str())>{token.status.as_str()}</span></td>
            <td>{when(token.created_at)}</td>
            <td>{when(token.expires_at)}</td>
            <td>{token.last_used_at.map(when).unwrap_or_else(|| "never".into())}</td>
            <td>
                {active.then(|| view! {
                    <ActionForm action=revoke>
                        <input type="hidden" name="id" value=token.id.to_string()/>
                        <button type="submit" class="danger">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

/// The sessions page (`/settings/sessions`, administrators): who signed in lately, and ending a
/// person's sessions (optionally with their API tokens).
#[component]
pub fn SessionsPage() -> impl IntoView {
    let end = ServerAction::<EndSessions>::new();
    let people = Resource::new(move || end.version().get(), |_| signed_in_people());
    let end_error = move || end.value().get().and_then(Result::err);
    let ended = move || end.value().get().and_then(Result::ok);
    view! {
        <section class="page sessions-page">
            <header class="page-header">
                <h1>"Sessions"</h1>
                <p class="subtitle">
                    "People who signed in within the absolute session lifetime. Ending someone's sessions signs them out everywhere within seconds; they can sign in again if Entra still lets them."
                </p>
            </header>
            {move || end_error().map(|error| view! { <ErrorBanner error/> })}
            {move || ended().map(|e| view! {
                <p class="notice notice-success" role="status" id="sessions-ended">
                    {format!("Sessions of {} ended; {} API token(s) revoked.", e.subject, e.tokens_revoked)}
                </p>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match people.await {
                        Ok(people) => Either::Left(view! {
                            <table class="data-table" id="sessions-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Person"</th>
                                        <th scope="col">"Object id"</th>
                                        <th scope="col">"Last sign-in"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {people.into_iter().map(|p| {
                                        let (row_subject, shown_subject) = (p.subject.clone(), p.subject.clone());
                                        let state = if p.active { "signed in" } else if p.ended_at.is_some() { "ended" } else { "signed out" };
                                        view! {
                                        <tr data-subject=row_subject data-state=state>
                                            <td>{p.name}</td>
                                            <td><code>{shown_subject}</code></td>
                                            <td>{when(p.last_sign_in)}</td>
                                            <td>{state}</td>
                                            <td>
                                                <ActionForm action=end>
                                                    <input type="hidden" name="subject" value=p.subject/>
                                                    <label><input type="checkbox" name="revoke_tokens" value="on"/>" and revoke API tokens"</label>
                                                    <button type="submit" class="danger">"End sessions"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                        }),
                        Err(error) => Either::Right(view! { <ErrorBanner error/> }),
                    }
                })}
            </Transition>
        </section>
    }
}
