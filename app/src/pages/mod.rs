//! One module per page.

mod events;
mod planned;
mod settings;

pub use events::EventsPage;
pub use planned::{AlertsPage, RulesPage, SourcesPage};
pub use settings::SettingsPage;
