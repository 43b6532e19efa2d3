//! The relay protocol, sans-IO: frames, their codec, the two session ends, and every rule
//! around an invocation that the drivers share.
//!
//! Nothing here touches a socket, a runtime or a clock. Time comes in as a [`Timestamp`];
//! messages come in as [`bytes::Bytes`] and go out the same way. The tokio client (which the
//! Node addon and the Python module use), the Durable Object and the test gateway are thin
//! drivers around [`FunctionSession`] and [`GatewaySession`], and they take every decision
//! about an invocation from here: [`classify_invocation`] on the function side (through
//! `adapter::begin`), [`check_upgrade`], [`GatewaySession::admit_socket`] and
//! [`GatewaySession::handle_invocation_result`] on the gateway's. `docs/protocol.md` is the
//! normative description; section names in the docs below refer to it.
//!
//! Modules by job, leaves first: `validate` (relay ids, [`InvocationError`]), `codes` (every
//! wire code and shared name), `config` (limits), `time`, `codec` (byte primitives,
//! [`DecodeError`]), `frame` and `headers` (the frame layouts), `websocket` (a client's
//! WebSocket relayed as message records over the two bodies), `error` (the session's
//! errors), `exchange` (HTTP rules), `token`, `url` (the relay's URLs), `settings` (the
//! function's), `result` (its answer), `invocation` (classifying one), `upgrade` (the
//! socket's upgrade), `link` (reliability, flow control, resume), `session`, `function` and
//! `gateway` (the two ends), `failure` (what a client gets before the head). No module
//! imports one that imports it.

mod budget;
mod codec;
mod codes;
mod config;
mod error;
mod exchange;
mod failure;
mod frame;
mod function;
mod gateway;
mod headers;
mod invocation;
mod link;
mod placement;
mod result;
mod session;
mod settings;
pub mod sigv4;
mod time;
mod token;
mod upgrade;
mod url;
mod validate;
pub mod websocket;

#[cfg(test)]
mod tests;

pub use budget::{BufferBudget, DEFAULT_BUFFER_BUDGET, MAX_BUFFER_BUDGET, MIN_BUFFER_BUDGET, MIN_SESSION_WINDOW};
#[cfg(feature = "client")]
pub(crate) use codec::lower_hex;
pub use codec::DecodeError;
pub use codes::{
    AbortCode, CloseCode, ErrorCode, FailureCode, FrameType, GatewayError, Outcome, CLIENT_AUTHORIZATION_HEADER,
    ERROR_CODE_HEADER, FORWARDED_FOR_HEADER, GATEWAY_URL_ENV, LAMBDA_ERROR_HEADER, RELAY_BODY_HEADER, RELAY_HEADERS,
    RELAY_ID_HEADER, RELAY_KEY_HEADER, RELAY_OUTCOME_HEADER, RELAY_RESUME_HEADER, RELAY_TOKEN_HEADER, SECRET_ENV,
    SUBPROTOCOL,
};
pub use config::*;
pub use error::{Error, ProtocolError, StreamError};
pub use exchange::*;
pub use failure::Failure;
pub use frame::{Abort, Frame, FunctionError, Hello, Item, ResponseHead, BODY_HEADER_LEN, HELLO_LEN};
pub use function::{FunctionRole, FunctionSession, RequestChunk, DEADLINE_MESSAGE};
pub use gateway::{ExchangeSummary, GatewayRole, GatewaySession, ReceivedResult, ResponsePart, ResultVerdict};
pub use headers::encoded_len as header_block_len;
pub use invocation::*;
pub use link::{LinkStats, Transmit};
pub use placement::{location_hint, location_hint_for_region, LOCATION_HINTS};
pub use result::InvocationResult;
pub use session::{Intake, Role, Session};
pub use settings::{RelaySettings, SettingsError, DEFAULT_DEADLINE_MARGIN};
#[cfg(feature = "adapter")]
pub(crate) use time::civil_from_days;
pub use time::Timestamp;
pub use token::{
    same_credential, RelaySecret, RequestBinding, TokenClaims, TokenError, MAX_TOKEN_AGE, MAX_TOKEN_LEN,
    MAX_TOKEN_SKEW, MIN_SECRET_LEN,
};
pub use upgrade::*;
pub use url::{check_function_url, socket_url, DEFAULT_SOCKET_PATH};
#[cfg(feature = "adapter")]
pub(crate) use validate::clip;
pub use validate::{validate_relay_id, InvocationError, MAX_RELAY_ID_LEN};
