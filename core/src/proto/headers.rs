//! Header blocks: a count, then length-prefixed names and values (docs/protocol.md,
//! "Header block").
//!
//! Names are lowercase HTTP tokens and values follow RFC 9110 (visible ASCII, space, tab
//! and obs-text, so non-ASCII bytes survive). Repeated names stay repeated, in order.

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::codec::{DecodeError, Reader};
use super::config::MAX_HEADER_COUNT;

/// Encoded size of a header block.
pub fn encoded_len(headers: &HeaderMap) -> usize {
    2 + headers
        .iter()
        .map(|(n, v)| 4 + n.as_str().len() + v.len())
        .sum::<usize>()
}

/// Appends a header block. The caller has checked it against the size limit, which keeps
/// every length within `u16`.
pub(crate) fn encode(headers: &HeaderMap, out: &mut BytesMut) {
    out.put_u16(headers.len() as u16);
    for (name, value) in headers {
        out.put_u16(name.as_str().len() as u16);
        out.put_slice(name.as_str().as_bytes());
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
}

pub(crate) fn decode(r: &mut Reader<'_>) -> Result<HeaderMap, DecodeError> {
    let count = usize::from(r.u16("header count")?);
    // `HeaderMap` panics when it grows past about 24,000 entries; the count is refused well
    // before that, and before the map is allocated.
    if count > MAX_HEADER_COUNT {
        return Err(DecodeError::FieldTooLarge {
            field: "header count",
            len: count,
            max: MAX_HEADER_COUNT,
        });
    }
    let mut headers = HeaderMap::with_capacity(count);
    for _ in 0..count {
        let len = r.u16("header name length")? as usize;
        let raw = r.raw(len, "header name")?;
        let name = HeaderName::from_lowercase(raw)
            .map_err(|_| DecodeError::InvalidHeaderName(String::from_utf8_lossy(raw).into_owned()))?;
        let len = r.u16("header value length")? as usize;
        let raw = r.raw(len, "header value")?;
        let value = HeaderValue::from_bytes(raw).map_err(|_| DecodeError::InvalidHeaderValue {
            name: name.as_str().to_owned(),
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::proto::FrameType;

    #[test]
    fn refuses_more_headers_than_the_cap_before_building_the_map() {
        let mut block = BytesMut::from(&[0x20][..]);
        block.put_u16(MAX_HEADER_COUNT as u16 + 1);
        for _ in 0..=MAX_HEADER_COUNT {
            block.put_slice(&[0, 1, b'a', 0, 0]);
        }
        let msg: Bytes = block.freeze();
        let mut r = Reader::new(&msg, FrameType::RESPONSE_HEAD);
        assert_eq!(
            decode(&mut r),
            Err(DecodeError::FieldTooLarge {
                field: "header count",
                len: MAX_HEADER_COUNT + 1,
                max: MAX_HEADER_COUNT
            })
        );
    }

    #[test]
    fn a_block_declaring_30000_headers_is_refused_by_its_count_before_a_map_is_built() {
        // http::HeaderMap panics at about 24,000 entries: the count alone refuses the block,
        // before any entry is read or the map allocated.
        let mut block = BytesMut::from(&[0x20][..]);
        block.put_u16(30_000);
        let msg: Bytes = block.freeze();
        let mut r = Reader::new(&msg, FrameType::RESPONSE_HEAD);
        assert_eq!(
            decode(&mut r),
            Err(DecodeError::FieldTooLarge {
                field: "header count",
                len: 30_000,
                max: MAX_HEADER_COUNT
            })
        );
    }

    #[test]
    fn the_cap_itself_decodes() {
        let mut block = BytesMut::from(&[0x20][..]);
        block.put_u16(MAX_HEADER_COUNT as u16);
        for _ in 0..MAX_HEADER_COUNT {
            block.put_slice(&[0, 1, b'a', 0, 0]);
        }
        let msg: Bytes = block.freeze();
        let mut r = Reader::new(&msg, FrameType::RESPONSE_HEAD);
        assert_eq!(decode(&mut r).unwrap().len(), MAX_HEADER_COUNT);
    }

    #[test]
    fn encoded_len_matches_encoding() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.insert("x-name", HeaderValue::from_bytes("Grüße".as_bytes()).unwrap());
        let mut out = BytesMut::new();
        encode(&h, &mut out);
        assert_eq!(out.len(), encoded_len(&h));
    }
}
