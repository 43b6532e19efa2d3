//! The gateway's end of a session: it admits the function's sockets, sends the request body,
//! receives the response, judges the invocation's result, and says what the client gets when
//! the response fails before its head (docs/protocol.md, "Upgrade" and "Gateway side").

use bytes::Bytes;
use http::HeaderMap;

use super::codec::truncate_reason;
use super::codes::{AbortCode, FailureCode, GatewayError, Outcome};
use super::config::{Config, ConfigError};
use super::error::{Error, ProtocolError, StreamError};
use super::exchange::Exchange;
use super::frame::{Abort, FunctionError, Item, ResponseHead};
use super::invocation::InvocationReply;
use super::link::{Link, Timer};
use super::session::{sealed, Role, Session};
use super::time::Timestamp;
use super::upgrade::{same_credential, UpgradeRefusal, UpgradeRequest};
use super::FrameType;

/// Response header on the gateway's own error responses (502, 504, …): the error code.
pub const ERROR_CODE_HEADER: &str = "x-lambda-relay-error";

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
    response_read: bool,
    /// Once a 2xx invocation result came while the response was unfinished: the response
    /// must end before this.
    finish_by: Option<Timestamp>,
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
    /// This many body bytes the driver kept ([`Session::handle_external_body`]), in order.
    External(u32),
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
        self.response_read
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.finish_by.filter(|_| !self.response_read)
    }

    fn handle_timeout(&mut self, now: Timestamp, link: &mut Link) {
        if self.response_read {
            self.finish_by = None;
        }
        if self.finish_by.is_some_and(|at| at <= now) {
            self.finish_by = None;
            link.fail(Error::Unfinished(link.config().resume_grace));
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
            response_read: false,
            finish_by: None,
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
        if matches!(part, ResponsePart::End(_) | ResponsePart::Failed(_)) {
            self.role.response_read = true;
        }
        Ok(Some(part))
    }

    /// Takes as much of the request body in `data` as the window allows; see
    /// [`FunctionSession::write`](super::FunctionSession::write). Once the response has
    /// ended (or failed) the function wants no more of the request: [`StreamError::Finished`].
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

    /// Whether the request body still goes to the function: not ended, and the response
    /// neither ended nor failed. A driver stops reading the client's body once it is false.
    pub fn wants_request_body(&self) -> bool {
        self.request_open().is_ok()
    }

    /// Aborts the exchange (the client went away): the function is told at once, and the
    /// session ends with [`Error::Aborted`].
    pub fn abort(&mut self, code: AbortCode, reason: &str) {
        if self.link.error().is_some() || self.role.response_read {
            return;
        }
        let abort = Abort {
            code,
            reason: truncate_reason(reason).to_owned(),
        };
        self.link.send_abort(abort.clone());
        self.link.fail(Error::Aborted(abort));
    }

    /// Whether a new socket may join, after the edge's [`check_upgrade`](super::check_upgrade)
    /// (docs/protocol.md, "Upgrade"): it must present this session's token and, on a resume,
    /// the session key its first socket presented (403 otherwise). A first socket (no resume
    /// header) is admitted until the function's hello arrived on one, so a function whose
    /// first 101 was lost can try again; a resume only once a socket connected; neither once
    /// the session is over (410).
    pub fn admit_socket(&self, req: &UpgradeRequest<'_>) -> Result<(), UpgradeRefusal> {
        if !req.token.is_some_and(|t| same_credential(t, &self.role.token)) {
            return Err(UpgradeRefusal::TOKEN_REFUSED);
        }
        if self.link.error().is_some() || self.role.response_read {
            return Err(UpgradeRefusal {
                status: 410,
                reason: "relay session has ended",
            });
        }
        match (req.is_resume(), self.link.connected_once()) {
            (false, true) if self.link.peer_hello_seen() => Err(UpgradeRefusal {
                status: 409,
                reason: "relay session already connected",
            }),
            (true, false) => Err(UpgradeRefusal {
                status: 409,
                reason: "nothing to resume",
            }),
            (true, true) => match (&self.role.key, req.key) {
                (Some(key), Some(presented)) if same_credential(key, presented) => Ok(()),
                _ => Err(UpgradeRefusal::TOKEN_REFUSED),
            },
            (false, _) => Ok(()),
        }
    }

    /// A socket admitted by [`admit_socket`](Self::admit_socket) is open; it replaces the
    /// current one, if any (the driver closes that with
    /// [`CloseCode::REPLACED`](super::CloseCode::REPLACED)).
    pub fn socket_accepted(&mut self, now: Timestamp, req: &UpgradeRequest<'_>) {
        if self.link.is_up() {
            self.socket_closed(now, None);
        }
        if !req.is_resume() {
            self.role.key = req.key.map(str::to_owned);
        }
        self.socket_opened(now);
    }

    /// Judges the invocation's result (docs/protocol.md, "Gateway side"). It is a signal,
    /// never the end of the response: only a response end frame ends it.
    ///
    /// - The invocation failed, or answered non-2xx, after a socket connected: the function
    ///   is gone; the session aborts ([`ReplyVerdict::Aborted`]).
    /// - It answered 2xx after a socket connected: the response must now end within the
    ///   resume grace, or the session fails ([`Error::Unfinished`]).
    /// - Before any socket connected: a failed invocation, a relay outcome (the function
    ///   refused, failed or is unconfigured) or a 5xx answers the client 502
    ///   ([`ReplyVerdict::Fail`]); any other result is a function that is not relay-aware,
    ///   and its response is the client's ([`ReplyVerdict::PassThrough`]). Either way no
    ///   socket is admitted any more.
    /// - Outcome `complete`, before any response frame was received: the result is the
    ///   response, a small one the function answered inline ([`ReplyVerdict::Inline`]).
    pub fn handle_invocation_reply(&mut self, now: Timestamp, reply: InvocationReply<'_>) -> ReplyVerdict {
        if self.link.error().is_some() || self.role.response_read {
            return ReplyVerdict::Continue;
        }
        let connected = self.link.connected_once();
        if let InvocationReply::Response {
            outcome: Some(outcome), ..
        } = reply
        {
            if Outcome::from_name(outcome) == Some(Outcome::COMPLETE) {
                // The response is the result itself, whether or not a socket came first; a
                // head already read from one would be a function answering twice.
                return if self.role.response == Response::AwaitHead && !self.link.has_queued() {
                    self.abort(AbortCode::GATEWAY, "the response came in the invocation result");
                    ReplyVerdict::Inline
                } else {
                    self.abort(AbortCode::GATEWAY, "the function answered twice");
                    ReplyVerdict::Aborted
                };
            }
        }
        let verdict = match reply {
            InvocationReply::Failed if connected => None,
            InvocationReply::Failed => Some(ReplyVerdict::Fail(Failure::new(
                502,
                GatewayError::INVOCATION_FAILED,
                "invoking the function failed".into(),
            ))),
            InvocationReply::Response { status, .. } if connected => {
                if (200..300).contains(&status) {
                    if self.role.response != Response::Ended {
                        self.role.finish_by = Some(now + self.link.config().resume_grace);
                    }
                    return ReplyVerdict::Continue;
                }
                None
            }
            InvocationReply::Response { status, outcome } if outcome.is_some() || status >= 500 => {
                Some(ReplyVerdict::Fail(Failure::new(
                    502,
                    GatewayError::INVOCATION_FAILED,
                    format!("the function answered {status}"),
                )))
            }
            InvocationReply::Response { .. } => Some(ReplyVerdict::PassThrough),
            InvocationReply::Refused { .. } if connected => None,
            InvocationReply::Refused { status, error_type } => {
                let hint = if status == 403 {
                    ": a Function URL needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction \
                     (--invoked-via-function-url) granted; see docs/deploy.md"
                } else {
                    ""
                };
                Some(ReplyVerdict::Fail(Failure::new(
                    502,
                    GatewayError::INVOCATION_FAILED,
                    format!("Lambda refused the invocation ({status} {error_type}){hint}"),
                )))
            }
        };
        match verdict {
            None => {
                self.abort(AbortCode::GATEWAY, "the function invocation failed");
                ReplyVerdict::Aborted
            }
            Some(verdict) => {
                self.abort(AbortCode::GATEWAY, "the response was decided without the function");
                verdict
            }
        }
    }

    fn request_open(&self) -> Result<(), StreamError> {
        self.link.check()?;
        if self.role.request_ended || self.role.response == Response::Ended {
            return Err(StreamError::Finished);
        }
        Ok(())
    }
}

