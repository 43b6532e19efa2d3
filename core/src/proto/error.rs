//! Errors of the session layer: what the peer did wrong ([`ProtocolError`]), why a session
//! ended early ([`Error`], sticky), and what the application asked that cannot be done
//! ([`StreamError`]).

use core::time::Duration;

use super::codec::DecodeError;
use super::codes::{CloseCode, FrameType};
use super::frame::Abort;
use super::websocket::MessageError;

/// Misbehaviour by the peer. Fatal: the session closes with [`ProtocolError::close_code`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A message that is not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A text message; the protocol is binary only.
    #[error("text message on a binary-only socket")]
    TextMessage,
    /// The first frame on a socket was not a hello.
    #[error("expected hello as the first frame, got {0}")]
    HelloExpected(FrameType),
    /// A second hello on the same socket.
    #[error("second hello on one socket")]
    DuplicateHello,
    /// A hello whose limits are out of range.
    #[error("invalid hello: {0}")]
    InvalidHello(&'static str),
    /// A sequenced frame skipped numbers.
    #[error("sequence gap: expected frame {expected}, got {got}")]
    SequenceGap {
        /// The number that was due.
        expected: u64,
        /// The number that came.
        got: u64,
    },
    /// A sequenced frame that was already delivered.
    #[error("duplicate frame: expected frame {expected}, got {got}")]
    DuplicateSequence {
        /// The number that was due.
        expected: u64,
        /// The number that came.
        got: u64,
    },
    /// An acknowledgement of frames this side never sent on the socket.
    #[error("ack of frame {acked} but only {sent} were sent")]
    AckBeyondSent {
        /// The acknowledged count.
        acked: u64,
        /// Frames sent.
        sent: u64,
    },
    /// An acknowledgement lower than an earlier one.
    #[error("ack went back from {previous} to {acked}")]
    AckRegressed {
        /// The new, lower acknowledgement.
        acked: u64,
        /// The earlier acknowledgement.
        previous: u64,
    },
    /// A resume hello whose `received` does not lie between its ack and what was sent.
    #[error("resume from frame {received} is outside {acked}..={sent}")]
    ResumeOutOfRange {
        /// What the peer says it received.
        received: u64,
        /// What the peer acknowledged.
        acked: u64,
        /// What this side has sent.
        sent: u64,
    },
    /// More unacknowledged body bytes than the advertised window.
    #[error("window of {window} bytes exceeded: {held} bytes unacknowledged")]
    WindowExceeded {
        /// The advertised window.
        window: u32,
        /// Unacknowledged bytes including the offending frame.
        held: u64,
    },
    /// A frame this end never receives, or one its stream's state does not allow.
    #[error("unexpected {frame} frame {state}")]
    UnexpectedFrame {
        /// The frame that came.
        frame: FrameType,
        /// Where the stream was, as words ("after the response ended").
        state: &'static str,
    },
    /// A relayed WebSocket's message stream broke its rules.
    #[error("WebSocket messages: {0}")]
    Message(#[from] MessageError),
}

impl ProtocolError {
    /// The WebSocket close code this error closes the socket with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::TextMessage => CloseCode::UNSUPPORTED_DATA,
            ProtocolError::Decode(DecodeError::MessageTooLarge { .. } | DecodeError::FieldTooLarge { .. }) => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::SequenceGap { .. }
            | ProtocolError::DuplicateSequence { .. }
            | ProtocolError::AckBeyondSent { .. }
            | ProtocolError::AckRegressed { .. }
            | ProtocolError::ResumeOutOfRange { .. } => CloseCode::SEQUENCE_ERROR,
            ProtocolError::WindowExceeded { .. } => CloseCode::WINDOW_EXCEEDED,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// Why a session ended before completing. Sticky: once set, every later call returns it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The gateway aborted the exchange (on the function side: the client is gone).
    #[error("aborted ({}): {}", .0.code, .0.reason)]
    Aborted(Abort),
    /// The function did not open its first socket in time (gateway side).
    #[error("function did not connect within {0:?}")]
    ConnectTimeout(Duration),
    /// No socket came back within the resume grace period.
    #[error("socket did not resume within {0:?}")]
    ResumeTimeout(Duration),
    /// The peer closed the socket with a final close code.
    #[error("peer closed the socket ({0})")]
    PeerClosed(CloseCode),
    /// The function's invocation ended (2xx) but its response did not follow within the
    /// grace period (gateway side).
    #[error("the function's invocation ended, but its response did not within {0:?}")]
    Unfinished(Duration),
    /// The client's streamed request body made no progress for this long while the function
    /// could take more (gateway side; the function was told with an abort).
    #[error("the client's request body made no progress for {0:?}")]
    UploadIdle(Duration),
}

impl Error {
    /// The WebSocket close code for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Error::Protocol(e) => e.close_code(),
            Error::Aborted(_) | Error::UploadIdle(_) => CloseCode::ABORTED,
            Error::ConnectTimeout(_) | Error::ResumeTimeout(_) | Error::Unfinished(_) => CloseCode::TIMEOUT,
            Error::PeerClosed(code) => *code,
        }
    }
}

/// A request the application made that the stream cannot carry out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The window is full; try again once the peer acknowledged more.
    #[error("send window is full")]
    Blocked,
    /// The response head was already sent.
    #[error("response head already sent")]
    HeadAlreadySent,
    /// Body, end or trailers before the response head.
    #[error("response head not sent yet")]
    HeadNotSent,
    /// The stream was already finished or failed.
    #[error("stream already finished")]
    Finished,
    /// The session's deadline failed the response; nothing more can be written.
    #[error("the function reached its deadline; the response was failed")]
    DeadlineReached,
    /// The response may not skip the socket: the request body streamed, or the body is too
    /// large.
    #[error("this response cannot be answered in the invocation result")]
    NotInline,
    /// The response was answered in the invocation result; nothing goes over the socket.
    #[error("the response was answered in the invocation result")]
    AnsweredInline,
    /// A response status the relay does not carry (it carries 200 to 599, and 101 to accept a
    /// WebSocket upgrade).
    #[error("invalid response status {0} (the relay carries 200 to 599, and 101 for a WebSocket upgrade)")]
    InvalidStatus(u16),
    /// More headers than a header block may hold.
    #[error("{count} headers exceed the limit of {max}")]
    TooManyHeaders {
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A header block over the limit.
    #[error("header block of {len} bytes exceeds the limit of {max}")]
    HeadersTooLarge {
        /// The block's encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A body frame written by its length that is empty or larger than a frame may carry now.
    #[error("a body frame of {len} bytes: frames carry 1 to {max} bytes now")]
    FrameSize {
        /// The frame's length.
        len: usize,
        /// The most a frame carries now (zero before the peer's hello).
        max: usize,
    },
    /// A WebSocket message the relay does not carry (too large, a close code a peer may not
    /// send), or one sent after the close.
    #[error("{0}")]
    Message(#[from] MessageError),
    /// The session has failed.
    #[error(transparent)]
    Closed(#[from] Error),
}
