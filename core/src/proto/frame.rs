//! Frames and their byte layout (docs/protocol.md, "Frames").
//!
//! One frame travels in one binary WebSocket message, so the message length delimits it; the
//! variable-length fields still carry their own lengths, which lets the decoder tell a
//! truncated frame from one with trailing bytes. Integers are big-endian. Body payloads decode
//! as slices of the message (`Bytes::slice`), never copied.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use super::codec::{put_text, text_len, DecodeError, Reader};
use super::codes::{AbortCode, ErrorCode, FrameType};
use super::config::{Limits, SEQ_HEADER_LEN};
use super::headers;

/// Bytes before a body frame's payload: type, sequence number, length.
pub const BODY_HEADER_LEN: usize = 1 + 8 + 4;

/// Encoded size of a hello frame.
pub const HELLO_LEN: usize = 1 + 8 + 8 + 4 + 4 + 4 + 4;

/// One relay protocol frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// First frame on every socket, from both sides.
    Hello(Hello),
    /// Every sequenced frame below `acked` was consumed.
    Ack {
        /// The sequence number after the last consumed frame.
        acked: u64,
    },
    /// The gateway gives up on the exchange; not sequenced, it overtakes everything.
    Abort(Abort),
    /// A frame that carries data, numbered per direction from 0.
    Sequenced {
        /// This frame's sequence number.
        seq: u64,
        /// What it carries.
        item: Item,
    },
}

/// The contents of a hello frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sequence number the sender expects next: it holds every frame below.
    pub received: u64,
    /// Every frame below this one was consumed (an acknowledgement).
    pub acked: u64,
    /// Body bytes the sender is ready to hold unacknowledged.
    pub window: u32,
    /// Largest body payload per frame the sender accepts.
    pub max_payload: u32,
    /// Largest encoded header block the sender accepts.
    pub max_header_bytes: u32,
    /// The sender sends something (a keepalive ack at least) at least this often, in ms.
    pub keepalive_ms: u32,
}

/// Why the gateway aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Abort {
    /// Machine-readable reason.
    pub code: AbortCode,
    /// Human-readable reason, at most [`MAX_REASON_BYTES`](super::MAX_REASON_BYTES).
    pub reason: String,
}

/// What a sequenced frame carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A piece of the request body (never empty).
    RequestBody(Bytes),
    /// The request body is complete.
    RequestEnd,
    /// Status and headers of the response.
    ResponseHead(ResponseHead),
    /// A piece of the response body (never empty).
    ResponseBody(Bytes),
    /// The response is complete; trailers may be empty.
    ResponseEnd(HeaderMap),
    /// The response failed.
    Error(FunctionError),
    /// A body frame (`RequestBody` or `ResponseBody`) of this many bytes whose payload the
    /// driver holds where it arrived ([`Frame::decode_external`]); it encodes as the frame's
    /// header alone.
    External(FrameType, u32),
}

impl Item {
    /// The wire type of the frame that carries this item.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Item::RequestBody(_) => FrameType::REQUEST_BODY,
            Item::RequestEnd => FrameType::REQUEST_END,
            Item::ResponseHead(_) => FrameType::RESPONSE_HEAD,
            Item::ResponseBody(_) => FrameType::RESPONSE_BODY,
            Item::ResponseEnd(_) => FrameType::RESPONSE_END,
            Item::Error(_) => FrameType::ERROR,
            Item::External(ty, _) => *ty,
        }
    }

    /// Body bytes this item carries.
    pub fn body_len(&self) -> usize {
        match self {
            Item::RequestBody(b) | Item::ResponseBody(b) => b.len(),
            Item::External(_, len) => *len as usize,
            _ => 0,
        }
    }

    /// What this item counts against the window: a body frame's payload plus
    /// [`BODY_FRAME_COST`](super::BODY_FRAME_COST); nothing for the others.
    pub fn window_cost(&self) -> u64 {
        match self {
            Item::RequestBody(b) | Item::ResponseBody(b) => b.len() as u64 + super::config::BODY_FRAME_COST,
            Item::External(_, len) => u64::from(*len) + super::config::BODY_FRAME_COST,
            _ => 0,
        }
    }

    /// The encoded size of the header block this item carries, if it carries one.
    pub fn header_block_len(&self) -> Option<usize> {
        match self {
            Item::ResponseHead(h) => Some(headers::encoded_len(&h.headers)),
            Item::ResponseEnd(t) => Some(headers::encoded_len(t)),
            _ => None,
        }
    }
}

