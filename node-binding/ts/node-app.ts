// nodeHandler: an Express, Fastify or Koa app (any `(req, res)` listener) as a Lambda handler.
//
// The app gets a real `http.IncomingMessage` and `http.ServerResponse`, attached to a socket
// that is the relay: Node itself writes the response as HTTP/1.1 into it, and the socket reads
// the head back out of those bytes and sends the body on as it comes. So every API of the two
// classes behaves as on a server (writeHead with raw header arrays, flushHeaders, HEAD and 204
// without a body, write's return value and 'drain'), with nothing reimplemented.

import { IncomingMessage, ServerResponse } from "node:http";
import { Duplex } from "node:stream";

import type { FunctionUrlHandler } from "./handlers.js";
import { streaming } from "./handlers.js";
import type { HandlerEnv } from "./event.js";
import type { ResponseStream } from "./response-stream.js";

/** A Node request listener: an Express app, `koa.callback()`, `http.createServer`'s argument. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What `nodeHandler` takes: a listener, a Koa app (`callback()`) or a Fastify instance. */
export type NodeApp =
  | NodeListener
  | { callback(): NodeListener }
  | { routing: NodeListener; ready(): PromiseLike<unknown> };

/** How much of the response the socket takes before `res.write` returns false. */
const SOCKET_HIGH_WATER_MARK = 64 * 1024;

/** Hop-by-hop headers of the HTTP/1.1 Node writes: the relay frames the body itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

/**
 * Wraps a Node HTTP app as a Lambda handler for Function URL events: an Express app, a Koa app,
 * a Fastify instance (made `ready()` on the first invocation) or any `(req, res)` listener.
 * Relayed, the request body streams into `req` as the client sends it, `res.write` returns
 * false and emits 'drain' as the relay's window fills and empties, `res.flushHeaders()` sends
 * the head at once, and when the client goes away `req` and `res` emit 'close' (before 'finish')
 * and `req` 'aborted'. Direct invocations get a buffered result.
 */
export function nodeHandler(app: NodeApp): FunctionUrlHandler {
  const prepare = preparer(app);
  let listener: Promise<NodeListener> | undefined;
  return streaming(async (request, stream, env) => {
    // A Fastify app whose ready() failed is asked again next time, not failed for good.
    const listen = await (listener ??= prepare().catch((e: unknown) => {
      listener = undefined;
      throw e;
    }));
    serveOne(listen, request, stream, env);
  });
}

/** How to get the app's listener, on the first invocation (so a Koa app's middleware and a
 * Fastify app's routes may still be added after `nodeHandler`); throws now if `app` is none. */
function preparer(app: NodeApp): () => Promise<NodeListener> {
  if (typeof app === "function") return async () => app;
  if (app && typeof (app as { callback?: unknown }).callback === "function") {
    const koa = app as { callback(): NodeListener };
    return async () => koa.callback();
  }
  if (app && typeof (app as { routing?: unknown }).routing === "function" && typeof (app as { ready?: unknown }).ready === "function") {
    const fastify = app as { routing: NodeListener; ready(): PromiseLike<unknown> };
    return async () => {
      await fastify.ready();
      return (req, res) => fastify.routing(req, res);
    };
  }
  throw new TypeError("nodeHandler takes a (req, res) listener (an Express app), a Koa app or a Fastify instance");
}

