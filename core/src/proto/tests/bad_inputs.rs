//! Every kind of bad input from a peer gets its own error and close code, nothing panics,
//! and the error is sticky.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;

use super::enc;
use crate::proto::*;

const NOW: Timestamp = Timestamp::from_millis(0);

fn config() -> Config {
    Config {
        max_payload: 4096,
        window: 16 * 1024,
        max_header_bytes: 4096,
        ..Config::default()
    }
}

fn hello(received: u64, acked: u64) -> Bytes {
    enc(Frame::Hello(Hello {
        received,
        acked,
        window: 16 * 1024,
        max_payload: 4096,
        max_header_bytes: 4096,
        keepalive_ms: 10_000,
    }))
}

fn seq(seq: u64, item: Item) -> Bytes {
    enc(Frame::Sequenced { seq, item })
}

fn body(len: usize) -> Bytes {
    Bytes::from(vec![7u8; len])
}

/// A gateway with an open socket whose peer said hello.
fn gateway(mode: BodyMode) -> GatewaySession {
    let mut g = GatewaySession::new(config(), Exchange::new(mode), super::TOKEN, NOW).unwrap();
    g.socket_opened(NOW);
    g.handle_message(NOW, &hello(0, 0)).unwrap();
    while g.poll_transmit().is_some() {}
    g
}

fn function(mode: BodyMode) -> FunctionSession {
    let mut f = FunctionSession::new(config(), Exchange::new(mode), NOW).unwrap();
    f.socket_opened(NOW);
    f.handle_message(NOW, &hello(0, 0)).unwrap();
    while f.poll_transmit().is_some() {}
    f
}