/// What the gateway does with the invocation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyVerdict {
    /// Nothing: the response comes (or came) over the socket.
    Continue,
    /// The function is not relay-aware: its own response is the client's, as it is
    /// (status, headers, body; redirects not followed).
    PassThrough,
    /// The function answered in the invocation result: the result is the client's response,
    /// its headers those [`forwards_inline_header`](crate::proto::forwards_inline_header) lets through.
    Inline,
    /// Answer the client with this failure; the driver may add the result's text to it.
    Fail(Failure),
    /// The session aborted; the driver's next output sends the abort and closes.
    Aborted,
}

/// What the client gets when the response fails before its head: a status, the
/// `x-lambda-relay-error` code, and a short plain-text message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status.
    pub status: u16,
    /// The error code header's value.
    pub code: FailureCode,
    /// A short plain-text reason.
    pub message: String,
}

impl Failure {
    fn new(status: u16, code: GatewayError, message: String) -> Self {
        Self {
            status,
            code: FailureCode::Gateway(code),
            message,
        }
    }

    /// The failure for a session that ended before the head: 504 if the function never
    /// connected, 502 otherwise.
    pub fn from_error(error: &Error) -> Self {
        let (status, code) = match error {
            Error::ConnectTimeout(_) => (504, GatewayError::CONNECT_TIMEOUT),
            Error::ResumeTimeout(_) => (502, GatewayError::RESUME_TIMEOUT),
            Error::Unfinished(_) => (502, GatewayError::INVOCATION_FAILED),
            Error::Protocol(_) => (502, GatewayError::PROTOCOL_ERROR),
            Error::PeerClosed(_) => (502, GatewayError::CONNECTION_CLOSED),
            Error::Aborted(_) => (502, GatewayError::ABORTED),
        };
        Self::new(status, code, format!("relay failed: {error}"))
    }

