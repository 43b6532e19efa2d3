//! Function URL events (payload v2) to `http` requests, and buffered responses back.

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::Engine;
use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Method, Request, Response};

use super::Error;
use crate::proto::InvocationResult;

/// Builds the request the handler sees, minus its body: method, path and query as the
/// client sent them, headers, and the event's `cookies` joined back into `cookie`.
pub(crate) fn request_parts(event: &mut LambdaFunctionUrlRequest) -> Result<http::request::Parts, Error> {
    let http = &event.request_context.http;
    let method = http.method.as_deref().unwrap_or("GET");
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| Error::Event(format!("invalid method {method:?}")))?;
    let path = event.raw_path.as_deref().or(http.path.as_deref()).unwrap_or("/");
    let mut uri = path.to_owned();
    if let Some(q) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(q);
    }
    let mut builder = Request::builder().method(method).uri(&uri);
    if let Some(headers) = builder.headers_mut() {
        *headers = std::mem::take(&mut event.headers);
        if let Some(cookies) = event.cookies.take().filter(|c| !c.is_empty()) {
            let joined =
                HeaderValue::from_str(&cookies.join("; ")).map_err(|_| Error::Event("invalid cookie".into()))?;
            headers.insert(COOKIE, joined);
        }
    }
    let (parts, ()) = builder
        .body(())
        .map_err(|e| Error::Event(format!("invalid request: {e}")))?
        .into_parts();
    Ok(parts)
}

/// The event's inline body, decoded.
pub(crate) fn request_body(event: &mut LambdaFunctionUrlRequest) -> Result<Bytes, Error> {
    let Some(body) = event.body.take() else {
        return Ok(Bytes::new());
    };
    if event.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| Error::Event(format!("body is not valid base64: {e}")))?;
        Ok(bytes.into())
    } else {
        Ok(body.into())
    }
}

/// A buffered Function URL result: UTF-8 bodies as text, others base64; every
/// `set-cookie` moved into `cookies`.
pub(crate) fn buffered_response(response: Response<Bytes>) -> LambdaFunctionUrlResponse {
    let (mut parts, body) = response.into_parts();
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.cookies = parts
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    parts.headers.remove(SET_COOKIE);
    out.headers = parts.headers;
    if !body.is_empty() {
        match std::str::from_utf8(&body) {
            Ok(text) => out.body = Some(text.to_owned()),
            Err(_) => {
                out.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
                out.is_base64_encoded = true;
            }
        }
    }
    out
}

/// The Function URL result for a relay invocation's [`InvocationResult`].
pub(crate) fn invocation_result(result: &InvocationResult) -> LambdaFunctionUrlResponse {
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(result.status);
    for (name, value) in result.headers() {
        out.headers.insert(name, HeaderValue::from_static(value));
    }
    out.body = Some(result.message.clone());
    out
}
