//! The relay socket's upgrade, from both ends (docs/protocol.md, "Upgrade"): the URL the
//! function connects to, the headers it sends, what the gateway checks before it upgrades,
//! and how the function reads the gateway's answer. The Durable Object, the tokio client and
//! the test gateway all call these; none repeats them.

use core::fmt;

use super::invocation::{clip, validate_relay_id, InvocationError, RELAY_TOKEN_HEADER};
use super::token::RelaySecret;

/// Subprotocol that negotiates this protocol version in the WebSocket upgrade.
pub const SUBPROTOCOL: &str = "lambda-relay.v1";
/// Default path prefix of the relay socket; the relay id follows it.
pub const DEFAULT_SOCKET_PATH: &str = "/_relay/";
/// Upgrade header present (`1`) when a socket resumes a session.
pub const RELAY_RESUME_HEADER: &str = "x-lambda-relay-resume";
/// Upgrade header carrying the session key: chosen by the function for its first socket;
/// every resume must present the same (docs/protocol.md, "Upgrade").
pub const RELAY_KEY_HEADER: &str = "x-lambda-relay-key";
/// Length of a session key: 32 lowercase hex digits (128 bits).
pub const SESSION_KEY_LEN: usize = 32;

/// The socket URL for `relay_id` under the gateway base URL (`RELAY_GATEWAY_URL`).
///
/// `http(s)` becomes `ws(s)`. A base ending in the socket path's prefix is used as is;
/// otherwise the default prefix is appended. Plain-text URLs are refused unless their host
/// is loopback.
pub fn socket_url(gateway_url: &str, relay_id: &str) -> Result<String, InvocationError> {
    validate_relay_id(relay_id)?;
    let base = gateway_url.trim_end_matches('/');
    let (secure, rest) = if let Some(rest) = base.strip_prefix("wss://").or(base.strip_prefix("https://")) {
        (true, rest)
    } else if let Some(rest) = base.strip_prefix("ws://").or(base.strip_prefix("http://")) {
        (false, rest)
    } else {
        return Err(InvocationError::BadGatewayUrl(clip(gateway_url)));
    };
    let host = authority_host(rest).ok_or_else(|| InvocationError::BadGatewayUrl(clip(gateway_url)))?;
    if !secure && !is_loopback_host(host) {
        return Err(InvocationError::Unencrypted(clip(gateway_url)));
    }
    let scheme = if secure { "wss://" } else { "ws://" };
    let prefix = DEFAULT_SOCKET_PATH.trim_end_matches('/');
    if rest.ends_with(prefix) {
        Ok(format!("{scheme}{rest}/{relay_id}"))
    } else {
        Ok(format!("{scheme}{rest}{DEFAULT_SOCKET_PATH}{relay_id}"))
    }
}

/// Checks the gateway's `LAMBDA_URL`: an `https://` URL, or `http://` to a loopback host.
pub fn check_function_url(url: &str) -> Result<(), InvocationError> {
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(InvocationError::BadGatewayUrl(clip(url)));
    };
    let host = authority_host(rest).ok_or_else(|| InvocationError::BadGatewayUrl(clip(url)))?;
    if !secure && !is_loopback_host(host) {
        return Err(InvocationError::Unencrypted(clip(url)));
    }
    Ok(())
}

/// The host of `authority[/path]`, or `None` if the URL has user info, a query, a fragment,
/// no host, or characters no host has.
fn authority_host(rest: &str) -> Option<&str> {
    if rest.contains(['?', '#', '@', '\\']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        host
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    (!host.is_empty()).then_some(host)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// The headers of a relay socket's upgrade request besides the WebSocket ones:
/// `Sec-WebSocket-Protocol`, the token, the session key, and on resumes the resume marker.
pub fn upgrade_request_headers<'a>(token: &'a str, key: &'a str, resume: bool) -> Vec<(&'static str, &'a str)> {
    let mut headers = vec![
        ("sec-websocket-protocol", SUBPROTOCOL),
        (RELAY_TOKEN_HEADER, token),
        (RELAY_KEY_HEADER, key),
    ];
    if resume {
        headers.push((RELAY_RESUME_HEADER, "1"));
    }
    headers
}

/// Why the function stops or retries after an upgrade that did not give it a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpgradeFailure {
    /// The gateway refused with a 4xx: final, retrying cannot help.
    Refused(u16),
    /// The gateway upgraded without selecting this protocol version: final.
    WrongProtocol,
    /// Anything else (a 5xx, an odd status): worth another try.
    Retry(u16),
}

