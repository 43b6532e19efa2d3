//! A function session and a gateway session wired back to back, with latency, cuts and a
//! virtual clock, stepped to quiescence (after quinn-proto's test pair).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::proto::*;

pub(crate) struct Pair {
    pub f: FunctionSession,
    pub g: GatewaySession,
    pub now: Timestamp,
    pub latency: Duration,
    to_g: VecDeque<(Timestamp, Bytes)>,
    to_f: VecDeque<(Timestamp, Bytes)>,
    pub connected: bool,
    /// Whether the gateway keeps body payloads outside the session, as the Durable Object
    /// does (`handle_external_body`), matching them back as it reads.
    pub gateway_external: bool,
    external_payloads: VecDeque<Bytes>,
    /// Whether the gateway writes request body frames by their length, keeping their bytes
    /// (header and payload) itself until acked, as the Durable Object does.
    pub gateway_external_request: bool,
    request_frames: VecDeque<(u64, Bytes)>,
    /// Every message that crossed, for tests that look at the wire.
    pub wire_to_g: Vec<Bytes>,
    pub wire_to_f: Vec<Bytes>,
    /// What each app still has to write and what it has read.
    pub app: Apps,
}

#[derive(Default)]
pub(crate) struct Apps {
    pub request: Bytes,
    pub request_finished: bool,
    pub response: Bytes,
    pub response_head_sent: bool,
    pub response_finished: bool,
    pub auto_head: bool,
    /// The status `auto_head` sends (200 by default; 101 accepts a WebSocket upgrade).
    pub head_status: StatusCode,
    pub request_read: Vec<u8>,
    pub request_ended: bool,
    pub response_parts: Vec<ResponsePart>,
    pub response_body_read: Vec<u8>,
    /// The gateway reads the response only while this is true (a client that pauses).
    pub gateway_reads: bool,
    pub function_reads: bool,
    /// The function ends its response only after it read the request body to its end, as a
    /// handler that uses its body does (the gateway stops sending a body once the response
    /// ended).
    pub finish_after_request: bool,
}

/// One end of a pair.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Function,
    Gateway,
}

impl Pair {
    pub fn config(&self, side: Side) -> &Config {
        match side {
            Side::Function => self.f.config(),
            Side::Gateway => self.g.config(),
        }
    }

    pub fn set_buffer_limit(&mut self, side: Side, limit: u64) {
        match side {
            Side::Function => self.f.set_buffer_limit(limit),
            Side::Gateway => self.g.set_buffer_limit(limit),
        }
    }

    pub fn new(config: Config, mode: BodyMode) -> Self {
        let now = Timestamp::from_millis(1_000);
        Self::with_configs(config.clone(), config, mode, now)
    }

    pub fn with_exchange(config: Config, exchange: Exchange) -> Self {
        let now = Timestamp::from_millis(1_000);
        Self::with(config.clone(), config, exchange, now)
    }

    pub fn with_configs(fc: Config, gc: Config, mode: BodyMode, now: Timestamp) -> Self {
        Self::with(fc, gc, Exchange::new(mode), now)
    }

    fn with(fc: Config, gc: Config, exchange: Exchange, now: Timestamp) -> Self {
        Self {
            f: FunctionSession::new(fc, exchange, now).unwrap(),
            g: GatewaySession::new(gc, exchange, super::TOKEN, now).unwrap(),
            now,
            latency: Duration::from_millis(5),
            to_g: VecDeque::new(),
            to_f: VecDeque::new(),
            connected: false,
            gateway_external: false,
            external_payloads: VecDeque::new(),
            gateway_external_request: false,
            request_frames: VecDeque::new(),
            wire_to_g: Vec::new(),
            wire_to_f: Vec::new(),
            app: Apps {
                gateway_reads: true,
                function_reads: true,
                finish_after_request: true,
                auto_head: true,
                ..Apps::default()
            },
        }
    }

    pub fn connect(&mut self) {
        self.f.socket_opened(self.now);
        self.g.socket_opened(self.now);
        self.connected = true;
    }

    /// Drops the socket: the first `deliver` messages in flight each way still arrive, the
    /// rest are lost with it.
    pub fn cut(&mut self, deliver: usize) {
        for _ in 0..deliver {
            if let Some((_, m)) = self.to_g.pop_front() {
                self.deliver_to_g(&m);
            }
            if let Some((_, m)) = self.to_f.pop_front() {
                let _ = self.f.handle_message(self.now, &m);
            }
        }
        self.to_g.clear();
        self.to_f.clear();
        self.f.socket_closed(self.now, None);
        self.g.socket_closed(self.now, None);
        self.connected = false;
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = self.now + by;
    }

    /// Runs the apps and moves messages until nothing is left to do or `limit` virtual
    /// milliseconds passed. Panics if either side fails.
    pub fn drive(&mut self, limit: Duration) {
        let end = self.now + limit;
        while self.now <= end {
            if !self.step() {
                let next = [
                    self.to_g.front().map(|m| m.0),
                    self.to_f.front().map(|m| m.0),
                    self.f.poll_timeout(),
                    self.g.poll_timeout(),
                ]
                .into_iter()
                .flatten()
                .min();
                match next {
                    Some(t) if t <= end => self.now = self.now.max(t),
                    _ => break,
                }
            }
            if let Some(e) = self.f.error().or(self.g.error()) {
                panic!("session failed: {e}");
            }
            self.check_bounds();
        }
    }

