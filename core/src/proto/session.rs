//! What both session ends share: the input, output and state calls a driver makes.
//!
//! A driver owns one session and, for every event of its socket, calls in this order:
//! input (`socket_opened`, `handle_message`, `handle_text_message`, `socket_closed`,
//! `handle_timeout`), then output: `poll_transmit` until it returns `None` (send each as one
//! binary message), `poll_timeout` (arm the one timer), `poll_close` (close the socket with
//! that code). Application calls (`read`, `write`, …) can come at any time between; the
//! driver runs the output calls after them too.

use bytes::Bytes;

use super::codes::CloseCode;
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError};
use super::frame::{Abort, Frame, Item};
use super::link::{Link, LinkStats, Received, Transmit};
use super::time::Timestamp;

/// How a driver takes in a message ([`Session::intake`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intake {
    /// A body frame: hand its first this many bytes (its header) to
    /// [`Session::handle_external_body`] and hold the payload after them where it arrived.
    External(usize),
    /// Hand all of it to [`Session::handle_message`].
    Whole,
    /// Larger than any frame the session accepts: copy nothing, and call
    /// [`Session::handle_oversized_message`].
    Oversized,
}

/// One end of a relay session: the shared reliable link and the rules of its [`Role`].
pub struct Session<R> {
    pub(crate) link: Link,
    pub(crate) role: R,
}

