//! The HTTP rules of one exchange, which every end and every driver follows (docs/protocol.md,
//! "Invocation" and "Gateway side"): where the request body travels, which response statuses
//! the relay carries and which of them have a body, and which headers cross the gateway.

use core::fmt;
use core::str::FromStr;

use super::codes::{CLIENT_AUTHORIZATION_HEADER, FORWARDED_FOR_HEADER, RELAY_OUTCOME_HEADER};
use super::validate::{clip, InvocationError};

/// Default largest request body of known length that rides inline in the invocation.
pub const DEFAULT_INLINE_BODY_LIMIT: u64 = 1024 * 1024;
/// Largest response body a function answers in the invocation result instead of over the
/// socket (a quarter of a default frame). Such a response's first byte reaches the client
/// as soon as a plain function's would.
pub const INLINE_RESPONSE_LIMIT: usize = 64 * 1024;

/// Request headers that describe one hop and are never forwarded (RFC 9110, 7.6.1), plus
/// `proxy-connection`, which some clients still send.
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

/// Where a request body goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// The invocation's own body is the whole request body (possibly empty).
    Inline,
    /// The body streams over the socket as request body frames.
    Stream,
    /// The request is a client's WebSocket upgrade: once the function accepts it (a `101`
    /// head), both bodies are message streams ([`super::message`]); until then, and when the
    /// function refuses it with any other status, the request has no body.
    WebSocket,
}

impl BodyMode {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyMode::Inline => "inline",
            BodyMode::Stream => "stream",
            BodyMode::WebSocket => "websocket",
        }
    }

    /// Whether anything of the request travels over the socket after the invocation.
    pub fn streams(self) -> bool {
        self != BodyMode::Inline
    }

    /// Where a request body goes: inline when its length is known and at most
    /// `inline_limit`, over the socket otherwise. `has_body` is false for requests without
    /// one (no length and no chunked body, such as a plain GET).
    pub fn choose(has_body: bool, content_length: Option<u64>, inline_limit: u64) -> BodyMode {
        match (has_body, content_length) {
            (false, _) => BodyMode::Inline,
            (true, Some(len)) if len <= inline_limit => BodyMode::Inline,
            _ => BodyMode::Stream,
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
            "websocket" => Ok(BodyMode::WebSocket),
            _ => Err(InvocationError::BadBodyMode(clip(s))),
        }
    }
}

/// What both session ends know of the request they serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Where the request body travels.
    pub body_mode: BodyMode,
    /// Whether the request's method is HEAD, whose response never has a body.
    pub head_request: bool,
}

impl Exchange {
    /// An exchange for a request that is not HEAD.
    pub const fn new(body_mode: BodyMode) -> Self {
        Self {
            body_mode,
            head_request: false,
        }
    }

    /// An exchange for a request with this method.
    pub fn for_method(body_mode: BodyMode, method: &str) -> Self {
        Self {
            body_mode,
            head_request: method.eq_ignore_ascii_case("HEAD"),
        }
    }

    /// Whether a response with `status` carries a body in this exchange: an accepted
    /// WebSocket's (`101`) is its message stream.
    pub fn response_has_body(&self, status: u16) -> bool {
        self.accepts_websocket(status) || response_has_body(status, self.head_request)
    }

    /// Whether a response head with `status` accepts this exchange's WebSocket upgrade.
    pub fn accepts_websocket(&self, status: u16) -> bool {
        self.body_mode == BodyMode::WebSocket && status == WEBSOCKET_ACCEPT_STATUS
    }

    /// Whether the relay carries a response head with `status` in this exchange: 200 to 599,
    /// and `101` that accepts a WebSocket upgrade.
    pub fn valid_head_status(&self, status: u16) -> bool {
        valid_response_status(status) || self.accepts_websocket(status)
    }
}

/// The status of a response head that accepts a WebSocket upgrade.
pub const WEBSOCKET_ACCEPT_STATUS: u16 = 101;

