//! The relay protocol, sans-IO: frames, their codec, and the two session ends.
//!
//! Nothing here touches a socket, a runtime or a clock. Time comes in as a [`Timestamp`];
//! messages come in as [`bytes::Bytes`] and go out the same way. The tokio client, the napi
//! binding and the Durable Object are thin drivers around [`FunctionSession`] and
//! [`GatewaySession`]. `docs/protocol.md` is the normative description; section names in
//! the docs below refer to it.

mod codes;
mod config;
mod error;
mod frame;
mod function;
mod gateway;
mod headers;
mod invocation;
mod link;
mod session;
mod time;
mod token;

#[cfg(test)]
mod tests;

pub use codes::{AbortCode, CloseCode, ErrorCode};
pub use config::*;
pub use error::{Error, ProtocolError, StreamError};
pub use frame::{
    max_message_len, truncate_reason, Abort, DecodeError, Frame, FrameType, FunctionError, Hello, Item, Limits,
    ResponseHead, HELLO_LEN, SEQ_HEADER_LEN,
};
pub use function::{FunctionRole, FunctionSession, RequestChunk};
pub use gateway::{failure_status, GatewayRole, GatewaySession, ResponsePart};
pub use headers::encoded_len as header_block_len;
pub use invocation::*;
pub use link::LinkStats;
pub use session::{Role, Session};
pub use time::Timestamp;
pub use token::{RelaySecret, TokenError, MAX_TOKEN_LEN, MIN_SECRET_LEN};