impl fmt::Display for UpgradeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeFailure::Refused(status) => write!(f, "gateway refused the relay socket with HTTP {status}"),
            UpgradeFailure::WrongProtocol => write!(f, "gateway did not select subprotocol {SUBPROTOCOL}"),
            UpgradeFailure::Retry(status) => write!(f, "upgrade answered with HTTP {status}"),
        }
    }
}

impl UpgradeFailure {
    /// Whether the function gives up for good.
    pub fn is_final(&self) -> bool {
        !matches!(self, UpgradeFailure::Retry(_))
    }
}

/// How the function reads the gateway's answer to its upgrade: 101 with this protocol
/// version selected is a socket; a 4xx is final; anything else is retried.
pub fn check_upgrade_response(status: u16, selected_protocol: Option<&str>) -> Result<(), UpgradeFailure> {
    match status {
        101 if selected_protocol.map(str::trim) == Some(SUBPROTOCOL) => Ok(()),
        101 => Err(UpgradeFailure::WrongProtocol),
        400..=499 => Err(UpgradeFailure::Refused(status)),
        _ => Err(UpgradeFailure::Retry(status)),
    }
}

/// A relay socket's upgrade request as the gateway sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpgradeRequest<'a> {
    /// The `upgrade` header.
    pub upgrade: Option<&'a str>,
    /// The `sec-websocket-protocol` header.
    pub protocols: Option<&'a str>,
    /// The token header.
    pub token: Option<&'a str>,
    /// The session key header.
    pub key: Option<&'a str>,
    /// The resume header.
    pub resume: Option<&'a str>,
}

impl<'a> UpgradeRequest<'a> {
    /// Reads the headers it needs through `get`, a case-insensitive lookup.
    pub fn read(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            upgrade: get("upgrade"),
            protocols: get("sec-websocket-protocol"),
            token: get(RELAY_TOKEN_HEADER),
            key: get(RELAY_KEY_HEADER),
            resume: get(RELAY_RESUME_HEADER),
        }
    }

    /// Whether it says it resumes a session.
    pub fn is_resume(&self) -> bool {
        self.resume.is_some()
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

impl UpgradeRefusal {
    /// 404: no session has this relay id.
    pub const UNKNOWN_RELAY: Self = Self {
        status: 404,
        reason: "unknown relay id",
    };
    /// 403: the token or session key does not match.
    pub const TOKEN_REFUSED: Self = Self {
        status: 403,
        reason: "relay token refused",
    };
}

impl fmt::Display for UpgradeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

/// The checks on a relay socket's upgrade request that need no session, in order: a relay
/// id that could exist (404), a WebSocket upgrade (400), offering this protocol version
/// (400), a token (401), a well-formed resume marker and session key (400), and a token that
/// verifies for `relay_id` and has not expired (403). The gateway runs them at the edge, so a bad socket
/// never wakes a Durable Object; the session then runs
/// [`GatewaySession::admit_socket`](super::GatewaySession::admit_socket).
pub fn check_upgrade(
    req: &UpgradeRequest<'_>,
    relay_id: &str,
    secret: &RelaySecret,
    now_unix: u64,
) -> Result<(), UpgradeRefusal> {
    if validate_relay_id(relay_id).is_err() {
        return Err(UpgradeRefusal::UNKNOWN_RELAY);
    }
    if !req.upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "expected a websocket upgrade",
        });
    }
    if !req
        .protocols
        .is_some_and(|p| p.split(',').any(|p| p.trim() == SUBPROTOCOL))
    {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "lambda-relay.v1 not offered",
        });
    }
    let Some(token) = req.token else {
        return Err(UpgradeRefusal {
            status: 401,
            reason: "missing relay token",
        });
    };
    if req.resume.is_some_and(|r| r != "1") {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "x-lambda-relay-resume must be 1",
        });
    }
    if !req.key.is_some_and(valid_session_key) {
        return Err(UpgradeRefusal {
            status: 400,
            reason: "missing or malformed x-lambda-relay-key",
        });
    }
    secret
        .verify(token, relay_id, now_unix)
        .map(|_| ())
        .map_err(|_| UpgradeRefusal::TOKEN_REFUSED)
}

