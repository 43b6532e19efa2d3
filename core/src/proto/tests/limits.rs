//! Bounds that hold whatever the peer or the application does: tiny writes, header blocks
//! over the peer's limit, silent sockets, hellos out of range or changed on resume.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::pair::Pair;
use super::{enc, small, TOKEN};
use crate::proto::*;

fn hello(window: u32, max_payload: u32, max_header_bytes: u32) -> Bytes {
    enc(Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window,
        max_payload,
        max_header_bytes,
        keepalive_ms: 10_000,
    }))
}

/// A gateway session at time zero whose first socket just opened.
fn gateway_with_socket() -> GatewaySession {
    let now = Timestamp::from_millis(0);
    let mut g = GatewaySession::new(small(), Exchange::new(BodyMode::Inline), TOKEN, now).unwrap();
    g.socket_opened(now);
    g
}

/// Writes `n` one-byte writes as fast as the window allows, stepping the pair in between.
fn one_byte_writes(p: &mut Pair, n: usize) -> Vec<u8> {
    let mut written = Vec::with_capacity(n);
    let mut i = 0usize;
    while i < n {
        let byte = (i % 251) as u8;
        match p.f.write(&mut Bytes::from(vec![byte])) {
            Ok(1) => {
                written.push(byte);
                i += 1;
            }
            Ok(_) | Err(StreamError::Blocked) => {
                p.step();
                p.check_bounds();
                if !p.step() {
                    p.advance(Duration::from_millis(1));
                }
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    written
}

#[test]
fn a_hundred_thousand_one_byte_writes_become_few_frames_and_stay_within_the_window() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response_finished = true; // the test writes the body itself
    p.connect();
    p.drive(Duration::from_millis(50));
    let written = one_byte_writes(&mut p, 100_000);
    p.f.finish(HeaderMap::new()).unwrap();
    p.drive(Duration::from_secs(10));
    assert_eq!(p.app.response_body_read, written);
    let frames = p
        .wire_to_g
        .iter()
        .filter(|m| m[0] == FrameType::RESPONSE_BODY.0)
        .count();
    // Coalesced while the socket or the window was busy: far fewer frames than writes.
    assert!(frames < 10_000, "{frames} body frames for 100,000 one-byte writes");
    assert!(p.f.is_done());
}

#[test]
fn one_byte_writes_against_a_paused_reader_hold_few_frames() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response_finished = true;
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_millis(50));
    let mut taken = 0;
    while let Ok(1) = p.f.write(&mut Bytes::from_static(b"x")) {
        taken += 1;
    }
    p.drive(Duration::from_secs(1));
    while let Ok(1) = p.f.write(&mut Bytes::from_static(b"x")) {
        taken += 1;
    }
    let (f, g) = (p.f.stats(), p.g.stats());
    assert!(f.in_flight <= u64::from(g.window));
    // Without coalescing, a window of 16 KiB would hold ~16,000 one-byte frames; it holds
    // the bytes of full frames instead.
    assert!(f.replay_len <= 5, "the head and {} frames held", f.replay_len - 1);
    assert!(taken > 15_000, "the window's bytes were used: {taken}");
    assert!(g.held <= u64::from(g.window));
}