fn protocol(e: Result<(), Error>) -> ProtocolError {
    match e {
        Err(Error::Protocol(p)) => p,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Feeds `msg` to a fresh gateway and returns the protocol error and close code it caused,
/// after checking the error is sticky.
fn at_gateway(msgs: &[Bytes]) -> (ProtocolError, CloseCode) {
    let mut g = gateway(BodyMode::Stream);
    let mut result = Ok(());
    for m in msgs {
        result = g.handle_message(NOW, m);
        if result.is_err() {
            break;
        }
    }
    let err = protocol(result);
    assert_eq!(g.error(), Some(&Error::Protocol(err.clone())));
    assert_eq!(g.read(), Err(Error::Protocol(err.clone())), "sticky");
    assert_eq!(
        g.handle_message(NOW, &seq(0, Item::ResponseBody(body(1)))),
        Err(Error::Protocol(err.clone()))
    );
    assert_eq!(g.poll_transmit(), None, "nothing more is sent after a fatal error");
    let code = g.poll_close().expect("a failed session closes");
    (err, code)
}

fn head() -> Item {
    Item::ResponseHead(ResponseHead {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
    })
}

#[test]
fn truncated_frame() {
    let (e, code) = at_gateway(&[Bytes::from_static(&[0x21, 0, 0])]);
    assert_eq!(
        e,
        ProtocolError::Decode(DecodeError::Truncated {
            frame: FrameType::RESPONSE_BODY,
            field: "seq"
        })
    );
    assert_eq!(code, CloseCode::PROTOCOL_ERROR);
}

#[test]
fn trailing_bytes() {
    let mut m = seq(0, head()).to_vec();
    m.push(0);
    let (e, _) = at_gateway(&[m.into()]);
    assert!(
        matches!(e, ProtocolError::Decode(DecodeError::Trailing { extra: 1, .. })),
        "{e:?}"
    );
}

#[test]
fn unknown_frame_type() {
    let (e, code) = at_gateway(&[Bytes::from_static(&[0x99, 0, 0, 0])]);
    assert_eq!(e, ProtocolError::Decode(DecodeError::UnknownType(FrameType(0x99))));
    assert_eq!(code, CloseCode::PROTOCOL_ERROR);
}

#[test]
fn oversized_payload() {
    let mut m = vec![0x21, 0, 0, 0, 0, 0, 0, 0, 1];
    // The length field alone condemns it: the 4097 bytes it announces are never read.
    m.extend_from_slice(&4097u32.to_be_bytes());
    m.extend_from_slice(&[0; 16]);
    let (e, code) = at_gateway(&[seq(0, head()), m.into()]);
    assert!(
        matches!(
            e,
            ProtocolError::Decode(DecodeError::FieldTooLarge {
                len: 4097,
                max: 4096,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn oversized_message() {
    let (e, code) = at_gateway(&[Bytes::from(vec![0x21; 9000])]);
    assert!(
        matches!(e, ProtocolError::Decode(DecodeError::MessageTooLarge { len: 9000, .. })),
        "{e:?}"
    );
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn oversized_header_block() {
    let mut headers = HeaderMap::new();
    // A block of 4097 bytes: one over the limit, while the message still fits.
    headers.insert("x-big", http::HeaderValue::from_bytes(&[b'a'; 4086]).unwrap());
    let big = Item::ResponseHead(ResponseHead {
        status: StatusCode::OK,
        headers,
    });
    let (e, code) = at_gateway(&[seq(0, big)]);
    let too_large = DecodeError::FieldTooLarge {
        field: "header block",
        len: 4097,
        max: 4096,
    };
    assert_eq!(e, ProtocolError::Decode(too_large));
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn empty_body_frame() {
    let m = Bytes::from_static(&[0x21, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    let (e, _) = at_gateway(&[seq(0, head()), m]);
    assert_eq!(
        e,
        ProtocolError::Decode(DecodeError::EmptyBody(FrameType::RESPONSE_BODY))
    );
}

#[test]
fn text_message() {
    let mut g = gateway(BodyMode::Inline);
    assert_eq!(g.handle_text_message(), Error::Protocol(ProtocolError::TextMessage));
    assert_eq!(g.poll_close(), Some(CloseCode::UNSUPPORTED_DATA));
}

#[test]
fn frame_before_hello() {
    let mut g = GatewaySession::new(config(), Exchange::new(BodyMode::Inline), super::TOKEN, NOW).unwrap();
    g.socket_opened(NOW);
    let e = protocol(g.handle_message(NOW, &seq(0, head())));
    assert_eq!(e, ProtocolError::HelloExpected(FrameType::RESPONSE_HEAD));
}

#[test]
fn second_hello_on_one_socket() {
    let (e, _) = at_gateway(&[hello(0, 0)]);
    assert_eq!(e, ProtocolError::DuplicateHello);
}

#[test]
fn hello_with_limits_out_of_range() {
    let mut g = GatewaySession::new(config(), Exchange::new(BodyMode::Inline), super::TOKEN, NOW).unwrap();
    g.socket_opened(NOW);
    let bad = enc(Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window: 0,
        max_payload: 4096,
        max_header_bytes: 4096,
        keepalive_ms: 10_000,
    }));
    assert_eq!(
        protocol(g.handle_message(NOW, &bad)),
        ProtocolError::InvalidHello("window out of range")
    );
    let mut g = GatewaySession::new(config(), Exchange::new(BodyMode::Inline), super::TOKEN, NOW).unwrap();
    g.socket_opened(NOW);
    let bad = enc(Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window: 65536,
        max_payload: 2 << 20,
        max_header_bytes: 4096,
        keepalive_ms: 10_000,
    }));
    assert_eq!(
        protocol(g.handle_message(NOW, &bad)),
        ProtocolError::InvalidHello("max_payload out of range")
    );
}

#[test]
fn sequence_gap() {
    let (e, code) = at_gateway(&[seq(0, head()), seq(2, Item::ResponseBody(body(1)))]);
    assert_eq!(e, ProtocolError::SequenceGap { expected: 1, got: 2 });
    assert_eq!(code, CloseCode::SEQUENCE_ERROR);
}

#[test]
fn duplicate_sequence() {
    let (e, code) = at_gateway(&[seq(0, head()), seq(0, head())]);
    assert_eq!(e, ProtocolError::DuplicateSequence { expected: 1, got: 0 });
    assert_eq!(code, CloseCode::SEQUENCE_ERROR);
}

#[test]
fn ack_beyond_what_was_sent() {
    let (e, code) = at_gateway(&[enc(Frame::Ack { acked: 1 })]);
    assert_eq!(e, ProtocolError::AckBeyondSent { acked: 1, sent: 0 });
    assert_eq!(code, CloseCode::SEQUENCE_ERROR);
}

#[test]
fn ack_that_goes_back() {
    let mut g = gateway(BodyMode::Stream);
    g.write(NOW, &mut body(10)).unwrap();
    g.finish_request().unwrap();
    while g.poll_transmit().is_some() {}
    g.handle_message(NOW, &enc(Frame::Ack { acked: 2 })).unwrap();
    let e = protocol(g.handle_message(NOW, &enc(Frame::Ack { acked: 1 })));
    assert_eq!(e, ProtocolError::AckRegressed { acked: 1, previous: 2 });
}

#[test]
fn resume_claiming_frames_never_sent() {
    let mut g = GatewaySession::new(config(), Exchange::new(BodyMode::Inline), super::TOKEN, NOW).unwrap();
    g.socket_opened(NOW);
    let e = protocol(g.handle_message(NOW, &hello(5, 0)));
    assert_eq!(
        e,
        ProtocolError::ResumeOutOfRange {
            received: 5,
            acked: 0,
            sent: 0
        }
    );
}

#[test]
fn window_violation() {
    // The 16 KiB window counts each frame at its payload plus BODY_FRAME_COST: three full
    // frames and one of the rest fill it exactly; one more byte is one frame too many.
    let cost = BODY_FRAME_COST as usize;
    let mut msgs = vec![seq(0, head())];
    for i in 1..=3 {
        msgs.push(seq(i, Item::ResponseBody(body(4096))));
    }
    msgs.push(seq(4, Item::ResponseBody(body(16 * 1024 - 3 * (4096 + cost) - cost))));
    msgs.push(seq(5, Item::ResponseBody(body(1))));
    let (e, code) = at_gateway(&msgs);
    assert_eq!(
        e,
        ProtocolError::WindowExceeded {
            window: 16 * 1024,
            held: 16 * 1024 + 1 + BODY_FRAME_COST
        }
    );
    assert_eq!(code, CloseCode::WINDOW_EXCEEDED);
}

#[test]
fn window_is_freed_by_reading() {
    let mut g = gateway(BodyMode::Inline);
    g.handle_message(NOW, &seq(0, head())).unwrap();
    for i in 1..=3 {
        g.handle_message(NOW, &seq(i, Item::ResponseBody(body(4096)))).unwrap();
    }
    let rest = 16 * 1024 - 4 * BODY_FRAME_COST as usize - 3 * 4096;
    g.handle_message(NOW, &seq(4, Item::ResponseBody(body(rest)))).unwrap();
    assert_eq!(g.stats().held, 16 * 1024, "the window is full");
    while g.read().unwrap().is_some() {}
    assert!(g.poll_transmit().is_some_and(|m| m[0] == FrameType::ACK.0));
    g.handle_message(NOW, &seq(5, Item::ResponseBody(body(4096)))).unwrap();
}

#[test]
fn body_before_head() {
    let (e, _) = at_gateway(&[seq(0, Item::ResponseBody(body(1)))]);
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::RESPONSE_BODY,
            state: "before the response head"
        }
    );
}

#[test]
fn second_head() {
    let (e, _) = at_gateway(&[seq(0, head()), seq(1, head())]);
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::RESPONSE_HEAD,
            state: "after the response head"
        }
    );
}

#[test]
fn frame_after_end() {
    let (e, _) = at_gateway(&[
        seq(0, head()),
        seq(1, Item::ResponseEnd(HeaderMap::new())),
        seq(2, Item::ResponseBody(body(1))),
    ]);
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::RESPONSE_BODY,
            state: "after the response ended"
        }
    );
}

#[test]
fn request_frame_at_the_gateway() {
    let (e, _) = at_gateway(&[seq(0, Item::RequestEnd)]);
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::REQUEST_END,
            state: "at the gateway"
        }
    );
}