/// Whether `key` is a session key: [`SESSION_KEY_LEN`] lowercase hex digits.
pub fn valid_session_key(key: &str) -> bool {
    key.len() == SESSION_KEY_LEN && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Constant-time equality of two credentials (tokens, session keys). Their lengths are not
/// secret.
pub fn same_credential(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

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
        assert_eq!(socket_url("http://[::1]:80", "ab").unwrap(), "ws://[::1]:80/_relay/ab");
        assert_eq!(socket_url("ws://localhost", "ab").unwrap(), "ws://localhost/_relay/ab");
        assert!(matches!(
            socket_url("ftp://h", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://h?x=1", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://u:p@h", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://h:x", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert_eq!(
            socket_url("wss://h", "a/b"),
            Err(InvocationError::BadRelayId("a/b".into()))
        );
    }

    #[test]
    fn plain_text_urls_only_to_loopback() {
        for url in [
            "ws://gw.example.com",
            "http://10.0.0.1:8787",
            "ws://127.0.0.1.evil.com",
            "ws://[::2]",
        ] {
            assert!(
                matches!(socket_url(url, "ab"), Err(InvocationError::Unencrypted(_))),
                "{url}"
            );
        }
        assert!(check_function_url("https://abc.lambda-url.us-east-1.on.aws").is_ok());
        assert!(check_function_url("http://127.0.0.1:9000").is_ok());
        assert!(matches!(
            check_function_url("http://abc.lambda-url.us-east-1.on.aws"),
            Err(InvocationError::Unencrypted(_))
        ));
        assert!(check_function_url("wss://x").is_err());
    }

    #[test]
    fn upgrade_answers_as_the_function_reads_them() {
        assert_eq!(check_upgrade_response(101, Some(SUBPROTOCOL)), Ok(()));
        assert_eq!(check_upgrade_response(101, None), Err(UpgradeFailure::WrongProtocol));
        assert_eq!(check_upgrade_response(409, None), Err(UpgradeFailure::Refused(409)));
        assert_eq!(check_upgrade_response(503, None), Err(UpgradeFailure::Retry(503)));
        assert!(UpgradeFailure::Refused(403).is_final() && !UpgradeFailure::Retry(502).is_final());
        let headers = upgrade_request_headers("t", KEY, true);
        assert_eq!(headers.last(), Some(&(RELAY_RESUME_HEADER, "1")));
        assert_eq!(upgrade_request_headers("t", KEY, false).len(), 3);
    }

    #[test]
    fn upgrade_checks_in_order() {
        let secret = RelaySecret::new(*b"0123456789abcdef").unwrap();
        let token = secret.mint("abc", 100).unwrap();
        let good = UpgradeRequest {
            upgrade: Some("websocket"),
            protocols: Some("x, lambda-relay.v1"),
            token: Some(&token),
            key: Some(KEY),
            resume: None,
        };
        assert_eq!(check_upgrade(&good, "abc", &secret, 50), Ok(()));
        let status = |req: UpgradeRequest<'_>, id: &str, now| check_upgrade(&req, id, &secret, now).unwrap_err().status;
        assert_eq!(status(good, "a/b", 50), 404);
        assert_eq!(status(UpgradeRequest { upgrade: None, ..good }, "abc", 50), 400);
        let v2 = UpgradeRequest {
            protocols: Some("lambda-relay.v2"),
            ..good
        };
        assert_eq!(status(v2, "abc", 50), 400);
        assert_eq!(
            status(
                UpgradeRequest {
                    resume: Some("yes"),
                    ..good
                },
                "abc",
                50
            ),
            400
        );
        assert_eq!(status(UpgradeRequest { key: None, ..good }, "abc", 50), 400);
        let upper = KEY.to_ascii_uppercase();
        assert_eq!(
            status(
                UpgradeRequest {
                    key: Some(&upper),
                    ..good
                },
                "abc",
                50
            ),
            400
        );
        assert_eq!(status(UpgradeRequest { token: None, ..good }, "abc", 50), 401);
        assert_eq!(status(good, "abd", 50), 403);
        assert_eq!(status(good, "abc", 100), 403, "expired");
        let resume = UpgradeRequest {
            resume: Some("1"),
            ..good
        };
        assert!(resume.is_resume() && check_upgrade(&resume, "abc", &secret, 50).is_ok());
    }

    #[test]
    fn credentials_compare_whole() {
        assert!(same_credential("abc", "abc"));
        assert!(!same_credential("abc", "abd"));
        assert!(!same_credential("abc", "abcd"));
    }
}
