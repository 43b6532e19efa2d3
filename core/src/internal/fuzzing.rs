//! Fuzz bodies: each takes arbitrary bytes and drives one part of `proto` with them, asserting
//! what must hold whatever the input. The cargo-fuzz targets in `fuzz/` are one line each, and
//! `tests/fuzz_corpus.rs` runs the same bodies over the committed corpus, so CI exercises them
//! without a fuzzer.

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::proto::{
    self, BodyMode, Config, Exchange, Frame, FunctionSession, GatewaySession, Limits, ReceivedResult, RelaySecret,
    ResponseHead, Timestamp, UpgradeRequest,
};

/// Decodes a message; what decodes re-encodes to the same bytes and decodes again the same.
pub fn decode_frame(data: &[u8]) {
    let limits = Limits {
        max_payload: 4096,
        max_header_bytes: 2048,
    };
    let msg = Bytes::copy_from_slice(data);
    if let Ok(frame) = Frame::decode(&msg, &limits) {
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(out.len(), frame.encoded_len(), "encoded_len matches");
        let again = Frame::decode(&out.freeze(), &limits).expect("a decoded frame re-encodes to a valid one");
        assert_eq!(again, frame);
    }
}

/// A cursor over the fuzzer's bytes, handing out small numbers and slices.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.byte()?) << 8 | u16::from(self.byte()?))
    }

    fn bytes(&mut self, max: usize) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?).min(max).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        Some(taken)
    }
}

fn config() -> Config {
    Config {
        max_payload: 1024,
        window: 4096,
        max_header_bytes: 1024,
        ack_delay: Duration::from_millis(5),
        resume_grace: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(800),
        keepalive: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        upload_idle: Duration::from_millis(300),
    }
}

/// What must hold of a session after every step, whatever the peer sent.
fn check<R: proto::Role>(s: &mut proto::Session<R>, limits: &Limits) {
    let stats = s.stats();
    assert!(stats.held <= u64::from(stats.window), "held within our window");
    if stats.peer_window > 0 {
        assert!(
            stats.in_flight <= u64::from(stats.peer_window),
            "in flight within the peer's window"
        );
    }
    // Everything it sends is a valid frame (for a peer with our limits).
    while let Some(msg) = s.poll_transmit() {
        let peer = Limits {
            max_payload: proto::MAX_PAYLOAD_LIMIT,
            max_header_bytes: proto::MAX_HEADER_BYTES_LIMIT,
        };
        assert!(
            Frame::decode(&msg, &peer).is_ok() || Frame::decode(&msg, limits).is_ok(),
            "a session sends only valid frames"
        );
    }
    if let Some(e) = s.error() {
        assert!(s.poll_close().is_some(), "a failed session closes its socket: {e}");
    }
}

/// The function's end fed arbitrary messages, timer events, socket events and application
/// calls, in an order the fuzzer picks.
pub fn function_session(data: &[u8]) {
    let mut input = Input { data };
    let mode = if input.byte().unwrap_or(0) & 1 == 0 {
        BodyMode::Inline
    } else {
        BodyMode::Stream
    };
    let mut now = Timestamp::from_millis(0);
    let Ok(mut f) = FunctionSession::new(config(), Exchange::new(mode), now) else {
        return;
    };
    let limits = config().limits();
    f.socket_opened(now);
    while let Some(op) = input.byte() {
        match op % 10 {
            0..=3 => {
                let Some(msg) = input.bytes(2048) else { break };
                if f.is_connected() {
                    let _ = f.handle_message(now, &Bytes::copy_from_slice(msg));
                }
            }
            4 => {
                now = now + Duration::from_millis(u64::from(input.byte().unwrap_or(1)));
                f.handle_timeout(now);
            }
            5 => {
                let status = input.u16().unwrap_or(200) % 700;
                let mut headers = HeaderMap::new();
                if let Some(v) = input.bytes(64).and_then(|b| HeaderValue::from_bytes(b).ok()) {
                    headers.insert("x-fuzz", v);
                }
                if let Ok(status) = StatusCode::from_u16(status.max(100)) {
                    let _ = f.send_head(ResponseHead { status, headers });
                }
            }
            6 => {
                let n = usize::from(input.u16().unwrap_or(1));
                let _ = f.write(&mut Bytes::from(vec![7u8; n % 5000]));
            }
            7 => {
                let _ = f.read();
            }
            8 => {
                let _ = f.finish(HeaderMap::new());
            }
            _ => {
                if f.is_connected() {
                    f.socket_closed(now, None);
                } else {
                    f.socket_opened(now);
                }
            }
        }
        check(&mut f, &limits);
    }
}

