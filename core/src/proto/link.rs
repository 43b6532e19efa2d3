//! The reliable, flow-controlled link both session ends share (docs/protocol.md,
//! "Reliability", "Flow control", "Resume").
//!
//! A `Link` owns what is the same in both directions: the hello handshake on every socket,
//! sequence numbers, the replay buffer bounded by the peer's window, cumulative acks with a
//! delayed-ack timer, the receive queue bounded by our own window, resume after a socket
//! drop, and the sticky fatal error. The role sessions (`FunctionSession`,
//! `GatewaySession`) add which items flow which way and in what order.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::codes::CloseCode;
use super::config::{Config, MAX_PAYLOAD_LIMIT, MAX_WINDOW, MIN_MAX_PAYLOAD};
use super::error::{Error, ProtocolError};
use super::frame::{Abort, Frame, Hello, Item};
use super::time::Timestamp;

/// The link's timers, one slot each; `poll_timeout` reports the earliest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Consumed bytes wait no longer than `ack_delay` for their ack.
    Ack = 0,
    /// A dropped socket must come back before this.
    Resume = 1,
    /// Gateway only: the first socket must arrive before this.
    Connect = 2,
}

const TIMERS: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Socket {
    Down,
    Up { hello_sent: bool, peer_hello: bool },
}

/// What an incoming message turned into, for the role to judge.
pub(crate) enum Received {
    /// Handled inside the link (hello, ack).
    Nothing,
    /// The next sequenced item, in order; the role validates it, then calls `enqueue`.
    Item(Item),
    /// The peer aborted.
    Abort(Abort),
}

/// The shared half of a session; see the module docs.
pub struct Link {
    config: Config,
    now: Timestamp,
    socket: Socket,
    connected_once: bool,

    // Outbound: items `peer_acked..next_seq` are in `replay`; `cursor` is the next to put on
    // the current socket; `transmitted` the highest count ever put on any socket.
    next_seq: u64,
    peer_acked: u64,
    cursor: u64,
    transmitted: u64,
    replay: VecDeque<Item>,
    in_flight: u64,
    peer_window: u32,
    peer_max_payload: u32,
    peer_known: bool,

    // Inbound: items `consumed..next_expected` wait in `queue`; `held` counts body bytes of
    // items `acked_sent..next_expected`, `consumed_unacked` those of `acked_sent..consumed`.
    next_expected: u64,
    consumed: u64,
    acked_sent: u64,
    queue: VecDeque<Item>,
    held: u64,
    consumed_unacked: u64,
    ack_now: bool,

    abort_out: Option<Abort>,
    timers: [Option<Timestamp>; TIMERS],
    error: Option<Error>,
    scratch: BytesMut,
}

