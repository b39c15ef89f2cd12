//! Shared fixtures for the cross-crate suites in `tests/tests/`.

pub mod bundle_fixtures;
pub mod kernels_host;
pub mod net;