/// The gateway's end fed arbitrary messages, timer events, socket admissions, invocation
/// results and application calls.
pub fn gateway_session(data: &[u8]) {
    let mut input = Input { data };
    let flags = input.byte().unwrap_or(0);
    // A client's WebSocket exchange too: its 101 head and its message bodies.
    let exchange = Exchange {
        body_mode: if flags & 2 == 2 {
            BodyMode::WebSocket
        } else {
            BodyMode::Stream
        },
        head_request: flags & 1 == 1,
    };
    let mut now = Timestamp::from_millis(0);
    let Ok(mut g) = GatewaySession::new(config(), exchange, "token", now) else {
        return;
    };
    let limits = config().limits();
    let key = "0123456789abcdef0123456789abcdef";
    while let Some(op) = input.byte() {
        match op % 10 {
            0..=3 => {
                let Some(msg) = input.bytes(2048) else { break };
                if g.is_connected() {
                    let _ = g.handle_message(now, &Bytes::copy_from_slice(msg));
                }
            }
            4 => {
                now = now + Duration::from_millis(u64::from(input.byte().unwrap_or(1)));
                g.handle_timeout(now);
            }
            5 => {
                let resume = input.byte().unwrap_or(0) & 1 == 1;
                let req = UpgradeRequest {
                    upgrade: Some("websocket"),
                    protocols: Some(proto::SUBPROTOCOL),
                    token: Some("token"),
                    key: Some(key),
                    resume: resume.then_some("1"),
                };
                if g.admit_socket(&req).is_ok() {
                    g.socket_accepted(now, &req);
                }
            }
            6 => {
                let n = usize::from(input.u16().unwrap_or(1));
                let _ = g.write(now, &mut Bytes::from(vec![9u8; n % 5000]));
            }
            7 => {
                let _ = g.read();
            }
            8 => {
                let status = input.u16().unwrap_or(200);
                let reply = match input.byte().unwrap_or(0) % 4 {
                    0 => ReceivedResult::Failed,
                    1 => ReceivedResult::Response { status, outcome: None },
                    2 => ReceivedResult::Refused {
                        status,
                        error_type: "AccessDeniedException",
                    },
                    _ => ReceivedResult::Response {
                        status,
                        outcome: Some("relayed"),
                    },
                };
                let _ = g.handle_invocation_result(now, reply);
            }
            _ => {
                if g.is_connected() {
                    g.socket_closed(now, None);
                } else {
                    let _ = g.finish_request();
                }
            }
        }
        check(&mut g, &limits);
    }
}

/// A WebSocket's message records, as a peer's body brings them, cut anywhere: never a panic;
/// every message decoded re-encodes to exactly the bytes it came from, so what was decoded is
/// a prefix of what came; the decoder holds at most one record it is still waiting for (the
/// last piece included) and refuses a record over its limit from its header alone.
pub fn websocket_messages(data: &[u8]) {
    use crate::proto::websocket::{MessageDecoder, RECORD_HEADER_LEN};
    let mut input = Input { data };
    let max = usize::from(input.byte().unwrap_or(0)) * 64;
    let mut decoder = MessageDecoder::new(max);
    let mut came = BytesMut::new();
    let mut decoded = BytesMut::new();
    while let Some(piece) = input.bytes(1024) {
        decoder.push(piece);
        came.extend_from_slice(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    let record = message.encode(max.max(2 + proto::websocket::MAX_CLOSE_REASON_BYTES));
                    decoded.extend_from_slice(&record.expect("a decoded message re-encodes"));
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(decoder.next_message().is_err(), "an error is final");
                    assert_eq!(decoder.buffered(), 0, "a failed decoder holds nothing");
                    return;
                }
            }
        }
        assert!(
            came.starts_with(&decoded),
            "messages re-encode to the bytes they came from"
        );
        assert_eq!(
            decoded.len() + decoder.buffered(),
            came.len(),
            "nothing lost, nothing made up"
        );
        let largest = RECORD_HEADER_LEN + max.max(2 + proto::websocket::MAX_CLOSE_REASON_BYTES);
        assert!(decoder.buffered() <= largest + piece.len(), "one record at most");
    }
    let _ = decoder.finish();
}