#[test]
fn the_window_counts_a_cost_per_frame_so_it_bounds_frames_too() {
    // A peer that sends one-byte frames without coalescing fills the window in
    // window / (1 + cost) frames, not window frames.
    let mut g = gateway_with_socket();
    g.handle_message(Timestamp::from_millis(0), &hello(16 * 1024, 4096, 4096))
        .unwrap();
    let head = Item::ResponseHead(ResponseHead {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
    });
    g.handle_message(Timestamp::from_millis(0), &enc(Frame::Sequenced { seq: 0, item: head }))
        .unwrap();
    let mut accepted = 0u64;
    let result = loop {
        let frame = Frame::Sequenced {
            seq: accepted + 1,
            item: Item::ResponseBody(Bytes::from_static(b"x")),
        };
        match g.handle_message(Timestamp::from_millis(0), &enc(frame)) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(accepted, 16 * 1024 / (1 + BODY_FRAME_COST));
    assert!(matches!(result, Error::Protocol(ProtocolError::WindowExceeded { .. })));
}

#[test]
fn a_head_over_the_gateways_announced_limit_fails_the_response_saying_why() {
    let fc = Config {
        max_header_bytes: 64 * 1024,
        ..small()
    };
    let gc = Config {
        max_header_bytes: 2 * 1024,
        ..small()
    };
    let mut p = Pair::with_configs(fc, gc, BodyMode::Inline, Timestamp::from_millis(0));
    p.app.auto_head = false;
    // Queued before the gateway's hello: the function knows only its own limit yet.
    let mut headers = HeaderMap::new();
    headers.insert("x-big", HeaderValue::from_bytes(&[b'a'; 3000]).unwrap());
    p.f.send_head(ResponseHead {
        status: StatusCode::OK,
        headers: headers.clone(),
    })
    .unwrap();
    p.f.write(&mut Bytes::from_static(b"body")).unwrap_or(0);
    p.app.response_head_sent = true;
    p.app.response_finished = true;
    p.connect();
    p.drive(Duration::from_secs(1));
    let [ResponsePart::Failed(e)] = &p.app.response_parts[..] else {
        panic!("the gateway got {:?}", p.app.response_parts)
    };
    assert_eq!(e.code, ErrorCode::HANDLER);
    assert!(
        e.message.contains("exceeds the gateway's limit of 2048"),
        "{}",
        e.message
    );
    assert_eq!(p.g.error(), None, "refused by the sender, not by the receiver");
    assert!(p.f.is_done());
    // Once the limit is known, a head over it is refused at once.
    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Inline), Timestamp::from_millis(0)).unwrap();
    f.socket_opened(Timestamp::from_millis(0));
    f.handle_message(Timestamp::from_millis(0), &hello(16 * 1024, 4096, 2048))
        .unwrap();
    assert!(matches!(
        f.send_head(ResponseHead {
            status: StatusCode::OK,
            headers
        }),
        Err(StreamError::HeadersTooLarge { max: 2048, .. })
    ));
}

#[test]
fn hellos_with_inconsistent_limits_are_refused() {
    let cases = [
        (hello(2048, 4096, 4096), "window smaller than max_payload"),
        (hello(16 * 1024, 4096, 100), "max_header_bytes out of range"),
        (hello(16 * 1024, 4096, 1 << 20), "max_header_bytes out of range"),
    ];
    for (msg, why) in cases {
        let mut g = gateway_with_socket();
        assert_eq!(
            g.handle_message(Timestamp::from_millis(0), &msg),
            Err(Error::Protocol(ProtocolError::InvalidHello(why)))
        );
        assert_eq!(g.poll_close(), Some(CloseCode::PROTOCOL_ERROR));
    }
}

#[test]
fn a_resume_hello_may_not_change_the_limits() {
    let now = Timestamp::from_millis(0);
    let mut g = gateway_with_socket();
    g.handle_message(now, &hello(16 * 1024, 4096, 4096)).unwrap();
    g.socket_closed(now, None);
    g.socket_opened(now);
    assert_eq!(
        g.handle_message(now, &hello(32 * 1024, 4096, 4096)),
        Err(Error::Protocol(ProtocolError::InvalidHello("limits changed on resume")))
    );
}

#[test]
fn a_message_too_large_for_the_socket_is_final_1009() {
    let mut g = gateway_with_socket();
    let e = g.handle_oversized_message(2 << 20);
    assert!(matches!(
        e,
        Error::Protocol(ProtocolError::Decode(DecodeError::MessageTooLarge { len: 2097152, .. }))
    ));
    let code = g.poll_close().unwrap();
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
    assert!(code.is_final());
}

