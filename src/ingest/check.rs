//! Test connection: read calls only — a fresh token for each API the tenant's sources use, the
//! Management Activity API's subscription list, and one Graph page of one record per Graph
//! source — each reported with what works and, for what fails, the fix (the AADSTS / AF code
//! mapped to the permission or setting to change). Nothing is started, stored or changed.

use app::connection::{ConnectionCheck, ConnectionTest};

use super::collector::Engine;
use super::connector::{Api, Connector};
use super::error::IngestError;
use super::graph_client::resource;
use super::management::CONTENT_TYPES;
use crate::normalize::Source;

/// The fix an error carries, if any.
fn fix_of(e: &IngestError) -> Option<String> {
    match e {
        IngestError::Auth { hint, .. } | IngestError::Permission { hint, .. } => Some(hint.clone()),
        IngestError::Unlicensed { .. } => Some(
            "license the tenant for it (sign-in logs need Microsoft Entra ID P1 or P2), or turn the source off".into(),
        ),
        IngestError::Throttled(_) => Some("Microsoft is throttling the app: try again in a few minutes".into()),
        IngestError::UntrustedLink(_) => Some("check the tenant's CLOUD and the configured base URLs".into()),
        _ => None,
    }
}

fn check(step: String, source: Option<Source>, result: Result<String, IngestError>) -> ConnectionCheck {
    let source = source.map(|s| s.as_str().to_string());
    match result {
        Ok(detail) => ConnectionCheck { step, source, ok: true, detail, fix: None },
        Err(e) => ConnectionCheck { step, source, ok: false, fix: fix_of(&e), detail: e.to_string() },
    }
}

impl Engine {
    /// Tests `c` with read calls only; see the module documentation.
    pub async fn test_connection(&self, c: &Connector) -> ConnectionTest {
        let mut checks = Vec::new();
        let unified = c.sources.contains(&Source::Unified);
        let graph_sources: Vec<Source> = c.sources.iter().copied().filter(|s| *s != Source::Unified).collect();
        let mut apis = Vec::new();
        if unified {
            apis.push((Api::Management, "Office 365 Management Activity API"));
        }
        if !graph_sources.is_empty() {
            apis.push((Api::Graph, "Microsoft Graph"));
        }
        for (api, name) in apis {
            // A fresh token: a cached one would hide a credential changed since.
            self.api.tokens.invalidate(c, api);
            let result =
                self.api.tokens.token(c, api).await.map(|_| format!("a token for {} was issued", c.resource(api)));
            let failed = result.is_err();
            checks.push(check(format!("token for the {name}"), None, result));
            if failed {
                // Without a token every call of this API fails the same way.
                continue;
            }
            match api {
                Api::Management => {
                    let result = self.management.list_subscriptions(c).await.map(|entries| {
                        let enabled: Vec<&str> = CONTENT_TYPES
                            .iter()
                            .copied()
                            .filter(|ct| {
                                entries
                                    .iter()
                                    .any(|e| e.content_type == *ct && e.status.eq_ignore_ascii_case("enabled"))
                            })
                            .collect();
                        if enabled.len() == CONTENT_TYPES.len() {
                            "the subscription list was read: every content type is enabled".to_string()
                        } else {
                            let missing: Vec<&str> =
                                CONTENT_TYPES.iter().copied().filter(|ct| !enabled.contains(ct)).collect();
                            format!(
                                "the subscription list was read: {} enabled; not started yet (AOC starts them when it \
                                 collects): {}",
                                enabled.len(),
                                missing.join(", ")
                            )
                        }
                    });
                    checks.push(check("unified: subscription list".into(), Some(Source::Unified), result));
                }
                Api::Graph => {
                    for source in &graph_sources {
                        let r = resource(*source);
                        let url = format!("{}/v1.0/{}?$top=1", c.graph_url, r.path);
                        let result = self.graph.page(c, &r, &url, 1).await.map(|page| {
                            format!("{} answered ({} record(s) on a page of one)", r.path, page.records.len())
                        });
                        checks.push(check(
                            format!("{}: one page of {}", source.as_str(), r.path),
                            Some(*source),
                            result,
                        ));
                    }
                }
            }
        }
        ConnectionTest { tenant_id: c.tenant_id.clone(), ok: checks.iter().all(|c| c.ok), checks }
    }
}
