//! What a client gets when its response fails before the head (docs/protocol.md, "Gateway
//! side"): a status, the error code header and a short reason. The gateway's drivers build one
//! before any session exists too (settings it cannot run with, a refused upgrade).

use super::codec::truncate_reason;
use super::codes::{FailureCode, GatewayError, ERROR_CODE_HEADER};
use super::error::Error;
use super::frame::FunctionError;
use super::upgrade::UpgradeRefusal;

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
    pub(crate) fn new(status: u16, code: GatewayError, message: String) -> Self {
        Self {
            status,
            code: FailureCode::Gateway(code),
            message,
        }
    }

    /// The failure for a session that ended before the head: 504 if the function never
    /// connected, 408 if the client's upload stalled, 502 otherwise.
    pub fn from_error(error: &Error) -> Self {
        let (status, code) = match error {
            Error::ConnectTimeout(_) => (504, GatewayError::CONNECT_TIMEOUT),
            Error::ResumeTimeout(_) => (502, GatewayError::RESUME_TIMEOUT),
            Error::Unfinished(_) => (502, GatewayError::INVOCATION_FAILED),
            Error::Protocol(_) => (502, GatewayError::PROTOCOL_ERROR),
            Error::PeerClosed(_) => (502, GatewayError::CONNECTION_CLOSED),
            Error::Aborted(_) => (502, GatewayError::ABORTED),
            Error::UploadIdle(_) => (408, GatewayError::UPLOAD_IDLE),
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