/// Status and headers of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The HTTP status, 100..=599.
    pub status: StatusCode,
    /// Headers in order, repeated names (such as `set-cookie`) kept.
    pub headers: HeaderMap,
}

/// A failure reported by the function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// Human-readable message, at most [`MAX_REASON_BYTES`](super::MAX_REASON_BYTES).
    pub message: String,
}

impl Frame {
    /// This frame's wire type.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Frame::Hello(_) => FrameType::HELLO,
            Frame::Ack { .. } => FrameType::ACK,
            Frame::Abort(_) => FrameType::ABORT,
            Frame::Sequenced { item, .. } => item.frame_type(),
        }
    }

    /// Decodes one message, refusing anything truncated, trailing, oversized or unknown.
    pub fn decode(msg: &Bytes, limits: &Limits) -> Result<Frame, DecodeError> {
        let Some(&code) = msg.first() else {
            return Err(DecodeError::Empty);
        };
        let ty = FrameType(code);
        let max = limits.max_message_len();
        if msg.len() > max {
            return Err(DecodeError::MessageTooLarge { len: msg.len(), max });
        }
        let mut r = Reader::new(msg, ty);
        let frame = match ty {
            FrameType::HELLO => Frame::Hello(Hello {
                received: r.u64("received")?,
                acked: r.u64("acked")?,
                window: r.u32("window")?,
                max_payload: r.u32("max_payload")?,
                max_header_bytes: r.u32("max_header_bytes")?,
                keepalive_ms: r.u32("keepalive_ms")?,
            }),
            FrameType::ACK => Frame::Ack { acked: r.u64("acked")? },
            FrameType::ABORT => Frame::Abort(Abort {
                code: AbortCode(r.u16("code")?),
                reason: r.text("reason")?,
            }),
            FrameType::REQUEST_BODY | FrameType::RESPONSE_BODY => {
                let (seq, len) = body_header(&mut r, limits)?;
                let data = r.bytes(len as usize, "payload")?;
                if data.is_empty() {
                    return Err(DecodeError::EmptyBody(ty));
                }
                let item = if ty == FrameType::REQUEST_BODY {
                    Item::RequestBody(data)
                } else {
                    Item::ResponseBody(data)
                };
                Frame::Sequenced { seq, item }
            }
            FrameType::REQUEST_END => Frame::Sequenced {
                seq: r.u64("seq")?,
                item: Item::RequestEnd,
            },
            FrameType::RESPONSE_HEAD => {
                let seq = r.u64("seq")?;
                let raw = r.u16("status")?;
                let status = match StatusCode::from_u16(raw) {
                    // 101 accepts a WebSocket upgrade; the session judges whether the exchange is one.
                    Ok(s)
                        if super::exchange::valid_response_status(raw)
                            || raw == super::exchange::WEBSOCKET_ACCEPT_STATUS =>
                    {
                        s
                    }
                    _ => return Err(DecodeError::InvalidStatus(raw)),
                };
                let headers = header_block(&mut r, limits)?;
                Frame::Sequenced {
                    seq,
                    item: Item::ResponseHead(ResponseHead { status, headers }),
                }
            }
            FrameType::RESPONSE_END => {
                let seq = r.u64("seq")?;
                Frame::Sequenced {
                    seq,
                    item: Item::ResponseEnd(header_block(&mut r, limits)?),
                }
            }
            FrameType::ERROR => {
                let seq = r.u64("seq")?;
                let code = ErrorCode(r.u16("code")?);
                let message = r.text("message")?;
                Frame::Sequenced {
                    seq,
                    item: Item::Error(FunctionError { code, message }),
                }
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish()?;
        Ok(frame)
    }

    /// Decodes a body frame whose payload stays with the driver: `head` is the message's first
    /// [`BODY_HEADER_LEN`] bytes, `payload_len` how many follow. It refuses exactly what
    /// [`Frame::decode`] of the whole message would, and yields [`Item::External`].
    pub fn decode_external(head: &Bytes, payload_len: usize, limits: &Limits) -> Result<Frame, DecodeError> {
        let Some(&code) = head.first() else {
            return Err(DecodeError::Empty);
        };
        let ty = FrameType(code);
        let total = head.len() + payload_len;
        let max = limits.max_message_len();
        if total > max {
            return Err(DecodeError::MessageTooLarge { len: total, max });
        }
        if ty != FrameType::REQUEST_BODY && ty != FrameType::RESPONSE_BODY {
            return Err(DecodeError::NotABody(ty));
        }
        let mut r = Reader::new(head, ty);
        let (seq, len) = body_header(&mut r, limits)?;
        let available = r.remaining() + payload_len;
        if (len as usize) > available {
            return Err(DecodeError::Truncated {
                frame: ty,
                field: "payload",
            });
        }
        if len == 0 {
            return Err(DecodeError::EmptyBody(ty));
        }
        if (len as usize) < available {
            return Err(DecodeError::Trailing {
                frame: ty,
                extra: available - len as usize,
            });
        }
        Ok(Frame::Sequenced {
            seq,
            item: Item::External(ty, len),
        })
    }

    /// Where a message may be split for [`Frame::decode_external`]: after its body frame
    /// header, if it is a body frame with a payload; `None` for every other message.
    pub fn external_split(msg_len: usize, first_byte: u8) -> Option<usize> {
        let ty = FrameType(first_byte);
        let body = ty == FrameType::REQUEST_BODY || ty == FrameType::RESPONSE_BODY;
        (body && msg_len > BODY_HEADER_LEN).then_some(BODY_HEADER_LEN)
    }

    /// Appends this frame's encoding to `out`.
    ///
    /// Texts longer than [`MAX_REASON_BYTES`](super::MAX_REASON_BYTES) are cut at a character boundary; header
    /// blocks are checked against the limits by the sessions before they get here.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_u8(self.frame_type().0);
        match self {
            Frame::Hello(h) => {
                out.put_u64(h.received);
                out.put_u64(h.acked);
                out.put_u32(h.window);
                out.put_u32(h.max_payload);
                out.put_u32(h.max_header_bytes);
                out.put_u32(h.keepalive_ms);
            }
            Frame::Ack { acked } => out.put_u64(*acked),
            Frame::Abort(a) => {
                out.put_u16(a.code.0);
                put_text(out, &a.reason);
            }
            Frame::Sequenced { seq, item } => put_sequenced(*seq, item, out),
        }
    }

    /// Appends the encoding of a sequenced frame without building a [`Frame`].
    pub fn encode_sequenced(seq: u64, item: &Item, out: &mut BytesMut) {
        out.reserve(SEQ_HEADER_LEN + item_len(item));
        out.put_u8(item.frame_type().0);
        put_sequenced(seq, item, out);
    }

    /// The exact number of bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Frame::Hello(_) => HELLO_LEN - 1,
            Frame::Ack { .. } => 8,
            Frame::Abort(a) => 2 + text_len(&a.reason),
            Frame::Sequenced { item, .. } => 8 + item_len(item),
        }
    }
}

