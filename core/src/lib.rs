//! # lambda-relay
//!
//! True HTTP streaming for AWS Lambda, in both directions, through a Cloudflare Durable
//! Object gateway. The function opens a WebSocket back to the gateway and streams its
//! response over it (and receives its request body the same way); the gateway pipes it to
//! the client as it arrives. No 6 MB request cap, no response cap, no 2 MB/s throttle, and a
//! client that goes away stops the function.
//!
//! This crate holds the relay protocol once, and everything that drives it on the function
//! side:
//!
//! - [`proto`]: the protocol, sans-IO (no sockets, no runtime, no clock; builds for
//!   `wasm32-unknown-unknown`): frames and their codec, the function's and the gateway's
//!   session ends with sequence numbers, cumulative acks, a flow-control window and resume,
//!   tokens, and every rule around an invocation (which invocations are relayed, which
//!   sockets are admitted, what the client gets when something fails). The gateway's Durable
//!   Object and [`client`] drive it. `docs/protocol.md` is its normative
//!   description.
//! - [`client`] (feature `client`, default): the function side on tokio and
//!   tokio-tungstenite: connect (TLS by rustls), keep alive, reconnect and resume; a request
//!   body `Stream` and a response writer that is `AsyncWrite` and `Sink<Bytes>`.
//! - [`adapter`] (feature `adapter`): an invocation's event as the request a handler sees,
//!   and its response as the invocation's result, once for every language's binding.
//! - [`lambda`] (feature `lambda`): run an `http` handler as a Rust Lambda behind a Function
//!   URL, relayed when the gateway invoked it and buffered when something else did.
//! - [`local`] (feature `local`): serve such a handler as a local Function URL, for
//!   development and tests.
//!
//! ```no_run
//! # #[cfg(feature = "lambda")]
//! # async fn main_() -> Result<(), lambda_runtime::Error> {
//! use lambda_relay::lambda::{run, Body};
//!
//! run(|_request: http::Request<Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("streamed through the relay")))
//! })
//! .await
//! # }
//! ```

#![warn(missing_docs)]

pub mod proto;

pub use bytes;
pub use http;
#[cfg(feature = "lambda")]
pub use lambda_runtime;
#[cfg(feature = "adapter")]
pub use serde_json;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "adapter")]
pub mod adapter;

#[cfg(feature = "lambda")]
pub mod lambda;

#[cfg(feature = "local")]
pub mod local;

/// Not part of the API: fuzz bodies, shared by the cargo-fuzz targets and the corpus test.
#[doc(hidden)]
pub mod internal {
    pub mod fuzzing;
}

/// The README's Rust snippets, compiled as doctests so they never rot.
#[cfg(all(doctest, feature = "lambda"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