/// The rules of one end: which items it accepts, in what order, and when it is done.
pub trait Role: sealed::Sealed {
    /// Whether the end closes the socket with [`CloseCode::NORMAL`] once done.
    #[doc(hidden)]
    const CLOSES_WHEN_DONE: bool;
    /// Judges the next in-order item from the peer.
    #[doc(hidden)]
    fn accept(&mut self, item: &Item) -> Result<(), ProtocolError>;
    /// Turns the peer's abort into the session's error, or refuses it.
    #[doc(hidden)]
    fn abort_received(&mut self, abort: Abort) -> Result<Error, ProtocolError>;
    /// Whether nothing is left to exchange.
    #[doc(hidden)]
    fn is_done(&self, all_acked: bool) -> bool;
    /// The role's own next deadline, if it has one.
    #[doc(hidden)]
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
    /// The role's deadline may have passed.
    #[doc(hidden)]
    fn handle_timeout(&mut self, _now: Timestamp, _link: &mut Link) {}
    /// The peer's hello arrived: its limits are known.
    #[doc(hidden)]
    fn hello_received(&mut self, _link: &mut Link) {}
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

impl<R: Role> Session<R> {
    pub(crate) fn with_role(config: Config, now: Timestamp, role: R) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            link: Link::new(config, now),
            role,
        })
    }

    // ---- input ----

    /// A socket for this session is open: the next transmit is our hello.
    pub fn socket_opened(&mut self, now: Timestamp) {
        self.link.socket_opened(now);
    }

    /// The socket closed; `code` is the peer's close code if it sent a close frame. A final
    /// code ends the session; otherwise it waits `resume_grace` for a new socket.
    pub fn socket_closed(&mut self, now: Timestamp, code: Option<CloseCode>) {
        let resumable = !self.role.is_done(self.link.all_acked());
        self.link.socket_closed(now, code, resumable);
    }

    /// Hands in one binary message from the socket.
    pub fn handle_message(&mut self, now: Timestamp, msg: &Bytes) -> Result<(), Error> {
        self.handle(now, msg, None)
    }

    /// Hands in a body frame whose payload the driver keeps where it arrived, so it never
    /// enters the session's memory: `head` is the message up to
    /// [`Frame::external_split`](super::Frame::external_split) (its header), `payload_len`
    /// the bytes after it. The frame is judged exactly as [`handle_message`](Self::handle_message)
    /// would judge the whole message; once accepted it is read back as an external part of
    /// that length, in order, which the driver matches with the payloads it kept.
    pub fn handle_external_body(&mut self, now: Timestamp, head: &Bytes, payload_len: usize) -> Result<(), Error> {
        self.handle(now, head, Some(payload_len))
    }

    fn handle(&mut self, now: Timestamp, msg: &Bytes, external: Option<usize>) -> Result<(), Error> {
        match self.link.receive(now, msg, external)? {
            Received::Nothing => Ok(()),
            Received::Hello => {
                self.role.hello_received(&mut self.link);
                Ok(())
            }
            Received::Item(item) => match self.role.accept(&item) {
                Ok(()) => self.link.enqueue(item),
                Err(e) => Err(self.link.fail(Error::Protocol(e))),
            },
            Received::Abort(abort) => {
                let error = self.role.abort_received(abort).unwrap_or_else(Error::Protocol);
                Err(self.link.fail(error))
            }
        }
    }

    /// A text message arrived, which the protocol forbids.
    pub fn handle_text_message(&mut self) -> Error {
        self.link.fail(Error::Protocol(ProtocolError::TextMessage))
    }

    /// The deadline from [`Session::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.link.handle_timeout(now);
        self.role.handle_timeout(now, &mut self.link);
    }

    // ---- output ----

    /// The next message to send, if any. For a session whose driver writes body frames by
    /// their length ([`GatewaySession::write_external`](super::GatewaySession::write_external)),
    /// use [`poll_transmit_parts`](Self::poll_transmit_parts): here such a frame fails the
    /// session rather than be sent without its payload.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        match self.link.poll_transmit()? {
            Transmit::Message(message) => Some(message),
            Transmit::External(_) => {
                let abort = super::frame::Abort {
                    code: super::codes::AbortCode::GATEWAY,
                    reason: "a body frame written by its length was polled without its payload".into(),
                };
                self.link.send_abort(abort.clone());
                self.link.fail(Error::Aborted(abort));
                self.link.poll_transmit().and_then(|t| match t {
                    Transmit::Message(message) => Some(message),
                    Transmit::External(_) => None,
                })
            }
        }
    }

    /// The next thing to send, if any: a whole message, or a body frame whose payload the
    /// driver keeps ([`Transmit::External`]).
    #[must_use]
    pub fn poll_transmit_parts(&mut self) -> Option<Transmit> {
        self.link.poll_transmit()
    }

    /// Frames below this number were acknowledged by the peer: a driver that keeps payloads
    /// of frames written by their length can let them go.
    pub fn peer_acked(&self) -> u64 {
        self.link.peer_acked()
    }

    /// When to call [`Session::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.link.error().is_some() {
            return None;
        }
        match (self.link.poll_timeout(), self.role.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The code to close the socket with, once the session is over and everything it had to
    /// say was transmitted.
    #[must_use]
    pub fn poll_close(&self) -> Option<CloseCode> {
        if self.link.abort_pending() && self.link.is_up() {
            return None;
        }
        if let Some(error) = self.link.error() {
            return Some(error.close_code());
        }
        (R::CLOSES_WHEN_DONE && self.role.is_done(self.link.all_acked())).then_some(CloseCode::NORMAL)
    }

    // ---- state ----

    /// The error that ended the session, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.link.error()
    }

    /// Whether nothing is left to exchange.
    pub fn is_done(&self) -> bool {
        self.role.is_done(self.link.all_acked())
    }

    /// Whether a socket is open now.
    pub fn is_connected(&self) -> bool {
        self.link.is_up()
    }

    /// Whether a socket was ever opened.
    pub fn has_connected(&self) -> bool {
        self.link.connected_once()
    }

    /// Whether the peer's hello arrived on any socket: from then on a new socket is a resume.
    pub fn peer_hello_seen(&self) -> bool {
        self.link.peer_hello_seen()
    }

    /// Whether a received item waits to be read.
    pub fn has_readable(&self) -> bool {
        self.link.has_queued()
    }

    /// Body bytes a body write takes now, at least: the room in the frame being gathered or a
    /// new frame's payload within the window. Zero means a write would block.
    pub fn send_capacity(&self) -> usize {
        self.link.body_capacity()
    }

    /// How to take in a message of `msg_len` bytes whose first byte is `first_byte`, decided
    /// from those two alone, before the driver copies anything: a body frame's payload stays
    /// where it arrived, and a message larger than any frame this session accepts is refused
    /// by its length (a runtime may deliver messages far larger than a frame, 32 MiB in
    /// workerd).
    pub fn intake(&self, msg_len: usize, first_byte: u8) -> Intake {
        match Frame::external_split(msg_len, first_byte) {
            Some(at) => Intake::External(at),
            None if msg_len > self.link.config().max_message_len() => Intake::Oversized,
            None => Intake::Whole,
        }
    }

    /// A message that was too large to receive (the driver's WebSocket refused it before it
    /// could be handed in, or [`intake`](Self::intake) said so): fails the session with
    /// `1009`, final.
    pub fn handle_oversized_message(&mut self, len: usize) -> Error {
        let max = self.link.config().max_message_len();
        let e = ProtocolError::Decode(super::codec::DecodeError::MessageTooLarge { len, max });
        self.link.fail(Error::Protocol(e))
    }

    /// Sets how much this side is willing to hold for its peer, below the window its hello
    /// announced: a driver whose sessions share one memory budget lowers it as they grow in
    /// number ([`BufferBudget`](super::BufferBudget)). Consumed bytes' acks are withheld so
    /// the peer can make this side hold at most about `limit` unconsumed once what it already
    /// sent is read (`limit` plus one run of frames, a sixty-fourth of the window or one
    /// frame). The limit is never below one whole frame of our `max_payload`, so a peer that
    /// does not split its frames still moves. The withheld bytes wait in the peer's replay
    /// buffer. The default, `u64::MAX`, withholds nothing.
    pub fn set_buffer_limit(&mut self, limit: u64) {
        self.link.set_buffer_limit(limit);
    }

    /// The buffer limit in force: what [`set_buffer_limit`](Self::set_buffer_limit) was given,
    /// raised to a whole frame of this side's `max_payload`; below the window, acks are
    /// withheld.
    pub fn buffer_limit(&self) -> u64 {
        self.link.buffer_limit()
    }

    /// The most this session can be made to hold for its peer now (its window less the acks
    /// it withholds) plus what it keeps unacknowledged for it: what a driver counts against
    /// a shared budget.
    pub fn buffer_footprint(&self) -> u64 {
        self.link.buffer_footprint()
    }

    /// Buffer figures, for bounds checks and metrics.
    pub fn stats(&self) -> LinkStats {
        self.link.stats()
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        self.link.config()
    }

    pub(crate) fn write_body(
        &mut self,
        data: &mut Bytes,
        make: fn(Bytes) -> Item,
    ) -> Result<usize, super::error::StreamError> {
        self.link.check()?;
        if data.is_empty() {
            return Ok(0);
        }
        match self.link.write_body(data, make) {
            0 => Err(super::error::StreamError::Blocked),
            n => Ok(n),
        }
    }
}