    /// One round: apps act, timers fire, transmits go out, due messages arrive.
    pub fn step(&mut self) -> bool {
        let mut progress = self.run_apps();
        if self.f.poll_timeout().is_some_and(|t| t <= self.now) {
            self.f.handle_timeout(self.now);
            progress = true;
        }
        if self.g.poll_timeout().is_some_and(|t| t <= self.now) {
            self.g.handle_timeout(self.now);
            progress = true;
        }
        if self.connected {
            let at = self.now + self.latency;
            while let Some(m) = self.f.poll_transmit() {
                self.wire_to_g.push(m.clone());
                self.to_g.push_back((at, m));
                progress = true;
            }
            while let Some(t) = self.g.poll_transmit_parts() {
                let m = match t {
                    Transmit::Message(m) => m,
                    Transmit::External(seq) => self
                        .request_frames
                        .iter()
                        .find(|(s, _)| *s == seq)
                        .map(|(_, frame)| frame.clone())
                        .expect("a kept frame for every external transmit"),
                };
                self.wire_to_f.push(m.clone());
                self.to_f.push_back((at, m));
                progress = true;
            }
            let acked = self.g.peer_acked();
            while self.request_frames.front().is_some_and(|(seq, _)| *seq < acked) {
                self.request_frames.pop_front();
            }
        }
        while self.to_g.front().is_some_and(|m| m.0 <= self.now) {
            let (_, m) = self.to_g.pop_front().unwrap();
            self.deliver_to_g(&m);
            progress = true;
        }
        while self.to_f.front().is_some_and(|m| m.0 <= self.now) {
            let (_, m) = self.to_f.pop_front().unwrap();
            let _ = self.f.handle_message(self.now, &m);
            progress = true;
        }
        progress
    }

    fn deliver_to_g(&mut self, m: &Bytes) {
        match Frame::external_split(m.len(), m[0]).filter(|_| self.gateway_external) {
            Some(at) => {
                // The payload stays with the driver; only accepted frames' payloads are held.
                if self
                    .g
                    .handle_external_body(self.now, &m.slice(..at), m.len() - at)
                    .is_ok()
                {
                    self.external_payloads.push_back(m.slice(at..));
                }
            }
            None => {
                let _ = self.g.handle_message(self.now, m);
            }
        }
    }

    fn run_apps(&mut self) -> bool {
        let mut progress = false;
        let a = &mut self.app;
        if a.auto_head && !a.response_head_sent && self.f.error().is_none() {
            let mut headers = HeaderMap::new();
            headers.insert("content-type", "application/octet-stream".parse().unwrap());
            self.f
                .send_head(ResponseHead {
                    status: a.head_status,
                    headers,
                })
                .unwrap();
            a.response_head_sent = true;
            progress = true;
        }
        if a.response_head_sent && !a.response_finished && self.f.error().is_none() {
            if !a.response.is_empty() {
                if let Ok(n) = self.f.write(&mut a.response) {
                    progress |= n > 0;
                }
            }
            if a.response.is_empty() && (a.request_ended || !a.finish_after_request) {
                self.f.finish(HeaderMap::new()).unwrap();
                a.response_finished = true;
                progress = true;
            }
        }
        if !a.request_finished && self.g.error().is_none() && self.g.has_connected() {
            if !a.request.is_empty() && self.gateway_external_request {
                let n = a.request.len().min(self.g.frame_payload_limit());
                if n > 0 {
                    if let Ok((seq, header)) = self.g.write_external(self.now, n) {
                        let payload = a.request.split_to(n);
                        self.request_frames
                            .push_back((seq, [&header[..], &payload[..]].concat().into()));
                        progress = true;
                    }
                }
            } else if !a.request.is_empty() {
                if let Ok(n) = self.g.write(self.now, &mut a.request) {
                    progress |= n > 0;
                }
            }
            if a.request.is_empty() {
                match self.g.finish_request() {
                    Ok(()) | Err(StreamError::Finished) => {}
                    Err(e) => panic!("finish_request: {e}"),
                }
                a.request_finished = true;
                progress = true;
            }
        }
        while a.function_reads && !a.request_ended {
            match self.f.read() {
                Ok(Some(RequestChunk::Data(d))) => a.request_read.extend_from_slice(&d),
                Ok(Some(RequestChunk::End)) => a.request_ended = true,
                _ => break,
            }
            progress = true;
        }
        while a.gateway_reads {
            match self.g.read() {
                Ok(Some(ResponsePart::Data(d))) => a.response_body_read.extend_from_slice(&d),
                Ok(Some(ResponsePart::External(len))) => {
                    let payload = self
                        .external_payloads
                        .pop_front()
                        .expect("a held payload for every external part");
                    assert_eq!(payload.len(), len as usize, "held payloads line up with the parts");
                    a.response_body_read.extend_from_slice(&payload);
                }
                Ok(Some(part)) => a.response_parts.push(part),
                _ => break,
            }
            progress = true;
        }
        progress
    }

    /// The window is never exceeded and the buffers stay bounded by it.
    pub fn check_bounds(&self) {
        let (f, g) = (self.f.stats(), self.g.stats());
        assert!(
            f.in_flight <= u64::from(g.window),
            "function in flight {} > window {}",
            f.in_flight,
            g.window
        );
        assert!(
            g.in_flight <= u64::from(f.window),
            "gateway in flight {} > window {}",
            g.in_flight,
            f.window
        );
        assert!(f.held <= u64::from(f.window) && g.held <= u64::from(g.window));
        // Body frames are never empty, so the replay buffers' frame counts are bounded by the
        // window too (plus head and end).
        assert!(f.replay_len <= g.window as usize + 2 && g.replay_len <= f.window as usize + 2);
    }
}
