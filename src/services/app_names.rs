//! Names for application ids wherever an id is shown: Microsoft's first-party applications
//! (built in, `app::appnames`), then the tenants' own applications read from Graph
//! (`store::app_names`). The names travel with the data (`actor_name`, `actor_app_name`, a
//! facet value's `label`), so the server-rendered page and the hydrated one agree.

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use app::dto::{EventDetail, EventSummary, FacetValue};
use app::error::AppError;

use super::db_failure;
use crate::store::app_names::{looks_like_id, names_of};

/// Names for a set of application ids.
pub struct AppNames(HashMap<String, String>);

impl AppNames {
    /// Looks up the ids among `values` that Microsoft's list does not name.
    pub async fn load<'a>(
        db: &impl ConnectionTrait,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, AppError> {
        let ids: Vec<String> = values
            .into_iter()
            .filter(|v| looks_like_id(v) && app::appnames::name_of(v).is_none())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return Ok(Self(HashMap::new()));
        }
        names_of(db, &ids).await.map(Self).map_err(|e| db_failure("app_names", e))
    }

    /// The name of the application `id`, when known.
    pub fn name(&self, id: &str) -> Option<String> {
        app::appnames::name_of(id).map(str::to_string).or_else(|| self.0.get(&id.trim().to_ascii_lowercase()).cloned())
    }

    fn name_event(&self, event: &mut EventSummary) {
        event.actor_name = event.actor.as_deref().and_then(|a| self.name(a));
    }
}

/// Names the application actors of `events`.
pub async fn name_events(db: &impl ConnectionTrait, events: &mut [EventSummary]) -> Result<(), AppError> {
    let names = AppNames::load(db, events.iter().filter_map(|e| e.actor.as_deref())).await?;
    events.iter_mut().for_each(|e| names.name_event(e));
    Ok(())
}

/// Names the event's actor, its application id and the related events' actors.
pub async fn name_detail(db: &impl ConnectionTrait, detail: &mut EventDetail) -> Result<(), AppError> {
    let values = [detail.event.actor.as_deref(), detail.actor_app_id.as_deref()]
        .into_iter()
        .flatten()
        .chain(detail.related.iter().filter_map(|e| e.actor.as_deref()));
    let names = AppNames::load(db, values).await?;
    names.name_event(&mut detail.event);
    detail.related.iter_mut().for_each(|e| names.name_event(e));
    detail.actor_app_name = detail.actor_app_id.as_deref().and_then(|id| names.name(id));
    Ok(())
}

/// Labels the values of an actor list that are application ids with a name.
pub async fn label_values(db: &impl ConnectionTrait, values: &mut [FacetValue]) -> Result<(), AppError> {
    let names = AppNames::load(db, values.iter().map(|v| v.value.as_str())).await?;
    values.iter_mut().for_each(|v| v.label = names.name(&v.value));
    Ok(())
}
