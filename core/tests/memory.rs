//! What the function side's session keeps in memory for bytes its peer has not yet
//! acknowledged, counted by the allocator: the window bounds the bytes a handler may have in
//! flight, and the memory behind them must be of the same order, however small the writes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use lambda_relay::proto::{BodyMode, Config, Exchange, Frame, FunctionSession, Hello, ResponseHead, Timestamp};

/// Counts the bytes allocated and not yet freed by the current thread.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + new_size as isize - layout.size() as isize));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

#[test]
fn small_writes_to_a_peer_that_never_acks_hold_memory_of_the_order_of_the_window() {
    let config = Config::default();
    let window = config.window as isize;
    let now = Timestamp::from_millis(0);
    let mut f = FunctionSession::new(config.clone(), Exchange::new(BodyMode::Inline), now).unwrap();
    f.socket_opened(now);
    let mut hello = BytesMut::new();
    Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window: config.window,
        max_payload: config.max_payload,
        max_header_bytes: config.max_header_bytes,
        keepalive_ms: 10_000,
    })
    .encode(&mut hello);
    f.handle_message(now, &hello.freeze()).unwrap();
    f.send_head(ResponseHead {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
    })
    .unwrap();
    while f.poll_transmit().is_some() {}

    // Server-sent events of 100 bytes, each sent as soon as it is written (the socket is
    // idle), to a gateway that takes them but never acknowledges any: the window fills.
    let before = live();
    let event = Bytes::from(vec![b'e'; 100]);
    let mut written = 0;
    while f.write(&mut event.clone()).unwrap_or(0) > 0 {
        written += event.len();
        while f.poll_transmit().is_some() {}
    }
    let held = live() - before;
    assert!(written > 10_000, "the window took {written} bytes");
    assert!(
        held < 4 * window,
        "{written} bytes in flight hold {} MiB (window {} MiB)",
        held >> 20,
        window >> 20
    );
}
