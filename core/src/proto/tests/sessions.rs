//! Behaviour of the two ends together over the in-memory pair.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::pair::Pair;
use super::small;
use crate::proto::*;

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<_>>()
        .into()
}

#[test]
fn streams_request_and_response_bodies_byte_identical() {
    let mut p = Pair::new(small(), BodyMode::Stream);
    p.app.request = pattern(300_000, 1);
    p.app.response = pattern(1_000_000, 2);
    p.connect();
    p.drive(Duration::from_secs(60));
    assert_eq!(p.app.request_read, pattern(300_000, 1));
    assert!(p.app.request_ended);
    assert_eq!(p.app.response_body_read, pattern(1_000_000, 2));
    assert!(matches!(p.app.response_parts.first(), Some(ResponsePart::Head(h)) if h.status == StatusCode::OK));
    assert!(matches!(p.app.response_parts.last(), Some(ResponsePart::End(t)) if t.is_empty()));
    assert!(p.f.is_done() && p.g.is_done());
    assert_eq!(p.f.poll_close(), Some(CloseCode::NORMAL));
    assert_eq!(p.g.poll_close(), None, "the function closes a completed session");
    // What the gateway logs of it: the bytes each way as the bodies moved, and the outcome.
    let summary = p.g.summary();
    assert_eq!(
        (
            summary.request_bytes,
            summary.response_bytes,
            summary.outcome,
            summary.error
        ),
        (300_000, 1_000_000, "complete", None)
    );
}

#[test]
fn body_frames_never_exceed_the_smaller_payload_limit() {
    let fc = Config {
        max_payload: 8 * 1024,
        window: 64 * 1024,
        ..Config::default()
    };
    let gc = Config {
        max_payload: 2 * 1024,
        window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::with_configs(fc, gc, BodyMode::Inline, Timestamp::from_millis(0));
    p.app.response = pattern(50_000, 3);
    p.connect();
    p.drive(Duration::from_secs(10));
    let body_frames: Vec<_> = p
        .wire_to_g
        .iter()
        .filter(|m| m[0] == FrameType::RESPONSE_BODY.0)
        .collect();
    assert_eq!(body_frames.len(), 50_000usize.div_ceil(2048));
    assert!(body_frames.iter().all(|m| m.len() <= SEQ_HEADER_LEN + 4 + 2048));
    assert_eq!(p.app.response_body_read, pattern(50_000, 3));
}

#[test]
fn head_keeps_repeated_set_cookie_non_ascii_values_and_trailers() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.auto_head = false;
    p.connect();
    let mut headers = HeaderMap::new();
    headers.append("set-cookie", HeaderValue::from_static("a=1"));
    headers.append("set-cookie", HeaderValue::from_static("b=2; Path=/"));
    headers.insert("x-greeting", HeaderValue::from_bytes("grüß dich".as_bytes()).unwrap());
    p.f.send_head(ResponseHead {
        status: StatusCode::CREATED,
        headers: headers.clone(),
    })
    .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc"));
    p.f.finish(trailers.clone()).unwrap();
    p.app.response_head_sent = true;
    p.app.response_finished = true;
    p.drive(Duration::from_secs(1));
    assert_eq!(
        p.app.response_parts,
        [
            ResponsePart::Head(ResponseHead {
                status: StatusCode::CREATED,
                headers
            }),
            ResponsePart::End(trailers)
        ]
    );
    assert!(p.f.is_done());
}

#[test]
fn paused_reader_holds_the_writer_at_the_window() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(200_000, 4);
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_secs(5));
    assert_eq!(p.f.stats().in_flight, 16 * 1024, "the writer fills the window exactly");
    assert_eq!(p.f.send_capacity(), 0);
    assert_eq!(p.f.write(&mut Bytes::from_static(b"x")), Err(StreamError::Blocked));
    // Four frames, each counted at its payload plus the frame cost.
    assert_eq!(
        p.app.response.len(),
        200_000 - (16 * 1024 - 4 * BODY_FRAME_COST as usize),
        "nothing beyond the window was taken"
    );
    p.app.gateway_reads = true;
    p.drive(Duration::from_secs(60));
    assert_eq!(p.app.response_body_read, pattern(200_000, 4));
}

