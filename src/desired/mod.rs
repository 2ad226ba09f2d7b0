//! See `model` for the document types.

pub mod model;
