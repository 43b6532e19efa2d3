pub mod proto;

#[cfg(feature = "client")]
pub mod client;