function serveOne(listen: NodeListener, request: Request, stream: ResponseStream, env: HandlerEnv): void {
  const { event } = env;
  const url = new URL(request.url);
  const socket = new RelaySocket(stream, event.requestContext?.http?.sourceIp, url.protocol === "https:");
  const req = new IncomingMessage(socket as never);
  req.method = request.method;
  // The path and query as sent (the URL parser would normalise them).
  const rawPath = typeof event.rawPath === "string" && event.rawPath.startsWith("/") ? event.rawPath : url.pathname;
  const rawQuery = typeof event.rawQueryString === "string" ? event.rawQueryString : url.search.slice(1);
  req.url = rawPath + (rawQuery ? `?${rawQuery}` : "");
  req.httpVersion = "1.1";
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  for (const [name, value] of request.headers) {
    if (name === "set-cookie") continue;
    req.headers[name] = value;
    req.rawHeaders.push(name, value);
  }
  if (request.body && req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) {
    // A body of unknown length reached Node's server chunked: body parsers look for one of
    // the two headers to know there is a body at all.
    req.headers["transfer-encoding"] = "chunked";
    req.rawHeaders.push("transfer-encoding", "chunked");
  }
  const body = request.body?.getReader();
  let reading = false;
  // Pulled as the app reads: a chunk is read off the relay while `req` wants more (push says
  // so; IncomingMessage does not ask again by itself, its parser used to push).
  const pull = (): void => {
    if (reading) return;
    if (!body) {
      req.complete = true;
      req.push(null);
      return;
    }
    reading = true;
    body.read().then(
      ({ done, value }) => {
        reading = false;
        if (done) {
          req.complete = true;
          req.push(null);
        } else if (req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
          pull();
        }
      },
      (e: unknown) => {
        reading = false;
        req.destroy(e instanceof Error ? e : new Error(String(e)));
      },
    );
  };
  req._read = pull;

  const res = new ServerResponse(req);
  // Node frames nothing: no chunked encoding, no keep-alive. The body's end is the response's.
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  const flushHeaders = res.flushHeaders;
  res.flushHeaders = function (this: ServerResponse) {
    socket.flushRequested = true;
    flushHeaders.call(this);
  };
  res.assignSocket(socket as never);
  socket.on("drain", () => {
    // As Node's server does for its sockets (socketOnDrain).
    if (!res.writableEnded && res.writableNeedDrain) {
      clearNeedDrain(res);
      res.emit("drain");
    }
  });
  res.once("finish", () => {
    // Everything Node wrote has reached the socket: the response ends there.
    socket.endResponse();
    process.nextTick(() => {
      // As Node's server: the request ends too ('end', then 'close'). A body the app left
      // unread is not read off the relay for nothing: it is cancelled.
      if (!req.readableEnded) {
        if (body) {
          body.cancel().catch(() => {});
          req.destroy();
        } else {
          req.resume();
        }
      }
      socket.destroy();
    });
  });
  const clientLeft = () => {
    // The client went away: what Node's server does when a connection closes mid-request.
    body?.cancel().catch(() => {});
    socket.destroy(request.signal.reason instanceof Error ? request.signal.reason : undefined);
    if (!req.destroyed) req.destroy();
  };
  if (request.signal.aborted) queueMicrotask(clientLeft);
  else request.signal.addEventListener("abort", clientLeft, { once: true });
  listen(req, res);
}

/**
 * The app's connection, which is the relay: it parses the head Node writes into the response
 * stream's status and headers, and passes the body on, taking the next bytes once the response
 * stream took these (so `res.write` returns false while the relay's window is full).
 */
class RelaySocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort = 0;
  readonly remoteFamily: string | undefined;
  readonly encrypted: boolean;
  /** `res.flushHeaders()` was called: the head goes out as soon as it is parsed. */
  flushRequested = false;
  readonly #stream: ResponseStream;
  /** The bytes of a head not yet complete, or null once the final head was parsed. */
  #head: Buffer | null = Buffer.alloc(0) as Buffer;
  #chunked: ChunkedDecoder | null = null;
  #ended = false;

  constructor(stream: ResponseStream, remoteAddress: string | undefined, encrypted: boolean) {
    super({ writableHighWaterMark: SOCKET_HIGH_WATER_MARK, allowHalfOpen: true });
    this.#stream = stream;
    this.remoteAddress = remoteAddress || undefined;
    this.remoteFamily = remoteAddress?.includes(":") ? "IPv6" : remoteAddress ? "IPv4" : undefined;
    this.encrypted = encrypted;
    // A failed write destroys the socket, which the app hears as its response's 'close';
    // unlistened, the error would also crash the process (a server listens for it too).
    this.on("error", () => {});
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#stream.destroyed) return callback(this.#aborted());
    try {
      let body = chunk;
      if (this.#head) {
        const rest = this.#takeHead(chunk);
        if (rest === null) return callback();
        body = rest;
      }
      if (this.#chunked) body = this.#chunked.decode(body);
      if (body.length === 0) return callback();
      // Called back once the response stream took the bytes (copied them on), not before:
      // the app may reuse its buffer after its own write's callback.
      this.#stream.write(body, (error) => callback(error ?? null));
    } catch (e) {
      callback(e as Error);
    }
  }

  #aborted(): Error {
    return this.#stream.errored ?? new Error("the response was aborted");
  }

  /** Takes the head's bytes; returns the body bytes after it, or null if it is not complete. */
  #takeHead(chunk: Buffer): Buffer | null {
    let head = Buffer.concat([this.#head!, chunk]);
    for (;;) {
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        this.#head = head;
        return null;
      }
      const lines = splitLines(head.subarray(0, end));
      const status = Number(lines[0]!.toString("latin1").slice(9, 12));
      const rest = head.subarray(end + 4);
      if (status >= 100 && status < 200) {
        // 100 Continue, 102, 103 Early Hints: interim heads, not the response's.
        head = rest;
        continue;
      }
      this.#head = null;
      const headers: Record<string, string[]> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(0x3a);
        const name = line.subarray(0, colon).toString("latin1").trim().toLowerCase();
        const value = headerText(line.subarray(colon + 1));
        // As Node decides to chunk a body (its own test of the header).
        if (name === "transfer-encoding" && /(?:^|\W)chunked(?:$|\W)/i.test(value)) this.#chunked = new ChunkedDecoder();
        if (HOP_BY_HOP.has(name)) continue;
        (headers[name] ??= []).push(value);
      }
      this.#stream.writeHead(status, headers);
      if (this.flushRequested) this.#stream.flushHeaders();
      return rest;
    }
  }

  /** The app's response is complete: end the response stream. */
  endResponse(): void {
    this.#ended = true;
    this.#stream.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The app destroyed its connection (res.destroy(), req.socket.destroy()) before the
    // response ended: the transfer is aborted, as a server's would be.
    if (!this.#ended && !this.#stream.destroyed) this.#stream.destroy(error ?? new Error("the app closed the connection before its response ended"));
    callback(error);
  }

  // What apps and frameworks call on a net.Socket.
  setTimeout(_ms: number, _callback?: () => void): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  address(): Record<string, never> {
    return {};
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** The lines of a head, as bytes. */
function splitLines(head: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  for (let at = 0; ; ) {
    const eol = head.indexOf("\r\n", at);
    lines.push(head.subarray(at, eol < 0 ? head.length : eol));
    if (eol < 0) return lines;
    at = eol + 2;
  }
}

/** A header value's bytes as the response stream takes them: a ByteString, byte for byte as
 * Node wrote it, with only spaces and tabs trimmed at its ends, as HTTP trims them. */
function headerText(bytes: Buffer): string {
  let start = 0;
  let end = bytes.length;
  while (start < end && (bytes[start] === 0x20 || bytes[start] === 0x09)) start++;
  while (end > start && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  return bytes.subarray(start, end).toString("latin1");
}

/** Decodes `transfer-encoding: chunked`, which Node writes when the app set that header. */
class ChunkedDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes left in the current chunk, or -1 while reading a size line. */
  #left = -1;
  #done = false;

  decode(input: Buffer): Buffer {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, input]) : input;
    const out: Buffer[] = [];
    while (!this.#done) {
      if (this.#left < 0) {
        const eol = this.#buffer.indexOf("\r\n");
        if (eol < 0) break;
        const size = Number.parseInt(this.#buffer.subarray(0, eol).toString("latin1").split(";")[0]!, 16);
        if (!Number.isFinite(size)) throw new Error("the app's chunked body has a bad chunk size");
        this.#buffer = this.#buffer.subarray(eol + 2);
        if (size === 0) {
          this.#done = true; // trailers, if any, are dropped: the relay carries none from here
          break;
        }
        this.#left = size;
      }
      if (this.#left > 0) {
        const take = Math.min(this.#left, this.#buffer.length);
        if (take === 0) break;
        out.push(this.#buffer.subarray(0, take));
        this.#buffer = this.#buffer.subarray(take);
        this.#left -= take;
      }
      if (this.#left === 0) {
        if (this.#buffer.length < 2) break;
        this.#buffer = this.#buffer.subarray(2);
        this.#left = -1;
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Clears `res.writableNeedDrain` once 'drain' was emitted, as Node's server does; otherwise a
 * later `pipe()` into `res` would wait for a 'drain' that already came. */
function clearNeedDrain(res: ServerResponse): void {
  const key = Object.getOwnPropertySymbols(res).find((s) => s.description === "kNeedDrain");
  if (key) (res as unknown as Record<symbol, boolean>)[key] = false;
}
