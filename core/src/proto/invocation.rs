//! The invocation as the function reads it (docs/protocol.md, "Invocation"): its relay
//! headers, the client's address, and whether it is direct, relayed or refused.
//!
//! `adapter::begin` calls [`classify_invocation`] once per invocation for every binding (the
//! Rust integration, the Node addon, the Python module); none of them decides anything of
//! its own.

use core::fmt;

use super::codes::{
    FORWARDED_FOR_HEADER, GATEWAY_URL_ENV, RELAY_BODY_HEADER, RELAY_ID_HEADER, RELAY_TOKEN_HEADER, SECRET_ENV,
};
use super::exchange::BodyMode;
use super::result::InvocationResult;
use super::settings::{RelaySettings, SettingsError};
use super::token::RequestBinding;
use super::validate::{validate_relay_id, InvocationError};

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
    get(FORWARDED_FOR_HEADER)
        .map(|v| v.split(',').next().unwrap_or("").trim())
        .filter(|v| !v.is_empty())
}

/// What an invocation is, as the function sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Classification {
    /// No relay headers: serve it as an ordinary, buffered Function URL response.
    Direct,
    /// A relay invocation whose token verified: connect and stream.
    Relayed(RelayHeaders),
    /// A relay invocation the function will not serve: answer with this result and do not
    /// connect.
    Refused(InvocationResult),
}

/// The parts of an invocation's request its token is bound to, as the function's event shows
/// them (the body mode and the client's address come from the headers).
#[derive(Clone, Copy, Debug)]
pub struct InvocationRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The path and query, as sent.
    pub path_and_query: &'a str,
    /// The event's own body, decoded.
    pub body: &'a [u8],
}

