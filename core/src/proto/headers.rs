//! Header blocks: a count, then length-prefixed names and values (docs/protocol.md,
//! "Header block").
//!
//! Names are lowercase HTTP tokens and values follow RFC 9110 (visible ASCII, space, tab
//! and obs-text, so non-ASCII bytes survive). Repeated names stay repeated, in order.

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::frame::{DecodeError, Reader};

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
    let count = r.u16("header count")?;
    // Every header takes at least five bytes, so the limit on the block bounds `count`
    // before the map grows.
    let mut headers = HeaderMap::new();
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
    use super::*;

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
