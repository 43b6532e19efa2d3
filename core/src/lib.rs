pub mod proto;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "lambda")]
pub mod lambda;
