//! Errors the function side's handles report.

use crate::proto;

/// Why a relayed response could not be carried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The session failed: the gateway aborted (client gone), broke the protocol, or no
    /// socket came back in time.
    #[error(transparent)]
    Session(#[from] proto::Error),
    /// The application asked for something the stream cannot do now (head twice, body
    /// before head, write after finish).
    #[error("{0}")]
    Usage(proto::StreamError),
    /// The gateway refused the socket (bad or replayed token, unknown or finished session).
    #[error("gateway refused the relay socket with HTTP {status}")]
    Refused {
        /// The HTTP status of the refused upgrade.
        status: u16,
    },
    /// The gateway could not be reached before the first-connect timeout.
    #[error("could not connect to the gateway: {0}")]
    Connect(String),
    /// The configuration is not valid.
    #[error("invalid relay configuration: {0}")]
    Config(String),
    /// The connection ended before this operation could complete.
    #[error("relay connection closed")]
    Closed,
    /// The invocation's deadline came first: the response was failed with `deadline`.
    #[error("{}", proto::DEADLINE_MESSAGE)]
    Deadline,
}

impl Error {
    /// Whether the gateway aborted because the client went away.
    pub fn is_aborted(&self) -> bool {
        matches!(self, Error::Session(proto::Error::Aborted(_)))
    }

    /// What the function answers its invocation with when the relay ended with this error:
    /// 200 `aborted` when the client went away, 502 `failed` otherwise.
    pub fn invocation_result(&self) -> proto::InvocationResult {
        if self.is_aborted() {
            proto::InvocationResult::aborted()
        } else {
            proto::InvocationResult::failed(self)
        }
    }
}

impl From<proto::StreamError> for Error {
    fn from(e: proto::StreamError) -> Self {
        match e {
            proto::StreamError::Closed(e) => Error::Session(e),
            proto::StreamError::DeadlineReached => Error::Deadline,
            other => Error::Usage(other),
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Session(proto::Error::Aborted(_)) => std::io::ErrorKind::ConnectionAborted,
            Error::Usage(_) | Error::Config(_) => std::io::ErrorKind::InvalidInput,
            Error::Closed => std::io::ErrorKind::BrokenPipe,
            Error::Deadline => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
