//! Wire codes: newtypes over the integer with named constants, so an unknown code still
//! decodes, prints in hex and round-trips (docs/protocol.md, "Codes").

use core::fmt;

macro_rules! wire_code {
    ($(#[$doc:meta])* $name:ident($int:ty) { $($(#[$cdoc:meta])* $konst:ident = $value:expr => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub $int);

        impl $name {
            $($(#[$cdoc])* pub const $konst: Self = Self($value);)*

            /// The code's name in snake case, if it is one this version knows.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(Self::$konst => Some($text),)*
                    _ => None,
                }
            }

            /// The code with this snake-case name, if this version knows one.
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
                    None => write!(f, concat!(stringify!($name), "({:#06x})"), self.0),
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
        /// The gateway gave up on the function (timeout, overload, shutdown).
        GATEWAY = 2 => "gateway",
    }
}

wire_code! {
    /// WebSocket close codes used by the relay (docs/protocol.md, "Close codes").
    ///
    /// 1000 and 4000..=4099 are final: a function that sees one does not try to resume.
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

impl CloseCode {
    /// Whether a function that sees this code gives up instead of resuming.
    pub fn is_final(self) -> bool {
        self == Self::NORMAL
            || self == Self::UNSUPPORTED_DATA
            || self == Self::MESSAGE_TOO_BIG
            || (4000..=4099).contains(&self.0)
    }
}

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
    fn final_close_codes() {
        assert!(CloseCode::NORMAL.is_final());
        assert!(CloseCode::WINDOW_EXCEEDED.is_final());
        assert!(!CloseCode::GOING_AWAY.is_final());
        assert!(!CloseCode(1006).is_final());
    }
}
