//! Byte primitives of the wire format: a cursor that names every field it reads, the writers
//! for length-prefixed texts, and [`DecodeError`] (docs/protocol.md, "Frames").
//!
//! Integers are big-endian. A read that runs past the end fails with the name of the field it
//! wanted, without consuming anything further, so a truncated message is told apart from one
//! with trailing bytes.

use bytes::{BufMut, Bytes, BytesMut};

use super::codes::FrameType;
use super::config::MAX_REASON_BYTES;

/// A cursor over one message; every read names the field it wanted.
pub(crate) struct Reader<'a> {
    msg: &'a Bytes,
    pos: usize,
    ty: FrameType,
}

impl<'a> Reader<'a> {
    /// A cursor after the type byte of `msg`, a frame of type `ty`.
    pub(crate) fn new(msg: &'a Bytes, ty: FrameType) -> Self {
        Self { msg, pos: 1, ty }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let msg: &'a [u8] = self.msg;
        let rest = &msg[self.pos..];
        if rest.len() < n {
            return Err(DecodeError::Truncated { frame: self.ty, field });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut be = [0u8; 8];
        be.copy_from_slice(b);
        Ok(u64::from_be_bytes(be))
    }

    /// A zero-copy slice of the message.
    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n, field)?;
        Ok(self.msg.slice(start..start + n))
    }

    /// Borrowed bytes of the message.
    pub(crate) fn raw(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.take(n, field)
    }

    /// A `u16`-length-prefixed UTF-8 text of at most [`MAX_REASON_BYTES`].
    pub(crate) fn text(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u16(field)?);
        if len > MAX_REASON_BYTES {
            return Err(DecodeError::FieldTooLarge {
                field,
                len,
                max: MAX_REASON_BYTES,
            });
        }
        let raw = self.take(len, field)?;
        core::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.msg.len() - self.pos
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { frame: self.ty, extra }),
        }
    }
}

/// Cuts `text` to at most [`MAX_REASON_BYTES`] at a character boundary.
pub fn truncate_reason(text: &str) -> &str {
    truncate_to(text, MAX_REASON_BYTES)
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Encoded size of a text written by [`put_text`].
pub(crate) fn text_len(text: &str) -> usize {
    2 + truncate_reason(text).len()
}

/// Writes a text as `u16` length and bytes, cut to [`MAX_REASON_BYTES`].
pub(crate) fn put_text(out: &mut BytesMut, text: &str) {
    let text = truncate_reason(text);
    // MAX_REASON_BYTES is far below u16::MAX.
    out.put_u16(text.len() as u16);
    out.put_slice(text.as_bytes());
}

/// `bytes` as lowercase hex: tokens, their bindings, SigV4's hashes and signatures.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Why a message is not a valid frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message has no bytes at all.
    #[error("empty message")]
    Empty,
    /// A message handed in as an external body frame that is not one (a driver's mistake).
    #[error("{0} frame handed in as a body frame")]
    NotABody(FrameType),
    /// The first byte names no frame type of this protocol version.
    #[error("unknown frame type {0:?}")]
    UnknownType(FrameType),
    /// The message ends before a field it must have.
    #[error("truncated {frame} frame: missing {field}")]
    Truncated {
        /// The frame being decoded.
        frame: FrameType,
        /// The first field that did not fit.
        field: &'static str,
    },
    /// The message continues after the frame's last field.
    #[error("{extra} trailing bytes after {frame} frame")]
    Trailing {
        /// The frame being decoded.
        frame: FrameType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The message is longer than any frame within the limits could be.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// A length or count field exceeds its limit.
    #[error("{field} of {len} exceeds the limit of {max}")]
    FieldTooLarge {
        /// Which field.
        field: &'static str,
        /// Its length (or count).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A body frame with no payload, which would let a peer queue frames outside the window.
    #[error("{0} frame with an empty payload")]
    EmptyBody(FrameType),
    /// A response status outside 200..=599.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
    /// A header name that is not a lowercase HTTP token.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// A header value with bytes HTTP does not allow (control characters).
    #[error("invalid value for header {name}")]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// A text field that is not UTF-8.
    #[error("{field} is not valid utf-8")]
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_the_field_that_did_not_fit_and_consume_nothing_more() {
        let msg = Bytes::from_static(&[0x02, 0, 1, 0, 0, 0]);
        let mut r = Reader::new(&msg, FrameType::ACK);
        assert_eq!(r.u16("a"), Ok(1));
        assert_eq!(
            r.u64("b"),
            Err(DecodeError::Truncated {
                frame: FrameType::ACK,
                field: "b"
            })
        );
        assert_eq!(r.remaining(), 3);
        assert_eq!(
            r.finish(),
            Err(DecodeError::Trailing {
                frame: FrameType::ACK,
                extra: 3
            })
        );
    }

    #[test]
    fn texts_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_REASON_BYTES);
        assert_eq!(truncate_reason(&long).len(), MAX_REASON_BYTES);
        let mut out = BytesMut::new();
        put_text(&mut out, &long);
        assert_eq!(out.len(), text_len(&long));
        let msg = {
            let mut m = BytesMut::from(&[0x12][..]);
            m.extend_from_slice(&out);
            m.freeze()
        };
        let mut r = Reader::new(&msg, FrameType::ABORT);
        assert_eq!(r.text("reason").unwrap(), truncate_reason(&long));
        assert_eq!(r.finish(), Ok(()));
    }
}
