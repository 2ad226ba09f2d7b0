//! Helpers shared by the integration tests. Each test binary uses only some
//! of them, so unused ones are not warnings.
#![allow(dead_code)]

pub mod github_fake;
pub mod moto;
pub mod repo;