/// Tokens, relay headers, gateway URLs and upgrade requests made of arbitrary text: each is
/// refused or accepted, never a panic; a token that verifies is the minted one.
pub fn credentials(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let secret = RelaySecret::new(*b"fuzzing secret, 32 bytes long...").expect("a long enough secret");
    let mut parts = text.splitn(3, '\n');
    let (a, b, c) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if let Ok(claims) = secret.verify(a, b, 0) {
        assert_eq!(
            secret.mint(b, &claims).as_deref(),
            Ok(a),
            "only the minted spelling verifies"
        );
    }
    // A token bound to a request made of the text admits that request and no other.
    let request = proto::RequestBinding {
        method: b,
        path_and_query: c,
        body_mode: proto::BodyMode::Inline,
        inline_body: a.as_bytes(),
        client_address: Some(b).filter(|b| !b.is_empty()),
    };
    let claims = proto::TokenClaims::new(1_000, 60, &request);
    if let Ok(token) = secret.mint("fuzz", &claims) {
        assert_eq!(secret.verify(&token, "fuzz", 1_000), Ok(claims.clone()));
        assert_eq!(claims.admit(&request, 1_000), Ok(()));
        let other = proto::RequestBinding {
            body_mode: proto::BodyMode::Stream,
            ..request
        };
        assert_eq!(claims.admit(&other, 1_000), Err(proto::TokenError::OtherRequest));
    }
    let _ = proto::socket_url(a, b);
    let _ = proto::check_function_url(c);
    let _ = proto::RelaySettings::from_values(Some(a), Some(c));
    let lookup = |name: &str| match name {
        proto::RELAY_ID_HEADER => Some(a),
        proto::RELAY_TOKEN_HEADER => Some(b),
        proto::RELAY_BODY_HEADER => Some(c),
        _ => None,
    };
    let _ = proto::read_relay_headers(lookup);
    let req = UpgradeRequest {
        upgrade: Some("websocket"),
        protocols: Some(c),
        token: Some(a),
        key: Some(b),
        resume: Some(c),
    };
    let _ = proto::check_upgrade(&req, b, &secret, 0);
    let info = proto::ClientInfo {
        address: Some(a),
        scheme: "https",
        host: Some(b),
    };
    let headers: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(':')).collect();
    let _ = proto::invocation_headers(headers.iter().copied(), &info);
}

/// SigV4 over arbitrary text: the canonical request of any method, path, query and headers is
/// made without a panic; a request signed with `sign` verifies, and an arbitrary
/// `Authorization` header is refused or verified, never a panic.
pub fn sigv4(data: &[u8]) {
    use crate::proto::sigv4;
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (method, target, auth, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let headers: Vec<(&str, &str)> = rest.lines().filter_map(|l| l.split_once(':')).collect();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    for (encoding, normalize) in [
        (sigv4::PathEncoding::Double, true),
        (sigv4::PathEncoding::Single, false),
    ] {
        let signable = sigv4::Signable {
            method,
            path,
            query,
            headers: &headers,
            payload_sha256: "",
        };
        let canonical = sigv4::canonical_request(&signable, encoding, normalize);
        assert!(canonical.starts_with(method));
    }
    let creds = sigv4::AwsCredentials::new("AKIDFUZZ", "fuzzing secret", None).expect("valid credentials");
    let mut all = headers.clone();
    all.push(("authorization", auth));
    let received = sigv4::Received {
        method,
        path_and_query: target,
        headers: &all,
        body: rest.as_bytes(),
    };
    let _ = sigv4::verify(&received, &creds, "lambda", 1_700_000_000);
    if target.starts_with('/') && !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic()) {
        let t = 1_700_000_000;
        let signed = sigv4::sign(
            &creds,
            "us-east-1",
            "lambda",
            t,
            method,
            "fn.example",
            target,
            rest.as_bytes(),
        );
        let mut sent = vec![("host", "fn.example")];
        sent.extend(signed.pairs());
        let received = sigv4::Received {
            method,
            path_and_query: target,
            headers: &sent,
            body: rest.as_bytes(),
        };
        assert_eq!(
            sigv4::verify(&received, &creds, "lambda", t),
            Ok(()),
            "a signed request verifies"
        );
    }
}

/// Reads arbitrary bytes as an invocation's event (JSON) the way every binding does, relayed
/// and direct, and as a handler's result the way a local server does: nothing panics, and a
/// request view that reads holds what the adapter promises (a URL of its own parts, a path
/// starting with `/`, no relay header, at most one `cookie` header).
#[cfg(feature = "adapter")]
pub fn adapter_event(data: &[u8]) {
    use crate::adapter::{handler_event, LocalResponse, RequestView};

    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for relayed in [false, true] {
        if let Ok(view) = RequestView::from_event(&event, relayed) {
            assert!(view.raw_path.starts_with('/'), "a path starts with /");
            assert_eq!(
                view.url(),
                format!("{}://{}{}", view.scheme, view.host, view.path_and_query())
            );
            assert!(
                view.headers
                    .iter()
                    .all(|(n, _)| !proto::RELAY_HEADERS.contains(&n.as_str())),
                "no relay header"
            );
            assert!(
                view.headers.iter().filter(|(n, _)| n == "cookie").count() <= 1,
                "cookies joined once"
            );
            let seen = handler_event(event.clone(), &view);
            if let Some(headers) = seen.get("headers").and_then(|h| h.as_object()) {
                let leaked = headers
                    .keys()
                    .any(|n| proto::RELAY_HEADERS.iter().any(|r| n.eq_ignore_ascii_case(r)));
                assert!(!leaked, "no relay header in the handler's event");
            }
        }
    }
    let _ = LocalResponse::from_result(&event);
}