#[test]
fn a_quiet_but_live_socket_sends_keepalives_and_never_goes_idle() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.auto_head = false;
    p.connect();
    // A handler thinking for two minutes: nothing to send either way.
    p.drive(Duration::from_secs(120));
    assert!(p.f.is_connected() && p.g.is_connected());
    let acks_to_g = p.wire_to_g.iter().filter(|m| m[0] == FrameType::ACK.0).count();
    let acks_to_f = p.wire_to_f.iter().filter(|m| m[0] == FrameType::ACK.0).count();
    assert!(
        acks_to_g >= 10 && acks_to_f >= 10,
        "keepalives: {acks_to_g} and {acks_to_f}"
    );
    assert_eq!((p.f.error(), p.g.error()), (None, None));
}

/// A gateway with this keepalive and idle timeout (seconds) and a 5 s resume grace, at time
/// zero, whose socket is open and has the function's hello (which announces 10 s).
fn gateway_after_hello(keepalive_s: u64, idle_s: u64) -> (GatewaySession, Timestamp) {
    let config = Config {
        keepalive: Duration::from_secs(keepalive_s),
        idle_timeout: Duration::from_secs(idle_s),
        resume_grace: Duration::from_secs(5),
        ..small()
    };
    let now = Timestamp::from_millis(0);
    let mut g = GatewaySession::new(config, Exchange::new(BodyMode::Inline), TOKEN, now).unwrap();
    g.socket_opened(now);
    g.handle_message(now, &hello(16 * 1024, 4096, 4096)).unwrap();
    while g.poll_transmit().is_some() {}
    (g, now)
}

/// Runs a gateway's timers, from `from`, until it counts its socket as dead: when that was.
fn dropped_at(g: &mut GatewaySession, from: Timestamp) -> Timestamp {
    let mut t = from;
    while g.is_connected() {
        t = g.poll_timeout().expect("a timer is armed");
        g.handle_timeout(t);
        while g.poll_transmit().is_some() {}
    }
    t
}

#[test]
fn the_gateways_keepalive_and_idle_timeout_decide_even_against_a_slower_function() {
    // The gateway wants a 2 s keepalive and a 6 s idle timeout; the function announces 10 s.
    let (mut g, _) = gateway_after_hello(2, 6);
    // The function speaks once more (a keepalive ack at 1 s), then freezes with its socket open.
    let spoke = Timestamp::from_millis(1_000);
    g.handle_message(spoke, &enc(Frame::Ack { acked: 0 })).unwrap();
    assert_eq!(
        dropped_at(&mut g, spoke),
        Timestamp::from_millis(7_000),
        "dropped at the gateway's idle timeout after the last word, not at three of the function's 10 s"
    );
}

#[test]
fn each_side_speaks_at_the_sessions_keepalive_the_smaller_of_the_two() {
    // The function's own keepalive is 10 s; the gateway's hello announces 2 s.
    let config = Config {
        keepalive: Duration::from_secs(10),
        ..small()
    };
    let now = Timestamp::from_millis(0);
    let mut f = FunctionSession::new(config, Exchange::new(BodyMode::Inline), now).unwrap();
    f.socket_opened(now);
    let gateway_hello = enc(Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window: 16 * 1024,
        max_payload: 4096,
        max_header_bytes: 4096,
        keepalive_ms: 2_000,
    }));
    f.handle_message(now, &gateway_hello).unwrap();
    while f.poll_transmit().is_some() {}
    // Silence: the function speaks again within the gateway's 2 s, not its own 10 s.
    let t = f.poll_timeout().expect("a timer is armed");
    assert_eq!(t, Timestamp::from_millis(2_000));
    f.handle_timeout(t);
    assert!(f.poll_transmit().is_some(), "a keepalive ack at 2 s");
}

#[test]
fn a_frozen_peer_is_noticed_by_the_idle_timeout_then_the_resume_grace() {
    let (mut g, now) = gateway_after_hello(10, 30);
    // The function froze with its socket open: nothing more arrives.
    assert_eq!(
        dropped_at(&mut g, now),
        Timestamp::from_millis(30_000),
        "dropped at the idle timeout"
    );
    assert_eq!(g.error(), None, "a dropped socket may still resume");
    let t = g.poll_timeout().unwrap();
    assert_eq!(t, Timestamp::from_millis(35_000));
    g.handle_timeout(t);
    assert_eq!(g.error(), Some(&Error::ResumeTimeout(Duration::from_secs(5))));
}

