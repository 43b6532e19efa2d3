//! The function's end of a session: it receives the request body and sends the response
//! (docs/protocol.md, "Function side").

use bytes::Bytes;
use http::HeaderMap;

use super::codes::ErrorCode;
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError, StreamError};
use super::frame::{Abort, FunctionError, Item, ResponseHead};
use super::headers;
use super::invocation::BodyMode;
use super::session::{sealed, Role, Session};
use super::time::Timestamp;

/// The function's end of a relay session.
pub type FunctionSession = Session<FunctionRole>;

/// What the function's end allows, in order.
#[derive(Debug)]
pub struct FunctionRole {
    mode: BodyMode,
    request_ended: bool,
    request_end_read: bool,
    response: Response,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    Ready,
    Streaming,
    Done,
}

/// A piece of the request body, as the function reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestChunk {
    /// Body bytes, in order.
    Data(Bytes),
    /// The body is complete; every later read says so again.
    End,
}

impl sealed::Sealed for FunctionRole {}

impl Role for FunctionRole {
    const CLOSES_WHEN_DONE: bool = true;

    fn accept(&mut self, item: &Item) -> Result<(), ProtocolError> {
        let frame = item.frame_type();
        match item {
            Item::RequestBody(_) | Item::RequestEnd if self.mode == BodyMode::Inline => {
                Err(ProtocolError::UnexpectedFrame {
                    frame,
                    state: "in inline body mode",
                })
            }
            Item::RequestBody(_) | Item::RequestEnd if self.request_ended => Err(ProtocolError::UnexpectedFrame {
                frame,
                state: "after the request body ended",
            }),
            Item::RequestBody(_) => Ok(()),
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
}

impl FunctionSession {
    /// A session for an invocation whose request body travels as `mode` says.
    pub fn new(config: Config, mode: BodyMode, now: Timestamp) -> Result<Self, ConfigError> {
        let inline = mode == BodyMode::Inline;
        let role = FunctionRole {
            mode,
            request_ended: inline,
            request_end_read: inline,
            response: Response::Ready,
        };
        Session::with_role(config, now, role)
    }

    /// The next piece of the request body, or `None` until more arrives.
    pub fn read(&mut self) -> Result<Option<RequestChunk>, Error> {
        self.link.check()?;
        if self.role.request_end_read {
            return Ok(Some(RequestChunk::End));
        }
        Ok(match self.link.read() {
            Some(Item::RequestBody(data)) => Some(RequestChunk::Data(data)),
            Some(_) => {
                self.role.request_end_read = true;
                Some(RequestChunk::End)
            }
            None => None,
        })
    }

    /// Queues the response head. Heads do not count against the window.
    pub fn send_head(&mut self, head: ResponseHead) -> Result<(), StreamError> {
        self.link.check()?;
        match self.role.response {
            Response::Ready => {}
            Response::Streaming => return Err(StreamError::HeadAlreadySent),
            Response::Done => return Err(StreamError::Finished),
        }
        check_headers(&head.headers, self.link.config())?;
        self.role.response = Response::Streaming;
        self.link.write(Item::ResponseHead(head));
        Ok(())
    }

    /// Takes as much of `data` as the window allows, in frames of at most the payload size,
    /// and returns how many bytes it took; [`StreamError::Blocked`] when it took none.
    pub fn write(&mut self, data: &mut Bytes) -> Result<usize, StreamError> {
        self.writable()?;
        self.write_body(data, Item::ResponseBody)
    }

    /// Ends the response with `trailers` (usually empty).
    pub fn finish(&mut self, trailers: HeaderMap) -> Result<(), StreamError> {
        self.writable()?;
        check_headers(&trailers, self.link.config())?;
        self.role.response = Response::Done;
        self.link.write(Item::ResponseEnd(trailers));
        Ok(())
    }

    /// Fails the response: before the head the gateway answers 502, after it the client's
    /// transfer is aborted.
    pub fn fail(&mut self, code: ErrorCode, message: &str) -> Result<(), StreamError> {
        self.link.check()?;
        if self.role.response == Response::Done {
            return Err(StreamError::Finished);
        }
        self.role.response = Response::Done;
        let message = super::frame::truncate_reason(message).to_owned();
        self.link.write(Item::Error(FunctionError { code, message }));
        Ok(())
    }

    /// Whether the response head was queued.
    pub fn head_sent(&self) -> bool {
        self.role.response != Response::Ready
    }

    /// Whether the response was ended or failed (acknowledged or not).
    pub fn response_closed(&self) -> bool {
        self.role.response == Response::Done
    }

    /// Whether body bytes may be written now, window aside: the head was sent and the
    /// response was not ended or failed.
    pub fn writable(&self) -> Result<(), StreamError> {
        self.link.check()?;
        match self.role.response {
            Response::Ready => Err(StreamError::HeadNotSent),
            Response::Streaming => Ok(()),
            Response::Done => Err(StreamError::Finished),
        }
    }
}

/// Checks a header block against the configured limit and the wire's `u16` lengths.
pub(crate) fn check_headers(headers: &HeaderMap, config: &Config) -> Result<(), StreamError> {
    let len = headers::encoded_len(headers);
    let max = config.max_header_bytes as usize;
    if len > max {
        return Err(StreamError::HeadersTooLarge { len, max });
    }
    if let Some(v) = headers.values().find(|v| v.len() > usize::from(u16::MAX)) {
        return Err(StreamError::HeadersTooLarge {
            len: v.len(),
            max: usize::from(u16::MAX),
        });
    }
    Ok(())
}