/// Streams 1 MiB to a reader that repeatedly catches up for 30 ms and pauses for a second,
/// with the gateway's buffer limit at `limit`; checks at every pause that the gateway holds no
/// more unread than the limit allows, and returns how many pauses the body took.
fn paused_reader_with_limit(limit: Option<u64>) -> usize {
    let config = Config {
        max_payload: 4 * 1024,
        window: 64 * 1024,
        ..Config::default()
    };
    let frame = 4 * 1024 + BODY_FRAME_COST;
    let response = pattern(1 << 20, 9);
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = response.clone();
    if let Some(limit) = limit {
        p.g.set_buffer_limit(limit);
    }
    p.connect();
    // The first window was announced before any limit could matter: it arrives whole.
    p.app.gateway_reads = false;
    p.drive(Duration::from_secs(1));
    assert_eq!(p.g.stats().unconsumed, 64 * 1024);
    let mut pauses = 0;
    while p.app.response_body_read.len() < response.len() {
        // The reader catches up, then pauses again: from now on the function may send only
        // about the limit more before the reader takes it.
        p.app.gateway_reads = true;
        p.drive(Duration::from_millis(30));
        p.app.gateway_reads = false;
        p.drive(Duration::from_secs(1));
        pauses += 1;
        assert!(pauses < 10_000, "no progress");
        let (Some(limit), true) = (limit, p.app.response_body_read.len() + 64 * 1024 < response.len()) else {
            // Unlimited, or the rest fits the limit's room with its end, which is acked with
            // all before it.
            continue;
        };
        let g = p.g.stats();
        assert!(
            g.unconsumed <= limit + frame,
            "held {} unread past limit {limit}",
            g.unconsumed
        );
        assert!(
            p.g.buffer_footprint() <= limit + frame,
            "footprint {}",
            p.g.buffer_footprint()
        );
        assert!(g.unconsumed > 0, "the function still sends within the limit");
    }
    p.app.gateway_reads = true;
    p.drive(Duration::from_secs(5));
    assert_eq!(p.app.response_body_read, response);
    assert!(
        p.f.is_done() && p.g.is_done(),
        "the end was acked, withheld acks and all"
    );
    pauses
}

#[test]
fn a_buffer_limit_bounds_what_a_paused_reader_makes_the_gateway_hold_and_loses_nothing() {
    let limited = paused_reader_with_limit(Some(8 * 1024));
    let unlimited = paused_reader_with_limit(None);
    assert!(
        limited >= 3 * unlimited,
        "the limit paces the function: {limited} pauses, {unlimited} without it"
    );
}

#[test]
fn request_frames_written_by_length_arrive_whole_and_in_order_with_ordinary_writes() {
    let mut p = Pair::new(small(), BodyMode::Stream);
    p.gateway_external_request = true;
    let request = pattern(100_000, 6);
    p.app.request = request.clone();
    p.app.response = pattern(10, 1);
    p.connect();
    p.drive(Duration::from_secs(60));
    assert_eq!(p.app.request_read, request);
    // Frames as large as the function's hello allows (4 KiB here), not split further.
    let frames = p.wire_to_f.iter().filter(|m| m[0] == FrameType::REQUEST_BODY.0).count();
    assert_eq!(frames, 100_000usize.div_ceil(4 * 1024));
    assert_eq!(p.g.summary().request_bytes, 100_000);
}

#[test]
fn a_frame_written_by_length_is_sized_and_windowed_before_it_is_taken() {
    let now = Timestamp::from_millis(0);
    let mut g = GatewaySession::new(small(), Exchange::new(BodyMode::Stream), super::TOKEN, now).unwrap();
    // Before the function's hello no frame size is known.
    assert_eq!(g.frame_payload_limit(), 0);
    assert_eq!(g.write_external(now, 1), Err(StreamError::FrameSize { len: 1, max: 0 }));
    g.socket_opened(now);
    let _ = g.poll_transmit_parts();
    let hello = Hello {
        received: 0,
        acked: 0,
        window: 16 * 1024,
        max_payload: 4 * 1024,
        max_header_bytes: 64 * 1024,
        keepalive_ms: 10_000,
    };
    g.handle_message(now, &super::enc(Frame::Hello(hello))).unwrap();
    assert_eq!(g.frame_payload_limit(), 4 * 1024);
    assert_eq!(
        g.write_external(now, 0),
        Err(StreamError::FrameSize { len: 0, max: 4 * 1024 })
    );
    assert_eq!(
        g.write_external(now, 4097),
        Err(StreamError::FrameSize {
            len: 4097,
            max: 4 * 1024
        })
    );
    // The 16 KiB window takes three whole frames and not a fourth (each costs 64 more).
    for expected in 0..3 {
        let (seq, header) = g.write_external(now, 4 * 1024).unwrap();
        assert_eq!(seq, expected);
        assert_eq!(header.len(), BODY_HEADER_LEN);
        assert_eq!(
            &header[..],
            &[&[0x10][..], &expected.to_be_bytes(), &4096u32.to_be_bytes()].concat()[..]
        );
    }
    assert_eq!(g.write_external(now, 4 * 1024), Err(StreamError::Blocked));
    assert_eq!(g.poll_transmit_parts(), Some(Transmit::External(0)));
    // A driver that polls whole messages cannot send it without its payload: the session
    // fails, never a frame missing its bytes.
    let message = g.poll_transmit().expect("the abort");
    assert_eq!(message[0], FrameType::ABORT.0);
    assert!(g.error().is_some());
}

