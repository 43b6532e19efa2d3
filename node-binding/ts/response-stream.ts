// The Writable a streamifyHandler writes its response into.

import { Writable } from "node:stream";

import { constants } from "./native.js";
import { type FunctionUrlResult, headerPairs } from "./event.js";
import type { Relay } from "./relay.js";

/** The high-water mark of the response stream: batches writes across the boundary into Rust. */
export const HIGH_WATER_MARK = 1024 * 1024;

/** A Node Writable with the head-setting methods of `http.ServerResponse`. */
export abstract class ResponseStream extends Writable {
  statusCode = 200;
  #headers = new Map<string, string[]>();
  #headSent = false;

  constructor() {
    super({ highWaterMark: HIGH_WATER_MARK });
  }

  /** Sets a header (an array sets it several times, as for `set-cookie`). */
  setHeader(name: string, value: string | number | readonly string[]): this {
    if (this.#headSent) throw new Error("headers already sent");
    this.#headers.set(name.toLowerCase(), Array.isArray(value) ? [...value] : [String(value)]);
    return this;
  }

  getHeader(name: string): string | string[] | undefined {
    const v = this.#headers.get(name.toLowerCase());
    return v && (v.length === 1 ? v[0] : v);
  }

  removeHeader(name: string): void {
    this.#headers.delete(name.toLowerCase());
  }

  /** As `awslambda`'s response stream. */
  setContentType(type: string): void {
    this.setHeader("content-type", type);
  }

  writeHead(status: number, headers?: Record<string, string | number | readonly string[]>): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
    return this;
  }

  /** Sends the head now, before any body (as `http.ServerResponse`'s): for a response whose
   * first bytes take a while, such as server-sent events. */
  flushHeaders(): void {}

  get headersSent(): boolean {
    return this.#headSent;
  }

