//! The relay socket's upgrade, from both ends (docs/protocol.md, "Upgrade"): the headers the
//! function sends, what the gateway checks before it upgrades, and how the function reads
//! the gateway's answer. The Durable Object, the tokio client and the test gateway all call
//! these; none repeats them.

use core::fmt;

use super::codes::{RELAY_KEY_HEADER, RELAY_RESUME_HEADER, RELAY_TOKEN_HEADER, SUBPROTOCOL};
use super::token::RelaySecret;
use super::validate::validate_relay_id;

/// Length of a session key: 32 lowercase hex digits (128 bits).
pub const SESSION_KEY_LEN: usize = 32;

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
    /// The gateway answered 410: the exchange is over (its client left before the function
    /// connected, or it ended otherwise). Final; the function stops as when the gateway aborts.
    Gone,
    /// The gateway refused with another 4xx: final, retrying cannot help.
    Refused(u16),
    /// The gateway upgraded without selecting this protocol version: final.
    WrongProtocol,
    /// Anything else (a 5xx, an odd status): worth another try.
    Retry(u16),
}

impl fmt::Display for UpgradeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeFailure::Gone => write!(f, "the exchange is over (HTTP 410): the client left"),
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
        410 => Err(UpgradeFailure::Gone),
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn upgrade_answers_as_the_function_reads_them() {
        assert_eq!(check_upgrade_response(101, Some(SUBPROTOCOL)), Ok(()));
        assert_eq!(check_upgrade_response(101, None), Err(UpgradeFailure::WrongProtocol));
        assert_eq!(check_upgrade_response(409, None), Err(UpgradeFailure::Refused(409)));
        assert_eq!(check_upgrade_response(410, None), Err(UpgradeFailure::Gone));
        assert!(UpgradeFailure::Gone.is_final());
        assert_eq!(check_upgrade_response(503, None), Err(UpgradeFailure::Retry(503)));
        assert!(UpgradeFailure::Refused(403).is_final() && !UpgradeFailure::Retry(502).is_final());
        let headers = upgrade_request_headers("t", KEY, true);
        assert_eq!(headers.last(), Some(&(RELAY_RESUME_HEADER, "1")));
        assert_eq!(upgrade_request_headers("t", KEY, false).len(), 3);
    }

    #[test]
    fn upgrade_checks_in_order() {
        let secret = RelaySecret::new(*b"0123456789abcdef").unwrap();
        let binding = crate::proto::RequestBinding {
            method: "GET",
            path_and_query: "/",
            body_mode: crate::proto::BodyMode::Inline,
            inline_body: b"",
            client_address: None,
        };
        let token = secret
            .mint("abc", &crate::proto::TokenClaims::new(0, 100, &binding))
            .unwrap();
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
}