/// Whether a client's request asks to become a WebSocket (RFC 6455, 4.1): a GET whose
/// `upgrade` header names `websocket` and whose `connection` header names `upgrade`.
pub fn is_websocket_upgrade<'a, V: AsRef<[u8]> + 'a>(
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, V)>,
) -> bool {
    if !method.eq_ignore_ascii_case("GET") {
        return false;
    }
    let (mut upgrade, mut connection) = (false, false);
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value.as_ref()) else {
            continue;
        };
        let names = |token: &str| value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= names("websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= names("upgrade");
        }
    }
    upgrade && connection
}

/// Whether a response may skip the socket and ride in the invocation result: the request body
/// did not stream (a streamed one needs the socket anyway), its status is one the relay
/// carries, and its body is complete and at most [`INLINE_RESPONSE_LIMIT`].
pub fn inline_response_allowed(exchange: &Exchange, status: u16, body_len: usize) -> bool {
    exchange.body_mode == BodyMode::Inline && valid_response_status(status) && body_len <= INLINE_RESPONSE_LIMIT
}

/// Whether the relay carries a response with this status: 200 to 599. Interim (1xx)
/// responses are the function's server's business; the relay carries the final one.
pub fn valid_response_status(status: u16) -> bool {
    (200..=599).contains(&status)
}

/// Whether a response has a body: never for HEAD, 204, 205 and 304 (RFC 9110, 6.4.1 and
/// 15.3.6); bytes a handler writes for one are dropped, as HTTP servers do.
pub fn response_has_body(status: u16, head_request: bool) -> bool {
    !(head_request || matches!(status, 204 | 205 | 304))
}

/// Whether a response header from the function reaches the client: hop-by-hop ones never;
/// `content-length` only on a bodiless HEAD or 304 response, where it describes the body the
/// request would have had (a body's framing is the gateway runtime's own).
pub fn forwards_response_header(name: &str, status: u16, head_request: bool) -> bool {
    let name = name.to_ascii_lowercase();
    if name == "content-length" {
        return head_request || status == 304;
    }
    if status == WEBSOCKET_ACCEPT_STATUS && name.starts_with("sec-websocket-") {
        // The gateway's runtime makes the client's handshake; of the function's, only the
        // subprotocol it chose crosses.
        return name == "sec-websocket-protocol";
    }
    !HOP_BY_HOP_HEADERS.contains(&name.as_str())
}

/// Whether a header of a response the function answered in the invocation result (outcome
/// `complete`) reaches the client: as it would from a streamed head, and never the outcome
/// header itself, which is for the gateway.
pub fn forwards_inline_header(name: &str, status: u16, head_request: bool) -> bool {
    !name.eq_ignore_ascii_case(RELAY_OUTCOME_HEADER) && forwards_response_header(name, status, head_request)
}

/// The names a message's `connection` headers list (lowercase): hop-by-hop for that message
/// alone (RFC 9110, 7.6.1), so they never cross a proxy.
pub fn connection_listed<'a, V: AsRef<[u8]> + 'a>(headers: impl IntoIterator<Item = (&'a str, V)>) -> Vec<String> {
    headers
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, value)| std::str::from_utf8(value.as_ref()).ok().map(str::to_owned))
        .flat_map(|value| {
            value
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|token| !token.is_empty())
        .collect()
}

/// The function's response headers that reach the client, in order: those
/// [`forwards_response_header`] (or, for a response answered in the invocation result,
/// [`forwards_inline_header`]) lets through, less every header its `connection` header names.
pub fn client_response_headers<'a, V, I>(headers: I, status: u16, head_request: bool, inline: bool) -> Vec<(&'a str, V)>
where
    V: AsRef<[u8]> + 'a,
    I: IntoIterator<Item = (&'a str, V)>,
    I::IntoIter: Clone,
{
    let headers = headers.into_iter();
    let listed = connection_listed(headers.clone());
    let forwards = if inline {
        forwards_inline_header
    } else {
        forwards_response_header
    };
    headers
        .filter(|(name, _)| forwards(name, status, head_request) && !listed.contains(&name.to_ascii_lowercase()))
        .collect()
}

/// What the gateway knows of the client's connection, for the `x-forwarded-*` headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientInfo<'a> {
    /// The client's address as the gateway's runtime reports it (never a header the client
    /// could set).
    pub address: Option<&'a str>,
    /// The scheme the client used (`https`).
    pub scheme: &'a str,
    /// The host the client asked for, with its port if it named one.
    pub host: Option<&'a str>,
}

