//! The gateway's end of a session: it admits the function's sockets, sends the request body,
//! receives the response, judges the invocation's result, and says what the client gets when
//! the response fails before its head (docs/protocol.md, "Upgrade" and "Gateway side").

use bytes::Bytes;
use http::HeaderMap;

mod admit;
mod result;

use super::codec::truncate_reason;
use super::codes::AbortCode;
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError, StreamError};
use super::exchange::Exchange;
use super::frame::{Abort, FunctionError, Item, ResponseHead};
use super::link::{Link, Timer};
use super::session::{sealed, Role, Session};
use super::time::Timestamp;
use super::FrameType;

pub use result::{ReceivedResult, ResultVerdict};

/// The gateway's end of a relay session.
pub type GatewaySession = Session<GatewayRole>;

/// What the gateway's end allows, in order.
#[derive(Debug)]
pub struct GatewayRole {
    exchange: Exchange,
    token: String,
    /// The session key the first socket presented; resumes must present it too.
    key: Option<String>,
    request_ended: bool,
    response: Response,
    /// Whether the application read the response's final part (its end or its failure).
    final_part_read: bool,
    /// Once a 2xx invocation result came while the response was unfinished: the response
    /// must end before this.
    finish_by: Option<Timestamp>,
    /// While a streamed request body is open: the client must have sent more by then, unless
    /// the function's window is full (docs/protocol.md, "Gateway side").
    upload_by: Option<Timestamp>,
    /// A frame written by its length waits for window: the function is slow, not the client.
    frame_waits: bool,
    /// What the exchange moved, for its log line ([`GatewaySession::summary`]).
    counts: Counts,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    request_bytes: u64,
    response_bytes: u64,
    sockets: u32,
}

/// What became of an exchange, as the gateway logs it once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeSummary {
    /// Request body bytes sent to the function over the socket (an inline body is the
    /// invocation's own, not counted here).
    pub request_bytes: u64,
    /// Response body bytes received from the function.
    pub response_bytes: u64,
    /// Sockets after the first: resumes, and first sockets whose 101 the function missed.
    pub resumes: u32,
    /// `complete` (the response ended and was read), `aborted` (the client left), `failed`
    /// (the function, the socket or the gateway failed it) or `open` (none of these yet).
    pub outcome: &'static str,
    /// Why it did not complete, when it did not.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    AwaitHead,
    Body,
    /// A head for a response without a body (HEAD, 204, 205, 304): only the end may follow.
    Bodiless,
    Ended,
}

/// A piece of the response, as the gateway reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponsePart {
    /// Status and headers; always first, unless the first part is `Failed`.
    Head(ResponseHead),
    /// Body bytes, in order.
    Data(Bytes),
    /// This many body bytes the driver holds outside the session ([`Session::handle_external_body`]), in order.
    External(u32),
    /// The response is complete, with these trailers.
    End(HeaderMap),
    /// The function failed: before the head, answer 502; after it, abort the client.
    Failed(FunctionError),
}

impl GatewayRole {
    /// Whether the request body still goes to the function (the session's own failure aside).
    fn request_open(&self) -> bool {
        !self.request_ended && self.response != Response::Ended
    }
}

impl sealed::Sealed for GatewayRole {}

impl Role for GatewayRole {
    const CLOSES_WHEN_DONE: bool = false;

