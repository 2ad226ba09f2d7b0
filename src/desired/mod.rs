//! Desired-state documents (`desired-state/*.yaml`): loading, validation
//! with file:line:column on every error, and the JSON Schema of the format.
//! See `model` for the document types.

pub mod de;
pub mod error;
pub mod guardrails;
pub mod load;
pub mod model;
pub mod policy;
pub mod position;
pub mod schema;
pub mod validate;

#[cfg(test)]
mod tests;

pub use error::{Rule, ValidationError, ValidationErrors};
pub use guardrails::check_guardrails;
pub use load::{load, load_dir, read_files};
pub use schema::json_schema;
