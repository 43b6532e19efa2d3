//! Rust Lambdas behind a Function URL: run an `http` handler relayed through the gateway
//! when the invocation carries relay headers, or as an ordinary buffered Function URL
//! response when it does not. One handler works in both worlds.
//!
//! ```no_run
//! use lambda_relay::lambda::{run, Body};
//!
//! # async fn main_() -> Result<(), lambda_runtime::Error> {
//! run(|_req: http::Request<Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hello")))
//! })
//! .await
//! # }
//! ```
//!
//! Which invocations are relayed, refused or served directly, the request a handler sees and
//! the result it answers with are [`adapter`](crate::adapter)'s; this module only drives it.
//!
//! A handler finds the Lambda [`Context`] and the Function URL request context
//! ([`RequestContext`]) in its request's extensions:
//!
//! ```
//! use lambda_relay::lambda::{Body, Context, RequestContext};
//!
//! fn who(request: &lambda_relay::http::Request<Body>) -> String {
//!     let context = request.extensions().get::<Context>().expect("the Lambda context");
//!     let http = &request.extensions().get::<RequestContext>().expect("the request context").http;
//!     // For a relayed invocation, the client's address (the gateway's is not useful).
//!     format!("{} from {:?}", context.request_id, http.source_ip)
//! }
//! ```

mod body;
mod config;
mod invocation;
mod respond;
mod run;
pub mod websocket;

pub use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequestContext as RequestContext;
pub use body::{Body, BodyAbandoned, BodyClosed, BodySender, BoxError};
pub use config::{Clock, Error, RelayConfig};
pub use invocation::{handle_event, FunctionEvent};
pub use lambda_runtime::Context;
pub use run::{from_service, run, run_service};

pub use crate::proto::{DEFAULT_DEADLINE_MARGIN, GATEWAY_URL_ENV, SECRET_ENV};
