//! 1,000 seeded runs that cut the socket at random points, in both directions, and resume:
//! every body arrives byte-identical, nothing twice, and the window is never exceeded.

use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::pair::Pair;
use crate::proto::*;

fn random_body(rng: &mut StdRng, max: usize) -> Bytes {
    let len = if rng.gen_bool(0.1) { 0 } else { rng.gen_range(1..=max) };
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v.into()
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let max_payload = rng.gen_range(1024..=8192);
    let config = |rng: &mut StdRng| Config {
        max_payload,
        window: rng.gen_range(max_payload..=8 * max_payload),
        ack_delay: Duration::from_millis(rng.gen_range(1..=20)),
        resume_grace: Duration::from_secs(30),
        ..Config::default()
    };
    let (fc, gc) = (config(&mut rng), config(&mut rng));
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
    let request = if mode == BodyMode::Stream {
        random_body(&mut rng, 64 * 1024)
    } else {
        Bytes::new()
    };
    let response = random_body(&mut rng, 192 * 1024);
    p.app.request = request.clone();
    p.app.response = response.clone();

    p.connect();
    let cuts = rng.gen_range(1..=4);
    for _ in 0..cuts {
        // Run a random while, sometimes with a paused reader so the windows fill, then cut
        // with a random number of in-flight messages still getting through.
        p.app.gateway_reads = rng.gen_bool(0.8);
        p.app.function_reads = rng.gen_bool(0.8);
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
