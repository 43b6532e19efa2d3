//! The invocation: the relay headers the gateway adds, how the function classifies what it
//! was sent (direct, relayed, or refused), and the result it answers with
//! (docs/protocol.md, "Invocation").
//!
//! Every function-side driver (the Rust integration, the Node addon) calls
//! [`classify_invocation`] once per invocation and renders an [`InvocationResult`]; none of
//! them decides anything of its own.

use core::fmt;
use core::time::Duration;

use super::codes::Outcome;
use super::exchange::BodyMode;
use super::token::{RelaySecret, TokenError};
use super::upgrade::socket_url;

/// Invocation header carrying the relay id.
pub const RELAY_ID_HEADER: &str = "x-lambda-relay-id";
/// Invocation and upgrade header carrying the token.
pub const RELAY_TOKEN_HEADER: &str = "x-lambda-relay-token";
/// Invocation header saying where the request body is ([`BodyMode`]).
pub const RELAY_BODY_HEADER: &str = "x-lambda-relay-body";
/// Invocation result header by which a relay-aware function reports what became of a relay
/// invocation ([`Outcome`]). A result without it, from a function that never connected, is
/// an ordinary response to pass through.
pub const RELAY_OUTCOME_HEADER: &str = "x-lambda-relay-outcome";
/// Header by which Lambda's own front door marks an answer it gave instead of the function
/// (`AccessDeniedException` for a missing permission, `TooManyRequestsException`, …).
pub const LAMBDA_ERROR_HEADER: &str = "x-amzn-errortype";
/// Every header the gateway adds to an invocation; the function strips them before the
/// handler sees the request.
pub const RELAY_HEADERS: [&str; 3] = [RELAY_ID_HEADER, RELAY_TOKEN_HEADER, RELAY_BODY_HEADER];
/// Longest relay id accepted.
pub const MAX_RELAY_ID_LEN: usize = 128;
/// Environment variable with the gateway's base URL, on the function side.
pub const GATEWAY_URL_ENV: &str = "RELAY_GATEWAY_URL";
/// Environment variable with the shared secret, on both sides.
pub const SECRET_ENV: &str = "RELAY_SECRET";
/// Default time before the Lambda deadline at which a relayed response is failed with
/// `deadline`, so the client learns at once that it was cut short.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// What an invocation's relay headers say.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayHeaders {
    /// The relay id.
    pub relay_id: String,
    /// The token (verified once [`classify_invocation`] returned it).
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
/// are incomplete or malformed. The token is not verified here.
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

/// The client's address, as the gateway saw its connection: the gateway sets
/// `x-forwarded-for` to exactly that (and drops any the client sent), so on a relay
/// invocation whose token verified it is the client's, where `requestContext.http.sourceIp`
/// is only the gateway's.
pub fn relayed_client_address<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    get(super::exchange::FORWARDED_FOR_HEADER)
        .map(|v| v.split(',').next().unwrap_or("").trim())
        .filter(|v| !v.is_empty())
}

/// Checks a relay id: 1 to 128 of `A-Z a-z 0-9 - _`, so it is safe in a path and a MAC.
pub fn validate_relay_id(id: &str) -> Result<(), InvocationError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_RELAY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvocationError::BadRelayId(clip(id)))
    }
}

/// The first 64 characters of a value quoted in an error: enough to recognise it, never a
/// flood.
pub(crate) fn clip(s: &str) -> String {
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
    /// The gateway URL is not a ws, wss, http or https URL without query, fragment or user
    /// info.
    #[error("invalid gateway url {0:?}")]
    BadGatewayUrl(String),
    /// A plain-text (`ws://`, `http://`) URL to a host that is not loopback: the token and
    /// the whole response would cross the network unencrypted.
    #[error("{0:?} is not encrypted; use wss:// or https:// (ws:// and http:// only for loopback)")]
    Unencrypted(String),
}

