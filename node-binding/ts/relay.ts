// One relayed invocation on the JS side: a thin driver of the native connection. It reads
// the request body from it and writes the response into it in batches; the protocol, the
// deadline and the invocation's result are decided in Rust.

import type { BindingConnection } from "../binding.js";
import { type FunctionUrlResult } from "./event.js";
import { call, constants, relayError } from "./native.js";

/** Below this average size, a batch's chunks are joined before they cross into Rust. */
const SMALL_CHUNK_BYTES = 4096;

export class Relay {
  readonly controller = new AbortController();
  /** Rejects when the relay is cancelled: the gateway aborted, it failed, or the deadline passed. */
  readonly cancelled: Promise<never>;
  #headSent = false;
  #ended = false;

  constructor(readonly conn: BindingConnection) {
    this.cancelled = new Promise<never>((_, reject) => {
      conn.settled().then(
        (why) => {
          if (why === null) return;
          const error = relayError(why);
          this.controller.abort(error);
          reject(error);
        },
        () => {},
      );
    });
    this.cancelled.catch(() => {});
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  /** The request body as a stream that pulls from the gateway. */
  requestBody(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const conn = this.conn;
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        const chunk = await call(() => conn.read());
        if (chunk === null) controller.close();
        else controller.enqueue(new Uint8Array(chunk.buffer as ArrayBuffer, chunk.byteOffset, chunk.byteLength));
      },
    });
  }

  /** Accepts the client's WebSocket upgrade: the gateway answers the client 101. */
  acceptWebSocket(headers: string[][]): void {
    try {
      this.conn.acceptWebSocket(headers);
    } catch (e) {
      throw relayError(e);
    }
    this.#headSent = true;
  }

  sendHead(status: number, headers: string[][]): void {
    try {
      this.conn.sendHead(status, headers);
    } catch (e) {
      throw relayError(e);
    }
    this.#headSent = true;
  }

  /**
   * Answers in the invocation result instead of over the socket, if this response may (small,
   * complete, and the request body did not stream; `adapter::respond_inline` decides): the
   * result, or `null` if it must go over the socket after all.
   */
  respondInline(status: number, headers: string[][], body: Buffer[]): FunctionUrlResult | null {
    const result = this.conn.respondInline(status, headers, body) as FunctionUrlResult | null;
    if (result) this.#ended = true;
    return result;
  }

  write(chunks: Buffer[]): Promise<void> {
    // Many small chunks cross as one: napi holds a reference per Buffer until the call
    // settles, which for thousands of one-byte chunks costs far more memory than one copy.
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.byteLength;
    const batch = chunks.length > 1 && bytes < chunks.length * SMALL_CHUNK_BYTES ? [Buffer.concat(chunks, bytes)] : chunks;
    return call(() => this.conn.write(batch));
  }

  finish(): Promise<void> {
    this.#ended = true;
    return call(() => this.conn.finish());
  }

  /** Fails the response because the handler threw (before the head, the client gets a 502). */
  handlerFailed(error: unknown): Promise<void> {
    this.#ended = true;
    return call(() => this.conn.handlerFailed(message(error)));
  }

  /** Fails the response because its body failed (after the head, the client's transfer aborts). */
  bodyFailed(error: unknown): Promise<void> {
    this.#ended = true;
    return call(() => this.conn.bodyFailed(message(error)));
  }

  /**
   * The invocation's result, once the relay is over. `work` is what the handler does; if the
   * relay is cancelled first it is not waited for (nobody will read what it makes). If the
   * work failed before it ended the response (a head the relay refused, say), the response
   * is failed here, so the client learns and the relay ends.
   */
  async result(work: Promise<FunctionUrlResult | void>): Promise<FunctionUrlResult> {
    let failure: string | null = null;
    try {
      // A response answered inline is the result itself.
      const inline = await Promise.race([work, this.cancelled]);
      if (inline) return inline;
    } catch (e) {
      if (!this.signal.aborted) {
        failure = message(e);
        if (!this.#ended) await (this.#headSent ? this.bodyFailed(e) : this.handlerFailed(e)).catch(() => {});
      }
    }
    return this.conn.result(failure) as Promise<FunctionUrlResult>;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a body had ready before anything waited: all of it when `done`. */
export interface Ready {
  chunks: Buffer[];
  bytes: number;
  done: boolean;
  /** The read that was still waiting when `readReady` returned, if one was. */
  pending?: Promise<ReadableStreamReadResult<Uint8Array>>;
}

const NOT_READY = Symbol("not ready");
/** A small complete body comes in a chunk or a few; one in many chunks is a stream. */
const MAX_READY_CHUNKS = 64;

/**
 * Reads what the body has ready now, stopping at the first read that would wait (a
 * macrotask passed), once it holds more than `limit` bytes, or after a few dozen chunks. A
 * body made from a string or a buffer is ready at once, all of it.
 */
export async function readReady(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number): Promise<Ready> {
  const ready: Ready = { chunks: [], bytes: 0, done: false };
  // One macrotask for the whole look: what is ready comes in microtasks before it.
  const tick = new Promise<typeof NOT_READY>((resolve) => setImmediate(resolve, NOT_READY));
  while (ready.bytes <= limit && ready.chunks.length < MAX_READY_CHUNKS) {
    const read = reader.read();
    const next = await Promise.race([read, tick]);
    if (next === NOT_READY) {
      ready.pending = read;
      return ready;
    }
    if (next.done) {
      ready.done = true;
      return ready;
    }
    if (next.value.byteLength) {
      ready.chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      ready.bytes += next.value.byteLength;
    }
  }
  return ready;
}

/**
 * Copies a byte stream into the relay, after what `readReady` already took from it, batching
 * what arrives while a write is in flight, so a fast producer crosses into Rust once per
 * batch, and waiting on the window, so a slow client slows the producer. Read-ahead is
 * bounded by bytes and by chunk count (each chunk costs `chunkCostBytes` besides its bytes),
 * so a body of tiny chunks stays bounded too.
 */
export async function pipeBody(relay: Relay, reader: ReadableStreamDefaultReader<Uint8Array>, ready: Ready): Promise<void> {
  const onAbort = () => reader.cancel(relay.signal.reason).catch(() => {});
  relay.signal.addEventListener("abort", onAbort, { once: true });
  let queue: Buffer[] = [...ready.chunks];
  let queued = ready.bytes + ready.chunks.length * constants.chunkCostBytes;
  let inflight: Promise<void> | undefined;
  let failure: unknown;
  const flush = (): Promise<void> => {
    const batch = queue;
    queue = [];
    queued = 0;
    return relay.write(batch).then(
      () => {
        inflight = queue.length ? flush() : undefined;
        return inflight;
      },
      (e) => {
        failure = e;
        inflight = undefined;
      },
    );
  };
  if (queue.length) inflight = flush();
  let pending = ready.pending;
  try {
    while (!ready.done) {
      const { done, value } = await (pending ?? reader.read());
      pending = undefined;
      if (failure) throw failure;
      if (done) break;
      if (!value.byteLength) continue;
      queue.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      queued += value.byteLength + constants.chunkCostBytes;
      inflight ??= flush();
      if (queued >= constants.writeBatchBytes) await inflight;
    }
    while (inflight) await inflight;
    if (failure) throw failure;
  } finally {
    relay.signal.removeEventListener("abort", onAbort);
  }
}
