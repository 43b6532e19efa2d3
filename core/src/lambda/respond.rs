//! A relayed response: streamed over the socket, or answered in the invocation result when
//! it is small and complete the moment the handler returns it.

use std::fmt::Display;
use std::future::Future;
use std::pin::{pin, Pin};

use bytes::{Buf, Bytes};
use futures_util::FutureExt;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;

use super::websocket;
use crate::adapter::{self, FunctionUrlResult};
use crate::client::{self, ResponseWriter};
use crate::proto::{self, ErrorCode};

/// Runs the handler's future and streams its response until the gateway acknowledged its
/// end, or the relay was cancelled (the gateway aborted, the relay failed, the deadline
/// passed: then the handler's work is dropped).
pub(super) async fn relay_response<Fut, B, E>(
    response: Fut,
    writer: &mut ResponseWriter,
    head_request: bool,
) -> FunctionUrlResult
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let status = writer.status();
    let outcome = tokio::select! {
        r = stream_response(response, writer, head_request) => r,
        why = status.clone().cancellation() => Err(why),
    };
    // An inline answer was logged as it was made (`adapter::respond_inline`).
    let result = match outcome {
        Ok(Some(inline)) => return inline,
        Ok(None) => adapter::relay_result(None, None),
        Err(client::Error::Deadline) => {
            // The session failed the response with `deadline`; return once that reached the
            // gateway, as for any end.
            let _ = writer.closed().await;
            adapter::relay_result(Some(client::Error::Deadline), None)
        }
        Err(e) => adapter::relay_result(Some(e), None),
    };
    adapter::log_relay(status.relay_id(), &result, status.elapsed());
    result
}

/// Streams the handler's response, or returns it whole when it is small and complete the
/// moment the handler returns it (`adapter::respond_inline`): then it rides in the
/// invocation result and its first byte arrives as soon as a plain function's would.
async fn stream_response<Fut, B, E>(
    response: Fut,
    writer: &mut ResponseWriter,
    head_request: bool,
) -> Result<Option<FunctionUrlResult>, client::Error>
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return writer.fail(ErrorCode::HANDLER, &e.to_string()).await.map(|()| None),
    };
    let (mut head, body) = response.into_parts();
    if head.status == StatusCode::SWITCHING_PROTOCOLS {
        // Only an accepted WebSocket upgrade answers 101; its messages are the body.
        return match head.extensions.remove::<websocket::Accepted>() {
            Some(accepted) => websocket::serve(accepted, head.headers, writer).await.map(|()| None),
            None => writer
                .fail(
                    ErrorCode::HANDLER,
                    "a 101 response comes from WebSocketUpgrade::on_upgrade",
                )
                .await
                .map(|()| None),
        };
    }
    let mut body = pin!(body);
    let mut ready = match take_ready(body.as_mut()) {
        Ok(ready) => ready,
        Err(e) => return writer.fail(ErrorCode::BODY, &e.to_string()).await.map(|()| None),
    };
    if ready.complete {
        let inline = adapter::respond_inline(writer, head.status, head.headers.clone(), &ready.chunks, head_request);
        if inline.is_some() {
            return Ok(inline);
        }
    }
    if let Err(e) = writer.send_head(head.status, head.headers) {
        return match e {
            // A head the relay cannot carry (a 1xx status, too many headers): the handler's.
            client::Error::Usage(usage) => writer.fail(ErrorCode::HANDLER, &usage.to_string()).await.map(|()| None),
            other => Err(other),
        };
    }
    for bytes in std::mem::take(&mut ready.chunks) {
        writer.write(bytes).await?;
    }
    if !ready.complete {
        if let Err(e) = copy_body(body, writer, &mut ready.trailers).await? {
            return writer.fail(ErrorCode::BODY, &e).await.map(|()| None);
        }
    }
    writer.finish(ready.trailers).await.map(|()| None)
}

/// What a body has ready before anything waits: all of it, for a small complete body.
struct Ready {
    chunks: Vec<Bytes>,
    trailers: HeaderMap,
    /// Whether the body ended within what was ready.
    complete: bool,
}

/// Takes the frames a body has ready without waiting, up to just past the inline limit.
fn take_ready<B>(mut body: Pin<&mut B>) -> Result<Ready, B::Error>
where
    B: http_body::Body,
{
    let mut ready = Ready {
        chunks: Vec::new(),
        trailers: HeaderMap::new(),
        complete: false,
    };
    let mut len = 0;
    while len <= proto::INLINE_RESPONSE_LIMIT {
        match body.frame().now_or_never() {
            None => break,
            Some(None) => {
                ready.complete = true;
                break;
            }
            Some(Some(frame)) => match frame?.into_data() {
                Ok(mut data) => {
                    let bytes = data.copy_to_bytes(data.remaining());
                    len += bytes.len();
                    ready.chunks.push(bytes);
                }
                Err(frame) => ready.trailers.extend(frame.into_trailers().unwrap_or_default()),
            },
        }
    }
    Ok(ready)
}

/// Copies the rest of the body into the relay as the window allows. The outer error is the
/// relay's; the inner one the body's own failure, in words.
async fn copy_body<B>(
    mut body: Pin<&mut B>,
    writer: &mut ResponseWriter,
    trailers: &mut HeaderMap,
) -> Result<Result<(), String>, client::Error>
where
    B: http_body::Body,
    B::Error: Display,
{
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return Ok(Err(e.to_string())),
        };
        match frame.into_data() {
            Ok(mut data) => writer.write(data.copy_to_bytes(data.remaining())).await?,
            Err(frame) => trailers.extend(frame.into_trailers().unwrap_or_default()),
        }
    }
    Ok(Ok(()))
}