#[test]
fn raising_the_buffer_limit_releases_the_withheld_acks() {
    let config = Config {
        max_payload: 4 * 1024,
        window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = pattern(1 << 20, 3);
    assert_eq!(p.g.buffer_limit(), u64::MAX, "no limit until one is set");
    // Never below a whole frame of ours, so a peer that does not split frames still moves.
    p.g.set_buffer_limit(1);
    assert_eq!(p.g.buffer_limit(), 4 * 1024 + BODY_FRAME_COST);
    p.g.set_buffer_limit(8 * 1024);
    assert_eq!(p.g.buffer_limit(), 8 * 1024);
    p.connect();
    p.drive(Duration::from_millis(200));
    p.app.gateway_reads = false;
    p.drive(Duration::from_secs(1));
    assert!(p.g.stats().unconsumed <= 12 * 1024 + 2 * BODY_FRAME_COST);
    p.g.set_buffer_limit(u64::MAX);
    p.drive(Duration::from_secs(1));
    assert_eq!(
        p.g.stats().unconsumed,
        64 * 1024,
        "the whole window is the function's again"
    );
    assert_eq!(p.g.buffer_footprint(), 64 * 1024);
}

#[test]
fn acks_are_batched_not_one_per_frame() {
    let config = Config {
        max_payload: 1024,
        window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = pattern(256 * 1024, 5);
    p.connect();
    p.drive(Duration::from_secs(10));
    let acks = p.wire_to_f.iter().filter(|m| m[0] == FrameType::ACK.0).count();
    assert!(acks <= 256 / 16 + 2, "{acks} acks for 256 body frames");
    assert!(acks >= 4, "acks at a quarter window: {acks}");
}

#[test]
fn end_is_acknowledged_without_waiting_for_the_ack_delay() {
    let config = Config {
        ack_delay: Duration::from_secs(5),
        ..small()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = pattern(100, 6);
    p.connect();
    let start = p.now;
    p.drive(Duration::from_secs(1));
    assert!(p.f.is_done());
    assert!(p.now.saturating_since(start) < Duration::from_millis(100));
}

#[test]
fn partial_acks_arrive_after_the_ack_delay() {
    let config = Config {
        ack_delay: Duration::from_millis(50),
        ..small()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.auto_head = false;
    p.connect();
    p.f.send_head(ResponseHead {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
    })
    .unwrap();
    p.app.response_head_sent = true;
    p.app.response_finished = true;
    p.drive(Duration::from_millis(10));
    p.f.write(&mut pattern(100, 0)).unwrap();
    p.drive(Duration::from_millis(20));
    assert_eq!(
        p.f.stats().in_flight,
        100 + BODY_FRAME_COST,
        "a small read waits for the delay"
    );
    p.drive(Duration::from_millis(100));
    assert_eq!(p.f.stats().in_flight, 0);
}

#[test]
fn inline_mode_has_an_ended_request_body_from_the_start() {
    let mut f = FunctionSession::new(
        Config::default(),
        Exchange::new(BodyMode::Inline),
        Timestamp::from_millis(0),
    )
    .unwrap();
    assert_eq!(f.read(), Ok(Some(RequestChunk::End)));
    let mut g = GatewaySession::new(
        Config::default(),
        Exchange::new(BodyMode::Inline),
        super::TOKEN,
        Timestamp::from_millis(0),
    )
    .unwrap();
    assert_eq!(
        g.write(Timestamp::from_millis(0), &mut Bytes::from_static(b"x")),
        Err(StreamError::Finished)
    );
}

#[test]
fn function_failure_before_the_head_reaches_the_gateway_first() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.auto_head = false;
    p.connect();
    p.f.fail(ErrorCode::HANDLER, "database unreachable").unwrap();
    p.drive(Duration::from_secs(1));
    assert_eq!(
        p.app.response_parts,
        [ResponsePart::Failed(FunctionError {
            code: ErrorCode::HANDLER,
            message: "database unreachable".into()
        })]
    );
    assert!(p.f.is_done() && p.g.is_done());
}

#[test]
fn function_failure_after_the_head_follows_the_body() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(10_000, 7);
    p.app.response_finished = true; // the app fails instead of finishing
    p.connect();
    p.drive(Duration::from_millis(100));
    p.f.fail(ErrorCode::BODY, "stream broke").unwrap();
    p.drive(Duration::from_secs(1));
    assert_eq!(p.app.response_body_read.len(), 10_000 - p.app.response.len());
    assert!(matches!(p.app.response_parts.last(), Some(ResponsePart::Failed(e)) if e.code == ErrorCode::BODY));
}

#[test]
fn abort_reaches_the_function_and_fails_both_ends() {
    let mut p = Pair::new(small(), BodyMode::Stream);
    p.app.response = pattern(500_000, 8);
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_millis(200));
    p.g.abort(AbortCode::CLIENT_GONE, "client disconnected");
    let abort = Abort {
        code: AbortCode::CLIENT_GONE,
        reason: "client disconnected".into(),
    };
    assert_eq!(p.g.error(), Some(&Error::Aborted(abort.clone())));
    assert_eq!(p.g.poll_close(), None, "the abort frame goes out before the close");
    let msg = p.g.poll_transmit().expect("abort frame");
    assert_eq!(p.g.poll_close(), Some(CloseCode::ABORTED));
    assert_eq!(p.f.handle_message(p.now, &msg), Err(Error::Aborted(abort.clone())));
    assert_eq!(p.f.read(), Err(Error::Aborted(abort.clone())));
    assert_eq!(
        p.f.write(&mut pattern(1, 0)),
        Err(StreamError::Closed(Error::Aborted(abort)))
    );
    assert_eq!(p.f.poll_close(), Some(CloseCode::ABORTED));
}

#[test]
fn gateway_times_out_when_the_function_never_connects() {
    let config = Config {
        connect_timeout: Duration::from_secs(15),
        ..Config::default()
    };
    let mut g = GatewaySession::new(
        config,
        Exchange::new(BodyMode::Inline),
        super::TOKEN,
        Timestamp::from_millis(0),
    )
    .unwrap();
    assert_eq!(g.poll_timeout(), Some(Timestamp::from_millis(15_000)));
    g.handle_timeout(Timestamp::from_millis(14_999));
    assert_eq!(g.error(), None);
    g.handle_timeout(Timestamp::from_millis(15_000));
    assert_eq!(g.error(), Some(&Error::ConnectTimeout(Duration::from_secs(15))));
    assert_eq!(g.poll_close(), Some(CloseCode::TIMEOUT));
}

#[test]
fn both_ends_give_up_when_no_socket_returns_within_the_grace() {
    let config = Config {
        resume_grace: Duration::from_secs(3),
        ..small()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = pattern(100_000, 9);
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_millis(100));
    p.cut(0);
    assert_eq!(p.f.poll_timeout(), Some(p.now + Duration::from_secs(3)));
    p.advance(Duration::from_secs(3));
    p.f.handle_timeout(p.now);
    p.g.handle_timeout(p.now);
    assert_eq!(p.f.error(), Some(&Error::ResumeTimeout(Duration::from_secs(3))));
    assert_eq!(p.g.error(), Some(&Error::ResumeTimeout(Duration::from_secs(3))));
}

#[test]
fn resumes_after_a_cut_mid_body_without_loss_or_duplication() {
    let mut p = Pair::new(small(), BodyMode::Stream);
    p.app.request = pattern(100_000, 10);
    p.app.response = pattern(400_000, 11);
    p.connect();
    p.drive(Duration::from_millis(30));
    assert!(!p.app.response_body_read.is_empty() && p.app.response_body_read.len() < 400_000);
    p.cut(1);
    p.drive(Duration::from_millis(500));
    p.connect();
    p.drive(Duration::from_secs(60));
    assert_eq!(p.app.response_body_read, pattern(400_000, 11));
    assert_eq!(p.app.request_read, pattern(100_000, 10));
    assert!(p.f.is_done());
}

#[test]
fn a_final_close_code_ends_the_session_without_waiting_to_resume() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.connect();
    p.drive(Duration::from_millis(10));
    p.f.socket_closed(p.now, Some(CloseCode::WINDOW_EXCEEDED));
    assert_eq!(p.f.error(), Some(&Error::PeerClosed(CloseCode::WINDOW_EXCEEDED)));
    assert_eq!(p.f.poll_timeout(), None);
    p.g.socket_closed(p.now, Some(CloseCode::GOING_AWAY));
    assert_eq!(p.g.error(), None, "going away is resumable");
}