fn put_sequenced(seq: u64, item: &Item, out: &mut BytesMut) {
    out.put_u64(seq);
    match item {
        Item::RequestBody(data) | Item::ResponseBody(data) => {
            out.put_u32(data.len() as u32);
            out.put_slice(data);
        }
        Item::RequestEnd => {}
        Item::ResponseHead(head) => {
            out.put_u16(head.status.as_u16());
            headers::encode(&head.headers, out);
        }
        Item::ResponseEnd(trailers) => headers::encode(trailers, out),
        Item::Error(e) => {
            out.put_u16(e.code.0);
            put_text(out, &e.message);
        }
        Item::External(_, len) => out.put_u32(*len),
    }
}

/// Encoded size of a sequenced item's fields after the sequence number.
fn item_len(item: &Item) -> usize {
    match item {
        Item::RequestBody(d) | Item::ResponseBody(d) => 4 + d.len(),
        Item::RequestEnd => 0,
        Item::ResponseHead(h) => 2 + headers::encoded_len(&h.headers),
        Item::ResponseEnd(t) => headers::encoded_len(t),
        Item::Error(e) => 2 + text_len(&e.message),
        Item::External(..) => 4,
    }
}

/// Reads a body frame's sequence number and length, refusing a length over the limit before
/// anything of the payload is read.
fn body_header(r: &mut Reader<'_>, limits: &Limits) -> Result<(u64, u32), DecodeError> {
    let seq = r.u64("seq")?;
    let len = r.u32("length")?;
    if len > limits.max_payload {
        return Err(DecodeError::FieldTooLarge {
            field: "body payload",
            len: len as usize,
            max: limits.max_payload as usize,
        });
    }
    Ok((seq, len))
}