    /// The failure for an error frame before the head: 502 with the function's code.
    pub fn from_function(error: &FunctionError) -> Self {
        Self {
            status: 502,
            code: FailureCode::Function(error.code),
            message: format!("the function failed: {}", error.message),
        }
    }

    /// 500 for settings the gateway cannot run with.
    pub fn misconfigured(reason: impl Into<String>) -> Self {
        Self::new(500, GatewayError::GATEWAY_MISCONFIGURED, reason.into())
    }

    /// The answer to a refused socket upgrade.
    pub fn socket_refused(refusal: UpgradeRefusal) -> Self {
        Self::new(refusal.status, GatewayError::SOCKET_REFUSED, refusal.reason.into())
    }

    /// Appends detail (such as the invocation result's text) to the message.
    pub fn with_detail(mut self, detail: &str) -> Self {
        let detail = truncate_reason(detail.trim());
        if !detail.is_empty() {
            self.message.push_str(": ");
            self.message.push_str(detail);
        }
        self
    }

    /// The error response's headers: a plain-text content type and the error code.
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("content-type", "text/plain; charset=utf-8"),
            (ERROR_CODE_HEADER, self.code.name()),
        ]
    }

    /// The error response's body: the message and a newline.
    pub fn body(&self) -> String {
        format!("{}\n", self.message)
    }
}
