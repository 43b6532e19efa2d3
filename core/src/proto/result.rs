//! The function's answer to a relay invocation (docs/protocol.md, "Invocation"): a short
//! plain-text result marked with its outcome, or the response itself marked `complete`.

use core::fmt;

use super::codes::{Outcome, RELAY_OUTCOME_HEADER};

/// The function's answer to a relay invocation whose response went (or could not go) over the
/// socket: a short plain-text result marked with its [`Outcome`], so the gateway tells it
/// from an ordinary response. A response answered inline is the result itself instead,
/// marked with [`complete_header`](Self::complete_header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationResult {
    /// The HTTP status of the invocation result.
    pub status: u16,
    /// What became of the relay.
    pub outcome: Outcome,
    /// A short plain-text reason (the result's body).
    pub message: String,
}

impl InvocationResult {
    /// The content type of every invocation result.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// 200 `relayed`: the response's end was acknowledged.
    pub fn relayed() -> Self {
        Self::new(200, Outcome::RELAYED, "relayed".into())
    }

    /// 200 `aborted`: the gateway aborted (the client went away); nothing is wrong with the
    /// function.
    pub fn aborted() -> Self {
        Self::new(
            200,
            Outcome::ABORTED,
            "aborted by the gateway: the client went away".into(),
        )
    }

    /// 502 `failed`: the relay failed (no socket, a failed session).
    pub fn failed(reason: impl fmt::Display) -> Self {
        Self::new(502, Outcome::FAILED, format!("relay failed: {reason}"))
    }

    /// `refused` with 400 (malformed headers) or 403 (a token that does not verify).
    pub fn refused(status: u16, reason: String) -> Self {
        Self::new(status, Outcome::REFUSED, reason)
    }

    /// 500 `unconfigured`.
    pub fn unconfigured(reason: String) -> Self {
        Self::new(500, Outcome::UNCONFIGURED, reason)
    }

    /// The outcome header of a response answered inline: the result is the response itself
    /// ([`FunctionSession::respond_inline`](super::FunctionSession::respond_inline)), so its
    /// status, headers and body are the handler's, plus this one header.
    pub fn complete_header() -> (&'static str, &'static str) {
        (RELAY_OUTCOME_HEADER, Outcome::COMPLETE.name().unwrap_or_default())
    }

    fn new(status: u16, outcome: Outcome, message: String) -> Self {
        Self {
            status,
            outcome,
            message,
        }
    }

    /// The result's headers: its content type and the outcome.
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("content-type", Self::CONTENT_TYPE),
            (RELAY_OUTCOME_HEADER, self.outcome.name().unwrap_or("failed")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_carry_their_outcome() {
        let r = InvocationResult::relayed();
        assert_eq!(r.status, 200);
        assert_eq!(r.headers()[1], (RELAY_OUTCOME_HEADER, "relayed"));
        assert_eq!(InvocationResult::aborted().status, 200);
        let failed = InvocationResult::failed("no socket");
        assert_eq!(
            (failed.status, failed.message.as_str()),
            (502, "relay failed: no socket")
        );
        assert_eq!(
            InvocationResult::unconfigured("x".into()).headers()[1].1,
            "unconfigured"
        );
    }
}
