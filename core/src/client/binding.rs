//! What the other languages' bindings (the Node addon, the Python module) share, so each is
//! only type conversion: classifying an invocation and opening its connection, the stable
//! error codes their exceptions carry, a response head made of foreign strings, and the
//! batching of reads and writes across the language boundary.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::{ClientConfig, Connection, Error, Invocation, RequestBody};
use crate::proto::{self, Classification, InvocationResult, RelaySettings};

/// The invocation's result once its relay is over: the relay's own failure if it had one
/// (the client leaving is `aborted`), else `failure` (why the wrapper's own work failed, if
/// it did and the relay does not know), else `relayed`.
pub fn invocation_result(over: Option<Error>, failure: Option<String>) -> InvocationResult {
    match (over, failure) {
        (Some(e), _) => e.invocation_result(),
        (None, Some(why)) => InvocationResult::failed(why),
        (None, None) => InvocationResult::relayed(),
    }
}

/// Most request-body bytes one read hands across: it waits for one frame, then takes
/// whatever else already arrived up to this, so a fast upload crosses once per batch.
pub const READ_BATCH_BYTES: usize = 1024 * 1024;
/// Most response bytes a wrapper gathers into one write: every crossing costs a round trip,
/// so small chunks are batched.
pub const WRITE_BATCH_BYTES: usize = 1024 * 1024;
/// What one queued chunk costs a wrapper's read-ahead besides its bytes (an object and its
/// queue slot), so a handler writing one byte at a time is bounded by count too.
pub const CHUNK_COST_BYTES: usize = 256;

/// The stable error codes, `(code, what it means)`, in the order of [`error_code`].
pub const ERROR_CODES: [(&str, &str); 9] = [
    ("ERR_RELAY_ABORTED", "the gateway aborted: the client went away"),
    ("ERR_RELAY_PROTOCOL", "the gateway broke the protocol"),
    (
        "ERR_RELAY_SESSION",
        "the session failed (no resume in time, a final close)",
    ),
    (
        "ERR_RELAY_USAGE",
        "the handler asked for something the stream cannot do",
    ),
    ("ERR_RELAY_REFUSED", "the gateway refused the relay socket"),
    ("ERR_RELAY_CONNECT", "the gateway could not be reached"),
    ("ERR_RELAY_CONFIG", "the relay configuration is not valid"),
    ("ERR_RELAY_CLOSED", "the relay connection closed"),
    ("ERR_RELAY_DEADLINE", "the invocation reached its deadline"),
];

/// The code of [`ERROR_CODES`] for a usage error.
pub const USAGE: &str = ERROR_CODES[3].0;

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

/// What an invocation turned out to be.
pub enum Begun {
    /// No relay headers: the handler answers in the invocation result.
    Direct,
    /// Refused, unconfigured, or the connection could not open: answer with this.
    Answer(InvocationResult),
    /// Relayed: the connection is opening.
    Relay {
        /// The connection.
        connection: Connection,
        /// Whether the request body streams over the socket (else it is the event's own).
        streams_body: bool,
        /// The client's address as the gateway saw it, for the handler's request context.
        client_address: Option<String>,
    },
}

/// Classifies an invocation with [`proto::classify_invocation`] (`header` looks up the
/// invocation's headers by lowercase name) and, for a relay invocation, starts connecting
/// to the gateway. `time_left` is the Lambda context's remaining time. Call it inside a
/// tokio runtime: the connection runs on it.
pub fn begin_invocation<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    method: &str,
    gateway_url: Option<&str>,
    secret: Option<&str>,
    time_left: Option<Duration>,
) -> Begun {
    let settings = RelaySettings::from_values(gateway_url, secret);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let relay = match proto::classify_invocation(&header, settings.as_ref().map(Option::as_ref), now) {
        Classification::Direct => return Begun::Direct,
        Classification::Refused(result) => return Begun::Answer(result),
        Classification::Relay(relay) => relay,
    };
    let Ok(Some(settings)) = settings else {
        unreachable!("classify_invocation relays only with valid settings")
    };
    let streams_body = relay.body_mode == proto::BodyMode::Stream;
    let client_address = proto::relayed_client_address(&header).map(str::to_owned);
    let mut invocation = Invocation::new(relay, method);
    if let Some(time_left) = time_left {
        invocation = invocation.with_time_left(time_left);
    }
    match Connection::open(ClientConfig::new(settings.gateway_url()), invocation) {
        Ok(connection) => Begun::Relay {
            connection,
            streams_body,
            client_address,
        },
        Err(e) => Begun::Answer(e.invocation_result()),
    }
}

/// The remaining time a host language reports (milliseconds, maybe fractional or bogus).
pub fn time_left(ms: Option<f64>) -> Option<Duration> {
    ms.filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_millis(ms as u64))
}

/// A response head from a host language's values: a status and `(name, value)` pairs
/// (repeated names allowed, any case). The error is a usage error's message.
pub fn response_head<N, V>(
    status: u32,
    pairs: impl ExactSizeIterator<Item = (N, V)>,
) -> Result<(StatusCode, HeaderMap), String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("invalid status {status}"))?;
    if pairs.len() > proto::MAX_HEADER_COUNT {
        return Err(proto::StreamError::TooManyHeaders {
            count: pairs.len(),
            max: proto::MAX_HEADER_COUNT,
        }
        .to_string());
    }
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        map.append(name, value);
    }
    Ok((status, map))
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
