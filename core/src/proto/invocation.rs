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
/// Invocation result header by which a relay-aware function reports what became of a relay
/// invocation (`relayed`, `aborted`, `refused`, `failed`, `unconfigured`). A result without
/// it, from a function that never connected, is an ordinary response to pass through.
pub const RELAY_OUTCOME_HEADER: &str = "x-lambda-relay-outcome";
/// Default largest request body of known length that rides inline in the invocation.
pub const DEFAULT_INLINE_BODY_LIMIT: u64 = 1024 * 1024;
/// Request headers that describe one hop and are never forwarded (RFC 9110, 7.6.1).
pub const HOP_BY_HOP_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether the gateway forwards a client's request header to the function: not hop-by-hop,
/// not one of the relay's own, not `host` (the invocation has its own; the client's goes in
/// `x-forwarded-host`), not `content-length` (the invocation's body decides it).
pub fn forwards_request_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !(HOP_BY_HOP_HEADERS.contains(&name.as_str())
        || name.starts_with("x-lambda-relay-")
        || name == "host"
        || name == "content-length")
}

/// Whether a response header from the function reaches the client (hop-by-hop ones do not;
/// the gateway's runtime frames the body itself).
pub fn forwards_response_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !(HOP_BY_HOP_HEADERS.contains(&name.as_str()) || name == "content-length")
}

/// Where a request body goes: inline when its length is known and at most `inline_limit`,
/// over the socket otherwise. `has_body` is false for requests without one (no length and
/// no chunked body, such as a plain GET).
pub fn choose_body_mode(has_body: bool, content_length: Option<u64>, inline_limit: u64) -> BodyMode {
    match (has_body, content_length) {
        (false, _) => BodyMode::Inline,
        (true, Some(len)) if len <= inline_limit => BodyMode::Inline,
        _ => BodyMode::Stream,
    }
}

/// Why the gateway refuses a socket before upgrading it (docs/protocol.md, "Upgrade").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpgradeRefusal {
    /// The HTTP status to answer with.
    pub status: u16,
    /// A short plain-text reason.
    pub reason: &'static str,
}

impl fmt::Display for UpgradeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

/// The checks on a relay socket's upgrade request that need no session: a WebSocket
/// upgrade, offering this protocol version, with a token that verifies for `relay_id`.
pub fn check_upgrade(
    upgrade: Option<&str>,
    protocols: Option<&str>,
    token: Option<&str>,
    relay_id: &str,
    secret: &super::RelaySecret,
    now_unix: u64,
) -> Result<(), UpgradeRefusal> {
    if validate_relay_id(relay_id).is_err() {
        return Err(UpgradeRefusal {
            status: 404,
            reason: "unknown relay id",
        });
    }
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "expected a websocket upgrade",
        });
    }
    if !protocols.is_some_and(|p| p.split(',').any(|p| p.trim() == SUBPROTOCOL)) {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "lambda-relay.v1 not offered",
        });
    }
    let Some(token) = token else {
        return Err(UpgradeRefusal {
            status: 401,
            reason: "missing relay token",
        });
    };
    secret
        .verify(token, relay_id, now_unix)
        .map(|_| ())
        .map_err(|_| UpgradeRefusal {
            status: 403,
            reason: "relay token refused",
        })
}

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

/// What an invocation's relay headers say.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayHeaders {
    /// The relay id.
    pub relay_id: String,
    /// The token (unverified).
    pub token: String,
    /// Where the request body travels.
    pub body_mode: BodyMode,
}

impl fmt::Debug for RelayHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_struct("RelayHeaders")
            .field("relay_id", &self.relay_id)
            .field("body_mode", &self.body_mode)
            .finish()
    }
}

