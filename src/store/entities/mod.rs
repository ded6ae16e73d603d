//! SeaORM entities, one per table the server reads or writes through the ORM.

pub mod api_tokens;
pub mod audit_trail;
pub mod collection_leases;
pub mod comments;
pub mod coverage_windows;
pub mod destinations;
pub mod event_tags;
pub mod events;
pub mod seen_blobs;
pub mod session_revocations;
pub mod source_status;
pub mod tenants;
pub mod watermarks;