    fn accept(&mut self, item: &Item) -> Result<(), ProtocolError> {
        use Response::*;
        let frame = item.frame_type();
        let next = match (item, self.response) {
            (Item::ResponseHead(head), AwaitHead) if !self.exchange.valid_head_status(head.status.as_u16()) => {
                return Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "with a 101 status outside a WebSocket upgrade",
                })
            }
            (Item::ResponseHead(head), AwaitHead) if self.exchange.response_has_body(head.status.as_u16()) => Body,
            (Item::ResponseHead(_), AwaitHead) => Bodiless,
            (Item::ResponseBody(_), Body) => Body,
            (Item::External(FrameType::RESPONSE_BODY, _), Body) => Body,
            (Item::ResponseEnd(_), Body | Bodiless) => Ended,
            (Item::Error(_), AwaitHead | Body | Bodiless) => Ended,
            (Item::RequestBody(_) | Item::RequestEnd | Item::External(FrameType::REQUEST_BODY, _), _) => {
                return Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "at the gateway",
                })
            }
            (_, state) => {
                let state = match state {
                    AwaitHead => "before the response head",
                    Body => "after the response head",
                    Bodiless => "in a response without a body",
                    Ended => "after the response ended",
                };
                return Err(ProtocolError::UnexpectedFrame { frame, state });
            }
        };
        self.response = next;
        Ok(())
    }

    fn abort_received(&mut self, _: Abort) -> Result<Error, ProtocolError> {
        Err(ProtocolError::UnexpectedFrame {
            frame: FrameType::ABORT,
            state: "at the gateway",
        })
    }

    fn is_done(&self, _all_acked: bool) -> bool {
        self.final_part_read
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let finish_by = self.finish_by.filter(|_| !self.final_part_read);
        let upload_by = self.upload_by.filter(|_| self.request_open());
        match (finish_by, upload_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Timestamp, link: &mut Link) {
        if self.final_part_read {
            self.finish_by = None;
        }
        if self.finish_by.is_some_and(|at| at <= now) {
            self.finish_by = None;
            link.fail(Error::Unfinished(link.config().resume_grace));
            return;
        }
        if !self.request_open() {
            self.upload_by = None;
        }
        if self.upload_by.is_some_and(|at| at <= now) {
            let idle = link.config().upload_idle;
            if link.body_capacity() == 0 || self.frame_waits {
                // The function is slow, not the client: the window is full.
                self.upload_by = Some(now + idle);
                return;
            }
            self.upload_by = None;
            link.send_abort(Abort {
                code: AbortCode::GATEWAY,
                reason: format!("the client's request body made no progress for {} ms", idle.as_millis()),
            });
            link.fail(Error::UploadIdle(idle));
        }
    }
}

impl GatewaySession {
    /// A session for one invocation, whose sockets must present `token`; the function must
    /// connect within `connect_timeout`.
    pub fn new(
        config: Config,
        exchange: Exchange,
        token: impl Into<String>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        let connect_by = now + config.connect_timeout;
        let role = GatewayRole {
            exchange,
            token: token.into(),
            key: None,
            request_ended: exchange.body_mode == super::BodyMode::Inline,
            response: Response::AwaitHead,
            final_part_read: false,
            finish_by: None,
            // A WebSocket's client may rightly stay silent for minutes: its liveness is its
            // socket's, which the runtime keeps.
            upload_by: (exchange.body_mode == super::BodyMode::Stream).then(|| now + config.upload_idle),
            frame_waits: false,
            counts: Counts::default(),
        };
        let mut session = Session::with_role(config, now, role)?;
        session.link.set_timer(Timer::Connect, Some(connect_by));
        Ok(session)
    }

    /// The next piece of the response, or `None` until more arrives. Reading frees window
    /// for the function, so read only as fast as the client takes the bytes.
    pub fn read(&mut self) -> Result<Option<ResponsePart>, Error> {
        self.link.check()?;
        let part = match self.link.read() {
            None => return Ok(None),
            Some(Item::ResponseHead(head)) => ResponsePart::Head(head),
            Some(Item::ResponseBody(data)) => ResponsePart::Data(data),
            Some(Item::External(_, len)) => ResponsePart::External(len),
            Some(Item::ResponseEnd(trailers)) => ResponsePart::End(trailers),
            Some(Item::Error(e)) => ResponsePart::Failed(e),
            Some(other) => unreachable!("accept() refuses {:?} at the gateway", other.frame_type()),
        };
        match &part {
            ResponsePart::Data(data) => self.role.counts.response_bytes += data.len() as u64,
            ResponsePart::External(len) => self.role.counts.response_bytes += u64::from(*len),
            ResponsePart::End(_) | ResponsePart::Failed(_) => self.role.final_part_read = true,
            ResponsePart::Head(_) => {}
        }
        Ok(Some(part))
    }

    /// What became of the exchange so far: bytes each way, resumes, the outcome.
    pub fn summary(&self) -> ExchangeSummary {
        let (outcome, error) = match self.link.error() {
            Some(Error::Aborted(abort)) if abort.code == AbortCode::CLIENT_GONE => {
                ("aborted", Some(abort.reason.clone()))
            }
            Some(e) => ("failed", Some(e.to_string())),
            None if self.role.final_part_read && self.role.response == Response::Ended => ("complete", None),
            None => ("open", None),
        };
        ExchangeSummary {
            request_bytes: self.role.counts.request_bytes,
            response_bytes: self.role.counts.response_bytes,
            resumes: self.role.counts.sockets.saturating_sub(1),
            outcome,
            error,
        }
    }

