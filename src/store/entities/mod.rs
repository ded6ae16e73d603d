//! SeaORM entities, one per table the server reads or writes through the ORM.

pub mod events;
