// One relayed invocation on the JS side: a thin driver of the native connection. It reads
// the request body from it, writes the response into it in batches, races the Lambda
// deadline and the gateway's abort. The protocol itself is in Rust.

import type { BindingConnection } from "../binding.js";
import { type LambdaContext } from "./event.js";
import { call, native, RelayError, relayError } from "./native.js";

/** Bytes gathered into one native write at most; crossing into Rust once per small chunk is slow. */
export const BATCH_BYTES = 1024 * 1024;
/** Default time before the Lambda deadline at which the response is failed. */
export const DEADLINE_MARGIN_MS = 500;

export type ErrorKind = "handler_error" | "body_error" | "deadline" | "internal";

export class Relay {
  readonly conn: BindingConnection;
  readonly controller = new AbortController();
  #headSent = false;
  #ended = false;

  constructor(gatewayUrl: string, relayId: string, token: string, bodyMode: string) {
    try {
      this.conn = new native.BindingConnection(gatewayUrl, relayId, token, bodyMode);
    } catch (e) {
      throw relayError(e);
    }
    // The gateway aborted (the client went away) or the relay failed for good.
    this.conn.settled().then(
      (why) => {
        if (why !== null && !this.#ended) this.controller.abort(relayError(new Error(why)));
      },
      () => {},
    );
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

  sendHead(status: number, headers: string[][]): void {
    try {
      this.conn.sendHead(status, headers);
    } catch (e) {
      throw relayError(e);
    }
    this.#headSent = true;
  }

  write(chunks: Buffer[]): Promise<void> {
    if (chunks.length === 1) return call(() => this.conn.write(chunks[0]!));
    return call(() => this.conn.writev(chunks));
  }

  async finish(): Promise<void> {
    this.#ended = true;
    await call(() => this.conn.finish());
  }

  async fail(kind: ErrorKind, error: unknown): Promise<void> {
    this.#ended = true;
    const message = error instanceof Error ? error.message : String(error);
    await call(() => this.conn.fail(kind, message));
  }

  /** Runs `work`; if the deadline comes first, fails the response with `deadline`. */
  async withDeadline(context: LambdaContext, work: Promise<void>): Promise<void> {
    const remaining = context.getRemainingTimeInMillis?.();
    if (remaining === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), Math.max(0, remaining - DEADLINE_MARGIN_MS));
    });
    try {
      const first = await Promise.race([work.then(() => "done" as const), deadline]);
      if (first === "deadline") {
        await this.fail("deadline", new Error("the function reached its deadline"));
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Copies a byte stream into the relay, batching what arrives while a write is in flight, so
 * a fast producer crosses into Rust once per batch, and waiting on the window, so a slow
 * client slows the producer.
 */
export async function pipeBody(relay: Relay, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const onAbort = () => reader.cancel(relay.signal.reason).catch(() => {});
  relay.signal.addEventListener("abort", onAbort, { once: true });
  let queue: Buffer[] = [];
  let queued = 0;
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
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (failure) throw failure;
      if (done) break;
      if (!value.byteLength) continue;
      queue.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      queued += value.byteLength;
      inflight ??= flush();
      if (queued >= BATCH_BYTES) await inflight;
    }
    while (inflight) await inflight;
    if (failure) throw failure;
  } finally {
    relay.signal.removeEventListener("abort", onAbort);
  }
}

export { RelayError };