/// The function side's relay settings: its gateway and the secret it shares with it.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    gateway_url: String,
    secret: RelaySecret,
}

impl RelaySettings {
    /// Settings for the gateway at `gateway_url`; the URL is checked now, not on the first
    /// invocation.
    pub fn new(gateway_url: impl Into<String>, secret: RelaySecret) -> Result<Self, SettingsError> {
        let gateway_url = gateway_url.into();
        socket_url(&gateway_url, "check").map_err(SettingsError::GatewayUrl)?;
        Ok(Self { gateway_url, secret })
    }

    /// Settings from the values of `RELAY_GATEWAY_URL` and `RELAY_SECRET` (empty counts as
    /// unset): `None` with neither (the function serves direct responses only), an error with
    /// one but not the other or with an invalid value.
    pub fn from_values(gateway_url: Option<&str>, secret: Option<&str>) -> Result<Option<Self>, SettingsError> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.filter(|v| !v.is_empty())
        }
        match (present(gateway_url), present(secret)) {
            (None, None) => Ok(None),
            (Some(url), Some(secret)) => {
                let secret = RelaySecret::new(secret.as_bytes().to_vec()).map_err(SettingsError::Secret)?;
                Self::new(url, secret).map(Some)
            }
            (Some(_), None) => Err(SettingsError::Missing {
                set: GATEWAY_URL_ENV,
                missing: SECRET_ENV,
            }),
            (None, Some(_)) => Err(SettingsError::Missing {
                set: SECRET_ENV,
                missing: GATEWAY_URL_ENV,
            }),
        }
    }

    /// The gateway's base URL.
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// The shared secret.
    pub fn secret(&self) -> &RelaySecret {
        &self.secret
    }
}

/// Why the function side's relay settings are not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// One of the two settings is set without the other.
    #[error("{set} is set but {missing} is not")]
    Missing {
        /// The one that is set.
        set: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// `RELAY_GATEWAY_URL` is not usable.
    #[error("{GATEWAY_URL_ENV}: {0}")]
    GatewayUrl(InvocationError),
    /// `RELAY_SECRET` is not usable.
    #[error("{SECRET_ENV}: {0}")]
    Secret(TokenError),
}

/// What an invocation is, as the function sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Classification {
    /// No relay headers: serve it as an ordinary, buffered Function URL response.
    Direct,
    /// A relay invocation whose token verified: connect and stream.
    Relay(RelayHeaders),
    /// A relay invocation the function will not serve: answer with this result and do not
    /// connect.
    Refused(InvocationResult),
}

/// Classifies an invocation from its headers (`get` is a case-insensitive lookup), the
/// function's settings and the time (Unix seconds), in this order (docs/protocol.md,
/// "Invocation"):
///
/// 1. no relay id header: [`Classification::Direct`];
/// 2. no usable settings: 500 `unconfigured` (the function cannot judge a relay invocation
///    without its secret, and the operator has a deployment to fix);
/// 3. malformed relay headers: 400 `refused`;
/// 4. a token that does not verify for this relay id, or has expired: 403 `refused`;
/// 5. otherwise [`Classification::Relay`].
pub fn classify_invocation<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    settings: Result<Option<&RelaySettings>, &SettingsError>,
    now_unix: u64,
) -> Classification {
    let Some(relay) = read_relay_headers(get) else {
        return Classification::Direct;
    };
    let settings = match settings {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Classification::Refused(InvocationResult::unconfigured(format!(
                "relay invocation, but {GATEWAY_URL_ENV} and {SECRET_ENV} are not set"
            )))
        }
        Err(e) => {
            return Classification::Refused(InvocationResult::unconfigured(format!(
                "relay invocation, but the relay settings are invalid: {e}"
            )))
        }
    };
    let relay = match relay {
        Ok(r) => r,
        Err(e) => return Classification::Refused(InvocationResult::refused(400, e.to_string())),
    };
    if let Err(e) = settings.secret().verify(&relay.token, &relay.relay_id, now_unix) {
        return Classification::Refused(InvocationResult::refused(403, format!("relay token refused: {e}")));
    }
    Classification::Relay(relay)
}

