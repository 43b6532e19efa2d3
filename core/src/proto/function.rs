//! The function's end of a session: it receives the request body and sends the response
//! (docs/protocol.md, "Function side").

use bytes::Bytes;
use http::HeaderMap;

use super::codec::truncate_reason;
use super::codes::ErrorCode;
use super::codes::FrameType;
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError, StreamError};
use super::exchange::{BodyMode, Exchange};
use super::frame::{Abort, FunctionError, Item, ResponseHead};
use super::headers;
use super::link::Link;
use super::session::{sealed, Role, Session};
use super::time::Timestamp;

/// The function's end of a relay session.
pub type FunctionSession = Session<FunctionRole>;

/// What the function's end allows, in order.
#[derive(Debug)]
pub struct FunctionRole {
    exchange: Exchange,
    request_ended: bool,
    request_end_read: bool,
    response: Response,
    /// Whether the response's head says it has a body (false for HEAD, 204, 205, 304).
    has_body: bool,
    /// When to fail the response with `deadline` if it has not ended.
    deadline: Option<Timestamp>,
    deadline_reached: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    Ready,
    Streaming,
    Done,
    /// Answered in the invocation result: nothing goes over the socket, which stays open
    /// until the gateway, seeing the result, aborts the session.
    Inline,
}

/// The message of the error frame a session sends at its deadline.
pub const DEADLINE_MESSAGE: &str = "the function reached its deadline";

/// A piece of the request body, as the function reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestChunk {
    /// Body bytes, in order.
    Data(Bytes),
    /// This many body bytes the driver holds outside the session ([`Session::handle_external_body`]), in order.
    External(u32),
    /// The body is complete; every later read says so again.
    End,
}

impl sealed::Sealed for FunctionRole {}

impl Role for FunctionRole {
    const CLOSES_WHEN_DONE: bool = true;

    fn accept(&mut self, item: &Item) -> Result<(), ProtocolError> {
        let frame = item.frame_type();
        match item {
            Item::External(ty, _) if *ty != FrameType::REQUEST_BODY => Err(ProtocolError::UnexpectedFrame {
                frame,
                state: "at the function",
            }),
            Item::RequestBody(_) | Item::RequestEnd | Item::External(..)
                if self.exchange.body_mode == BodyMode::Inline =>
            {
                Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "in inline body mode",
                })
            }
            Item::RequestBody(_) | Item::RequestEnd | Item::External(..) if self.request_ended => {
                Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "after the request body ended",
                })
            }
            Item::RequestBody(_) | Item::External(..) => Ok(()),
            Item::RequestEnd => {
                self.request_ended = true;
                Ok(())
            }
            _ => Err(ProtocolError::UnexpectedFrame {
                frame,
                state: "at the function",
            }),
        }
    }

    fn abort_received(&mut self, abort: Abort) -> Result<Error, ProtocolError> {
        Ok(Error::Aborted(abort))
    }

    fn is_done(&self, all_acked: bool) -> bool {
        self.response == Response::Done && all_acked
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.deadline
    }

    fn hello_received(&mut self, link: &mut Link) {
        // A head or trailers queued before the gateway's hello said its limit: if over it,
        // the gateway would refuse them (1009), so fail the response here, saying why.
        let max = link.peer_max_header_bytes().min(link.config().max_header_bytes);
        let replaced = link.replace_oversized(max, |len| {
            Item::Error(FunctionError {
                code: ErrorCode::HANDLER,
                message: format!("a header block of {len} bytes exceeds the gateway's limit of {max}"),
            })
        });
        if replaced {
            self.response = Response::Done;
        }
    }

    fn handle_timeout(&mut self, now: Timestamp, link: &mut Link) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            if matches!(self.response, Response::Ready | Response::Streaming) && link.error().is_none() {
                self.response = Response::Done;
                self.deadline_reached = true;
                link.write(Item::Error(FunctionError {
                    code: ErrorCode::DEADLINE,
                    message: DEADLINE_MESSAGE.into(),
                }));
            }
        }
    }
}

impl FunctionSession {
    /// A session for one relayed invocation.
    pub fn new(config: Config, exchange: Exchange, now: Timestamp) -> Result<Self, ConfigError> {
        let inline = exchange.body_mode == BodyMode::Inline;
        let role = FunctionRole {
            exchange,
            request_ended: inline,
            request_end_read: inline,
            response: Response::Ready,
            has_body: true,
            deadline: None,
            deadline_reached: false,
        };
        Session::with_role(config, now, role)
    }

    /// Fails the response with `deadline` at `at` unless it ended by then (docs/protocol.md,
    /// "Function side"): the driver passes the Lambda deadline minus a margin, so the client
    /// learns at once that the response is cut short instead of waiting out the resume grace.
    pub fn set_deadline(&mut self, at: Timestamp) {
        self.role.deadline = Some(at);
    }

    /// Whether the deadline failed the response.
    pub fn deadline_reached(&self) -> bool {
        self.role.deadline_reached
    }

    /// Answers in the invocation result instead of over the socket, if the response may
    /// skip it (docs/protocol.md, "Invocation"): the request body did not stream, nothing of
    /// the response was written yet, and its body of `body_len` bytes is complete and at most
    /// [`INLINE_RESPONSE_LIMIT`](super::INLINE_RESPONSE_LIMIT). The driver then returns the
    /// response as the result with outcome `complete`, and the session sends nothing more.
    /// Returns whether the response has a body (not for HEAD, 204, 205, 304: drop it).
    pub fn respond_inline(&mut self, status: u16, body_len: usize) -> Result<bool, StreamError> {
        self.writable_state(Response::Ready)?;
        if !super::exchange::inline_response_allowed(&self.role.exchange, status, body_len) {
            return Err(StreamError::NotInline);
        }
        self.role.response = Response::Inline;
        Ok(self.role.exchange.response_has_body(status))
    }