/// Reads a header block: the rest of the message, checked against the limit first.
fn header_block(r: &mut Reader<'_>, limits: &Limits) -> Result<HeaderMap, DecodeError> {
    let block = r.remaining();
    if block > limits.max_header_bytes as usize {
        return Err(DecodeError::FieldTooLarge {
            field: "header block",
            len: block,
            max: limits.max_header_bytes as usize,
        });
    }
    headers::decode(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::MAX_REASON_BYTES;

    const LIMITS: Limits = Limits {
        max_payload: 64 * 1024,
        max_header_bytes: 64 * 1024,
    };

    fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
        Frame::decode(&Bytes::copy_from_slice(bytes), &LIMITS)
    }

    fn encode(frame: &Frame) -> Vec<u8> {
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(out.len(), frame.encoded_len());
        out.to_vec()
    }

    #[test]
    fn hello_bytes() {
        let frame = Frame::Hello(Hello {
            received: 2,
            acked: 1,
            window: 0x0010_0000,
            max_payload: 0x1_0000,
            max_header_bytes: 0x1_0000,
            keepalive_ms: 10_000,
        });
        let bytes = [
            0x01, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x01, 0x00, 0x00, 0x00, 0x00, 0x27, 0x10,
        ];
        assert_eq!(encode(&frame), bytes);
        assert_eq!(decode(&bytes).unwrap(), frame);
    }

    #[test]
    fn ack_bytes() {
        let bytes = [0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
        assert_eq!(decode(&bytes).unwrap(), Frame::Ack { acked: 256 });
        assert_eq!(encode(&Frame::Ack { acked: 256 }), bytes);
    }

    #[test]
    fn response_body_bytes_are_a_slice_of_the_message() {
        let msg = Bytes::from_static(&[0x21, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, b'a', b'b', b'c']);
        let Frame::Sequenced {
            seq: 7,
            item: Item::ResponseBody(data),
        } = Frame::decode(&msg, &LIMITS).unwrap()
        else {
            panic!("not a body frame");
        };
        assert_eq!(&data[..], b"abc");
        assert_eq!(data.as_ptr(), msg[13..].as_ptr(), "payload must not be copied");
    }

    #[test]
    fn response_head_bytes_keep_repeated_set_cookie() {
        let bytes: &[u8] = &[
            0x20, 0, 0, 0, 0, 0, 0, 0, 0, // type, seq 0
            0x00, 0xc8, // 200
            0x00, 0x02, // two headers
            0x00, 0x0a, b's', b'e', b't', b'-', b'c', b'o', b'o', b'k', b'i', b'e', 0x00, 0x03, b'a', b'=', b'1', 0x00,
            0x0a, b's', b'e', b't', b'-', b'c', b'o', b'o', b'k', b'i', b'e', 0x00, 0x03, b'b', b'=', b'2',
        ];
        let Frame::Sequenced {
            seq: 0,
            item: Item::ResponseHead(head),
        } = decode(bytes).unwrap()
        else {
            panic!("not a head");
        };
        assert_eq!(head.status, StatusCode::OK);
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            encode(&Frame::Sequenced {
                seq: 0,
                item: Item::ResponseHead(head)
            }),
            bytes
        );
    }

    #[test]
    fn error_and_abort_bytes() {
        let err = Frame::Sequenced {
            seq: 1,
            item: Item::Error(FunctionError {
                code: ErrorCode::HANDLER,
                message: "boom".into(),
            }),
        };
        assert_eq!(
            encode(&err),
            [0x23, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 4, b'b', b'o', b'o', b'm']
        );
        let abort = Frame::Abort(Abort {
            code: AbortCode::CLIENT_GONE,
            reason: "x".into(),
        });
        assert_eq!(encode(&abort), [0x12, 0, 1, 0, 1, b'x']);
        assert_eq!(decode(&encode(&abort)).unwrap(), abort);
    }

    #[test]
    fn request_end_and_response_end_bytes() {
        assert_eq!(
            decode(&[0x11, 0, 0, 0, 0, 0, 0, 0, 9]).unwrap(),
            Frame::Sequenced {
                seq: 9,
                item: Item::RequestEnd
            }
        );
        assert_eq!(
            decode(&[0x22, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0]).unwrap(),
            Frame::Sequenced {
                seq: 9,
                item: Item::ResponseEnd(HeaderMap::new())
            }
        );
    }

    #[test]
    fn refuses_empty_message() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
    }

    #[test]
    fn refuses_unknown_type_and_prints_it_in_hex() {
        let err = decode(&[0x7f, 1, 2]).unwrap_err();
        assert_eq!(err, DecodeError::UnknownType(FrameType(0x7f)));
        assert_eq!(err.to_string(), "unknown frame type FrameType(0x7f)");
    }

    #[test]
    fn refuses_truncated_frames_naming_the_field() {
        assert_eq!(
            decode(&[0x02, 0, 0, 0]),
            Err(DecodeError::Truncated {
                frame: FrameType::ACK,
                field: "acked"
            })
        );
        assert_eq!(
            decode(&[0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2]),
            Err(DecodeError::Truncated {
                frame: FrameType::RESPONSE_BODY,
                field: "payload"
            })
        );
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 1, 0, 4, b'x']),
            Err(DecodeError::Truncated {
                frame: FrameType::RESPONSE_HEAD,
                field: "header name"
            })
        );
    }

    #[test]
    fn refuses_trailing_bytes() {
        assert_eq!(
            decode(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]),
            Err(DecodeError::Trailing {
                frame: FrameType::REQUEST_END,
                extra: 1
            })
        );
    }

    #[test]
    fn refuses_oversized_payload_before_reading_it() {
        let mut msg = vec![0x10, 0, 0, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&(64 * 1024 + 1u32).to_be_bytes());
        assert_eq!(
            decode(&msg),
            Err(DecodeError::FieldTooLarge {
                field: "body payload",
                len: 65537,
                max: 65536
            })
        );
        let huge = vec![0x10; LIMITS.max_message_len() + 1];
        assert!(matches!(decode(&huge), Err(DecodeError::MessageTooLarge { .. })));
    }

    #[test]
    fn refuses_empty_body_frames() {
        assert_eq!(
            decode(&[0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::EmptyBody(FrameType::REQUEST_BODY))
        );
    }

    #[test]
    fn refuses_bad_status_and_headers() {
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0]),
            Err(DecodeError::InvalidStatus(99))
        );
        // 1xx heads are interim responses; the relay carries only the final one.
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 103, 0, 0]),
            Err(DecodeError::InvalidStatus(103))
        );
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 1, 0, 2, b'a', b' ', 0, 0]),
            Err(DecodeError::InvalidHeaderName("a ".into()))
        );
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 1, 0, 1, b'a', 0, 1, b'\n']),
            Err(DecodeError::InvalidHeaderValue { name: "a".into() })
        );
    }

    #[test]
    fn refuses_non_utf8_text() {
        assert_eq!(
            decode(&[0x12, 0, 1, 0, 1, 0xff]),
            Err(DecodeError::InvalidUtf8 { field: "reason" })
        );
    }

    #[test]
    fn cuts_long_reasons_at_a_char_boundary() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let frame = Frame::Abort(Abort {
            code: AbortCode::CLIENT_GONE,
            reason: long,
        });
        let Frame::Abort(back) = decode(&encode(&frame)).unwrap() else {
            panic!()
        };
        assert_eq!(back.reason.len(), MAX_REASON_BYTES);
    }
}