/// The headers of the invocation, from the client's: every header but the hop-by-hop ones,
/// those the client's `connection` header names, `host`, `content-length`, the relay's own
/// (`x-lambda-relay-*`), every forwarding header (`forwarded`, `x-forwarded-*`: a client
/// could forge them) and the ones a SigV4 signature sets (`x-amz-date`,
/// `x-amz-content-sha256`, `x-amz-security-token`), then `x-forwarded-for`, `-proto` and
/// `-host` as the gateway saw the client. The client's `authorization` travels as
/// [`CLIENT_AUTHORIZATION_HEADER`]: the invocation's own is the gateway's signature when it
/// signs. Names come out lowercase, in the client's order.
pub fn invocation_headers<'a, I>(client: I, info: &ClientInfo<'_>) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
    I::IntoIter: Clone,
{
    let client = client.into_iter();
    let listed = connection_listed(client.clone());
    let mut out: Vec<(String, String)> = client
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let dropped = HOP_BY_HOP_HEADERS.contains(&name.as_str())
                || listed.contains(&name)
                || name.starts_with("x-lambda-relay-")
                || name.starts_with("x-forwarded-")
                || matches!(
                    name.as_str(),
                    "host"
                        | "content-length"
                        | "forwarded"
                        | "x-amz-date"
                        | "x-amz-content-sha256"
                        | "x-amz-security-token"
                );
            let name = if name == "authorization" {
                CLIENT_AUTHORIZATION_HEADER.to_owned()
            } else {
                name
            };
            (!dropped).then(|| (name, value.to_owned()))
        })
        .collect();
    if let Some(address) = info.address {
        out.push((FORWARDED_FOR_HEADER.into(), address.to_owned()));
    }
    out.push(("x-forwarded-proto".into(), info.scheme.to_owned()));
    if let Some(host) = info.host {
        out.push(("x-forwarded-host".into(), host.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_modes_by_length() {
        assert_eq!(BodyMode::choose(false, None, 10), BodyMode::Inline);
        assert_eq!(BodyMode::choose(true, Some(10), 10), BodyMode::Inline);
        assert_eq!(BodyMode::choose(true, Some(11), 10), BodyMode::Stream);
        assert_eq!(BodyMode::choose(true, None, 10), BodyMode::Stream);
        assert_eq!("stream".parse::<BodyMode>(), Ok(BodyMode::Stream));
        assert_eq!("inline".parse::<BodyMode>(), Ok(BodyMode::Inline));
        assert_eq!("websocket".parse::<BodyMode>(), Ok(BodyMode::WebSocket));
        assert!("Stream".parse::<BodyMode>().is_err());
        assert!(BodyMode::Stream.streams() && BodyMode::WebSocket.streams() && !BodyMode::Inline.streams());
    }

    #[test]
    fn websocket_upgrades_and_their_accepting_status() {
        let upgrade = [("Upgrade", "WebSocket"), ("Connection", "keep-alive, Upgrade")];
        assert!(is_websocket_upgrade("GET", upgrade));
        assert!(!is_websocket_upgrade("POST", upgrade), "only a GET upgrades");
        assert!(
            !is_websocket_upgrade("GET", [("upgrade", "websocket")]),
            "connection must name it"
        );
        assert!(!is_websocket_upgrade(
            "GET",
            [("upgrade", "h2c"), ("connection", "upgrade")]
        ));
        let ws = Exchange::for_method(BodyMode::WebSocket, "GET");
        assert!(ws.valid_head_status(101) && ws.response_has_body(101) && ws.accepts_websocket(101));
        assert!(ws.valid_head_status(403) && !ws.accepts_websocket(403));
        let http = Exchange::for_method(BodyMode::Stream, "GET");
        assert!(!http.valid_head_status(101), "101 accepts only a WebSocket exchange");
        assert!(forwards_response_header("Sec-WebSocket-Protocol", 101, false));
        assert!(!forwards_response_header("sec-websocket-accept", 101, false));
        assert!(!forwards_response_header("sec-websocket-extensions", 101, false));
        assert!(forwards_response_header("set-cookie", 101, false));
    }

    #[test]
    fn statuses_the_relay_carries_and_which_have_a_body() {
        for status in [100, 101, 103, 199, 600, 0] {
            assert!(!valid_response_status(status), "{status}");
        }
        for status in [200, 204, 302, 404, 599] {
            assert!(valid_response_status(status), "{status}");
        }
        for status in [204, 205, 304] {
            assert!(!response_has_body(status, false), "{status}");
        }
        assert!(!response_has_body(200, true), "HEAD");
        assert!(response_has_body(200, false) && response_has_body(302, false) && response_has_body(500, false));
        assert!(Exchange::for_method(BodyMode::Inline, "head").head_request);
        assert!(!Exchange::for_method(BodyMode::Inline, "GET").head_request);
    }

    #[test]
    fn headers_the_functions_connection_header_names_never_reach_the_client() {
        let head = [
            ("Connection", "X-Hop, keep-alive"),
            ("x-hop", "internal"),
            ("keep-alive", "timeout=5"),
            ("x-kept", "yes"),
        ];
        assert_eq!(
            client_response_headers(head, 200, false, false),
            vec![("x-kept", "yes")]
        );
        let inline = [
            ("connection", "x-hop"),
            ("x-hop", "1"),
            (RELAY_OUTCOME_HEADER, "complete"),
            ("etag", "v"),
        ];
        assert_eq!(client_response_headers(inline, 200, false, true), vec![("etag", "v")]);
    }

    #[test]
    fn response_headers_that_reach_the_client() {
        assert!(forwards_response_header("set-cookie", 200, false));
        assert!(!forwards_response_header("Transfer-Encoding", 200, false));
        assert!(!forwards_response_header("content-length", 200, false));
        assert!(
            forwards_response_header("content-length", 200, true),
            "HEAD keeps its length"
        );
        assert!(forwards_response_header("content-length", 304, false));
        assert!(!forwards_response_header("content-length", 204, false));
    }

    #[test]
    fn an_inline_answers_headers_follow_the_same_rule_without_the_outcome() {
        assert!(forwards_inline_header("set-cookie", 200, false));
        assert!(!forwards_inline_header("X-Lambda-Relay-Outcome", 200, false));
        assert!(!forwards_inline_header("transfer-encoding", 200, false));
        assert!(!forwards_inline_header("content-length", 200, false));
        assert!(forwards_inline_header("content-length", 200, true));
    }

    #[test]
    fn invocation_headers_drop_what_a_client_could_forge_or_what_names_one_hop() {
        let client = [
            ("Accept", "*/*"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("Host", "client.example"),
            ("content-length", "5"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
            ("Forwarded", "for=6.6.6.6"),
            ("x-lambda-relay-token", "forged"),
            ("TE", "trailers"),
            ("set-cookie", "not-a-request-header-but-harmless"),
            ("cookie", "a=1"),
            ("Authorization", "Bearer client"),
            ("X-Amz-Date", "20000101T000000Z"),
            ("x-amz-security-token", "forged"),
        ];
        let info = ClientInfo {
            address: Some("203.0.113.7"),
            scheme: "https",
            host: Some("gw.example"),
        };
        let out = invocation_headers(client.iter().copied(), &info);
        let pairs: Vec<(&str, &str)> = out.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("accept", "*/*"),
                ("set-cookie", "not-a-request-header-but-harmless"),
                ("cookie", "a=1"),
                (CLIENT_AUTHORIZATION_HEADER, "Bearer client"),
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "gw.example"),
            ]
        );
    }
}
