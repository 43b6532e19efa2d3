//! The invocation's relay headers and the socket's upgrade request (docs/protocol.md,
//! "Invocation" and "Upgrade").

use core::fmt;
use core::str::FromStr;

/// Subprotocol that negotiates this protocol version in the WebSocket upgrade.
pub const SUBPROTOCOL: &str = "lambda-relay.v1";
/// Default path prefix of the relay socket; the relay id follows it.
pub const DEFAULT_SOCKET_PATH: &str = "/_relay/";
/// Invocation header carrying the relay id.
pub const RELAY_ID_HEADER: &str = "x-lambda-relay-id";
/// Invocation and upgrade header carrying the token.
pub const RELAY_TOKEN_HEADER: &str = "x-lambda-relay-token";
/// Invocation header saying where the request body is ([`BodyMode`]).
pub const RELAY_BODY_HEADER: &str = "x-lambda-relay-body";
/// Upgrade header present (`1`) when a socket resumes a session.
pub const RELAY_RESUME_HEADER: &str = "x-lambda-relay-resume";
/// Response header on the gateway's own error responses (502, 504, …): the error code.
pub const ERROR_CODE_HEADER: &str = "x-lambda-relay-error";
/// Every header the gateway adds to an invocation; the function strips them before the
/// handler sees the request.
pub const RELAY_HEADERS: [&str; 3] = [RELAY_ID_HEADER, RELAY_TOKEN_HEADER, RELAY_BODY_HEADER];
/// Longest relay id accepted.
pub const MAX_RELAY_ID_LEN: usize = 128;

/// Where the request body travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// The invocation's own body is the whole request body (possibly empty).
    Inline,
    /// The body streams over the socket as request body frames.
    Stream,
}

impl BodyMode {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyMode::Inline => "inline",
            BodyMode::Stream => "stream",
        }
    }
}

impl fmt::Display for BodyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BodyMode {
    type Err = InvocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inline" => Ok(BodyMode::Inline),
            "stream" => Ok(BodyMode::Stream),
            _ => Err(InvocationError::BadBodyMode(truncate(s))),
        }
    }
}

/// Checks a relay id: 1 to 128 of `A-Z a-z 0-9 - _`, so it is safe in a path and a MAC.
pub fn validate_relay_id(id: &str) -> Result<(), InvocationError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_RELAY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvocationError::BadRelayId(truncate(id)))
    }
}

/// The socket URL for `relay_id` under the gateway base URL (`RELAY_GATEWAY_URL`).
///
/// A base ending in the socket path's prefix is used as is; otherwise the default prefix is
/// appended to it.
pub fn socket_url(gateway_url: &str, relay_id: &str) -> Result<String, InvocationError> {
    validate_relay_id(relay_id)?;
    let base = gateway_url.trim_end_matches('/');
    let scheme_ok = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|s| base.starts_with(s));
    if !scheme_ok || base.contains(['?', '#']) {
        return Err(InvocationError::BadGatewayUrl(truncate(gateway_url)));
    }
    let base = if let Some(rest) = base.strip_prefix("http") {
        format!("ws{rest}")
    } else {
        base.to_owned()
    };
    if base.ends_with(DEFAULT_SOCKET_PATH.trim_end_matches('/')) {
        Ok(format!("{base}/{relay_id}"))
    } else {
        Ok(format!("{base}{DEFAULT_SOCKET_PATH}{relay_id}"))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A relay header or setting that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// The relay id is empty, too long or has characters outside `A-Z a-z 0-9 - _`.
    #[error("invalid relay id {0:?}")]
    BadRelayId(String),
    /// The body mode header is neither `inline` nor `stream`.
    #[error("invalid relay body mode {0:?} (expected inline or stream)")]
    BadBodyMode(String),
    /// The gateway URL is not a ws, wss, http or https URL without query or fragment.
    #[error("invalid gateway url {0:?}")]
    BadGatewayUrl(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls() {
        assert_eq!(
            socket_url("https://gw.example.com", "ab").unwrap(),
            "wss://gw.example.com/_relay/ab"
        );
        assert_eq!(
            socket_url("ws://127.0.0.1:8787/", "ab").unwrap(),
            "ws://127.0.0.1:8787/_relay/ab"
        );
        assert_eq!(
            socket_url("wss://h/base/_relay", "ab").unwrap(),
            "wss://h/base/_relay/ab"
        );
        assert!(socket_url("ftp://h", "ab").is_err());
        assert!(socket_url("wss://h?x=1", "ab").is_err());
        assert_eq!(
            socket_url("wss://h", "a/b"),
            Err(InvocationError::BadRelayId("a/b".into()))
        );
    }

    #[test]
    fn relay_ids() {
        assert!(validate_relay_id("0123abcdef_-XYZ").is_ok());
        assert!(validate_relay_id("").is_err());
        assert!(validate_relay_id(&"a".repeat(129)).is_err());
        assert!(validate_relay_id("a\0b").is_err());
    }

    #[test]
    fn body_modes() {
        assert_eq!("stream".parse::<BodyMode>(), Ok(BodyMode::Stream));
        assert_eq!("inline".parse::<BodyMode>(), Ok(BodyMode::Inline));
        assert!("Stream".parse::<BodyMode>().is_err());
    }
}