/// A gateway streaming a request body, with a 5 s upload idle limit, whose socket is open
/// and has the function's hello.
fn uploading_gateway() -> GatewaySession {
    let config = Config {
        upload_idle: Duration::from_secs(5),
        ..small()
    };
    let now = Timestamp::from_millis(0);
    let mut g = GatewaySession::new(config, Exchange::new(BodyMode::Stream), TOKEN, now).unwrap();
    g.socket_opened(now);
    g.handle_message(now, &hello(16 * 1024, 4096, 4096)).unwrap();
    while g.poll_transmit().is_some() {}
    g
}

/// Runs a gateway's timers up to `until`, or until its session fails: when it failed.
fn failed_at(g: &mut GatewaySession, until: Timestamp) -> Option<Timestamp> {
    while let Some(t) = g.poll_timeout().filter(|t| *t <= until) {
        g.handle_timeout(t);
        while g.poll_transmit_parts().is_some() {}
        if g.error().is_some() {
            return Some(t);
        }
    }
    None
}

#[test]
fn a_stalled_upload_ends_the_exchange_408_and_tells_the_function() {
    let mut g = uploading_gateway();
    let one = Timestamp::from_millis(1_000);
    assert_eq!(g.write(one, &mut Bytes::from_static(b"the first bytes")), Ok(15));
    // The client sends nothing more, while the function could take plenty.
    let mut told = false;
    let mut t = one;
    while g.error().is_none() {
        t = g.poll_timeout().expect("a timer is armed");
        g.handle_timeout(t);
        while let Some(m) = g.poll_transmit() {
            told |= m[0] == FrameType::ABORT.0;
        }
    }
    assert_eq!(t, Timestamp::from_millis(6_000), "5 s after the last progress");
    assert_eq!(g.error(), Some(&Error::UploadIdle(Duration::from_secs(5))));
    assert!(
        told,
        "the function is told with an abort (its body read fails ERR_RELAY_ABORTED)"
    );
    let failure = Failure::from_error(g.error().unwrap());
    assert_eq!((failure.status, failure.code.name()), (408, "upload_idle"));
}

#[test]
fn a_full_window_is_the_functions_slowness_not_a_stalled_upload() {
    let mut g = uploading_gateway();
    let zero = Timestamp::from_millis(0);
    // The client sends more than the window holds; the function acknowledges nothing.
    let mut body = Bytes::from(vec![7u8; 64 * 1024]);
    while g.write(zero, &mut body).is_ok_and(|n| n > 0) {}
    assert_eq!(g.send_capacity(), 0);
    assert_eq!(
        failed_at(&mut g, Timestamp::from_millis(20_000)),
        None,
        "no 408 while the window is full"
    );
    // A frame written by its length that waits for room for all of it is the function's
    // slowness too, though the window has some room left.
    let mut g = uploading_gateway();
    for _ in 0..3 {
        g.write_external(zero, 4096).unwrap();
    }
    assert!(g.send_capacity() > 0);
    assert_eq!(g.write_external(zero, 4096), Err(StreamError::Blocked));
    assert_eq!(
        failed_at(&mut g, Timestamp::from_millis(20_000)),
        None,
        "no 408 while a frame waits"
    );
    // And an upload that keeps coming is never stalled, however long it takes.
    let mut g = uploading_gateway();
    for s in 1..=20 {
        let at = Timestamp::from_millis(s * 4_000);
        assert_eq!(failed_at(&mut g, at), None);
        g.write(at, &mut Bytes::from_static(b"x")).unwrap();
        g.handle_message(at, &enc(Frame::Ack { acked: 0 })).unwrap(); // the function's keepalive
        while g.poll_transmit().is_some() {}
    }
}
