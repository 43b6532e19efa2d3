//! The bodies: the client's request body pumped into the session as the window allows, and
//! the client's response body pulled out of it as the client reads.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::{poll_fn, select, Either};
use futures_util::Stream;
use js_sys::{Promise, Uint8Array};
use lambda_relay::proto::{AbortCode, ResponsePart, StreamError, BODY_HEADER_LEN};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::driver::{client_left, drive, DriverRef};
use crate::web;

/// Streams the client's request body into the session as the window allows, and stops
/// reading it once the function wants no more (its response ended or failed).
///
/// The body is gathered into full frames without entering wasm memory: workerd hands a body
/// over in small pieces (~55 KiB a read), and a frame per piece costs a socket message each.
/// Each frame is a JS buffer with room for its 13-byte header, filled by the [`BodyGatherer`]
/// (gather.js: BYOB reads, a frame sent as soon as it is full or the client pauses for
/// [`GATHER_WAIT`], so a body that trickles is never held back). The session takes the frame
/// by its length ([`GatewaySession::write_external`](
/// lambda_relay::proto::GatewaySession::write_external)) and gives its header; the driver
/// keeps the frame until the function acknowledged it, for a resume. A full frame waits for
/// window before the next one is read.
pub(crate) async fn pump_request(driver: DriverRef, body: JsValue) {
    let _done = RequestRead(driver.clone());
    let Ok(gatherer) = BodyGatherer::new(&body) else {
        driver
            .borrow_mut()
            .session
            .abort(AbortCode::CLIENT_GONE, "the client's request body could not be read");
        return drive(&driver);
    };
    // Frames are as large as the function takes, which its hello says: nothing is read before.
    let Some(frame) = frame_size(&driver).await else {
        return drain(&gatherer).await;
    };
    let header_len = BODY_HEADER_LEN as u32;
    let pause_ms = GATHER_WAIT.as_millis() as u32;
    loop {
        if !driver.borrow().session.wants_request_body() {
            // The function wants no more (it answered early, or failed). A client still
            // uploading is owed that answer: the rest of its body is read and dropped (bounded)
            // while the response's end waits for it, so its connection is not closed under its
            // writes before it read the response. The function is not held by it.
            return drain(&gatherer).await;
        }
        // A frame's buffer comes back once the function acknowledged it: reusing it spares
        // the runtime a fresh allocation (and its pages) per frame.
        let buffer = driver
            .borrow_mut()
            .spare_frames
            .pop()
            .filter(|b| b.byte_length() == header_len + frame)
            .unwrap_or_else(|| js_sys::ArrayBuffer::new(header_len + frame));
        let fill = JsFuture::from(gatherer.fill(&buffer, header_len, frame, pause_ms));
        // A client that paused to wait for the response does not hold its end: once the
        // function wants no more, the read still pending is left to the drain.
        let gathered = match select(fill, no_longer_wanted(&driver)).await {
            Either::Left((Ok(gathered), _)) => gathered.as_f64().unwrap_or(0.0) as u32,
            Either::Left((Err(_), _)) => return body_failed(&driver),
            Either::Right(_) => return drain(&gatherer).await,
        };
        let ended = gatherer.ended();
        if gathered > 0 {
            let buffer = gatherer.frame();
            let written = poll_fn(|cx| {
                let mut guard = driver.borrow_mut();
                let relay = &mut *guard;
                let result = match relay.session.write_external(web::now(), gathered as usize) {
                    Ok((seq, header)) => {
                        relay.request_frame_waits = None;
                        let message = Uint8Array::new_with_byte_offset_and_length(&buffer, 0, header_len + gathered);
                        message.subarray(0, header_len).copy_from(&header);
                        relay.request_frames.push_back((seq, message));
                        Poll::Ready(Ok(()))
                    }
                    Err(StreamError::Blocked) => {
                        relay.request_frame_waits = Some(gathered as usize);
                        relay.request_waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                    Err(e) => {
                        relay.request_frame_waits = None;
                        Poll::Ready(Err(e))
                    }
                };
                drop(guard);
                drive(&driver);
                result
            })
            .await;
            if written.is_err() {
                // The function wants no more (or the relay ended): as above, unless the body
                // has ended (then there is nothing left to read).
                if ended {
                    return;
                }
                return drain(&gatherer).await;
            }
        }
        if ended {
            break;
        }
    }
    // A session that already ended (the client left, the function failed) has nothing to end.
    let finished = driver.borrow_mut().session.finish_request();
    if finished.is_ok() {
        drive(&driver);
    }
}

/// The body payload a frame carries, once the function's hello said what it takes; `None` if
/// the function stopped wanting the body first.
async fn frame_size(driver: &DriverRef) -> Option<u32> {
    poll_fn(|cx| {
        let mut relay = driver.borrow_mut();
        if !relay.session.wants_request_body() {
            return Poll::Ready(None);
        }
        match relay.session.frame_payload_limit() {
            0 => {
                relay.request_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            n => Poll::Ready(Some(n as u32)),
        }
    })
    .await
}

/// How long a frame that has bytes waits for more before it goes: a pause this long means the
/// client paused. Counted from the frame's first bytes, not from each read: a zero timer
/// raced against every read lost to reads still in flight, cut frames short and cost a
/// quarter of the throughput.
const GATHER_WAIT: Duration = Duration::from_millis(2);

/// Resolves once the session wants no more of the request body (the driver wakes the pump's
/// waker then).
fn no_longer_wanted(driver: &DriverRef) -> impl std::future::Future<Output = ()> + Unpin + '_ {
    poll_fn(move |cx| {
        let mut relay = driver.borrow_mut();
        if !relay.session.wants_request_body() {
            return Poll::Ready(());
        }
        relay.request_waker = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// The client's body failed to read: the client is gone.
fn body_failed(driver: &DriverRef) {
    driver
        .borrow_mut()
        .session
        .abort(AbortCode::CLIENT_GONE, "the client's request body failed");
    drive(driver);
}

/// Marks the client's body read (or given up on) when the pump ends, however it ends, and lets
/// the response's end go.
struct RequestRead(DriverRef);

impl Drop for RequestRead {
    fn drop(&mut self) {
        let mut relay = self.0.borrow_mut();
        relay.request_pending = false;
        if let Some(waker) = relay.end_waker.take() {
            waker.wake();
        }
    }
}

/// The most of a client's body read and dropped after the function wanted no more of it.
const DRAIN_LIMIT: f64 = 1024.0 * 1024.0 * 1024.0;

/// How long a drain waits for the client's next bytes before it gives up on the rest.
const DRAIN_IDLE: Duration = Duration::from_secs(1);

/// Reads the rest of the client's body and drops it, until it ends, fails, pauses for
/// [`DRAIN_IDLE`], or [`DRAIN_LIMIT`] bytes were dropped (then the body is cancelled).
async fn drain(gatherer: &BodyGatherer) {
    let _ = JsFuture::from(gatherer.drain(DRAIN_LIMIT, DRAIN_IDLE.as_millis() as u32)).await;
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/gather.js")]
extern "C" {
    /// The client's request body gathered into frames (gather.js).
    type BodyGatherer;

    #[wasm_bindgen(constructor, catch)]
    fn new(body: &JsValue) -> std::result::Result<BodyGatherer, JsValue>;

    /// An async method: a failed read rejects its promise, it never throws.
    #[wasm_bindgen(method)]
    fn fill(this: &BodyGatherer, frame: &js_sys::ArrayBuffer, offset: u32, size: u32, pause_ms: u32) -> Promise;

    #[wasm_bindgen(method, getter)]
    fn frame(this: &BodyGatherer) -> js_sys::ArrayBuffer;

    #[wasm_bindgen(method, getter)]
    fn ended(this: &BodyGatherer) -> bool;

    #[wasm_bindgen(method)]
    fn drain(this: &BodyGatherer, limit: f64, idle_ms: u32) -> Promise;
}

/// The prefix of the error that aborts a client's response after its head.
const ABORT_PREFIX: &str = "lambda-relay aborted the response";

/// The error that aborts the client's transfer, so a truncated body never ends cleanly.
/// workerd reports a response body that errors as an uncaught exception of the request: it
/// is the only way to cut a transfer short there, and this prefix says it was meant.
fn abort(why: std::fmt::Arguments<'_>) -> JsValue {
    js_sys::Error::new(&format!("{ABORT_PREFIX}: {why}")).into()
}

/// The client's response body: the session's parts as they are read, body payloads as the
/// very views they arrived in. Reading a part consumes it, which is what lets the session
/// acknowledge and the function send more: a slow client slows the function.
pub(crate) struct BodyStream {
    driver: DriverRef,
    /// The function's end was read; it goes to the client once the request was read.
    ended: bool,
}

impl BodyStream {
    pub(crate) fn new(driver: DriverRef) -> Self {
        Self { driver, ended: false }
    }
}

impl Stream for BodyStream {
    type Item = std::result::Result<JsValue, JsValue>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut relay = this.driver.borrow_mut();
        if this.ended {
            return if relay.request_pending {
                relay.end_waker = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(None)
            };
        }
        let poll = match relay.session.read() {
            Ok(Some(ResponsePart::External(len))) => match relay.external_payloads.pop_front() {
                Some(view) if view.length() == len => Poll::Ready(Some(Ok(view.into()))),
                _ => Poll::Ready(Some(Err(abort(format_args!("a body part was lost in the gateway"))))),
            },
            Ok(Some(ResponsePart::Data(data))) => Poll::Ready(Some(Ok(js_sys::Uint8Array::from(&data[..]).into()))),
            // Workers cannot send trailers; the end is the end, once the request was read.
            Ok(Some(ResponsePart::End(_))) if relay.request_pending => {
                this.ended = true;
                relay.end_waker = Some(cx.waker().clone());
                drop(relay);
                drive(&this.driver);
                return Poll::Pending;
            }
            Ok(Some(ResponsePart::End(_))) => Poll::Ready(None),
            Ok(Some(ResponsePart::Failed(e))) => Poll::Ready(Some(Err(abort(format_args!(
                "the function failed after the head ({}): {}",
                e.code, e.message
            ))))),
            Ok(Some(ResponsePart::Head(_))) => unreachable!("the head is read before the body"),
            Ok(None) => {
                relay.body_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Some(Err(abort(format_args!("the relay failed: {e}"))))),
        };
        drop(relay);
        if poll.is_ready() {
            drive(&this.driver);
        }
        poll
    }
}
impl Drop for BodyStream {
    fn drop(&mut self) {
        // Dropped before the end: the client went away. Tell the function to stop.
        client_left(&self.driver, "the client disconnected");
    }
}