impl Link {
    pub(crate) fn new(config: Config, now: Timestamp) -> Self {
        Self {
            config,
            now,
            socket: Socket::Down,
            connected_once: false,
            next_seq: 0,
            peer_acked: 0,
            cursor: 0,
            transmitted: 0,
            replay: VecDeque::new(),
            in_flight: 0,
            peer_window: 0,
            peer_max_payload: 0,
            peer_known: false,
            next_expected: 0,
            consumed: 0,
            acked_sent: 0,
            queue: VecDeque::new(),
            held: 0,
            consumed_unacked: 0,
            ack_now: false,
            abort_out: None,
            timers: [None; TIMERS],
            error: None,
            scratch: BytesMut::new(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    fn tick(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    pub(crate) fn set_timer(&mut self, timer: Timer, at: Option<Timestamp>) {
        self.timers[timer as usize] = at;
    }

    // ---- connection ----

    pub(crate) fn socket_opened(&mut self, now: Timestamp) {
        self.tick(now);
        self.socket = Socket::Up {
            hello_sent: false,
            peer_hello: false,
        };
        self.connected_once = true;
        self.set_timer(Timer::Resume, None);
        self.set_timer(Timer::Connect, None);
    }

    /// The socket is gone. `close` is the peer's close code if it sent one; `resumable` is
    /// false when the session has nothing left to exchange.
    pub(crate) fn socket_closed(&mut self, now: Timestamp, close: Option<CloseCode>, resumable: bool) {
        self.tick(now);
        self.socket = Socket::Down;
        if self.error.is_some() || !resumable {
            return;
        }
        match close {
            Some(code) if code.is_final() => {
                self.fail(Error::PeerClosed(code));
            }
            _ => self.set_timer(Timer::Resume, Some(self.now + self.config.resume_grace)),
        }
    }

    pub(crate) fn connected_once(&self) -> bool {
        self.connected_once
    }

    /// Whether a hello from the peer arrived on any socket.
    pub(crate) fn peer_hello_seen(&self) -> bool {
        self.peer_known
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.socket, Socket::Up { .. })
    }

    // ---- errors ----

    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records `error` unless an earlier one is already sticky, and returns the sticky one.
    pub(crate) fn fail(&mut self, error: Error) -> Error {
        self.error.get_or_insert(error).clone()
    }

    // ---- input ----

    pub(crate) fn receive(&mut self, now: Timestamp, msg: &Bytes) -> Result<Received, Error> {
        self.tick(now);
        self.check()?;
        self.receive_inner(msg).map_err(|e| self.fail(Error::Protocol(e)))
    }

    fn receive_inner(&mut self, msg: &Bytes) -> Result<Received, ProtocolError> {
        let frame = Frame::decode(msg, &self.config.limits())?;
        let Socket::Up { peer_hello, .. } = &mut self.socket else {
            // A driver bug, not the peer's: messages only come on an open socket.
            debug_assert!(false, "message while no socket is open");
            return Ok(Received::Nothing);
        };
        let hello_seen = *peer_hello;
        match frame {
            Frame::Hello(hello) if !hello_seen => {
                *peer_hello = true;
                self.accept_hello(hello)?;
                Ok(Received::Nothing)
            }
            Frame::Hello(_) => Err(ProtocolError::DuplicateHello),
            other if !hello_seen => Err(ProtocolError::HelloExpected(other.frame_type())),
            Frame::Ack { acked } => {
                self.accept_ack(acked, self.cursor)?;
                Ok(Received::Nothing)
            }
            Frame::Abort(abort) => Ok(Received::Abort(abort)),
            Frame::Sequenced { seq, item } => {
                if seq != self.next_expected {
                    let (expected, got) = (self.next_expected, seq);
                    return Err(if seq < expected {
                        ProtocolError::DuplicateSequence { expected, got }
                    } else {
                        ProtocolError::SequenceGap { expected, got }
                    });
                }
                Ok(Received::Item(item))
            }
        }
    }

    fn accept_hello(&mut self, hello: Hello) -> Result<(), ProtocolError> {
        if !(MIN_MAX_PAYLOAD..=MAX_PAYLOAD_LIMIT).contains(&hello.max_payload) {
            return Err(ProtocolError::InvalidHello("max_payload out of range"));
        }
        if !(MIN_MAX_PAYLOAD..=MAX_WINDOW).contains(&hello.window) {
            return Err(ProtocolError::InvalidHello("window out of range"));
        }
        if hello.acked > hello.received || hello.received > self.transmitted {
            return Err(ProtocolError::ResumeOutOfRange {
                received: hello.received,
                acked: hello.acked,
                sent: self.transmitted,
            });
        }
        self.accept_ack(hello.acked, hello.received)?;
        self.cursor = hello.received;
        self.peer_window = hello.window;
        self.peer_max_payload = hello.max_payload;
        self.peer_known = true;
        Ok(())
    }

    fn accept_ack(&mut self, acked: u64, sent: u64) -> Result<(), ProtocolError> {
        if acked < self.peer_acked {
            return Err(ProtocolError::AckRegressed {
                acked,
                previous: self.peer_acked,
            });
        }
        if acked > sent {
            return Err(ProtocolError::AckBeyondSent { acked, sent });
        }
        while self.peer_acked < acked {
            let item = self.replay.pop_front().expect("acked items are in the replay buffer");
            self.in_flight -= item.body_len() as u64;
            self.peer_acked += 1;
        }
        Ok(())
    }

    /// Queues a validated in-order item for the application, enforcing our window.
    pub(crate) fn enqueue(&mut self, item: Item) -> Result<(), Error> {
        let len = item.body_len() as u64;
        if self.held + len > u64::from(self.config.window) {
            let e = ProtocolError::WindowExceeded {
                window: self.config.window,
                held: self.held + len,
            };
            return Err(self.fail(Error::Protocol(e)));
        }
        self.held += len;
        self.next_expected += 1;
        self.queue.push_back(item);
        Ok(())
    }

    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        self.tick(now);
        for (slot, deadline) in self.timers.iter_mut().enumerate() {
            if deadline.is_some_and(|d| d <= now) {
                *deadline = None;
                match slot {
                    s if s == Timer::Ack as usize => self.ack_now = true,
                    s if s == Timer::Resume as usize => {
                        let grace = self.config.resume_grace;
                        self.error.get_or_insert(Error::ResumeTimeout(grace));
                    }
                    _ => {
                        let limit = self.config.connect_timeout;
                        self.error.get_or_insert(Error::ConnectTimeout(limit));
                    }
                }
            }
        }
    }

    // ---- application ----

    /// The next received item, in order; reading it counts as consuming it.
    pub(crate) fn read(&mut self) -> Option<Item> {
        let item = self.queue.pop_front()?;
        self.consumed += 1;
        let len = item.body_len() as u64;
        self.consumed_unacked += len;
        if len == 0 || self.consumed_unacked >= u64::from(self.config.window / 4) {
            // Ends and heads are acked at once: the function is waiting for its end's ack.
            self.ack_now = true;
        } else if self.timers[Timer::Ack as usize].is_none() {
            self.set_timer(Timer::Ack, Some(self.now + self.config.ack_delay));
        }
        Some(item)
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Body bytes that fit in the peer's window now; zero before the first hello.
    pub(crate) fn send_capacity(&self) -> usize {
        if !self.peer_known {
            return 0;
        }
        u64::from(self.peer_window).saturating_sub(self.in_flight) as usize
    }

    /// The largest body payload to put in one frame.
    pub(crate) fn chunk_size(&self) -> usize {
        self.config.max_payload.min(self.peer_max_payload).min(self.peer_window) as usize
    }

    /// Appends an item to the outbound stream (it is sent when the socket allows).
    pub(crate) fn write(&mut self, item: Item) {
        self.in_flight += item.body_len() as u64;
        self.next_seq += 1;
        self.replay.push_back(item);
    }

    /// Splits as much of `data` as the window takes into body items made by `make`.
    pub(crate) fn write_body(&mut self, data: &mut Bytes, make: fn(Bytes) -> Item) -> usize {
        let mut taken = 0;
        while !data.is_empty() {
            let n = data.len().min(self.send_capacity()).min(self.chunk_size());
            if n == 0 {
                break;
            }
            self.write(make(data.split_to(n)));
            taken += n;
        }
        taken
    }

    /// Whether the peer acknowledged every item written.
    pub(crate) fn all_acked(&self) -> bool {
        self.peer_acked == self.next_seq
    }

    pub(crate) fn send_abort(&mut self, abort: Abort) {
        self.abort_out = Some(abort);
    }

    // ---- output ----

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        let Socket::Up { hello_sent, peer_hello } = &mut self.socket else {
            return None;
        };
        if !*hello_sent {
            *hello_sent = true;
            let hello = Hello {
                received: self.next_expected,
                acked: self.consumed,
                window: self.config.window,
                max_payload: self.config.max_payload,
            };
            self.note_acked();
            return Some(self.encode(&Frame::Hello(hello)));
        }
        let peer_hello = *peer_hello;
        if let Some(abort) = self.abort_out.take() {
            return Some(self.encode(&Frame::Abort(abort)));
        }
        if self.error.is_some() {
            return None;
        }
        if self.ack_now && self.consumed > self.acked_sent {
            let acked = self.consumed;
            self.note_acked();
            return Some(self.encode(&Frame::Ack { acked }));
        }
        self.ack_now = false;
        if !peer_hello || self.cursor == self.next_seq {
            return None;
        }
        let index = (self.cursor - self.peer_acked) as usize;
        let seq = self.cursor;
        self.cursor += 1;
        self.transmitted = self.transmitted.max(self.cursor);
        self.scratch.clear();
        Frame::encode_sequenced(seq, &self.replay[index], &mut self.scratch);
        Some(self.scratch.split().freeze())
    }

    fn note_acked(&mut self) {
        self.acked_sent = self.consumed;
        self.held -= self.consumed_unacked;
        self.consumed_unacked = 0;
        self.ack_now = false;
        self.set_timer(Timer::Ack, None);
    }

    fn encode(&mut self, frame: &Frame) -> Bytes {
        self.scratch.clear();
        frame.encode(&mut self.scratch);
        self.scratch.split().freeze()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        if self.error.is_some() {
            return None;
        }
        self.timers.iter().flatten().min().copied()
    }

    /// Whether an abort frame still waits for the socket.
    pub(crate) fn abort_pending(&self) -> bool {
        self.abort_out.is_some()
    }

    // ---- introspection for tests and drivers ----

    pub(crate) fn stats(&self) -> LinkStats {
        LinkStats {
            in_flight: self.in_flight,
            peer_window: self.peer_window,
            held: self.held,
            window: self.config.window,
            replay_len: self.replay.len(),
            queue_len: self.queue.len(),
        }
    }
}

/// A snapshot of a session's buffers, for tests, metrics and bounds checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStats {
    /// Body bytes written but not acknowledged by the peer.
    pub in_flight: u64,
    /// The window the peer advertised (0 before its first hello).
    pub peer_window: u32,
    /// Body bytes received but not yet acknowledged to the peer.
    pub held: u64,
    /// Our own receive window.
    pub window: u32,
    /// Items in the replay buffer.
    pub replay_len: usize,
    /// Items received and not yet read.
    pub queue_len: usize,
}
