pub mod proto;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "lambda")]
pub mod lambda;

#[cfg(feature = "local")]
pub mod local;