#[test]
fn abort_at_the_gateway() {
    let abort = enc(Frame::Abort(Abort {
        code: AbortCode::CLIENT_GONE,
        reason: String::new(),
    }));
    let (e, _) = at_gateway(&[abort]);
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::ABORT,
            state: "at the gateway"
        }
    );
}

#[test]
fn response_frame_at_the_function() {
    let mut f = function(BodyMode::Stream);
    let e = protocol(f.handle_message(NOW, &seq(0, head())));
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::RESPONSE_HEAD,
            state: "at the function"
        }
    );
    assert_eq!(f.read(), Err(Error::Protocol(e)));
}

#[test]
fn request_body_in_inline_mode() {
    let mut f = function(BodyMode::Inline);
    let e = protocol(f.handle_message(NOW, &seq(0, Item::RequestBody(body(1)))));
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::REQUEST_BODY,
            state: "in inline body mode"
        }
    );
}

#[test]
fn request_body_after_its_end() {
    let mut f = function(BodyMode::Stream);
    f.handle_message(NOW, &seq(0, Item::RequestEnd)).unwrap();
    let e = protocol(f.handle_message(NOW, &seq(1, Item::RequestBody(body(1)))));
    assert_eq!(
        e,
        ProtocolError::UnexpectedFrame {
            frame: FrameType::REQUEST_BODY,
            state: "after the request body ended"
        }
    );
}

