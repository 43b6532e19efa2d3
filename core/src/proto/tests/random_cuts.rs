//! 1,000 seeded runs that cut the socket at random points, in both directions, and resume:
//! every body arrives byte-identical, nothing twice, and the window is never exceeded.

use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::pair::{Pair, Side};
use crate::proto::*;

fn random_body(rng: &mut StdRng, max: usize) -> Bytes {
    let len = if rng.gen_bool(0.1) { 0 } else { rng.gen_range(1..=max) };
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v.into()
}

/// A side's config: a window of 1 to 8 frames, a random ack delay, a resume grace that outlasts
/// every cut.
fn random_config(rng: &mut StdRng, max_payload: u32) -> Config {
    Config {
        max_payload,
        window: rng.gen_range(max_payload..=8 * max_payload),
        ack_delay: Duration::from_millis(rng.gen_range(1..=20)),
        resume_grace: Duration::from_secs(30),
        ..Config::default()
    }
}

/// Connects, then 1 to 4 times runs a random while (sometimes with a paused reader, so the
/// windows fill) and cuts with a random number of in-flight messages still getting through;
/// then lets both sides read and drives the pair to its end.
fn cut_at_random(p: &mut Pair, rng: &mut StdRng) {
    p.connect();
    for _ in 0..rng.gen_range(1..=4) {
        p.app.gateway_reads = rng.gen_bool(0.8);
        p.app.function_reads = rng.gen_bool(0.8);
        // Sometimes a side holds less than its window (a shared budget's share), or is given
        // its whole window back: withheld acks and limited sends lose and repeat nothing.
        for session in [Side::Function, Side::Gateway] {
            if rng.gen_bool(0.3) {
                let window = u64::from(p.config(session).window);
                let limit = if rng.gen_bool(0.25) {
                    u64::MAX
                } else {
                    rng.gen_range(BODY_FRAME_COST + 1..=window)
                };
                p.set_buffer_limit(session, limit);
            }
        }
        for _ in 0..rng.gen_range(0..40) {
            p.step();
            p.check_bounds();
            if rng.gen_bool(0.3) {
                p.advance(Duration::from_millis(rng.gen_range(1..=5)));
            }
        }
        p.cut(rng.gen_range(0..3));
        p.advance(Duration::from_millis(rng.gen_range(0..=2_000)));
        p.drive(Duration::ZERO);
        p.connect();
    }
    p.app.gateway_reads = true;
    p.app.function_reads = true;
    p.drive(Duration::from_secs(600));
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let max_payload = rng.gen_range(1024..=8192);
    let (fc, gc) = (
        random_config(&mut rng, max_payload),
        random_config(&mut rng, max_payload),
    );
    let mode = if rng.gen_bool(0.5) {
        BodyMode::Stream
    } else {
        BodyMode::Inline
    };
    let mut p = Pair::with_configs(fc, gc, mode, Timestamp::from_millis(rng.gen_range(0..1_000_000)));
    p.latency = Duration::from_millis(rng.gen_range(0..=10));
    // Half the runs keep response payloads outside the gateway session, as the Durable
    // Object does.
    p.gateway_external = rng.gen_bool(0.5);
    // And half write request frames by their length, keeping the bytes themselves.
    p.gateway_external_request = rng.gen_bool(0.5);
    let request = if mode == BodyMode::Stream {
        random_body(&mut rng, 64 * 1024)
    } else {
        Bytes::new()
    };
    let response = random_body(&mut rng, 192 * 1024);
    p.app.request = request.clone();
    p.app.response = response.clone();
    cut_at_random(&mut p, &mut rng);

    assert_eq!(p.f.error(), None, "seed {seed}");
    assert_eq!(p.g.error(), None, "seed {seed}");
    assert!(p.app.response_body_read == response, "seed {seed}: response differs");
    assert!(p.app.request_read == request, "seed {seed}: request differs");
    assert!(p.app.request_ended, "seed {seed}");
    assert!(
        matches!(p.app.response_parts.last(), Some(ResponsePart::End(_))),
        "seed {seed}"
    );
    assert_eq!(p.app.response_parts.len(), 2, "seed {seed}: one head, one end");
    assert!(p.f.is_done() && p.g.is_done(), "seed {seed}");
}

#[test]
fn thousand_seeded_runs_with_random_cuts_deliver_everything_once() {
    for seed in 0..1_000 {
        run(seed);
    }
}

/// Random message records (text, binary, then a close): the bytes of a WebSocket body.
fn random_messages(rng: &mut StdRng) -> (Vec<websocket::Message>, Bytes) {
    let mut messages = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..rng.gen_range(0..40) {
        let len = if rng.gen_bool(0.9) {
            rng.gen_range(0..300)
        } else {
            rng.gen_range(300..40_000)
        };
        let message = if rng.gen_bool(0.5) {
            websocket::Message::Text(format!("{i}:").repeat(len / 3 + 1))
        } else {
            let mut v = vec![0u8; len];
            rng.fill(&mut v[..]);
            websocket::Message::Binary(v.into())
        };
        messages.push(message);
    }
    messages.push(websocket::Message::close(rng.gen_range(4000..4100), "done").unwrap());
    for m in &messages {
        bytes.extend_from_slice(&m.clone().encode(websocket::MAX_MESSAGE_BYTES).unwrap());
    }
    (messages, bytes.into())
}

fn decode(bytes: &[u8]) -> Vec<websocket::Message> {
    let mut decoder = websocket::MessageDecoder::new(websocket::MAX_MESSAGE_BYTES);
    decoder.push(bytes);
    let mut out = Vec::new();
    while let Some(m) = decoder.next_message().expect("whole records") {
        out.push(m);
    }
    decoder.finish().expect("nothing left over");
    out
}

/// A client's WebSocket, accepted with a 101, while the socket is cut at random: the message
/// records each way arrive as they were sent, kinds and boundaries kept, nothing twice.
fn run_websocket(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let max_payload = rng.gen_range(1024..=8192);
    let config = random_config(&mut rng, max_payload);
    let mut p = Pair::with_configs(
        config.clone(),
        config,
        BodyMode::WebSocket,
        Timestamp::from_millis(1_000),
    );
    p.latency = Duration::from_millis(rng.gen_range(0..=10));
    p.gateway_external = rng.gen_bool(0.5);
    p.app.head_status = http::StatusCode::SWITCHING_PROTOCOLS;
    let (client, client_bytes) = random_messages(&mut rng);
    let (function, function_bytes) = random_messages(&mut rng);
    p.app.request = client_bytes;
    p.app.response = function_bytes;
    cut_at_random(&mut p, &mut rng);

    assert_eq!(p.f.error(), None, "seed {seed}");
    assert_eq!(p.g.error(), None, "seed {seed}");
    assert!(
        matches!(p.app.response_parts.first(), Some(ResponsePart::Head(h)) if h.status == http::StatusCode::SWITCHING_PROTOCOLS),
        "seed {seed}: the 101 came first"
    );
    assert_eq!(
        decode(&p.app.request_read),
        client,
        "seed {seed}: the client's messages"
    );
    assert_eq!(
        decode(&p.app.response_body_read),
        function,
        "seed {seed}: the function's messages"
    );
    assert!(p.f.is_done() && p.g.is_done(), "seed {seed}");
}

#[test]
fn websocket_messages_survive_random_cuts_whole_and_once() {
    for seed in 0..300 {
        run_websocket(seed);
    }
}
