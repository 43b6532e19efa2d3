//! Session tests over a deterministic in-memory pair with virtual time.

mod bad_inputs;
mod limits;
mod pair;
mod random_cuts;
mod rules;
mod sessions;

/// The token every test gateway session expects.
pub(crate) const TOKEN: &str = "v1.1.test-token";
