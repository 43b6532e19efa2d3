//! A client's WebSocket, relayed (docs/protocol.md, "WebSockets").
//!
//! Once the function accepts an upgrade (a `101` head in a [`BodyMode::WebSocket`]
//! exchange), the request body carries the client's messages and the response body the
//! function's, each as a stream of records: a kind byte, a 4-byte big-endian length, the
//! payload. Records ride the body frames like any bytes, so the link's sequencing, window and
//! resume carry them unchanged: a record longer than a frame is cut across frames and joined
//! here, and a cut socket loses and duplicates nothing. A close record ends the messages of
//! its direction; the body's end follows it.
//!
//! The gateway answers the client's pings itself (its runtime does) and relays text, binary
//! and close; this module holds every rule both ends follow: the record layout, the largest
//! message, the close codes a peer may send, and which code a failure closes the client with.
//!
//! [`BodyMode::WebSocket`]: super::BodyMode::WebSocket

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::codes::ErrorCode;
use super::frame::FunctionError;

/// Bytes before a record's payload: its kind and its length.
pub const RECORD_HEADER_LEN: usize = 1 + 4;

/// The largest message either side relays, in bytes. A client's larger message closes it
/// with [`close::MESSAGE_TOO_BIG`]; a function's larger one is refused when it sends it.
/// 16 MiB: half of what workerd accepts from a client in one message (32 MiB), so a client's
/// message always fits the gateway's runtime, and the most one record can make the gateway
/// hold besides the window.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The most bytes of a client's messages the gateway holds that the function's window has not
/// taken yet. A client sending faster than the function reads is closed with
/// [`close::POLICY_VIOLATION`] past it: the gateway never buffers without bound.
pub const CLIENT_BACKLOG_BYTES: usize = MAX_MESSAGE_BYTES + 4 * 1024 * 1024;

/// The longest close reason, in bytes: what fits a close frame's control payload (RFC 6455,
/// 5.5) beside its code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Close codes the relay uses (RFC 6455, 7.4.1).
pub mod close {
    /// A normal close.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away: the function reached its invocation's deadline.
    pub const GOING_AWAY: u16 = 1001;
    /// The close carried no code (never sent on the wire).
    pub const NO_STATUS: u16 = 1005;
    /// The connection ended without a close frame (never sent on the wire).
    pub const ABNORMAL: u16 = 1006;
    /// The client sent faster than the function reads, past [`super::CLIENT_BACKLOG_BYTES`].
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message larger than [`super::MAX_MESSAGE_BYTES`].
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The function failed, broke the protocol, or could not be reached any more.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// One relayed WebSocket message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// The sender closes: `code` [`close::NO_STATUS`] when it gave none (then `reason` is
    /// empty). Nothing follows it in its direction.
    Close {
        /// The close code.
        code: u16,
        /// Why, at most [`MAX_CLOSE_REASON_BYTES`].
        reason: String,
    },
}

/// Record kinds, the WebSocket opcodes of the messages they carry.
mod kind {
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
}

