//! Limits and timings of a session, each a named default with an override.

use core::time::Duration;

/// Default largest body payload per frame (docs/protocol.md, "Limits"). Chosen from
/// `npm run bench` (docs/benchmarks.md, "Frame size and window"): per byte, the gateway's CPU
/// falls by a third from 64 KiB to 256 KiB frames and throughput rises by half; beyond it
/// the gains are small and each message costs more memory while it waits.
pub const DEFAULT_MAX_PAYLOAD: u32 = 256 * 1024;
/// Smallest `max_payload` a peer may ask for.
pub const MIN_MAX_PAYLOAD: u32 = 1024;
/// Hard ceiling on a frame's body payload, well under the 1 MiB per message that older
/// Cloudflare runtimes accept.
pub const MAX_PAYLOAD_LIMIT: u32 = 512 * 1024;
/// Default receive window: body bytes the receiver is ready to hold unacknowledged. 16
/// default frames: on loopback 4 MiB is where throughput stops rising, and across a real
/// network it keeps ~130 MiB/s through a 30 ms round trip (window / RTT); it is also what a
/// slow client can make the gateway hold per session.
pub const DEFAULT_WINDOW: u32 = 4 * 1024 * 1024;
/// Largest window either side may advertise.
pub const MAX_WINDOW: u32 = 64 * 1024 * 1024;
/// Default limit on an encoded header block (response head or trailers).
pub const DEFAULT_MAX_HEADER_BYTES: u32 = 64 * 1024;
/// Smallest `max_header_bytes` a side may set.
pub const MIN_HEADER_BYTES: u32 = 1024;
/// Hard ceiling on `max_header_bytes`.
pub const MAX_HEADER_BYTES_LIMIT: u32 = 256 * 1024;
/// Most headers in one header block (response head or trailers): far above what real
/// responses carry, and far below the ~24,000 entries at which `http::HeaderMap` panics.
pub const MAX_HEADER_COUNT: usize = 1024;
/// Longest reason or message text carried by abort and error frames, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// What a body frame costs in the window besides its payload: the window bounds frames held
/// as well as bytes, so a peer writing one byte at a time cannot queue a million frames.
pub const BODY_FRAME_COST: u64 = 64;
/// Default interval after which a side that sent nothing sends an ack, so its peer hears
/// from it (docs/protocol.md, "Liveness").
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10);
/// Longest keepalive interval a side may announce.
pub const MAX_KEEPALIVE: Duration = Duration::from_secs(60);
/// How many of the peer's keepalive intervals of silence a side waits, at least, before it
/// counts its socket as dead, whatever its own idle timeout.
pub const IDLE_KEEPALIVES: u32 = 3;
/// Default silence after which a side counts its socket as dead and waits for a resume.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default delay before acknowledging consumed body bytes that did not reach the ack threshold.
pub const DEFAULT_ACK_DELAY: Duration = Duration::from_millis(10);
/// Default time a session waits for a dropped socket to come back.
pub const DEFAULT_RESUME_GRACE: Duration = Duration::from_secs(10);
/// Default time the gateway waits for the function's first connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time a streamed request body may make no progress while the function could take
/// more, before the gateway ends the exchange (408): a client trickling its upload must not
/// hold a Lambda (and a unit of account concurrency) until its timeout.
pub const DEFAULT_UPLOAD_IDLE: Duration = Duration::from_secs(30);
/// Longest any timing of a session may be set to (connect timeout, resume grace, idle
/// timeout, ack delay): Lambda's longest run; past it nothing is left to wait for.
pub const MAX_TIMING: Duration = Duration::from_secs(15 * 60);
/// Largest `INLINE_BODY_LIMIT`: a Function URL takes 6 MB per invocation, and a binary body
/// rides base64-encoded (4/3 of its size) beside the event's headers.
pub const MAX_INLINE_BODY_LIMIT: u64 = 4 * 1024 * 1024;
/// Shortest relay token lifetime (`TOKEN_TTL_S`), in seconds: the function must be able to
/// connect with it.
pub const MIN_TOKEN_TTL_S: u64 = 10;
/// Longest relay token lifetime (`TOKEN_TTL_S`), in seconds: a day; a token outliving any
/// invocation only widens what a leaked one allows.
pub const MAX_TOKEN_TTL_S: u64 = 24 * 60 * 60;

/// `value`, if it is within `min..=max`; else an error naming `field`.
pub fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange { field, value, min, max })
    }
}