/// Classifies an invocation from its headers (`get` is a case-insensitive lookup), its
/// request as the event shows it (`None` when the event cannot be read), the function's
/// settings and the time (Unix seconds), in this order (docs/protocol.md, "Invocation"):
///
/// 1. no relay id header: [`Classification::Direct`];
/// 2. no usable settings: 500 `unconfigured` (the function cannot judge a relay invocation
///    without its secret, and the operator has a deployment to fix);
/// 3. malformed relay headers, or a request that cannot be read: 400 `refused`;
/// 4. a token that does not verify for this relay id, has expired, was minted for another
///    request or too long ago ([`TokenClaims::admit`](super::TokenClaims::admit)): 403
///    `refused`;
/// 5. otherwise [`Classification::Relayed`].
pub fn classify_invocation<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    request: Option<InvocationRequest<'_>>,
    settings: Result<Option<&RelaySettings>, &SettingsError>,
    now_unix: u64,
) -> Classification {
    let Some(relay) = read_relay_headers(&get) else {
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
    let Some(request) = request else {
        return Classification::Refused(InvocationResult::refused(
            400,
            "the relay invocation's request cannot be read from its event".into(),
        ));
    };
    let admitted = settings
        .secret()
        .verify(&relay.token, &relay.relay_id, now_unix)
        .and_then(|claims| {
            let binding = RequestBinding {
                method: request.method,
                path_and_query: request.path_and_query,
                body_mode: relay.body_mode,
                inline_body: request.body,
                client_address: relayed_client_address(&get),
            };
            claims.admit(&binding, now_unix)
        });
    if let Err(e) = admitted {
        return Classification::Refused(InvocationResult::refused(403, format!("relay token refused: {e}")));
    }
    Classification::Relayed(relay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Outcome, TokenClaims};

    const REQUEST: InvocationRequest<'static> = InvocationRequest {
        method: "GET",
        path_and_query: "/",
        body: b"",
    };

    /// The binding of [`REQUEST`] relayed inline from `client`.
    fn binding(client: Option<&str>) -> RequestBinding<'_> {
        RequestBinding {
            method: REQUEST.method,
            path_and_query: REQUEST.path_and_query,
            body_mode: BodyMode::Inline,
            inline_body: REQUEST.body,
            client_address: client,
        }
    }

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

    const SECRET: &str = "0123456789abcdef0123";

    fn settings() -> RelaySettings {
        RelaySettings::from_values(Some("wss://gw.example"), Some(SECRET))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn each_kind_of_malformed_relay_header_is_refused_400() {
        let s = settings();
        for (case, pairs) in [
            (
                "a bad relay id",
                &[(RELAY_ID_HEADER, "a/b"), (RELAY_TOKEN_HEADER, "v1.1.x")][..],
            ),
            ("a missing token", &[(RELAY_ID_HEADER, "abc")][..]),
            (
                "an unknown body mode",
                &[
                    (RELAY_ID_HEADER, "abc"),
                    (RELAY_TOKEN_HEADER, "v1.1.x"),
                    (RELAY_BODY_HEADER, "chunked"),
                ][..],
            ),
        ] {
            let get = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
            let Classification::Refused(r) = classify_invocation(get, Some(REQUEST), Ok(Some(&s)), 500) else {
                panic!("{case} was not refused")
            };
            assert_eq!((r.status, r.outcome), (400, Outcome::REFUSED), "{case}");
        }
    }

    #[test]
    fn classification_order_direct_unconfigured_malformed_forged_relay() {
        let s = settings();
        let token = s
            .secret()
            .mint("abc", &TokenClaims::new(480, 520, &binding(None)))
            .unwrap();
        let now = 500;
        let plain = headers(&[("accept", "*/*")]);
        assert_eq!(
            classify_invocation(&plain, Some(REQUEST), Ok(None), now),
            Classification::Direct
        );
        let bad_settings = SettingsError::Missing {
            set: SECRET_ENV,
            missing: GATEWAY_URL_ENV,
        };
        assert_eq!(
            classify_invocation(&plain, Some(REQUEST), Err(&bad_settings), now),
            Classification::Direct,
            "direct invocations are served whatever the settings"
        );

        // Malformed headers on an unconfigured function: unconfigured comes first.
        let malformed = headers(&[(RELAY_ID_HEADER, "a/b")]);
        let Classification::Refused(r) = classify_invocation(&malformed, Some(REQUEST), Ok(None), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (500, Outcome::UNCONFIGURED));
        let Classification::Refused(r) = classify_invocation(&malformed, Some(REQUEST), Err(&bad_settings), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (500, Outcome::UNCONFIGURED));
        assert!(r.message.contains("RELAY_SECRET is set but RELAY_GATEWAY_URL is not"));

        let Classification::Refused(r) = classify_invocation(&malformed, Some(REQUEST), Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (400, Outcome::REFUSED));

        let forged = headers(&[(RELAY_ID_HEADER, "abd"), (RELAY_TOKEN_HEADER, "v1.1000.00")]);
        let Classification::Refused(r) = classify_invocation(&forged, Some(REQUEST), Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((r.status, r.outcome), (403, Outcome::REFUSED));
        assert!(r.message.starts_with("relay token refused"));

        let get = |name: &str| match name {
            RELAY_ID_HEADER => Some("abc"),
            RELAY_TOKEN_HEADER => Some(token.as_str()),
            _ => None,
        };
        let Classification::Relayed(relay) = classify_invocation(get, Some(REQUEST), Ok(Some(&s)), now) else {
            panic!()
        };
        assert_eq!((relay.relay_id.as_str(), relay.body_mode), ("abc", BodyMode::Inline));
        let Classification::Refused(r) = classify_invocation(get, Some(REQUEST), Ok(Some(&s)), 1_000) else {
            panic!()
        };
        assert_eq!(r.status, 403, "expired");
    }

    #[test]
    fn a_genuine_token_starts_nothing_but_its_own_request_and_only_soon() {
        let s = settings();
        let token = s
            .secret()
            .mint("abc", &TokenClaims::new(1_000, 900, &binding(Some("203.0.113.9"))))
            .unwrap();
        let sent = [
            (RELAY_ID_HEADER, "abc"),
            (RELAY_TOKEN_HEADER, token.as_str()),
            ("x-forwarded-for", "203.0.113.9"),
        ];
        let classify = |pairs: &[(&str, &str)], request, now| {
            classify_invocation(
                |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
                request,
                Ok(Some(&s)),
                now,
            )
        };
        let refused = |pairs: &[(&str, &str)], request, now| match classify(pairs, request, now) {
            Classification::Refused(r) => (r.status, r.message),
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            classify(&sent, Some(REQUEST), 1_010),
            Classification::Relayed(_)
        ));
        let minted_for_another = (
            403,
            "relay token refused: relay token was minted for another request".to_owned(),
        );
        for request in [
            InvocationRequest {
                method: "DELETE",
                ..REQUEST
            },
            InvocationRequest {
                path_and_query: "/admin",
                ..REQUEST
            },
            InvocationRequest { body: b"x", ..REQUEST },
        ] {
            assert_eq!(refused(&sent, Some(request), 1_010), minted_for_another, "{request:?}");
        }
        let mut elsewhere = sent;
        elsewhere[2].1 = "198.51.100.7";
        assert_eq!(refused(&elsewhere, Some(REQUEST), 1_010), minted_for_another);
        let streamed = [sent[0], sent[1], sent[2], (RELAY_BODY_HEADER, "stream")];
        assert_eq!(refused(&streamed, Some(REQUEST), 1_010), minted_for_another);
        let (status, message) = refused(&sent, Some(REQUEST), 1_061);
        assert_eq!(status, 403);
        assert!(message.contains("too far from now"), "{message}");
        assert_eq!(refused(&sent, None, 1_010).0, 400, "an unreadable request");
    }
}
