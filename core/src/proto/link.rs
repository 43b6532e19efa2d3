//! The reliable, flow-controlled link both session ends share (docs/protocol.md,
//! "Reliability", "Flow control", "Resume", "Liveness").
//!
//! A `Link` owns what is the same in both directions: the hello handshake on every socket,
//! sequence numbers, the replay buffer bounded by the peer's window, cumulative acks with a
//! delayed-ack timer, the receive queue bounded by our own window, small writes coalesced
//! into frames, keepalives and the idle timeout, resume after a socket drop, and the sticky
//! fatal error. The role sessions (`FunctionSession`, `GatewaySession`) add which items flow
//! which way and in what order.
//!
//! The window counts every body frame at its payload plus [`BODY_FRAME_COST`], so it bounds
//! the number of frames held as well as their bytes: a peer writing one byte at a time holds
//! at most `window / (1 + BODY_FRAME_COST)` frames, not `window` of them.
//!
//! The announced window is fixed for the session, but a side may hold less: with a buffer
//! limit below it ([`Link::set_buffer_limit`]) the link withholds acks for consumed bytes, so
//! the peer can make it hold at most about the limit unconsumed. Ack timing is the
//! receiver's choice (docs/protocol.md, "Reliability"), so a peer sees only acks that come
//! later. The withheld frames stay in the peer's replay buffer, which is why a side limits
//! only what it receives: a sender that also capped what it keeps could find its whole cap
//! withheld by its peer, and neither would move again.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::codes::CloseCode;
use super::config::{
    Config, BODY_FRAME_COST, IDLE_KEEPALIVES, MAX_HEADER_BYTES_LIMIT, MAX_KEEPALIVE, MAX_PAYLOAD_LIMIT, MAX_WINDOW,
    MIN_HEADER_BYTES, MIN_MAX_PAYLOAD,
};
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
    /// Nothing was sent for `keepalive`: send an ack so the peer hears from us.
    Keepalive = 3,
    /// Nothing was received for `idle_timeout`: the socket is dead.
    Idle = 4,
}

const TIMERS: usize = 5;

/// Consumed items are acked in runs of at most `window / RUNS_PER_WINDOW` cost (or one larger
/// frame): fine enough that withholding acks overshoots its limit by little, coarse enough
/// that a window of one-byte frames is a few dozen runs, not thousands of entries.
const RUNS_PER_WINDOW: u32 = 64;

#[derive(Clone, Copy, Debug)]
enum Socket {
    Down,
    Up { hello_sent: bool, peer_hello: bool },
}

/// What an incoming message turned into, for the role to judge.
pub(crate) enum Received {
    /// Handled inside the link (an ack).
    Nothing,
    /// The peer's hello, handled: its limits are known now.
    Hello,
    /// The next sequenced item, in order; the role validates it, then calls `enqueue`.
    Item(Item),
    /// The peer aborted.
    Abort(Abort),
}

/// What to send next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// A whole message.
    Message(Bytes),
    /// The body frame with this sequence number that was written by its length
    /// ([`GatewaySession::write_external`](super::GatewaySession::write_external)): the driver
    /// sends the header it was given then and the payload it kept, as one message.
    External(u64),
}

/// Small writes gathered into one body frame that has no sequence number yet. Its bytes and
/// its frame cost already count as in flight.
struct Tail {
    data: BytesMut,
    make: fn(Bytes) -> Item,
}

/// Consecutive consumed items not yet acked: `items` of them, costing `cost` in the window.
/// Small items join the run before them, so the runs of a window are few, however small the
/// peer's frames.
#[derive(Clone, Copy, Debug)]
struct Run {
    items: u64,
    cost: u64,
}

/// The next message, before the keepalive timer is rearmed for it.
enum Next {
    Message(Bytes),
    External(u64),
}

/// The shared half of a session; see the module docs.
pub struct Link {
    config: Config,
    now: Timestamp,
    socket: Socket,
    connected_once: bool,

