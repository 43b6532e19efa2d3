//! The invocation's result, as the gateway receives and judges it (docs/protocol.md,
//! "Gateway side").

use super::super::codes::{AbortCode, GatewayError, Outcome};
#[allow(unused_imports)] // doc links
use super::super::codes::{LAMBDA_ERROR_HEADER, RELAY_OUTCOME_HEADER};
use super::super::failure::Failure;
use super::super::Timestamp;
use super::{GatewaySession, Response};

/// An invocation's result as the gateway received it (docs/protocol.md, "Gateway side").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceivedResult<'a> {
    /// The function URL answered with this status; `outcome` is its
    /// `x-lambda-relay-outcome` header, if it had one.
    Response {
        /// The result's status.
        status: u16,
        /// The outcome header's value.
        outcome: Option<&'a str>,
    },
    /// Lambda answered instead of the function, which never ran: the result carried
    /// [`LAMBDA_ERROR_HEADER`] and no outcome.
    Refused {
        /// The result's status.
        status: u16,
        /// The error header's value.
        error_type: &'a str,
    },
    /// The invocation itself failed (no connection to the function URL, a reset).
    Failed,
}

impl<'a> ReceivedResult<'a> {
    /// The result received with this status and these two headers' values
    /// ([`RELAY_OUTCOME_HEADER`], [`LAMBDA_ERROR_HEADER`]).
    pub fn new(status: u16, outcome: Option<&'a str>, lambda_error: Option<&'a str>) -> Self {
        match (outcome, lambda_error) {
            (None, Some(error_type)) => Self::Refused { status, error_type },
            _ => Self::Response { status, outcome },
        }
    }
}

/// What the gateway does with the invocation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultVerdict {
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

impl GatewaySession {
    /// Judges the invocation's result (docs/protocol.md, "Gateway side"). It is a signal,
    /// never the end of the response: only a response end frame ends it.
    ///
    /// - The invocation failed, or answered non-2xx, after a socket connected: the function
    ///   is gone; the session aborts ([`ResultVerdict::Aborted`]).
    /// - It answered 2xx after a socket connected: the response must now end within the
    ///   resume grace, or the session fails ([`Error::Unfinished`](super::super::Error::Unfinished)).
    /// - Before any socket connected: a failed invocation, a relay outcome (the function
    ///   refused, failed or is unconfigured) or a 5xx answers the client 502
    ///   ([`ResultVerdict::Fail`]); any other result is a function that is not relay-aware,
    ///   and its response is the client's ([`ResultVerdict::PassThrough`]). Either way no
    ///   socket is admitted any more.
    /// - Outcome `complete`, before any response frame was received: the result is the
    ///   response, a small one the function answered inline ([`ResultVerdict::Inline`]).
    pub fn handle_invocation_result(&mut self, now: Timestamp, result: ReceivedResult<'_>) -> ResultVerdict {
        if self.link.error().is_some() || self.role.final_part_read {
            return ResultVerdict::Continue;
        }
        let connected = self.link.connected_once();
        if let ReceivedResult::Response {
            outcome: Some(outcome), ..
        } = result
        {
            if Outcome::from_name(outcome) == Some(Outcome::COMPLETE) {
                // The response is the result itself, whether or not a socket came first; a
                // head already read from one would be a function answering twice.
                return if self.role.response == Response::AwaitHead && !self.link.has_queued() {
                    self.abort(AbortCode::GATEWAY, "the response came in the invocation result");
                    ResultVerdict::Inline
                } else {
                    self.abort(AbortCode::GATEWAY, "the function answered twice");
                    ResultVerdict::Aborted
                };
            }
        }
        let verdict = match result {
            ReceivedResult::Failed if connected => None,
            ReceivedResult::Failed => Some(ResultVerdict::Fail(Failure::new(
                502,
                GatewayError::INVOCATION_FAILED,
                "invoking the function failed".into(),
            ))),
            ReceivedResult::Response { status, .. } if connected => {
                if (200..300).contains(&status) {
                    if self.role.response != Response::Ended {
                        self.role.finish_by = Some(now + self.link.config().resume_grace);
                    }
                    return ResultVerdict::Continue;
                }
                None
            }
            ReceivedResult::Response { status, outcome } if outcome.is_some() || status >= 500 => {
                Some(ResultVerdict::Fail(Failure::new(
                    502,
                    GatewayError::INVOCATION_FAILED,
                    format!("the function answered {status}"),
                )))
            }
            ReceivedResult::Response { .. } => Some(ResultVerdict::PassThrough),
            ReceivedResult::Refused { .. } if connected => None,
            ReceivedResult::Refused { status, error_type } => {
                let hint = match (status, error_type) {
                    (403, "InvalidSignatureException" | "UnrecognizedClientException") => {
                        ": the gateway's signature was refused; check AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_REGION, and the clock; \
                         see docs/deploy.md"
                    }
                    (403, _) => {
                        ": a Function URL needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction \
                         (--invoked-via-function-url) granted; see docs/deploy.md"
                    }
                    _ => "",
                };
                Some(ResultVerdict::Fail(Failure::new(
                    502,
                    GatewayError::INVOCATION_FAILED,
                    format!("Lambda refused the invocation ({status} {error_type}){hint}"),
                )))
            }
        };
        match verdict {
            None => {
                self.abort(AbortCode::GATEWAY, "the function invocation failed");
                ResultVerdict::Aborted
            }
            Some(verdict) => {
                self.abort(AbortCode::GATEWAY, "the response was decided without the function");
                verdict
            }
        }
    }
}