#[test]
fn a_completed_session_closing_is_not_an_error() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(10, 0);
    p.connect();
    p.drive(Duration::from_secs(1));
    p.g.socket_closed(p.now, Some(CloseCode::NORMAL));
    p.f.socket_closed(p.now, Some(CloseCode::NORMAL));
    assert_eq!((p.f.error(), p.g.error()), (None, None));
    assert_eq!(p.g.poll_timeout(), None);
}

#[test]
fn api_misuse_gets_its_own_errors() {
    let now = Timestamp::from_millis(0);
    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Inline), now).unwrap();
    assert_eq!(f.write(&mut pattern(1, 0)), Err(StreamError::HeadNotSent));
    assert_eq!(f.finish(HeaderMap::new()), Err(StreamError::HeadNotSent));
    f.send_head(ResponseHead {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
    })
    .unwrap();
    assert_eq!(
        f.send_head(ResponseHead {
            status: StatusCode::OK,
            headers: HeaderMap::new()
        }),
        Err(StreamError::HeadAlreadySent)
    );
    assert_eq!(
        f.write(&mut pattern(1, 0)),
        Err(StreamError::Blocked),
        "no window before the first hello"
    );
    assert_eq!(f.write(&mut Bytes::new()), Ok(0));
    f.finish(HeaderMap::new()).unwrap();
    assert_eq!(f.finish(HeaderMap::new()), Err(StreamError::Finished));
    assert_eq!(f.fail(ErrorCode::HANDLER, "late"), Err(StreamError::Finished));

    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Inline), now).unwrap();
    let mut big = HeaderMap::new();
    big.insert("x-big", HeaderValue::from_bytes(&vec![b'a'; 70_000]).unwrap());
    assert!(matches!(
        f.send_head(ResponseHead {
            status: StatusCode::OK,
            headers: big
        }),
        Err(StreamError::HeadersTooLarge { .. })
    ));
    assert!(!f.head_sent(), "a refused head leaves the stream as it was");
}

