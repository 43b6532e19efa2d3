//! The function side's adaptation, once for every language: an invocation's event becomes
//! the request a handler sees, and the handler's response becomes the invocation's result
//! (docs/adapter.md). `lambda::handle_event`, the Node addon and the Python module all drive
//! it; their wrappers keep the event-loop glue and decide nothing.
//!
//! An invocation goes through four parts:
//! 1. [`begin`]: classify it ([`proto::classify_invocation`](crate::proto::classify_invocation))
//!    and, for a relay invocation, open the relay;
//! 2. the request view ([`RequestView`]): method, URL (one host rule), raw path and query,
//!    headers without the relay headers, cookies joined once, the client's address, the body;
//! 3. respond: the head checked ([`response_head`]), a small complete response answered in
//!    the result when the relay allows it ([`respond_inline`]), else streamed;
//! 4. the result ([`FunctionUrlResult`]), rendered as the Function URL result.
//!
//! Golden vectors in `core/tests/vectors/` pin every rule; the Rust, Node and Python suites
//! each replay the whole folder.

#[cfg(feature = "client")]
mod invocation;
mod local;
mod request;
mod result;

#[cfg(feature = "client")]
pub use invocation::{
    begin, begin_bound, event_header, log_answer, log_relay, relay_log_line, relay_result, respond_inline, time_left,
    Begun, Bound, DEFAULT_TIME_LEFT, LOG_ENV,
};
pub use local::{function_url_event, iam_refusal, LocalRequest, LocalResponse};
pub use request::{handler_event, RequestView};
pub use result::{direct_result, response_head, FunctionUrlResult};

/// An event the adapter cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a Function URL (payload 2.0) event: the shape it has instead.
    #[error(
        "unsupported event: {0}; lambda-relay reads Function URL and API Gateway HTTP API \
         (payload 2.0) events"
    )]
    Unsupported(String),
    /// A Function URL event with a field HTTP does not allow.
    #[error("invalid function url event: {0}")]
    Invalid(String),
}