    // Outbound: items `peer_acked..next_seq` are in `replay`; `cursor` is the next to put on
    // the current socket; `transmitted` the highest count ever put on any socket. `in_flight`
    // is the window cost of the replay buffer and the tail.
    next_seq: u64,
    peer_acked: u64,
    cursor: u64,
    transmitted: u64,
    replay: VecDeque<Item>,
    tail: Option<Tail>,
    in_flight: u64,
    /// The peer's first hello: its limits, which later hellos must repeat.
    peer: Option<Hello>,

    // Inbound: items `consumed..next_expected` wait in `queue`; `held` is the window cost of
    // items `acked_sent..next_expected`, `consumed_unacked` that of `acked_sent..consumed`,
    // which `unacked` holds as runs of consecutive items, oldest first.
    next_expected: u64,
    consumed: u64,
    acked_sent: u64,
    queue: VecDeque<Item>,
    held: u64,
    consumed_unacked: u64,
    unacked: VecDeque<Run>,
    ack_now: bool,
    /// A consumed item without cost (a head, an end) is acked at once with all before it.
    ack_all: bool,
    /// What this side is willing to hold for its peer (see the module docs).
    buffer_limit: u64,
    keepalive_due: bool,

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
            tail: None,
            in_flight: 0,
            peer: None,
            next_expected: 0,
            consumed: 0,
            acked_sent: 0,
            queue: VecDeque::new(),
            held: 0,
            consumed_unacked: 0,
            unacked: VecDeque::new(),
            ack_now: false,
            ack_all: false,
            buffer_limit: u64::MAX,
            keepalive_due: false,
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
        self.keepalive_due = false;
        self.set_timer(Timer::Resume, None);
        self.set_timer(Timer::Connect, None);
        self.set_timer(Timer::Idle, Some(self.now + self.idle_timeout()));
        self.set_timer(Timer::Keepalive, Some(self.now + self.keepalive()));
    }

    /// The session's keepalive: the smaller of ours and the one the peer announced. Both sides
    /// speak at least this often, so the side that wants the faster pace (the gateway, with
    /// its `KEEPALIVE_MS`) decides how soon a frozen peer is noticed (docs/protocol.md,
    /// "Liveness").
    fn keepalive(&self) -> core::time::Duration {
        let ours = self.config.keepalive;
        self.peer.map_or(ours, |p| {
            ours.min(core::time::Duration::from_millis(p.keepalive_ms.into()))
        })
    }

    /// How long a silent socket lives: our idle timeout, but never less than a few of the
    /// session's keepalive intervals, so a live peer is never counted as dead.
    fn idle_timeout(&self) -> core::time::Duration {
        let session = self.peer.map_or(core::time::Duration::ZERO, |_| self.keepalive());
        self.config.idle_timeout.max(session * IDLE_KEEPALIVES)
    }

    /// The socket is gone. `close` is the peer's close code if it sent one; `resumable` is
    /// false when the session has nothing left to exchange. A socket already counted as gone
    /// (the idle timeout dropped it) is not counted twice.
    pub(crate) fn socket_closed(&mut self, now: Timestamp, close: Option<CloseCode>, resumable: bool) {
        self.tick(now);
        if matches!(self.socket, Socket::Down) {
            return;
        }
        self.socket_down();
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

    fn socket_down(&mut self) {
        self.socket = Socket::Down;
        self.set_timer(Timer::Idle, None);
        self.set_timer(Timer::Keepalive, None);
    }

    pub(crate) fn connected_once(&self) -> bool {
        self.connected_once
    }

    /// Whether a hello from the peer arrived on any socket.
    pub(crate) fn peer_hello_seen(&self) -> bool {
        self.peer.is_some()
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

    /// Hands in a message; `external` is the payload length of a body frame whose payload the
    /// driver holds (`msg` then holds its header only).
    pub(crate) fn receive(&mut self, now: Timestamp, msg: &Bytes, external: Option<usize>) -> Result<Received, Error> {
        self.tick(now);
        self.check()?;
        if self.is_up() {
            self.set_timer(Timer::Idle, Some(self.now + self.idle_timeout()));
        }
        let limits = self.config.limits();
        let frame = match external {
            None => Frame::decode(msg, &limits),
            Some(len) => Frame::decode_external(msg, len, &limits),
        };
        frame
            .map_err(ProtocolError::from)
            .and_then(|frame| self.receive_frame(frame))
            .map_err(|e| self.fail(Error::Protocol(e)))
    }

    fn receive_frame(&mut self, frame: Frame) -> Result<Received, ProtocolError> {
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
                Ok(Received::Hello)
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
        if hello.window < hello.max_payload {
            return Err(ProtocolError::InvalidHello("window smaller than max_payload"));
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES_LIMIT).contains(&hello.max_header_bytes) {
            return Err(ProtocolError::InvalidHello("max_header_bytes out of range"));
        }
        if hello.keepalive_ms == 0 || u128::from(hello.keepalive_ms) > MAX_KEEPALIVE.as_millis() {
            return Err(ProtocolError::InvalidHello("keepalive_ms out of range"));
        }
        if let Some(first) = self.peer {
            let same = first.window == hello.window
                && first.max_payload == hello.max_payload
                && first.max_header_bytes == hello.max_header_bytes
                && first.keepalive_ms == hello.keepalive_ms;
            if !same {
                return Err(ProtocolError::InvalidHello("limits changed on resume"));
            }
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
        self.peer.get_or_insert(hello);
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
            self.in_flight -= item.window_cost();
            self.peer_acked += 1;
        }
        Ok(())
    }

    /// Queues a validated in-order item for the application, enforcing our window.
    pub(crate) fn enqueue(&mut self, item: Item) -> Result<(), Error> {
        let cost = item.window_cost();
        if self.held + cost > u64::from(self.config.window) {
            let e = ProtocolError::WindowExceeded {
                window: self.config.window,
                held: self.held + cost,
            };
            return Err(self.fail(Error::Protocol(e)));
        }
        self.held += cost;
        self.next_expected += 1;
        self.queue.push_back(item);
        Ok(())
    }

    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        self.tick(now);
        let due = |t: &Option<Timestamp>| t.is_some_and(|d| d <= now);
        if due(&self.timers[Timer::Ack as usize]) {
            self.set_timer(Timer::Ack, None);
            self.ack_now = true;
        }
        if due(&self.timers[Timer::Resume as usize]) {
            self.set_timer(Timer::Resume, None);
            let grace = self.config.resume_grace;
            self.fail(Error::ResumeTimeout(grace));
        }
        if due(&self.timers[Timer::Connect as usize]) {
            self.set_timer(Timer::Connect, None);
            let limit = self.config.connect_timeout;
            self.fail(Error::ConnectTimeout(limit));
        }
        if due(&self.timers[Timer::Keepalive as usize]) {
            self.set_timer(Timer::Keepalive, None);
            self.keepalive_due = self.is_up();
        }
        if due(&self.timers[Timer::Idle as usize]) && self.is_up() {
            // Nothing heard for the idle timeout: count the socket as dropped (the driver sees
            // `is_up()` turn false and closes it) and wait for a resume.
            self.socket_down();
            if self.error.is_none() {
                self.set_timer(Timer::Resume, Some(self.now + self.config.resume_grace));
            }
        }
    }

    // ---- application ----

    /// The next received item, in order; reading it counts as consuming it.
    pub(crate) fn read(&mut self) -> Option<Item> {
        let item = self.queue.pop_front()?;
        self.consumed += 1;
        let cost = item.window_cost();
        self.consumed_unacked += cost;
        let run_limit = u64::from(self.config.window / RUNS_PER_WINDOW).max(1);
        match self.unacked.back_mut() {
            Some(run) if run.cost + cost <= run_limit => {
                run.items += 1;
                run.cost += cost;
            }
            _ => self.unacked.push_back(Run { items: 1, cost }),
        }
        if cost == 0 {
            // Heads and ends are acked at once, with everything before them: an end is the
            // last item of its direction (the function waits for its ack), a head the first.
            self.ack_all = true;
            self.ack_now = true;
        } else if self.ack_point().1 >= self.window_in_use() / 4 {
            self.ack_now = true;
        } else if self.timers[Timer::Ack as usize].is_none() {
            self.set_timer(Timer::Ack, Some(self.now + self.config.ack_delay));
        }
        Some(item)
    }

    /// Sets how much this side is willing to hold for its peer, below the window it
    /// announced: acks for consumed items are withheld so that the peer's window leaves it
    /// room for about `limit` (at most `limit` plus one run of items) unconsumed. Raising it
    /// releases withheld acks. A limit at or above the window (the default) withholds
    /// nothing.
    pub(crate) fn set_buffer_limit(&mut self, limit: u64) {
        // Room for at least one whole frame of the largest size we accept: a sender that does
        // not split its frames (a driver that writes them by their length) still moves.
        let limit = limit.max(u64::from(self.config.max_payload) + BODY_FRAME_COST);
        let raised = limit > self.buffer_limit;
        self.buffer_limit = limit;
        if raised && self.ack_point().0 > 0 {
            self.ack_now = true;
        }
    }

    /// The buffer limit in force (at least a whole frame of ours; `u64::MAX` for none).
    pub(crate) fn buffer_limit(&self) -> u64 {
        self.buffer_limit
    }

    /// The most the peer can make us hold unconsumed (given the acks we sent), plus what we
    /// keep for it: our share of the memory a side's buffers take.
    pub(crate) fn buffer_footprint(&self) -> u64 {
        u64::from(self.config.window).saturating_sub(self.consumed_unacked) + self.in_flight
    }

    /// The receive window as this side uses it: the announced one, or the buffer limit.
    fn window_in_use(&self) -> u64 {
        u64::from(self.config.window).min(self.buffer_limit)
    }

    /// How many consumed items (and their cost) may be acked now: all of them, unless the
    /// buffer limit makes us withhold the last ones' acks (see [`Link::set_buffer_limit`]).
    fn ack_point(&self) -> (u64, u64) {
        if self.ack_all {
            return (self.consumed - self.acked_sent, self.consumed_unacked);
        }
        // Acks withheld for this much consumed cost leave the peer room for `limit` more.
        let keep = u64::from(self.config.window).saturating_sub(self.buffer_limit);
        let (mut items, mut cost) = (0, 0);
        for run in &self.unacked {
            // Ack run by run while more than `keep` is withheld (overshooting by at most one
            // run), so the peer always has room again once we consumed what it sent.
            if run.cost > 0 && self.consumed_unacked - cost <= keep {
                break;
            }
            items += run.items;
            cost += run.cost;
        }
        (items, cost)
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Window cost that fits in the peer's window now; zero before its first hello.
    pub(crate) fn send_capacity(&self) -> usize {
        let Some(peer) = self.peer else { return 0 };
        u64::from(peer.window).saturating_sub(self.in_flight) as usize
    }

    /// Body bytes a write can take now: the room left in the open tail, or a new frame's
    /// payload within the window.
    pub(crate) fn body_capacity(&self) -> usize {
        let tail_room = self
            .tail
            .as_ref()
            .map_or(0, |t| self.chunk_size().saturating_sub(t.data.len()));
        let new_frame = self.send_capacity().saturating_sub(BODY_FRAME_COST as usize);
        tail_room
            .min(self.send_capacity())
            .max(new_frame.min(self.chunk_size()))
    }

    /// The largest body payload to put in one frame: ours and the peer's limit, and less
    /// than the peer's window with a frame's cost.
    fn chunk_size(&self) -> usize {
        let Some(peer) = self.peer else { return 0 };
        let window = u64::from(peer.window).saturating_sub(BODY_FRAME_COST) as u32;
        self.config.max_payload.min(peer.max_payload).min(window) as usize
    }

    /// The largest header block the peer accepts (ours until its hello arrived).
    pub(crate) fn peer_max_header_bytes(&self) -> u32 {
        self.peer.map_or(self.config.max_header_bytes, |p| p.max_header_bytes)
    }

    /// Replaces the first item not on any socket yet whose header block is over `max`, and
    /// everything written after it, with the item `replacement` makes of the block's size.
    /// Returns whether it did. For a head or trailers written before the peer's hello told
    /// its limit: the peer would refuse them, so the sender fails the response instead.
    pub(crate) fn replace_oversized(&mut self, max: u32, replacement: impl FnOnce(usize) -> Item) -> bool {
        let unsent = (self.transmitted - self.peer_acked) as usize;
        let found = self.replay.iter().enumerate().skip(unsent).find_map(|(i, item)| {
            item.header_block_len()
                .filter(|len| *len > max as usize)
                .map(|len| (i, len))
        });
        let Some((index, len)) = found else {
            return false;
        };
        for item in self.replay.drain(index..) {
            self.in_flight -= item.window_cost();
        }
        if let Some(tail) = self.tail.take() {
            self.in_flight -= tail.data.len() as u64 + BODY_FRAME_COST;
        }
        self.next_seq = self.peer_acked + index as u64;
        self.push(replacement(len));
        true
    }

    /// Appends a body frame of `len` bytes whose payload the driver keeps (`ty` is its frame
    /// type), after anything written before; returns its sequence number and its header. The
    /// caller checked that it fits ([`Link::body_frame_limit`], [`Link::send_capacity`]).
    pub(crate) fn write_external(&mut self, ty: super::FrameType, len: u32) -> (u64, Bytes) {
        self.seal_tail();
        let seq = self.next_seq;
        let item = Item::External(ty, len);
        self.scratch.clear();
        Frame::encode_sequenced(seq, &item, &mut self.scratch);
        self.push(item);
        (seq, self.scratch.split().freeze())
    }

    /// Frames below this number were acknowledged by the peer.
    pub(crate) fn peer_acked(&self) -> u64 {
        self.peer_acked
    }

    /// The largest body payload one frame may carry (see [`Link::chunk_size`]); zero before
    /// the peer's hello.
    pub(crate) fn body_frame_limit(&self) -> usize {
        self.chunk_size()
    }

    /// Appends an item to the outbound stream (it is sent when the socket allows).
    pub(crate) fn write(&mut self, item: Item) {
        self.seal_tail();
        self.push(item);
    }

    fn push(&mut self, item: Item) {
        self.in_flight += item.window_cost();
        self.next_seq += 1;
        self.replay.push_back(item);
    }

    /// Takes as much of `data` as the window allows, as body items made by `make`. A write
    /// smaller than a frame is copied into the open tail, so many small writes become few
    /// frames; a larger one is split into frames without copying.
    pub(crate) fn write_body(&mut self, data: &mut Bytes, make: fn(Bytes) -> Item) -> usize {
        let chunk = self.chunk_size();
        if chunk == 0 || data.is_empty() {
            return 0;
        }
        if data.len() < chunk {
            return self.write_small(data, make, chunk);
        }
        self.seal_tail();
        let mut taken = 0;
        while !data.is_empty() {
            let room = self.send_capacity().saturating_sub(BODY_FRAME_COST as usize);
            let n = data.len().min(chunk).min(room);
            if n == 0 {
                break;
            }
            self.push(make(data.split_to(n)));
            taken += n;
        }
        taken
    }

    fn write_small(&mut self, data: &mut Bytes, make: fn(Bytes) -> Item, chunk: usize) -> usize {
        let mut taken = 0;
        let capacity = self.send_capacity();
        if let Some(tail) = &mut self.tail {
            let room = chunk.saturating_sub(tail.data.len());
            let n = data.len().min(room).min(capacity);
            tail.data.extend_from_slice(&data.split_to(n));
            self.in_flight += n as u64;
            taken += n;
            if tail.data.len() >= chunk {
                self.seal_tail();
            }
        }
        if data.is_empty() || self.tail.is_some() {
            return taken;
        }
        let room = self.send_capacity().saturating_sub(BODY_FRAME_COST as usize);
        let n = data.len().min(room);
        if n == 0 {
            return taken;
        }
        // Sized to the write, not the frame: a tail sealed at once (the socket was idle) is
        // kept until acknowledged, and the window counts its bytes, not its capacity. Later
        // writes that join it grow it.
        let buf = BytesMut::from(&data.split_to(n)[..]);
        self.in_flight += n as u64 + BODY_FRAME_COST;
        self.tail = Some(Tail { data: buf, make });
        taken + n
    }

    /// Gives the open tail its sequence number: no more bytes join it.
    fn seal_tail(&mut self) {
        if let Some(tail) = self.tail.take() {
            // Its cost is already in flight.
            self.next_seq += 1;
            self.replay.push_back((tail.make)(tail.data.freeze()));
        }
    }

    /// Whether the peer acknowledged every item written.
    pub(crate) fn all_acked(&self) -> bool {
        self.peer_acked == self.next_seq && self.tail.is_none()
    }

    pub(crate) fn send_abort(&mut self, abort: Abort) {
        self.abort_out = Some(abort);
    }

    // ---- output ----

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        let msg = self.next_transmit()?;
        self.set_timer(Timer::Keepalive, Some(self.now + self.keepalive()));
        Some(msg)
    }

    fn next_transmit(&mut self) -> Option<Transmit> {
        self.next_message().map(|m| match m {
            Next::Message(bytes) => Transmit::Message(bytes),
            Next::External(seq) => Transmit::External(seq),
        })
    }

    fn next_message(&mut self) -> Option<Next> {
        let Socket::Up { hello_sent, peer_hello } = &mut self.socket else {
            return None;
        };
        if !*hello_sent {
            *hello_sent = true;
            let (ackable, cost) = self.ack_point();
            let hello = Hello {
                received: self.next_expected,
                acked: self.acked_sent + ackable,
                window: self.config.window,
                max_payload: self.config.max_payload,
                max_header_bytes: self.config.max_header_bytes,
                // Validated to at most 60 s.
                keepalive_ms: self.config.keepalive.as_millis() as u32,
            };
            self.note_acked(ackable, cost);
            return Some(Next::Message(self.encode(&Frame::Hello(hello))));
        }
        let peer_hello = *peer_hello;
        if let Some(abort) = self.abort_out.take() {
            return Some(Next::Message(self.encode(&Frame::Abort(abort))));
        }
        if self.error.is_some() {
            return None;
        }
        let (ackable, cost) = self.ack_point();
        if (self.ack_now && ackable > 0) || self.keepalive_due {
            let acked = self.acked_sent + ackable;
            self.note_acked(ackable, cost);
            return Some(Next::Message(self.encode(&Frame::Ack { acked })));
        }
        self.ack_now = false;
        if !peer_hello {
            return None;
        }
        if self.cursor == self.next_seq {
            // Everything sealed is on the socket: the tail goes now, as one frame.
            self.seal_tail();
            if self.cursor == self.next_seq {
                return None;
            }
        }
        let index = (self.cursor - self.peer_acked) as usize;
        let seq = self.cursor;
        self.cursor += 1;
        self.transmitted = self.transmitted.max(self.cursor);
        let item = &self.replay[index];
        if matches!(item, Item::External(..)) {
            return Some(Next::External(seq));
        }
        self.scratch.clear();
        Frame::encode_sequenced(seq, item, &mut self.scratch);
        Some(Next::Message(self.scratch.split().freeze()))
    }

    /// `items` more consumed items, costing `cost`, were acked.
    fn note_acked(&mut self, items: u64, cost: u64) {
        self.acked_sent += items;
        self.held -= cost;
        self.consumed_unacked -= cost;
        let mut left = items;
        while left > 0 {
            let run = self.unacked.pop_front().expect("acked items are in runs");
            debug_assert!(run.items <= left, "runs are acked whole");
            left -= run.items;
        }
        if self.acked_sent == self.consumed {
            self.ack_all = false;
        }
        self.ack_now = false;
        self.keepalive_due = false;
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
            peer_window: self.peer.map_or(0, |p| p.window),
            held: self.held,
            unconsumed: self.held - self.consumed_unacked,
            window: self.config.window,
            replay_len: self.replay.len() + usize::from(self.tail.is_some()),
            queue_len: self.queue.len(),
        }
    }
}

/// A snapshot of a session's buffers, for tests, metrics and bounds checks. Costs are in
/// window units: body bytes plus [`BODY_FRAME_COST`] per body frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStats {
    /// Window cost written but not acknowledged by the peer.
    pub in_flight: u64,
    /// The window the peer advertised (0 before its first hello).
    pub peer_window: u32,
    /// Window cost received but not yet acknowledged to the peer.
    pub held: u64,
    /// Window cost received and not yet read: what the application still has to take.
    pub unconsumed: u64,
    /// Our own receive window.
    pub window: u32,
    /// Frames in the replay buffer (the open tail counts as one).
    pub replay_len: usize,
    /// Items received and not yet read.
    pub queue_len: usize,
}