#[cfg(test)]
mod roundtrip {
    use proptest::prelude::*;

    use super::*;

    fn arb_headers() -> impl Strategy<Value = HeaderMap> {
        let name = "[a-z][a-z0-9-]{0,20}";
        let value = prop::collection::vec(
            prop::sample::select((0x20u8..0x7f).chain([b'\t']).chain(0x80..=0xff).collect::<Vec<_>>()),
            0..40,
        );
        prop::collection::vec((name, value), 0..8).prop_map(|pairs| {
            let mut map = HeaderMap::new();
            for (n, v) in pairs {
                let v = http::HeaderValue::from_bytes(&v).expect("generated from allowed bytes");
                map.append(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v);
            }
            map
        })
    }

    fn arb_item() -> impl Strategy<Value = Item> {
        let data = prop::collection::vec(any::<u8>(), 1..2048).prop_map(Bytes::from);
        prop_oneof![
            data.clone().prop_map(Item::RequestBody),
            Just(Item::RequestEnd),
            (200u16..600, arb_headers()).prop_map(|(s, headers)| Item::ResponseHead(ResponseHead {
                status: StatusCode::from_u16(s).unwrap(),
                headers
            })),
            data.prop_map(Item::ResponseBody),
            arb_headers().prop_map(Item::ResponseEnd),
            (any::<u16>(), ".{0,100}").prop_map(|(c, m)| Item::Error(FunctionError {
                code: ErrorCode(c),
                message: m
            })),
        ]
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            (
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>()
            )
                .prop_map(
                    |(received, acked, window, max_payload, max_header_bytes, keepalive_ms)| Frame::Hello(Hello {
                        received,
                        acked,
                        window,
                        max_payload,
                        max_header_bytes,
                        keepalive_ms
                    })
                ),
            any::<u64>().prop_map(|acked| Frame::Ack { acked }),
            (any::<u16>(), ".{0,100}").prop_map(|(c, reason)| Frame::Abort(Abort {
                code: AbortCode(c),
                reason
            })),
            (any::<u64>(), arb_item()).prop_map(|(seq, item)| Frame::Sequenced { seq, item }),
        ]
    }

    proptest! {
        #[test]
        fn every_frame_round_trips(frame in arb_frame()) {
            let limits = Limits { max_payload: 4096, max_header_bytes: 64 * 1024 };
            let mut out = BytesMut::new();
            frame.encode(&mut out);
            prop_assert_eq!(out.len(), frame.encoded_len());
            let msg = out.freeze();
            prop_assert_eq!(Frame::decode(&msg, &limits)?, frame);
            // Every strict prefix is refused as truncated, never accepted or panicking.
            for cut in 1..msg.len() {
                let err = Frame::decode(&msg.slice(..cut), &limits).unwrap_err();
                let truncated = matches!(err, DecodeError::Truncated { .. });
                prop_assert!(truncated, "prefix {} gave {:?}", cut, err);
            }
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(msg in prop::collection::vec(any::<u8>(), 0..256)) {
            let limits = Limits { max_payload: 64, max_header_bytes: 128 };
            let _ = Frame::decode(&Bytes::from(msg), &limits);
        }
    }
}
