//! The bodies: the client's request body pumped into the session as the window allows, and
//! the client's response body pulled out of it as the client reads.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::{poll_fn, select, Either};
use futures_util::Stream;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use lambda_relay::proto::{AbortCode, ResponsePart, StreamError, BODY_HEADER_LEN};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::driver::{client_left, drive, DriverRef};
use crate::web;

/// Streams the client's request body into the session as the window allows, and stops
/// reading it once the function wants no more (its response ended or failed).
///
/// The body is gathered into full frames without entering wasm memory: workerd hands a body
/// over in small pieces (~4 KiB chunks, ~55 KiB a read), and a frame per piece costs a socket
/// message each. Each frame is a JS buffer with room for its 13-byte header: its first read
/// (BYOB) fills it in place, later reads fill a scratch buffer that is copied in after them
/// (a read holds its whole buffer until it settles, and a frame must be sendable while one
/// is pending). The session takes the frame by its length ([`GatewaySession::write_external`](
/// lambda_relay::proto::GatewaySession::write_external)) and gives its header; the driver
/// keeps the frame until the function acknowledged it, for a resume.
///
/// Once a frame has its first bytes, later reads race one timer of [`GATHER_WAIT`]: a body
/// that flows fills the frame first; when the timer wins, the client paused, and what was
/// gathered goes out (the pending read carries on into the next frame), so a body that
/// trickles is never held back. A full frame waits for window before the next read starts.
pub(crate) async fn pump_request(driver: DriverRef, body: JsValue) {
    let _done = RequestRead(driver.clone());
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"byob".into());
    let Ok(reader) = call(&body, "getReader", &[options.into()]).map(ByobReader::from) else {
        driver
            .borrow_mut()
            .session
            .abort(AbortCode::CLIENT_GONE, "the client's request body could not be read");
        return drive(&driver);
    };
    // Frames are as large as the function takes, which its hello says: nothing is read before.
    let frame = match frame_size(&driver).await {
        Some(frame) => frame,
        None => return drain(&reader, None, js_sys::ArrayBuffer::new(DRAIN_BUFFER)).await,
    };
    let header_len = BODY_HEADER_LEN as u32;
    let mut scratch = js_sys::ArrayBuffer::new(frame);
    // A read still pending when its frame went out (into the scratch buffer), or when the
    // function stopped wanting the body (into the frame): the next frame, or the drain, takes it.
    let mut pending: Option<(JsFuture, Into)> = None;
    let mut ended = false;
    while !ended {
        if !driver.borrow().session.wants_request_body() {
            // The function wants no more (it answered early, or failed). A client still
            // uploading is owed that answer: the rest of its body is read and dropped (bounded)
            // while the response's end waits for it, so its connection is not closed under its
            // writes before it read the response. The function is not held by it.
            return drain(&reader, pending.map(|(read, _)| read), scratch).await;
        }
        // A frame's buffer comes back once the function acknowledged it: reusing it spares
        // the runtime a fresh allocation (and its pages) per frame.
        let mut buffer = driver
            .borrow_mut()
            .spare_frames
            .pop()
            .filter(|b| b.byte_length() == header_len + frame)
            .unwrap_or_else(|| js_sys::ArrayBuffer::new(header_len + frame));
        let mut gathered = 0;
        // Started with the frame's first bytes: reads that settle before it fires join the frame.
        let mut gather_wait: Option<worker::Delay> = None;
        while gathered < frame {
            let (read, into) = match pending.take() {
                Some(read) => read,
                None => {
                    let (target, into) = if gathered == 0 {
                        let view = Uint8Array::new_with_byte_offset_and_length(&buffer, header_len, frame);
                        (view, Into::Frame)
                    } else {
                        (
                            Uint8Array::new_with_byte_offset_and_length(&scratch, 0, frame - gathered),
                            Into::Scratch,
                        )
                    };
                    match reader.read(&target) {
                        Ok(promise) => (JsFuture::from(promise), into),
                        Err(_) => return body_failed(&driver),
                    }
                }
            };
            let result = match gather_wait.as_mut() {
                // A frame's first read waits for the client, unless the function stops wanting
                // the body meanwhile: then the read is left to the drain, so a client that
                // paused to wait for the response does not hold its end.
                None => match select(read, no_longer_wanted(&driver)).await {
                    Either::Left((result, _)) => result,
                    Either::Right((_, read)) => {
                        pending = Some((read, into));
                        break;
                    }
                },
                Some(wait) => match select(read, wait).await {
                    Either::Left((result, _)) => result,
                    Either::Right((_, read)) => {
                        // The client paused: send what there is, and keep the read.
                        pending = Some((read, into));
                        break;
                    }
                },
            };
            match read_result(result) {
                Ok(Some(value)) => {
                    // Each buffer was handed to its read and comes back in the view.
                    match into {
                        Into::Frame => buffer = value.buffer(),
                        Into::Scratch => {
                            scratch = value.buffer();
                            Uint8Array::new(&buffer).set(&value, header_len + gathered);
                        }
                    }
                    gathered += value.length();
                    gather_wait.get_or_insert_with(|| worker::Delay::from(GATHER_WAIT));
                }
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(()) => return body_failed(&driver),
            }
        }
        if gathered == 0 {
            continue;
        }
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
            // The function wants no more (or the relay ended): as above, unless the body has
            // ended (then there is nothing left to read).
            if ended {
                return;
            }
            return drain(&reader, pending.map(|(read, _)| read), scratch).await;
        }
    }
    // A session that already ended (the client left, the function failed) has nothing to end.
    let finished = driver.borrow_mut().session.finish_request();
    if finished.is_ok() {
        drive(&driver);
    }
}