/// Limits and timings of one session, shared by both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest body payload this side sends and accepts in one frame.
    pub max_payload: u32,
    /// Body bytes this side is ready to hold received but unacknowledged.
    pub window: u32,
    /// Largest encoded header block this side sends and accepts.
    pub max_header_bytes: u32,
    /// How long consumed bytes below the ack threshold may wait for an acknowledgement.
    pub ack_delay: Duration,
    /// How long a session survives without a socket before it fails.
    pub resume_grace: Duration,
    /// Gateway only: how long to wait for the function's first connection.
    pub connect_timeout: Duration,
    /// After this long without sending, send an ack (a keepalive).
    pub keepalive: Duration,
    /// After this long without receiving, count the socket as dead.
    pub idle_timeout: Duration,
    /// Gateway side: how long a streamed request body may make no progress while the
    /// function's window is open before the exchange ends (408 `upload_idle`).
    pub upload_idle: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_payload: DEFAULT_MAX_PAYLOAD,
            window: DEFAULT_WINDOW,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            ack_delay: DEFAULT_ACK_DELAY,
            resume_grace: DEFAULT_RESUME_GRACE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            upload_idle: DEFAULT_UPLOAD_IDLE,
        }
    }
}

impl Config {
    /// Checks every field against its bounds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_MAX_PAYLOAD..=MAX_PAYLOAD_LIMIT).contains(&self.max_payload) {
            return Err(ConfigError::OutOfRange {
                field: "max_payload",
                value: self.max_payload.into(),
                min: MIN_MAX_PAYLOAD.into(),
                max: MAX_PAYLOAD_LIMIT.into(),
            });
        }
        if !(self.max_payload..=MAX_WINDOW).contains(&self.window) {
            return Err(ConfigError::OutOfRange {
                field: "window",
                value: self.window.into(),
                min: self.max_payload.into(),
                max: MAX_WINDOW.into(),
            });
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES_LIMIT).contains(&self.max_header_bytes) {
            return Err(ConfigError::OutOfRange {
                field: "max_header_bytes",
                value: self.max_header_bytes.into(),
                min: MIN_HEADER_BYTES.into(),
                max: MAX_HEADER_BYTES_LIMIT.into(),
            });
        }
        let max_ms = MAX_TIMING.as_millis() as u64;
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        in_range("connect_timeout_ms", millis(self.connect_timeout), 1, max_ms)?;
        in_range("resume_grace_ms", millis(self.resume_grace), 0, max_ms)?;
        in_range("idle_timeout_ms", millis(self.idle_timeout), 1, max_ms)?;
        in_range("ack_delay_ms", millis(self.ack_delay), 0, max_ms)?;
        in_range("upload_idle_ms", millis(self.upload_idle), 1, max_ms)?;
        if self.keepalive.as_millis() == 0 || self.keepalive > MAX_KEEPALIVE || self.idle_timeout <= self.keepalive {
            return Err(ConfigError::Timing(
                "keepalive must be 1 ms to 60 s and below idle_timeout, so a live peer is never idle",
            ));
        }
        Ok(())
    }

    /// What the decoder enforces for this side.
    pub fn limits(&self) -> Limits {
        Limits {
            max_payload: self.max_payload,
            max_header_bytes: self.max_header_bytes,
        }
    }

    /// The largest message this side accepts, derived from its limits.
    pub fn max_message_len(&self) -> usize {
        self.limits().max_message_len()
    }
}

/// Bytes before the fields of a sequenced frame: type (1) and sequence number (8).
pub const SEQ_HEADER_LEN: usize = 1 + 8;

/// Limits the decoder enforces before it allocates anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body payload accepted.
    pub max_payload: u32,
    /// Largest encoded header block accepted.
    pub max_header_bytes: u32,
}

impl Limits {
    /// The largest message a decoder with these limits accepts: a full body frame or a head
    /// with a full header block, whichever is longer.
    pub fn max_message_len(&self) -> usize {
        let body = SEQ_HEADER_LEN + 4 + self.max_payload as usize;
        let head = SEQ_HEADER_LEN + 2 + self.max_header_bytes as usize;
        body.max(head)
    }
}

/// A configuration value outside its bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric setting is below its minimum or above its maximum.
    #[error("{field} = {value} is out of range {min}..={max}")]
    OutOfRange {
        /// The setting's name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Timings that contradict each other.
    #[error("{0}")]
    Timing(&'static str),
}