/// The function's answer to a relay invocation: a short plain-text result marked with its
/// [`Outcome`], so the gateway tells it from an ordinary response. The client's response
/// went (or did not go) over the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationResult {
    /// The HTTP status of the invocation result.
    pub status: u16,
    /// What became of the relay.
    pub outcome: Outcome,
    /// A short plain-text reason (the result's body).
    pub message: String,
}

impl InvocationResult {
    /// The content type of every invocation result.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// 200 `relayed`: the response's end was acknowledged.
    pub fn relayed() -> Self {
        Self::new(200, Outcome::RELAYED, "relayed".into())
    }

    /// 200 `aborted`: the gateway aborted (the client went away); nothing is wrong with the
    /// function.
    pub fn aborted() -> Self {
        Self::new(
            200,
            Outcome::ABORTED,
            "aborted by the gateway: the client went away".into(),
        )
    }

    /// 502 `failed`: the relay failed (no socket, a failed session).
    pub fn failed(reason: impl fmt::Display) -> Self {
        Self::new(502, Outcome::FAILED, format!("relay failed: {reason}"))
    }

    /// `refused` with 400 (malformed headers) or 403 (a token that does not verify).
    pub fn refused(status: u16, reason: String) -> Self {
        Self::new(status, Outcome::REFUSED, reason)
    }

    /// 500 `unconfigured`.
    pub fn unconfigured(reason: String) -> Self {
        Self::new(500, Outcome::UNCONFIGURED, reason)
    }

    /// The outcome header of a response answered inline: the result is the response itself
    /// ([`FunctionSession::respond_inline`](super::FunctionSession::respond_inline)), so its
    /// status, headers and body are the handler's, plus this one header.
    pub fn complete_header() -> (&'static str, &'static str) {
        (RELAY_OUTCOME_HEADER, Outcome::COMPLETE.name().unwrap_or_default())
    }

    fn new(status: u16, outcome: Outcome, message: String) -> Self {
        Self {
            status,
            outcome,
            message,
        }
    }

    /// The result's headers: its content type and the outcome.
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("content-type", Self::CONTENT_TYPE),
            (RELAY_OUTCOME_HEADER, self.outcome.name().unwrap_or("failed")),
        ]
    }
}

/// An invocation's result as the gateway received it (docs/protocol.md, "Gateway side").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvocationReply<'a> {
    /// The function URL answered with this status; `outcome` is its
    /// `x-lambda-relay-outcome` header, if it had one.
    Response {
        /// The result's status.
        status: u16,
        /// The outcome header's value.
        outcome: Option<&'a str>,
    },
    /// Lambda answered instead of the function, which never ran: the result carried
    /// [`LAMBDA_ERROR_HEADER`] and no outcome.
    Refused {
        /// The result's status.
        status: u16,
        /// The error header's value.
        error_type: &'a str,
    },
    /// The invocation itself failed (no connection to the function URL, a reset).
    Failed,
}