/// Which buffer a read fills.
#[derive(Clone, Copy)]
enum Into {
    /// The frame's own, in place: the frame's first read.
    Frame,
    /// The scratch buffer, copied into the frame once the read settled.
    Scratch,
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

/// The buffer a drain reads into when no read was pending.
const DRAIN_BUFFER: u32 = 64 * 1024;

/// How long a frame that has bytes waits for more before it goes: a pause this long means the
/// client paused. One timer a frame, not one a read: a zero timer raced against every read
/// lost to reads still in flight, cut frames short and cost a quarter of the throughput.
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

/// A BYOB read's result: the view it filled, `None` at the body's end, `Err` when it failed.
fn read_result(result: std::result::Result<JsValue, JsValue>) -> std::result::Result<Option<Uint8Array>, ()> {
    let result = result.map_err(|_| ())?;
    if Reflect::get(&result, &"done".into()).map_err(|_| ())?.is_truthy() {
        return Ok(None);
    }
    Reflect::get(&result, &"value".into())
        .and_then(|v| v.dyn_into::<Uint8Array>())
        .map(Some)
        .map_err(|_| ())
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
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the rest of the client's body into `buffer` and drops it, until it ends, fails, pauses
/// for [`DRAIN_IDLE`], or [`DRAIN_LIMIT`] bytes were dropped (then the body is cancelled).
async fn drain(reader: &JsValue, pending: Option<JsFuture>, mut buffer: js_sys::ArrayBuffer) {
    let mut dropped = 0.0;
    if let Some(read) = pending {
        // The buffer went with the read still pending; it comes back with its result.
        let result = match select(read, worker::Delay::from(DRAIN_IDLE)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => {
                let _ = call(reader, "cancel", &[]);
                return;
            }
        };
        match read_result(result) {
            Ok(Some(value)) => {
                dropped += f64::from(value.length());
                buffer = value.buffer();
            }
            _ => return,
        }
    }
    while dropped < DRAIN_LIMIT {
        let Ok(read) = call(reader, "read", &[Uint8Array::new(&buffer).into()]) else {
            return;
        };
        let read = JsFuture::from(Promise::resolve(&read));
        let result = match select(read, worker::Delay::from(DRAIN_IDLE)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => break,
        };
        let Ok(Some(value)) = read_result(result) else {
            return;
        };
        dropped += f64::from(value.length());
        buffer = value.buffer();
    }
    let _ = call(reader, "cancel", &[]);
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A body's BYOB reader: read through a binding, not a property lookup per read.
    #[wasm_bindgen(js_name = ReadableStreamBYOBReader)]
    type ByobReader;

    #[wasm_bindgen(method, catch)]
    fn read(this: &ByobReader, view: &Uint8Array) -> std::result::Result<Promise, JsValue>;
}

/// Calls `target[method](...args)`.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> std::result::Result<JsValue, JsValue> {
    let function: Function = Reflect::get(target, &method.into())?.dyn_into()?;
    Reflect::apply(&function, target, &args.iter().collect::<Array>())
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
