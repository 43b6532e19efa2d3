//! The gateway's end of a session: it sends the request body and receives the response
//! (docs/protocol.md, "Gateway side").

use bytes::Bytes;
use http::HeaderMap;

use super::codes::AbortCode;
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError, StreamError};
use super::frame::{Abort, FrameType, FunctionError, Item, ResponseHead};
use super::invocation::{BodyMode, UpgradeRefusal};
use super::link::Timer;
use super::session::{sealed, Role, Session};
use super::time::Timestamp;

/// The gateway's end of a relay session.
pub type GatewaySession = Session<GatewayRole>;

/// What the gateway's end allows, in order.
#[derive(Debug)]
pub struct GatewayRole {
    request_ended: bool,
    response: Response,
    response_read: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    AwaitHead,
    Body,
    Ended,
}

/// A piece of the response, as the gateway reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponsePart {
    /// Status and headers; always first, unless the first part is `Failed`.
    Head(ResponseHead),
    /// Body bytes, in order.
    Data(Bytes),
    /// The response is complete, with these trailers.
    End(HeaderMap),
    /// The function failed: before the head, answer 502; after it, abort the client.
    Failed(FunctionError),
}

impl sealed::Sealed for GatewayRole {}

impl Role for GatewayRole {
    const CLOSES_WHEN_DONE: bool = false;

    fn accept(&mut self, item: &Item) -> Result<(), ProtocolError> {
        use Response::*;
        let frame = item.frame_type();
        let next = match (item, self.response) {
            (Item::ResponseHead(_), AwaitHead) => Body,
            (Item::ResponseBody(_), Body) => Body,
            (Item::ResponseEnd(_), Body) => Ended,
            (Item::Error(_), AwaitHead | Body) => Ended,
            (Item::RequestBody(_) | Item::RequestEnd, _) => {
                return Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "at the gateway",
                })
            }
            (_, state) => {
                let state = match state {
                    AwaitHead => "before the response head",
                    Body => "after the response head",
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
        self.response_read
    }
}

impl GatewaySession {
    /// A session for one invocation; the function must connect within `connect_timeout`.
    pub fn new(config: Config, mode: BodyMode, now: Timestamp) -> Result<Self, ConfigError> {
        let connect_by = now + config.connect_timeout;
        let role = GatewayRole {
            request_ended: mode == BodyMode::Inline,
            response: Response::AwaitHead,
            response_read: false,
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
            Some(Item::ResponseEnd(trailers)) => ResponsePart::End(trailers),
            Some(Item::Error(e)) => ResponsePart::Failed(e),
            Some(other) => unreachable!("accept() refuses {:?} at the gateway", other.frame_type()),
        };
        if matches!(part, ResponsePart::End(_) | ResponsePart::Failed(_)) {
            self.role.response_read = true;
        }
        Ok(Some(part))
    }

    /// Takes as much of the request body in `data` as the window allows; see
    /// [`FunctionSession::write`](super::FunctionSession::write).
    pub fn write(&mut self, data: &mut Bytes) -> Result<usize, StreamError> {
        self.request_open()?;
        self.write_body(data, Item::RequestBody)
    }

    /// Ends the request body.
    pub fn finish_request(&mut self) -> Result<(), StreamError> {
        self.request_open()?;
        self.role.request_ended = true;
        self.link.write(Item::RequestEnd);
        Ok(())
    }

    /// Aborts the exchange (the client went away): the function is told at once, and the
    /// session ends with [`Error::Aborted`].
    pub fn abort(&mut self, code: AbortCode, reason: &str) {
        if self.link.error().is_some() || self.role.response_read {
            return;
        }
        let abort = Abort {
            code,
            reason: super::frame::truncate_reason(reason).to_owned(),
        };
        self.link.send_abort(abort.clone());
        self.link.fail(Error::Aborted(abort));
    }

    /// Whether a new socket may join: a first socket (no resume header) only if none came
    /// before, a resume only if one did, and neither once the session is over.
    pub fn admit_socket(&self, resume: bool) -> Result<(), UpgradeRefusal> {
        if self.link.error().is_some() || self.role.response_read {
            return Err(UpgradeRefusal {
                status: 410,
                reason: "relay session has ended",
            });
        }
        match (resume, self.link.connected_once()) {
            (false, true) => Err(UpgradeRefusal {
                status: 409,
                reason: "relay session already connected",
            }),
            (true, false) => Err(UpgradeRefusal {
                status: 409,
                reason: "nothing to resume",
            }),
            _ => Ok(()),
        }
    }

    fn request_open(&self) -> Result<(), StreamError> {
        self.link.check()?;
        if self.role.request_ended {
            return Err(StreamError::Finished);
        }
        Ok(())
    }
}

/// What the gateway answers the client when the response fails before its head: status and
/// the `x-lambda-relay-error` value (docs/protocol.md, "Gateway side").
pub fn failure_status(error: &Error) -> (u16, &'static str) {
    match error {
        Error::ConnectTimeout(_) => (504, "connect_timeout"),
        Error::ResumeTimeout(_) => (502, "resume_timeout"),
        Error::Protocol(_) => (502, "protocol_error"),
        Error::PeerClosed(_) => (502, "connection_closed"),
        Error::Aborted(_) => (502, "aborted"),
    }
}
