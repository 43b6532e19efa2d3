//! Session tests over a deterministic in-memory pair with virtual time.

mod bad_inputs;
mod pair;
mod random_cuts;
mod sessions;