    /// Takes as much of the request body in `data` as the window allows; see
    /// [`FunctionSession::write`](super::FunctionSession::write). Once the response has
    /// ended (or failed) the function wants no more of the request: [`StreamError::Finished`].
    /// Bytes taken at `now` are the upload's progress ([`Config::upload_idle`]).
    pub fn write(&mut self, now: Timestamp, data: &mut Bytes) -> Result<usize, StreamError> {
        self.request_open()?;
        let taken = self.write_body(data, Item::RequestBody)?;
        self.request_progress(now, taken);
        Ok(taken)
    }

    /// `taken` request body bytes went to the function: counted, and, if any, the client's
    /// upload is alive.
    fn request_progress(&mut self, now: Timestamp, taken: usize) {
        self.role.counts.request_bytes += taken as u64;
        if taken > 0 && self.role.upload_by.is_some() {
            self.role.upload_by = Some(now + self.link.config().upload_idle);
        }
    }

    /// The most request body bytes one frame may carry now: what the function's hello allows
    /// (its `max_payload`, and its window less a frame's cost) and ours; zero before its hello.
    pub fn frame_payload_limit(&self) -> usize {
        self.link.body_frame_limit()
    }

    /// Writes a request body frame of `len` bytes whose payload the driver keeps (where the
    /// client's body was read into, so it never enters the session's memory): returns the
    /// frame's sequence number and its header ([`BODY_HEADER_LEN`](super::BODY_HEADER_LEN)
    /// bytes), which go on the socket before the payload, as one message, whenever
    /// [`poll_transmit_parts`](Self::poll_transmit_parts) says [`Transmit::External`](super::Transmit::External)
    /// with that number, until [`peer_acked`](Self::peer_acked) passes it. `len` is 1 to
    /// [`frame_payload_limit`](Self::frame_payload_limit); [`StreamError::Blocked`] until the
    /// window has room for the whole frame.
    pub fn write_external(&mut self, now: Timestamp, len: usize) -> Result<(u64, Bytes), StreamError> {
        self.request_open()?;
        let max = self.link.body_frame_limit();
        if len == 0 || len > max {
            return Err(StreamError::FrameSize { len, max });
        }
        self.role.frame_waits = !self.external_fits(len);
        if self.role.frame_waits {
            return Err(StreamError::Blocked);
        }
        let written = self.link.write_external(super::FrameType::REQUEST_BODY, len as u32);
        self.request_progress(now, len);
        Ok(written)
    }

    /// Whether a frame of `len` bytes written by its length would be taken now: it fits a
    /// frame and the window has room for all of it. A driver waiting to write one wakes on
    /// this, not on any room, which would wake it for nothing.
    pub fn external_fits(&self, len: usize) -> bool {
        len <= self.link.body_frame_limit()
            && self.link.send_capacity() >= len + super::config::BODY_FRAME_COST as usize
    }

    /// Ends the request body.
    pub fn finish_request(&mut self) -> Result<(), StreamError> {
        self.request_open()?;
        self.role.request_ended = true;
        self.link.write(Item::RequestEnd);
        Ok(())
    }

    /// Whether the request body still goes to the function: not ended, and the response
    /// neither ended nor failed. A driver stops reading the client's body once it is false.
    pub fn wants_request_body(&self) -> bool {
        self.request_open().is_ok()
    }

    /// Aborts the exchange (the client went away): the function is told at once, and the
    /// session ends with [`Error::Aborted`].
    pub fn abort(&mut self, code: AbortCode, reason: &str) {
        if self.link.error().is_some() || self.role.final_part_read {
            return;
        }
        let abort = Abort {
            code,
            reason: truncate_reason(reason).to_owned(),
        };
        self.link.send_abort(abort.clone());
        self.link.fail(Error::Aborted(abort));
    }

    fn request_open(&self) -> Result<(), StreamError> {
        self.link.check()?;
        if self.role.request_ended || self.role.response == Response::Ended {
            return Err(StreamError::Finished);
        }
        Ok(())
    }
}
