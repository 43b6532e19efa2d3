//! Session tests over a deterministic in-memory pair with virtual time.

mod bad_inputs;
mod limits;
mod pair;
mod random_cuts;
mod rules;
mod sessions;

use bytes::{Bytes, BytesMut};

use crate::proto::{Config, Frame};

/// The token every test gateway session expects.
pub(crate) const TOKEN: &str = "v1.1.test-token";

/// Limits small enough that a few kilobytes exercise chunking and the window.
fn small() -> Config {
    Config {
        max_payload: 4 * 1024,
        window: 16 * 1024,
        ..Config::default()
    }
}

/// One frame as the bytes of a WebSocket message.
fn enc(frame: Frame) -> Bytes {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out.freeze()
}
