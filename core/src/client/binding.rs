//! What the other languages' bindings (the Node addon, the Python module) share besides the
//! adapter ([`crate::adapter`]), so each is only type conversion: the stable error codes
//! their exceptions carry, and the batching of reads and writes across the language boundary.

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};

use super::{Error, RequestBody};
use crate::proto;

/// Most request-body bytes one read hands across: it waits for one frame, then takes
/// whatever else already arrived up to this, so a fast upload crosses once per batch.
pub const READ_BATCH_BYTES: usize = 1024 * 1024;
/// Most response bytes a wrapper gathers into one write: every crossing costs a round trip,
/// so small chunks are batched.
pub const WRITE_BATCH_BYTES: usize = 1024 * 1024;
/// What one queued chunk costs a wrapper's read-ahead besides its bytes (an object and its
/// queue slot), so a handler writing one byte at a time is bounded by count too.
pub const CHUNK_COST_BYTES: usize = 256;

/// The stable error codes, `(code, Python exception class, what it means)`: the one table
/// the Node addon's `code`s and the Python module's exception classes are built from, in the
/// order of [`error_code`].
pub const ERROR_CODES: [(&str, &str, &str); 10] = [
    (
        "ERR_RELAY_ABORTED",
        "RelayAborted",
        "the gateway aborted: the client went away",
    ),
    (
        "ERR_RELAY_PROTOCOL",
        "RelayProtocolError",
        "the gateway broke the protocol",
    ),
    (
        "ERR_RELAY_SESSION",
        "RelaySessionError",
        "the session failed (no resume in time, a final close)",
    ),
    (
        "ERR_RELAY_USAGE",
        "RelayUsageError",
        "the handler asked for something the stream cannot do",
    ),
    (
        "ERR_RELAY_REFUSED",
        "RelayRefused",
        "the gateway refused the relay socket",
    ),
    (
        "ERR_RELAY_CONNECT",
        "RelayConnectError",
        "the gateway could not be reached",
    ),
    (
        "ERR_RELAY_CONFIG",
        "RelayConfigError",
        "the relay configuration is not valid",
    ),
    ("ERR_RELAY_CLOSED", "RelayClosed", "the relay connection closed"),
    (
        "ERR_RELAY_DEADLINE",
        "RelayDeadline",
        "the invocation reached its deadline",
    ),
    (
        "ERR_RELAY_EVENT",
        "RelayEventError",
        "the invocation's event is not one lambda-relay reads (a Function URL event)",
    ),
];

/// The code of [`ERROR_CODES`] for a usage error.
pub const USAGE: &str = ERROR_CODES[3].0;
/// The code of [`ERROR_CODES`] for an event the adapter cannot read.
pub const EVENT: &str = ERROR_CODES[9].0;

/// The stable code of a client error.
pub fn error_code(e: &Error) -> &'static str {
    let index = match e {
        Error::Session(proto::Error::Aborted(_)) => 0,
        Error::Session(proto::Error::Protocol(_)) => 1,
        Error::Session(_) => 2,
        Error::Usage(_) => 3,
        Error::Refused { .. } => 4,
        Error::Connect(_) => 5,
        Error::Config(_) => 6,
        Error::Closed => 7,
        Error::Deadline => 8,
    };
    ERROR_CODES[index].0
}

/// The next piece of the request body, or `None` at its end: one frame, and whatever else
/// already arrived, up to [`READ_BATCH_BYTES`].
pub async fn read_batch(body: &mut RequestBody) -> Result<Option<Bytes>, Error> {
    let first = match body.next().await {
        Some(chunk) => chunk?,
        None => return Ok(None),
    };
    let mut joined: Option<BytesMut> = None;
    while joined.as_ref().map_or(first.len(), BytesMut::len) < READ_BATCH_BYTES {
        // An end or an error stays in the session; the next read reports it.
        match body.next().now_or_never() {
            Some(Some(Ok(chunk))) => joined
                .get_or_insert_with(|| BytesMut::from(&first[..]))
                .extend_from_slice(&chunk),
            _ => break,
        }
    }
    Ok(Some(joined.map_or(first, BytesMut::freeze)))
}

/// Chunks a host language handed over, as one buffer of their bytes (copied: the host may
/// reuse its buffers once the write returns).
pub fn join<C: AsRef<[u8]>>(chunks: &[C]) -> Bytes {
    match chunks {
        [one] => Bytes::copy_from_slice(one.as_ref()),
        _ => {
            let mut joined = BytesMut::with_capacity(chunks.iter().map(|c| c.as_ref().len()).sum());
            for chunk in chunks {
                joined.extend_from_slice(chunk.as_ref());
            }
            joined.freeze()
        }
    }
}