/// Reads the relay headers through `get` (a case-insensitive header lookup): `None` when
/// the invocation is not relayed (no relay id header), an error when it is but the headers
/// are incomplete or malformed. The caller verifies the token.
pub fn read_relay_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Result<RelayHeaders, InvocationError>> {
    let relay_id = get(RELAY_ID_HEADER)?;
    Some((|| {
        validate_relay_id(relay_id)?;
        let token = get(RELAY_TOKEN_HEADER).ok_or(InvocationError::MissingHeader(RELAY_TOKEN_HEADER))?;
        let body_mode = get(RELAY_BODY_HEADER).map_or(Ok(BodyMode::Inline), str::parse)?;
        Ok(RelayHeaders {
            relay_id: relay_id.to_owned(),
            token: token.to_owned(),
            body_mode,
        })
    })())
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
    /// A relay invocation lacks a header it needs.
    #[error("relay invocation without {0}")]
    MissingHeader(&'static str),
    /// The gateway URL is not a ws, wss, http or https URL without query or fragment.
    #[error("invalid gateway url {0:?}")]
    BadGatewayUrl(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_checks_in_order() {
        let secret = crate::proto::RelaySecret::new(*b"0123456789abcdef").unwrap();
        let token = secret.mint("abc", 100).unwrap();
        let ok = check_upgrade(
            Some("websocket"),
            Some("x, lambda-relay.v1"),
            Some(&token),
            "abc",
            &secret,
            50,
        );
        assert_eq!(ok, Ok(()));
        let status = |u, p, t: Option<&str>, id, now| check_upgrade(u, p, t, id, &secret, now).unwrap_err().status;
        assert_eq!(
            status(Some("websocket"), Some(SUBPROTOCOL), Some(&token), "a/b", 50),
            404
        );
        assert_eq!(status(None, Some(SUBPROTOCOL), Some(&token), "abc", 50), 400);
        assert_eq!(
            status(Some("websocket"), Some("lambda-relay.v2"), Some(&token), "abc", 50),
            400
        );
        assert_eq!(status(Some("websocket"), Some(SUBPROTOCOL), None, "abc", 50), 401);
        assert_eq!(
            status(Some("websocket"), Some(SUBPROTOCOL), Some(&token), "abd", 50),
            403
        );
        assert_eq!(
            status(Some("websocket"), Some(SUBPROTOCOL), Some(&token), "abc", 100),
            403
        );
    }

    #[test]
    fn relay_headers() {
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        assert_eq!(read_relay_headers(headers(&[("accept", "*/*")])), None);
        let relayed = read_relay_headers(headers(&[
            (RELAY_ID_HEADER, "abc"),
            (RELAY_TOKEN_HEADER, "v1.1.x"),
            (RELAY_BODY_HEADER, "stream"),
        ]));
        let expected = RelayHeaders {
            relay_id: "abc".into(),
            token: "v1.1.x".into(),
            body_mode: BodyMode::Stream,
        };
        assert_eq!(relayed, Some(Ok(expected)));
        assert_eq!(
            read_relay_headers(headers(&[(RELAY_ID_HEADER, "abc")])),
            Some(Err(InvocationError::MissingHeader(RELAY_TOKEN_HEADER)))
        );
        assert!(matches!(
            read_relay_headers(headers(&[
                (RELAY_ID_HEADER, "abc"),
                (RELAY_TOKEN_HEADER, "t"),
                (RELAY_BODY_HEADER, "x")
            ])),
            Some(Err(InvocationError::BadBodyMode(_)))
        ));
    }

    #[test]
    fn header_forwarding() {
        assert!(forwards_request_header("Accept"));
        assert!(!forwards_request_header("Connection"));
        assert!(!forwards_request_header("x-lambda-relay-token"));
        assert!(!forwards_request_header("host"));
        assert!(forwards_response_header("set-cookie"));
        assert!(!forwards_response_header("transfer-encoding"));
    }

    #[test]
    fn body_modes_by_length() {
        assert_eq!(choose_body_mode(false, None, 10), BodyMode::Inline);
        assert_eq!(choose_body_mode(true, Some(10), 10), BodyMode::Inline);
        assert_eq!(choose_body_mode(true, Some(11), 10), BodyMode::Stream);
        assert_eq!(choose_body_mode(true, None, 10), BodyMode::Stream);
    }

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