impl<'a> InvocationReply<'a> {
    /// The reply for a result with this status and these two headers' values
    /// ([`RELAY_OUTCOME_HEADER`], [`LAMBDA_ERROR_HEADER`]).
    pub fn from_result(status: u16, outcome: Option<&'a str>, lambda_error: Option<&'a str>) -> Self {
        match (outcome, lambda_error) {
            (None, Some(error_type)) => Self::Refused { status, error_type },
            _ => Self::Response { status, outcome },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<&'static str> {
        move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn relay_headers() {
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
    fn relay_ids() {
        assert!(validate_relay_id("0123abcdef_-XYZ").is_ok());
        assert!(validate_relay_id("").is_err());
        assert!(validate_relay_id(&"a".repeat(129)).is_err());
        assert!(validate_relay_id("a\0b").is_err());
    }

    const SECRET: &str = "0123456789abcdef0123";

    fn settings() -> RelaySettings {
        RelaySettings::from_values(Some("wss://gw.example"), Some(SECRET))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn settings_come_in_pairs_and_are_checked_up_front() {
        assert!(RelaySettings::from_values(None, Some("")).unwrap().is_none());
        assert_eq!(
            RelaySettings::from_values(Some("wss://gw"), None).unwrap_err(),
            SettingsError::Missing {
                set: GATEWAY_URL_ENV,
                missing: SECRET_ENV
            }
        );
        assert_eq!(
            RelaySettings::from_values(None, Some(SECRET)).unwrap_err(),
            SettingsError::Missing {
                set: SECRET_ENV,
                missing: GATEWAY_URL_ENV
            }
        );
        assert!(matches!(
            RelaySettings::from_values(Some("ftp://gw"), Some(SECRET)),
            Err(SettingsError::GatewayUrl(InvocationError::BadGatewayUrl(_)))
        ));
        assert!(matches!(
            RelaySettings::from_values(Some("wss://gw"), Some("short")),
            Err(SettingsError::Secret(TokenError::WeakSecret { len: 5 }))
        ));
    }

    #[test]
    fn classification_order_direct_unconfigured_malformed_forged_relay() {
        let s = settings();
        let token = s.secret().mint("abc", 1_000).unwrap();
        let now = 500;
        let plain = headers(&[("accept", "*/*")]);
        assert_eq!(classify_invocation(&plain, Ok(None), now), Classification::Direct);
        let bad_settings = SettingsError::Missing {
            set: SECRET_ENV,
            missing: GATEWAY_URL_ENV,
        };
        assert_eq!(
            classify_invocation(&plain, Err(&bad_settings), now),
            Classification::Direct,
            "direct invocations are served whatever the settings"
        );

        // Malformed headers on an unconfigured function: unconfigured comes first.
        let malformed = headers(&[(RELAY_ID_HEADER, "a/b")]);
        let Classification::Refused(r) = classify_invocation(&malformed, Ok(None), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (500, Outcome::UNCONFIGURED));
        let Classification::Refused(r) = classify_invocation(&malformed, Err(&bad_settings), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (500, Outcome::UNCONFIGURED));
        assert!(r.message.contains("RELAY_SECRET is set but RELAY_GATEWAY_URL is not"));

        let Classification::Refused(r) = classify_invocation(&malformed, Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (400, Outcome::REFUSED));

        let forged = headers(&[(RELAY_ID_HEADER, "abd"), (RELAY_TOKEN_HEADER, "v1.1000.00")]);
        let Classification::Refused(r) = classify_invocation(&forged, Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (403, Outcome::REFUSED));
        assert!(r.message.starts_with("relay token refused"));

        let get = |name: &str| match name {
            RELAY_ID_HEADER => Some("abc"),
            RELAY_TOKEN_HEADER => Some(token.as_str()),
            _ => None,
        };
        let Classification::Relay(relay) = classify_invocation(get, Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((relay.relay_id.as_str(), relay.body_mode), ("abc", BodyMode::Inline));
        let Classification::Refused(r) = classify_invocation(get, Ok(Some(&s)), 1_000) else {
            panic!()
        };
        assert_eq!(r.status, 403, "expired");
    }

    #[test]
    fn results_carry_their_outcome() {
        let r = InvocationResult::relayed();
        assert_eq!(r.status, 200);
        assert_eq!(r.headers()[1], (RELAY_OUTCOME_HEADER, "relayed"));
        assert_eq!(InvocationResult::aborted().status, 200);
        let failed = InvocationResult::failed("no socket");
        assert_eq!(
            (failed.status, failed.message.as_str()),
            (502, "relay failed: no socket")
        );
        assert_eq!(
            InvocationResult::unconfigured("x".into()).headers()[1].1,
            "unconfigured"
        );
    }
}
