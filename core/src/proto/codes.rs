//! Wire codes and shared names. Codes are newtypes over the integer with named constants, so
//! an unknown code still decodes, prints in hex and round-trips (docs/protocol.md, "Codes");
//! codes that travel as header values rather than integers (outcomes, the gateway's error
//! codes) use the same shape. The header and environment names the gateway, the function and
//! the bindings share are at the end: every one is spelled once, here.

use core::fmt;

macro_rules! wire_code {
    ($(#[$doc:meta])* $name:ident($int:ty) { $($(#[$cdoc:meta])* $konst:ident = $value:expr => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub $int);

        impl $name {
            $($(#[$cdoc])* pub const $konst: Self = Self($value);)*

            /// The code's name, if it is one this version knows.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$konst => Some($text),)*
                    _ => None,
                }
            }

            /// Every code this version knows, in order.
            pub const ALL: &'static [Self] = &[$(Self::$konst,)*];

            /// The code with this name, if this version knows one.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$konst),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(
                        f,
                        concat!(stringify!($name), "({:#0width$x})"),
                        self.0,
                        width = 2 + 2 * core::mem::size_of::<$int>()
                    ),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

wire_code! {
    /// A frame's type code, the first byte of every message (docs/protocol.md, "Frames").
    ///
    /// Adding a frame type: a constant here; its layout in `Frame::decode`, `put_sequenced`
    /// and `item_len` (frame.rs); which end accepts it in `Role::accept` (function.rs,
    /// gateway.rs); a byte-literal test in frame.rs; the table in docs/protocol.md; and the
    /// fuzz corpus (`internal::fuzzing`).
    FrameType(u8) {
        /// Opens every socket, from both sides: what was received, acked, and the receive limits.
        HELLO = 0x01 => "Hello",
        /// Cumulative acknowledgement of consumed frames.
        ACK = 0x02 => "Ack",
        /// Gateway → function: a piece of the request body.
        REQUEST_BODY = 0x10 => "RequestBody",
        /// Gateway → function: the request body is complete.
        REQUEST_END = 0x11 => "RequestEnd",
        /// Gateway → function: stop, the client is gone.
        ABORT = 0x12 => "Abort",
        /// Function → gateway: status and headers.
        RESPONSE_HEAD = 0x20 => "ResponseHead",
        /// Function → gateway: a piece of the response body.
        RESPONSE_BODY = 0x21 => "ResponseBody",
        /// Function → gateway: the response is complete, with optional trailers.
        RESPONSE_END = 0x22 => "ResponseEnd",
        /// Function → gateway: the response failed.
        ERROR = 0x23 => "Error",
    }
}

wire_code! {
    /// Why the function's response failed (error frames; the gateway's error header).
    ErrorCode(u16) {
        /// The handler threw or returned an error.
        HANDLER = 1 => "handler_error",
        /// The response body stream failed while being read.
        BODY = 2 => "body_error",
        /// The Lambda invocation is about to hit its deadline.
        DEADLINE = 3 => "deadline",
        /// The function's relay client failed.
        INTERNAL = 4 => "internal",
    }
}

wire_code! {
    /// Why the gateway aborted (abort frames).
    AbortCode(u16) {
        /// The client disconnected before the response ended.
        CLIENT_GONE = 1 => "client_gone",
        /// The gateway ended the exchange itself: the invocation failed or answered without
        /// the function's socket, the response came in the invocation result, the function
        /// answered twice, or the relay ended before a response.
        GATEWAY = 2 => "gateway",
    }
}

wire_code! {
    /// WebSocket close codes used by the relay (docs/protocol.md, "Close codes").
    ///
    /// 1000, 1003, 1009 and 4000..=4099 are final: a function that sees one does not try to
    /// resume ([`CloseCode::is_final`]).
    CloseCode(u16) {
        /// The exchange completed.
        NORMAL = 1000 => "normal",
        /// The endpoint is going away; resumable.
        GOING_AWAY = 1001 => "going_away",
        /// A text message arrived; only binary frames are allowed.
        UNSUPPORTED_DATA = 1003 => "unsupported_data",
        /// A message exceeded the frame size limit.
        MESSAGE_TOO_BIG = 1009 => "message_too_big",
        /// A malformed frame, or a frame the session's state does not allow.
        PROTOCOL_ERROR = 4000 => "protocol_error",
        /// A sequence number or acknowledgement that does not fit the stream.
        SEQUENCE_ERROR = 4001 => "sequence_error",
        /// The peer sent more body bytes than the window allows.
        WINDOW_EXCEEDED = 4002 => "window_exceeded",
        /// The gateway aborted the exchange; an abort frame came first.
        ABORTED = 4003 => "aborted",
        /// A newer socket resumed the session and replaced this one.
        REPLACED = 4004 => "replaced",
        /// The session timed out (no connection or no resume in time).
        TIMEOUT = 4005 => "timeout",
    }
}

wire_code! {
    /// What became of a relay invocation, as the function reports it in its invocation
    /// result's `x-lambda-relay-outcome` header (docs/protocol.md, "Invocation").
    Outcome(u16) {
        /// The response went over the socket and its end was acknowledged.
        RELAYED = 1 => "relayed",
        /// The gateway aborted the exchange (the client went away).
        ABORTED = 2 => "aborted",
        /// The function refused the invocation (malformed relay headers, a token that does
        /// not verify); it never connected.
        REFUSED = 3 => "refused",
        /// The relay failed: the socket could not be opened, or the session failed.
        FAILED = 4 => "failed",
        /// The function has no (valid) relay configuration.
        UNCONFIGURED = 5 => "unconfigured",
        /// The response is this result itself: complete and small when the handler returned
        /// it, it never needed the socket.
        COMPLETE = 6 => "complete",
    }
}

wire_code! {
    /// The gateway's own reasons for an error response, in its `x-lambda-relay-error`
    /// header beside the function's [`ErrorCode`]s (docs/protocol.md, "Gateway side").
    GatewayError(u16) {
        /// The function did not connect within the connect timeout (504).
        CONNECT_TIMEOUT = 1 => "connect_timeout",
        /// The invocation failed, answered 5xx or with a relay outcome before a socket
        /// connected, or answered 2xx and the response did not end in time.
        INVOCATION_FAILED = 2 => "invocation_failed",
        /// A dropped socket was not resumed within the grace period.
        RESUME_TIMEOUT = 3 => "resume_timeout",
        /// The function broke the protocol.
        PROTOCOL_ERROR = 4 => "protocol_error",
        /// The function closed its socket with a final code before the head.
        CONNECTION_CLOSED = 5 => "connection_closed",
        /// The gateway aborted the exchange before the head.
        ABORTED = 6 => "aborted",
        /// The gateway's own settings are missing or invalid (500).
        GATEWAY_MISCONFIGURED = 7 => "gateway_misconfigured",
        /// A relay socket's upgrade was refused (its status says why).
        SOCKET_REFUSED = 8 => "socket_refused",
        /// The function failed with an error code this version does not know.
        FUNCTION_ERROR = 9 => "function_error",
        /// The client's streamed request body made no progress for `UPLOAD_IDLE_MS` (408).
        UPLOAD_IDLE = 10 => "upload_idle",
    }
}

/// The value of the gateway's `x-lambda-relay-error` header: the function's own error
/// code when it reported one, else the gateway's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCode {
    /// The function failed with an error frame.
    Function(ErrorCode),
    /// The gateway gave up for a reason of its own.
    Gateway(GatewayError),
}

impl FailureCode {
    /// The header value. A code this version has no name for can only be the function's
    /// (the gateway sends its own): [`GatewayError::FUNCTION_ERROR`].
    pub fn name(self) -> &'static str {
        let name = match self {
            FailureCode::Function(code) => code.name(),
            FailureCode::Gateway(code) => code.name(),
        };
        name.or(GatewayError::FUNCTION_ERROR.name()).unwrap_or_default()
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl CloseCode {
    /// Whether a function that sees this code gives up instead of resuming.
    pub fn is_final(self) -> bool {
        self == Self::NORMAL
            || self == Self::UNSUPPORTED_DATA
            || self == Self::MESSAGE_TOO_BIG
            || (4000..=4099).contains(&self.0)
    }
}

// Names that cross between the gateway, the function and the handler's request, spelled once.

/// Invocation header carrying the relay id.
pub const RELAY_ID_HEADER: &str = "x-lambda-relay-id";
/// Invocation and upgrade header carrying the token.
pub const RELAY_TOKEN_HEADER: &str = "x-lambda-relay-token";
/// Invocation header saying where the request body is ([`BodyMode`](super::BodyMode)).
pub const RELAY_BODY_HEADER: &str = "x-lambda-relay-body";
/// Invocation result header by which a relay-aware function reports what became of a relay
/// invocation ([`Outcome`]). A result without it, from a function that never connected, is
/// an ordinary response to pass through.
pub const RELAY_OUTCOME_HEADER: &str = "x-lambda-relay-outcome";
/// Header by which Lambda's own front door marks an answer it gave instead of the function
/// (`AccessDeniedException` for a missing permission, `TooManyRequestsException`, …).
pub const LAMBDA_ERROR_HEADER: &str = "x-amzn-errortype";
/// The header in which a relayed invocation carries the client's `authorization` header: the
/// invocation's own may be the gateway's signature (`LAMBDA_AUTH = "aws_iam"`), so the
/// gateway always moves the client's here and the function moves it back.
pub const CLIENT_AUTHORIZATION_HEADER: &str = "x-lambda-relay-authorization";
/// Every relay header the gateway adds to an invocation; the function strips them before
/// the handler sees the request.
pub const RELAY_HEADERS: [&str; 4] = [
    RELAY_ID_HEADER,
    RELAY_TOKEN_HEADER,
    RELAY_BODY_HEADER,
    CLIENT_AUTHORIZATION_HEADER,
];
/// The header in which the gateway tells the function the client's address.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
/// Subprotocol that negotiates this protocol version in the WebSocket upgrade.
pub const SUBPROTOCOL: &str = "lambda-relay.v1";
/// Upgrade header present (`1`) when a socket resumes a session.
pub const RELAY_RESUME_HEADER: &str = "x-lambda-relay-resume";
/// Upgrade header carrying the session key: chosen by the function for its first socket;
/// every resume must present the same (docs/protocol.md, "Upgrade").
pub const RELAY_KEY_HEADER: &str = "x-lambda-relay-key";
/// Response header on the gateway's own error responses (502, 504, …): the error code.
pub const ERROR_CODE_HEADER: &str = "x-lambda-relay-error";
/// Environment variable with the gateway's base URL, on the function side.
pub const GATEWAY_URL_ENV: &str = "RELAY_GATEWAY_URL";
/// Environment variable with the shared secret, on both sides.
pub const SECRET_ENV: &str = "RELAY_SECRET";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_print_in_hex() {
        assert_eq!(format!("{:?}", ErrorCode(0x0abc)), "ErrorCode(0x0abc)");
        assert_eq!(ErrorCode::DEADLINE.to_string(), "deadline");
        assert_eq!(CloseCode(4000).name(), Some("protocol_error"));
        assert_eq!(ErrorCode::from_name("body_error"), Some(ErrorCode::BODY));
        assert_eq!(ErrorCode::from_name("nonsense"), None);
    }

    #[test]
    fn every_code_round_trips_through_its_name() {
        for code in FrameType::ALL {
            assert_eq!(FrameType::from_name(code.name().unwrap()), Some(*code));
        }
        for code in Outcome::ALL {
            assert_eq!(Outcome::from_name(code.name().unwrap()), Some(*code));
        }
        for code in GatewayError::ALL {
            assert_eq!(GatewayError::from_name(code.name().unwrap()), Some(*code));
        }
        assert_eq!(format!("{:?}", FrameType(0x7f)), "FrameType(0x7f)");
        assert_eq!(FailureCode::Function(ErrorCode(99)).name(), "function_error");
        assert_eq!(
            FailureCode::Gateway(GatewayError::CONNECT_TIMEOUT).name(),
            "connect_timeout"
        );
    }

    #[test]
    fn final_close_codes() {
        assert!(CloseCode::NORMAL.is_final());
        assert!(CloseCode::WINDOW_EXCEEDED.is_final());
        assert!(!CloseCode::GOING_AWAY.is_final());
        assert!(!CloseCode(1006).is_final());
    }
}