#[test]
fn invalid_status_and_header_bytes() {
    let (e, _) = at_gateway(&[Bytes::from_static(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x58, 0, 0])]);
    assert_eq!(e, ProtocolError::Decode(DecodeError::InvalidStatus(600)));
    let (e, _) = at_gateway(&[Bytes::from_static(&[
        0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 1, 0, 1, b'A', 0, 0,
    ])]);
    assert_eq!(
        e,
        ProtocolError::Decode(DecodeError::InvalidHeaderName("A".into())),
        "names are lowercase"
    );
}

#[test]
fn forged_and_expired_tokens() {
    let secret = RelaySecret::new(*b"0123456789abcdef").unwrap();
    let binding = crate::proto::RequestBinding {
        method: "GET",
        path_and_query: "/",
        body_mode: crate::proto::BodyMode::Inline,
        inline_body: b"",
        client_address: None,
    };
    let token = secret
        .mint("relay1", &crate::proto::TokenClaims::new(40, 60, &binding))
        .unwrap();
    assert_eq!(secret.verify(&token, "relay2", 50), Err(TokenError::BadSignature));
    assert_eq!(
        secret.verify(&token, "relay1", 100),
        Err(TokenError::Expired {
            expires_at: 100,
            now: 100
        })
    );
}

fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    let known = prop::sample::select(vec![0x01u8, 0x02, 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x23]);
    (known, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(t, rest)| {
        let mut m = vec![t];
        m.extend(rest);
        m
    })
}