#[test]
fn config_out_of_range_is_refused() {
    let now = Timestamp::from_millis(0);
    let bad = [
        Config {
            max_payload: 100,
            ..Config::default()
        },
        Config {
            max_payload: MAX_PAYLOAD_LIMIT + 1,
            ..Config::default()
        },
        Config {
            window: 1024,
            max_payload: 4096,
            ..Config::default()
        },
        Config {
            window: MAX_WINDOW + 1,
            ..Config::default()
        },
        Config {
            max_header_bytes: MAX_HEADER_BYTES_LIMIT + 1,
            ..Config::default()
        },
    ];
    for config in bad {
        assert!(matches!(
            FunctionSession::new(config, Exchange::new(BodyMode::Inline), now),
            Err(ConfigError::OutOfRange { .. })
        ));
    }
    let edge = Config {
        max_payload: MAX_PAYLOAD_LIMIT,
        window: MAX_PAYLOAD_LIMIT,
        ..Config::default()
    };
    assert!(GatewaySession::new(edge, Exchange::new(BodyMode::Inline), super::TOKEN, now).is_ok());
}

#[test]
fn bodiless_response_is_head_then_end() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.connect();
    p.drive(Duration::from_secs(1));
    assert!(matches!(
        &p.app.response_parts[..],
        [ResponsePart::Head(_), ResponsePart::End(_)]
    ));
    assert!(p.app.response_body_read.is_empty());
    assert!(!p.wire_to_g.iter().any(|m| m[0] == FrameType::RESPONSE_BODY.0));
}