  protected takeHead(): { status: number; pairs: string[][] } {
    this.#headSent = true;
    const pairs: string[][] = [];
    for (const [name, values] of this.#headers) for (const v of values) pairs.push([name, v]);
    return { status: this.statusCode, pairs };
  }

  /** The headers as a Fetch `Headers` (repeated names kept). */
  headerObject(): Headers {
    const h = new Headers();
    for (const [name, values] of this.#headers) for (const v of values) h.append(name, v);
    return h;
  }
}

/**
 * Streams into the relay; the head goes out with the first bytes or at the end. Backpressure
 * counts chunks as well as bytes (each costs `chunkCostBytes` more), so a producer of tiny
 * chunks is held as a producer of large ones is.
 */
export class RelayResponseStream extends ResponseStream {
  readonly #relay: Relay;
  /** Set once the relay's response was ended or failed: the one way it closes. */
  #ending: Promise<void> | undefined;
  #queuedChunks = 0;
  #owesDrain = false;
  /**
   * What was written before the response started streaming: held until the stream ends (a
   * small response then rides in the invocation result) or a macrotask passes (it streams).
   * `null` once it streams.
   */
  #held: Buffer[] | null = [];
  #heldBytes = 0;
  /** The held chunks' way onto the socket, once it started. */
  #streaming: Promise<void> | undefined;
  #inline: FunctionUrlResult | undefined;

  constructor(relay: Relay) {
    super();
    this.#relay = relay;
    // Every error of this stream already fails the response (see _destroy) and reaches the
    // invocation's result; unlistened, it would also crash the whole function process.
    this.on("error", () => {});
  }

  #head(): void {
    if (!this.#relay.headSent) {
      const { status, pairs } = this.takeHead();
      this.#relay.sendHead(status, pairs);
    }
  }

  /** The invocation's result, if the response was answered inline (small and complete). */
  get inlineResult(): FunctionUrlResult | undefined {
    return this.#inline;
  }

  /** Stops holding: the head and what was held go onto the socket. */
  #stream(): Promise<void> {
    this.#streaming ??= (async () => {
      const held = this.#held ?? [];
      this.#held = null;
      this.#head();
      if (held.length) await this.#relay.write(held);
    })();
    return this.#streaming;
  }

  override flushHeaders(): void {
    if (this.#held && !this.writableEnded) void this.#stream().catch((e) => this.destroy(e));
  }

  /** Fails the response, once: a handler error before the head, a body error after it. */
  fail(error: unknown): Promise<void> {
    this.#ending ??= this.#relay.headSent ? this.#relay.bodyFailed(error) : this.#relay.handlerFailed(error);
    return this.#ending;
  }

  #underLimit(): boolean {
    return this.writableLength + this.#queuedChunks * constants.chunkCostBytes < this.writableHighWaterMark;
  }

  /** `n` chunks left the queue: pays back a 'drain' the chunk count held back. */
  #taken(n: number): void {
    this.#queuedChunks -= n;
    process.nextTick(() => {
      if (this.#owesDrain && this.#underLimit()) {
        this.#owesDrain = false;
        this.emit("drain");
      }
    });
  }

  // Writable's own signature, overloads and all.
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    const ok = super.write(chunk, encoding, callback);
    this.#queuedChunks++;
    if (!ok || this.#underLimit()) return ok;
    // Writable would say yes by bytes; the chunk count says no. Owe the caller a 'drain'.
    this.#owesDrain = true;
    return false;
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    if (this.#held) {
      for (const { chunk } of chunks) {
        // A copy: the caller may reuse its buffer once the callback ran.
        this.#held.push(Buffer.from(chunk));
        this.#heldBytes += chunk.byteLength;
      }
      if (this.#heldBytes <= constants.inlineResponseLimit) {
        // Still small: it may end before the next macrotask and skip the socket.
        if (this.#held.length === chunks.length) setImmediate(() => this.#stream().catch((e) => this.destroy(e)));
        this.#taken(chunks.length);
        return callback();
      }
      this.#taken(chunks.length);
      return void this.#stream().then(() => callback(), callback);
    }
    void (this.#streaming ?? Promise.resolve())
      .then(() => this.#relay.write(chunks.map((c) => c.chunk)))
      .then(
      () => {
        this.#taken(chunks.length);
        callback();
      },
      callback,
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#held) {
      const { status } = this.takeHead();
      const inline = this.#relay.respondInline(status, headerPairs(this.headerObject()), this.#held);
      if (inline) {
        this.#held = null;
        this.#inline = inline;
        this.#ending = Promise.resolve();
        return callback();
      }
    }
    this.#ending ??= this.#stream().then(() => this.#relay.finish());
    this.#ending.then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before it ended (with or without an error): the response must not look
    // complete, and the relay must not wait for an end that never comes.
    if (!this.#ending) this.fail(error ?? new Error("the response stream was destroyed before it ended")).catch(() => {});
    callback(error);
  }
}

/** What `HttpResponseStream.from` sets: the response's status, headers and cookies. */
export interface HttpResponseMetadata {
  statusCode?: number;
  headers?: Record<string, string | number | readonly string[]>;
  cookies?: string[];
}

/**
 * `awslambda.HttpResponseStream`'s shape: `HttpResponseStream.from(responseStream, { statusCode,
 * headers, cookies })` sets the head of a lambda-relay response stream and returns it, as
 * AWS's examples and templates do with theirs.
 */
export class HttpResponseStream {
  static from(stream: ResponseStream, metadata: HttpResponseMetadata = {}): ResponseStream {
    if (metadata.statusCode !== undefined) stream.statusCode = metadata.statusCode;
    for (const [name, value] of Object.entries(metadata.headers ?? {})) stream.setHeader(name, value);
    if (metadata.cookies?.length) stream.setHeader("set-cookie", metadata.cookies);
    return stream;
  }
}

/** Collects the response for a direct (buffered) result. */
export class BufferedResponseStream extends ResponseStream {
  readonly #chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#chunks.push(chunk);
    callback();
  }

  body(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}