    /// The next piece of the request body, or `None` until more arrives.
    pub fn read(&mut self) -> Result<Option<RequestChunk>, Error> {
        self.link.check()?;
        if self.role.request_end_read {
            return Ok(Some(RequestChunk::End));
        }
        Ok(match self.link.read() {
            Some(Item::RequestBody(data)) => Some(RequestChunk::Data(data)),
            Some(Item::External(_, len)) => Some(RequestChunk::External(len)),
            Some(_) => {
                self.role.request_end_read = true;
                Some(RequestChunk::End)
            }
            None => None,
        })
    }

    /// Queues the response head. Heads do not count against the window. The status must be
    /// 200 to 599, or 101 to accept a WebSocket upgrade (whose bodies are then message
    /// streams, [`super::websocket`]); a head for a bodiless response (HEAD, 204, 205, 304) makes later body
    /// writes succeed without sending anything, as HTTP servers drop such bytes.
    pub fn send_head(&mut self, head: ResponseHead) -> Result<(), StreamError> {
        self.writable_state(Response::Ready)?;
        let status = head.status.as_u16();
        if !self.role.exchange.valid_head_status(status) {
            return Err(StreamError::InvalidStatus(status));
        }
        check_headers(&head.headers, self.max_header_bytes())?;
        self.role.response = Response::Streaming;
        self.role.has_body = self.role.exchange.response_has_body(status);
        self.link.write(Item::ResponseHead(head));
        Ok(())
    }

    /// Takes as much of `data` as the window allows, in frames of at most the payload size,
    /// and returns how many bytes it took; [`StreamError::Blocked`] when it took none.
    pub fn write(&mut self, data: &mut Bytes) -> Result<usize, StreamError> {
        self.writable()?;
        if !self.role.has_body {
            let n = data.len();
            data.clear();
            return Ok(n);
        }
        self.write_body(data, Item::ResponseBody)
    }

    /// Body bytes a write takes now, at least: as [`send_capacity`](Self::send_capacity), or
    /// any amount for a bodiless response.
    pub fn write_capacity(&self) -> usize {
        if self.role.response == Response::Streaming && !self.role.has_body {
            return usize::MAX;
        }
        self.send_capacity()
    }

    /// The largest header block this side may send: its own limit, and the gateway's once its
    /// hello told it.
    fn max_header_bytes(&self) -> usize {
        self.link
            .peer_max_header_bytes()
            .min(self.link.config().max_header_bytes) as usize
    }

    /// Ends the response with `trailers` (usually empty).
    pub fn finish(&mut self, trailers: HeaderMap) -> Result<(), StreamError> {
        self.writable()?;
        check_headers(&trailers, self.max_header_bytes())?;
        self.role.response = Response::Done;
        self.link.write(Item::ResponseEnd(trailers));
        Ok(())
    }

    /// Fails the response: before the head the gateway answers 502, after it the client's
    /// transfer is aborted.
    pub fn fail(&mut self, code: ErrorCode, message: &str) -> Result<(), StreamError> {
        self.link.check()?;
        if self.response_closed() {
            return Err(self.finished());
        }
        self.role.response = Response::Done;
        let message = truncate_reason(message).to_owned();
        self.link.write(Item::Error(FunctionError { code, message }));
        Ok(())
    }

    /// Whether the response head was queued.
    pub fn head_sent(&self) -> bool {
        self.role.response != Response::Ready
    }

    /// Whether the response was ended or failed (acknowledged or not), or answered inline.
    pub fn response_closed(&self) -> bool {
        matches!(self.role.response, Response::Done | Response::Inline)
    }

    /// Whether body bytes may be written now, window aside: the head was sent and the
    /// response was not ended or failed.
    pub fn writable(&self) -> Result<(), StreamError> {
        self.writable_state(Response::Streaming)
    }

    fn writable_state(&self, want: Response) -> Result<(), StreamError> {
        self.link.check()?;
        match (self.role.response, want) {
            (Response::Done | Response::Inline, _) => Err(self.finished()),
            (have, want) if have == want => Ok(()),
            (Response::Ready, _) => Err(StreamError::HeadNotSent),
            _ => Err(StreamError::HeadAlreadySent),
        }
    }

    fn finished(&self) -> StreamError {
        if self.role.response == Response::Inline {
            return StreamError::AnsweredInline;
        }
        if self.role.deadline_reached {
            StreamError::DeadlineReached
        } else {
            StreamError::Finished
        }
    }
}

/// Checks a header block against the limit, the header count cap and the wire's `u16`
/// lengths.
pub(crate) fn check_headers(headers: &HeaderMap, max: usize) -> Result<(), StreamError> {
    let len = headers::encoded_len(headers);
    if len > max {
        return Err(StreamError::HeadersTooLarge { len, max });
    }
    if headers.len() > super::config::MAX_HEADER_COUNT {
        return Err(StreamError::TooManyHeaders {
            count: headers.len(),
            max: super::config::MAX_HEADER_COUNT,
        });
    }
    if let Some(v) = headers.values().find(|v| v.len() > usize::from(u16::MAX)) {
        return Err(StreamError::HeadersTooLarge {
            len: v.len(),
            max: usize::from(u16::MAX),
        });
    }
    Ok(())
}