fn arb_body_message() -> impl Strategy<Value = Vec<u8>> {
    let ty = prop::sample::select(vec![0x10u8, 0x21]);
    // Mostly a length that matches the payload (a frame that decodes), sometimes any.
    let len = prop_oneof![3 => Just(None), 1 => (0u32..6000).prop_map(Some)];
    (ty, any::<u64>(), len, prop::collection::vec(any::<u8>(), 0..5000)).prop_map(|(t, seq, len, payload)| {
        let len = len.unwrap_or(payload.len() as u32);
        let mut m = vec![t];
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        m.extend(payload);
        m
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A body frame split for an external payload is judged exactly as the whole message.
    #[test]
    fn external_bodies_are_judged_as_whole_messages(msg in arb_body_message()) {
        let limits = config().limits();
        let msg = Bytes::from(msg);
        let whole = Frame::decode(&msg, &limits);
        if let Some(at) = Frame::external_split(msg.len(), msg[0]) {
            let split = Frame::decode_external(&msg.slice(..at), msg.len() - at, &limits);
            match (whole, split) {
                (Ok(Frame::Sequenced { seq: a, item }), Ok(Frame::Sequenced { seq: b, item: Item::External(ty, len) })) => {
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(item.frame_type(), ty);
                    prop_assert_eq!(item.body_len(), len as usize);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "whole {:?} but split {:?}", a, b),
            }
        }
    }

    /// Garbage never panics either end, and whatever it does, the receive buffer stays
    /// within the window.
    #[test]
    fn garbage_never_panics_and_stays_within_limits(msgs in prop::collection::vec(arb_message(), 1..20)) {
        let mut g = gateway(BodyMode::Stream);
        let mut f = function(BodyMode::Stream);
        for m in &msgs {
            let m = Bytes::from(m.clone());
            let _ = g.handle_message(NOW, &m);
            let _ = f.handle_message(NOW, &m);
            prop_assert!(g.stats().held <= u64::from(g.stats().window));
            prop_assert!(f.stats().held <= u64::from(f.stats().window));
            let _ = (g.read(), f.read(), g.poll_transmit(), f.poll_transmit());
        }
    }
}

#[test]
fn a_control_message_larger_than_any_frame_is_refused_by_its_length_before_a_copy() {
    let config = Config::default();
    let g = GatewaySession::new(
        config.clone(),
        Exchange::new(BodyMode::Inline),
        "t",
        Timestamp::from_millis(0),
    )
    .unwrap();
    let max = config.max_message_len();
    let head = FrameType::RESPONSE_HEAD.0;
    assert_eq!(g.intake(max, head), Intake::Whole);
    assert_eq!(g.intake(max + 1, head), Intake::Oversized);
    assert_eq!(g.intake(32 << 20, FrameType::HELLO.0), Intake::Oversized);
    // A body frame's payload is never copied: its header decides, whatever its length.
    assert_eq!(
        g.intake(32 << 20, FrameType::RESPONSE_BODY.0),
        Intake::External(BODY_HEADER_LEN)
    );
}

#[test]
fn session_timings_past_lambdas_longest_run_are_refused_by_name() {
    use std::time::Duration;
    let too_long = Duration::from_secs(16 * 60);
    for (field, config) in [
        (
            "connect_timeout_ms",
            Config {
                connect_timeout: too_long,
                ..Config::default()
            },
        ),
        (
            "resume_grace_ms",
            Config {
                resume_grace: too_long,
                ..Config::default()
            },
        ),
        (
            "idle_timeout_ms",
            Config {
                idle_timeout: Duration::from_secs(u64::MAX / 1000),
                ..Config::default()
            },
        ),
        (
            "connect_timeout_ms",
            Config {
                connect_timeout: Duration::ZERO,
                ..Config::default()
            },
        ),
    ] {
        assert!(
            matches!(config.validate(), Err(ConfigError::OutOfRange { field: f, .. }) if f == field),
            "{field}: {:?}",
            config.validate()
        );
    }
    assert!(Config::default().validate().is_ok());
    assert_eq!(
        in_range("TOKEN_TTL_S", u64::MAX, MIN_TOKEN_TTL_S, MAX_TOKEN_TTL_S)
            .unwrap_err()
            .to_string(),
        format!("TOKEN_TTL_S = {} is out of range 10..=86400", u64::MAX)
    );
}
