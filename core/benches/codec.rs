//! Codec throughput: encode + decode of 64 KiB body frames (`npm run bench`).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lambda_relay::proto::{Frame, Item, Limits};

fn codec(c: &mut Criterion) {
    let payload = Bytes::from(vec![0xa5u8; 64 * 1024]);
    let limits = Limits {
        max_payload: 64 * 1024,
        max_header_bytes: 64 * 1024,
    };
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    let mut out = BytesMut::with_capacity(70 * 1024);
    group.bench_function("encode+decode 64 KiB body frame", |b| {
        let mut seq = 0u64;
        b.iter(|| {
            out.clear();
            Frame::encode_sequenced(seq, &Item::ResponseBody(payload.clone()), &mut out);
            let msg = out.split().freeze();
            let frame = Frame::decode(&msg, &limits).expect("valid frame");
            seq += 1;
            std::hint::black_box(frame);
        })
    });
    group.bench_function("decode 64 KiB body frame", |b| {
        let mut buf = BytesMut::new();
        Frame::encode_sequenced(7, &Item::ResponseBody(payload.clone()), &mut buf);
        let msg = buf.freeze();
        b.iter(|| std::hint::black_box(Frame::decode(&msg, &limits).expect("valid frame")))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