/// What a message stream may not contain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A message longer than the limit.
    #[error("a message of {len} bytes exceeds the limit of {max}")]
    TooBig {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A record kind this version does not know.
    #[error("unknown message kind {0:#04x}")]
    UnknownKind(u8),
    /// A text message that is not UTF-8.
    #[error("a text message is not valid UTF-8")]
    InvalidText,
    /// A close record with a code a peer may not send, a reason too long or not UTF-8, or a
    /// 1-byte payload.
    #[error("invalid close: {0}")]
    InvalidClose(String),
    /// A record after the close.
    #[error("a message after the close")]
    AfterClose,
    /// The stream ended inside a record, or without a close.
    #[error("the message stream ended {0}")]
    Unfinished(&'static str),
}

impl MessageError {
    /// The code the gateway closes the client with when the client's messages break this
    /// rule (the runtime checks UTF-8 and the close codes of the client's frames itself).
    pub fn close_code(&self) -> u16 {
        match self {
            MessageError::TooBig { .. } => close::MESSAGE_TOO_BIG,
            _ => close::INTERNAL_ERROR,
        }
    }
}

/// Whether a peer may send this close code (RFC 6455, 7.4): 1000–1003, 1007–1014 and
/// 3000–4999. 1005 and 1006 are never sent; they only say no code came.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

impl Message {
    /// A close with `code` and `reason`, checked as a peer's close is checked
    /// ([`close::NO_STATUS`] with an empty reason: a close without a code).
    pub fn close(code: u16, reason: impl Into<String>) -> Result<Message, MessageError> {
        let reason = reason.into();
        check_close(code, &reason)?;
        Ok(Message::Close { code, reason })
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            Message::Close { code, reason } if *code == close::NO_STATUS => reason.len(),
            Message::Close { reason, .. } => 2 + reason.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record's header, for a sender that writes the payload after it without copying it
    /// ([`Message::payload`]); refuses a message over `max` bytes, and a close a peer may not
    /// send (the variant is public, so a close not made by [`Message::close`] is checked here).
    pub fn record_header(&self, max: usize) -> Result<[u8; RECORD_HEADER_LEN], MessageError> {
        if let Message::Close { code, reason } = self {
            check_close(*code, reason)?;
        }
        let len = self.len();
        if len > max {
            return Err(MessageError::TooBig { len, max });
        }
        let kind = match self {
            Message::Text(_) => kind::TEXT,
            Message::Binary(_) => kind::BINARY,
            Message::Close { .. } => kind::CLOSE,
        };
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[0] = kind;
        header[1..].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(header)
    }

    /// The record's payload, after [`record_header`](Self::record_header).
    pub fn payload(self) -> Bytes {
        match self {
            Message::Text(t) => Bytes::from(t.into_bytes()),
            Message::Binary(b) => b,
            Message::Close { code, .. } if code == close::NO_STATUS => Bytes::new(),
            Message::Close { code, reason } => {
                let mut out = BytesMut::with_capacity(2 + reason.len());
                out.put_u16(code);
                out.extend_from_slice(reason.as_bytes());
                out.freeze()
            }
        }
    }

    /// The whole record, header and payload in one buffer.
    pub fn encode(self, max: usize) -> Result<Bytes, MessageError> {
        let header = self.record_header(max)?;
        let payload = self.payload();
        let mut out = BytesMut::with_capacity(RECORD_HEADER_LEN + payload.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&payload);
        Ok(out.freeze())
    }
}

fn check_close(code: u16, reason: &str) -> Result<(), MessageError> {
    if code == close::NO_STATUS {
        return if reason.is_empty() {
            Ok(())
        } else {
            Err(MessageError::InvalidClose("a reason without a code".into()))
        };
    }
    if !valid_close_code(code) {
        return Err(MessageError::InvalidClose(format!("code {code} may not be sent")));
    }
    if reason.len() > MAX_CLOSE_REASON_BYTES {
        return Err(MessageError::InvalidClose(format!(
            "a reason of {} bytes exceeds {MAX_CLOSE_REASON_BYTES}",
            reason.len()
        )));
    }
    Ok(())
}

/// Joins a body's bytes, as they arrive in frames of any size, back into messages. It holds at
/// most one unfinished record besides what the last [`push`](Self::push) brought, and refuses
/// a record longer than its limit as soon as its header is in, before any of its payload.
#[derive(Debug)]
pub struct MessageDecoder {
    buf: BytesMut,
    max: usize,
    closed: bool,
    failed: bool,
}

impl MessageDecoder {
    /// A decoder that refuses messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
            closed: false,
            failed: false,
        }
    }

    /// Adds the body's next bytes.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// The next whole message, or `None` until more bytes come. An error is final.
    pub fn next_message(&mut self) -> Result<Option<Message>, MessageError> {
        let result = self.decode();
        if result.is_err() {
            self.failed = true;
            self.buf = BytesMut::new();
        }
        result
    }

    fn decode(&mut self) -> Result<Option<Message>, MessageError> {
        if self.failed {
            return Err(MessageError::Unfinished("after an error"));
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.closed {
            return Err(MessageError::AfterClose);
        }
        let kind = self.buf[0];
        if !matches!(kind, kind::TEXT | kind::BINARY | kind::CLOSE) {
            return Err(MessageError::UnknownKind(kind));
        }
        if self.buf.len() < RECORD_HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        let max = if kind == kind::CLOSE {
            2 + MAX_CLOSE_REASON_BYTES
        } else {
            self.max
        };
        if len > max {
            return Err(MessageError::TooBig { len, max });
        }
        if self.buf.len() < RECORD_HEADER_LEN + len {
            // Room for the whole record, once: its payload then arrives without regrowing.
            self.buf.reserve(RECORD_HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(RECORD_HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        let message = match kind {
            kind::TEXT => Message::Text(String::from_utf8(payload.to_vec()).map_err(|_| MessageError::InvalidText)?),
            kind::BINARY => Message::Binary(payload),
            _ => {
                self.closed = true;
                match payload.len() {
                    0 => Message::Close {
                        code: close::NO_STATUS,
                        reason: String::new(),
                    },
                    1 => return Err(MessageError::InvalidClose("a 1-byte payload".into())),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        let reason = std::str::from_utf8(&payload[2..])
                            .map_err(|_| MessageError::InvalidClose("a reason that is not UTF-8".into()))?;
                        // On the wire a code is always one a peer may send: 1005 is "none
                        // came", which an empty payload says.
                        if !valid_close_code(code) {
                            return Err(MessageError::InvalidClose(format!("code {code} may not be sent")));
                        }
                        check_close(code, reason)?;
                        Message::Close {
                            code,
                            reason: reason.to_owned(),
                        }
                    }
                }
            }
        };
        Ok(Some(message))
    }

    /// Whether the stream's close arrived.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The body ended: an error if it ended inside a record.
    pub fn finish(&self) -> Result<(), MessageError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(MessageError::Unfinished("inside a message"))
        }
    }

    /// Bytes held: an unfinished record, and whole ones not yet taken.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// How the gateway closes the client when the function's side ends without a close of its
/// own: the code and the reason (docs/protocol.md, "WebSockets").
///
/// - the function's messages ended without a close: 1000, as if it had closed;
/// - the function failed at its invocation's deadline: [`close::GOING_AWAY`], so a client
///   reconnects (to a new invocation);
/// - any other failure of the function, of its socket or of its messages:
///   [`close::INTERNAL_ERROR`], the nearest a server may send to an abnormal close.
pub fn client_close_for_failure(
    failure: Option<&FunctionError>,
    error: Option<&dyn core::fmt::Display>,
) -> (u16, String) {
    let reason = |s: &str| super::codec::truncate_to(s, MAX_CLOSE_REASON_BYTES).to_owned();
    match (failure, error) {
        (Some(f), _) if f.code == ErrorCode::DEADLINE => (close::GOING_AWAY, reason(&f.message)),
        (Some(f), _) => (close::INTERNAL_ERROR, reason(&f.message)),
        (None, Some(e)) => (close::INTERNAL_ERROR, reason(&e.to_string())),
        (None, None) => (close::NORMAL, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], cut: usize) -> Result<Vec<Message>, MessageError> {
        let mut d = MessageDecoder::new(MAX_MESSAGE_BYTES);
        let mut out = vec![];
        for piece in bytes.chunks(cut.max(1)) {
            d.push(piece);
            while let Some(m) = d.next_message()? {
                out.push(m);
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn a_close_built_by_hand_is_checked_before_it_is_sent() {
        let bad = |code: u16, reason: &str| {
            Message::Close {
                code,
                reason: reason.into(),
            }
            .encode(MAX_MESSAGE_BYTES)
        };
        assert!(matches!(bad(999, ""), Err(MessageError::InvalidClose(_))));
        assert!(
            matches!(bad(close::NO_STATUS, "x"), Err(MessageError::InvalidClose(_))),
            "a reason without a code would claim bytes never sent"
        );
        assert!(matches!(
            bad(1000, &"r".repeat(124)),
            Err(MessageError::InvalidClose(_))
        ));
        assert!(bad(4000, "fine").is_ok());
    }

    #[test]
    fn records_have_the_documented_layout() {
        let text = Message::Text("hé".into()).encode(MAX_MESSAGE_BYTES).unwrap();
        assert_eq!(&text[..], b"\x01\x00\x00\x00\x03h\xc3\xa9");
        let binary = Message::Binary(Bytes::from_static(&[0, 255])).encode(16).unwrap();
        assert_eq!(&binary[..], b"\x02\x00\x00\x00\x02\x00\xff");
        let close = Message::close(4001, "bye").unwrap().encode(16).unwrap();
        assert_eq!(&close[..], b"\x08\x00\x00\x00\x05\x0f\xa1bye");
        let bare = Message::close(close::NO_STATUS, "").unwrap().encode(16).unwrap();
        assert_eq!(&bare[..], b"\x08\x00\x00\x00\x00");
    }

    #[test]
    fn messages_survive_any_cut_of_the_stream_with_kinds_and_boundaries_kept() {
        let messages = vec![
            Message::Text(String::new()),
            Message::Binary(Bytes::new()),
            Message::Text("ünïcödé".into()),
            Message::Binary(Bytes::from(vec![7u8; 70_000])),
            Message::Text("1".into()),
            Message::close(1000, "done").unwrap(),
        ];
        let mut stream = Vec::new();
        for m in &messages {
            stream.extend_from_slice(&m.clone().encode(MAX_MESSAGE_BYTES).unwrap());
        }
        for cut in [1, 2, 4, 5, 6, 13, 4096, 65_536, stream.len()] {
            assert_eq!(decode_all(&stream, cut).unwrap(), messages, "cut every {cut} bytes");
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused_by_its_header_before_its_payload() {
        let mut d = MessageDecoder::new(10);
        d.push(&[kind::BINARY, 0, 0, 0, 11]);
        assert_eq!(d.next_message(), Err(MessageError::TooBig { len: 11, max: 10 }));
        assert_eq!(MessageError::TooBig { len: 11, max: 10 }.close_code(), 1009);
        assert_eq!(
            Message::Binary(Bytes::from(vec![0; 11])).encode(10),
            Err(MessageError::TooBig { len: 11, max: 10 })
        );
        // A whole 16 MiB message is within the limit.
        let exact = Message::Binary(Bytes::from(vec![1; MAX_MESSAGE_BYTES]));
        assert!(exact.record_header(MAX_MESSAGE_BYTES).is_ok());
    }

    #[test]
    fn bad_streams_are_refused_with_what_is_wrong() {
        let bad: [(&[u8], MessageError); 7] = [
            (b"\x03\x00\x00\x00\x00", MessageError::UnknownKind(3)),
            (b"\x01\x00\x00\x00\x01\xff", MessageError::InvalidText),
            (
                b"\x08\x00\x00\x00\x01\x03",
                MessageError::InvalidClose("a 1-byte payload".into()),
            ),
            (
                b"\x08\x00\x00\x00\x02\x03\xed",
                MessageError::InvalidClose("code 1005 may not be sent".into()),
            ),
            (b"\x08\x00\x00\x00\x00\x02\x00\x00\x00\x00", MessageError::AfterClose),
            (b"\x02\x00\x00\x00\x05ab", MessageError::Unfinished("inside a message")),
            (b"\x08\x00\x00\x00\x80", MessageError::TooBig { len: 128, max: 125 }),
        ];
        for (bytes, want) in bad {
            assert_eq!(decode_all(bytes, 3), Err(want), "{bytes:?}");
        }
        let long = "x".repeat(MAX_CLOSE_REASON_BYTES + 1);
        assert!(matches!(Message::close(1000, long), Err(MessageError::InvalidClose(_))));
        assert!(matches!(
            Message::close(1005, "why"),
            Err(MessageError::InvalidClose(_))
        ));
    }

    #[test]
    fn the_close_codes_a_peer_may_send() {
        for code in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(valid_close_code(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!valid_close_code(code), "{code}");
        }
    }

    #[test]
    fn the_client_is_closed_with_a_code_that_says_why_the_function_side_ended() {
        let deadline = FunctionError {
            code: ErrorCode::DEADLINE,
            message: super::super::DEADLINE_MESSAGE.into(),
        };
        assert_eq!(
            client_close_for_failure(Some(&deadline), None),
            (1001, "the function reached its deadline".into())
        );
        let handler = FunctionError {
            code: ErrorCode::HANDLER,
            message: "x".repeat(300),
        };
        let (code, reason) = client_close_for_failure(Some(&handler), None);
        assert_eq!((code, reason.len()), (1011, MAX_CLOSE_REASON_BYTES));
        assert_eq!(client_close_for_failure(None, None), (1000, String::new()));
    }
}
