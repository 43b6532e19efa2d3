// A client's WebSocket, relayed: `upgradeWebSocket(request)` as Deno and Hono's adapters shape
// it (`{ socket, response }`), a WHATWG-style socket, and Hono's `upgradeWebSocket(c => events)`.
// The record layout, the limits and the close codes are Rust's (core/src/proto/websocket.rs);
// this file is the event-loop glue.

import type { BindingConnection, BindingMessage } from "../binding.js";
import { relayError } from "./native.js";
import type { Relay } from "./relay.js";

/** Requests that are relayed WebSocket upgrades, with their relay. */
const upgrades = new WeakMap<Request, Relay>();
/** Responses that accept an upgrade, with their socket. */
const accepting = new WeakMap<Response, RelayWebSocket>();

/** Marks `request` as a relayed WebSocket upgrade of `relay` (the handlers call it). */
export function markUpgrade(request: Request, relay: Relay): void {
  upgrades.set(request, relay);
}

/** The socket `response` accepts, if it accepts one. */
export function acceptedSocket(response: Response): RelayWebSocket | undefined {
  return accepting.get(response);
}

/** Options of an upgrade. */
export interface UpgradeOptions {
  /** The subprotocol to accept: one the client offered (`sec-websocket-protocol`). */
  protocol?: string;
  /** Headers of the 101 response (a `set-cookie`, say). */
  headers?: HeadersInit;
}

/** Events of Hono's WebSocket helper (`hono/ws`'s `WSEvents`). */
export interface WebSocketEvents {
  onOpen?: (event: Event, ws: WebSocketContext) => void;
  onMessage?: (event: MessageEvent, ws: WebSocketContext) => void;
  onClose?: (event: CloseEvent, ws: WebSocketContext) => void;
  onError?: (event: Event, ws: WebSocketContext) => void;
}

/** What Hono's handlers get as `ws` (`hono/ws`'s `WSContext`). */
export interface WebSocketContext {
  send(source: string | ArrayBuffer | Uint8Array, options?: { compress?: boolean }): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  readonly protocol: string | null;
  readonly url: URL | null;
  readonly raw: RelayWebSocket;
  binaryType: BinaryType;
}

/** A Hono context, as much of it as the helper reads. */
interface HonoContext {
  req: { raw: Request };
}

type HonoMiddleware = (c: HonoContext, next: () => Promise<void>) => Promise<Response | void>;

/**
 * Accepts a client's WebSocket relayed through the gateway: returns the socket and the
 * response the handler returns to accept it (until then the socket is `CONNECTING`). A handler
 * that returns any other response refuses the upgrade, and the client gets that response.
 *
 * Given a function instead, it is Hono's helper: `app.get("/ws", upgradeWebSocket((c) => ({
 * onMessage(event, ws) { ws.send(event.data) } })))`.
 */
export function upgradeWebSocket(request: Request, options?: UpgradeOptions): { socket: RelayWebSocket; response: Response };
export function upgradeWebSocket(
  createEvents: (c: HonoContext) => WebSocketEvents | Promise<WebSocketEvents>,
  options?: UpgradeOptions,
): HonoMiddleware;
export function upgradeWebSocket(
  arg: Request | ((c: HonoContext) => WebSocketEvents | Promise<WebSocketEvents>),
  options?: UpgradeOptions,
): { socket: RelayWebSocket; response: Response } | HonoMiddleware {
  if (typeof arg === "function") return honoHelper(arg, options);
  const relay = upgrades.get(arg);
  if (!relay) {
    throw new TypeError(
      "upgradeWebSocket: the request is not a client's WebSocket upgrade relayed by lambda-relay " +
        "(direct invocations and `lambda-relay serve` answer buffered; use the gateway or `lambda-relay dev`)",
    );
  }
  upgrades.delete(arg);
  const offered = (arg.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const protocol = options?.protocol ?? "";
  if (protocol && !offered.includes(protocol)) {
    throw new TypeError(`upgradeWebSocket: the client did not offer the subprotocol ${JSON.stringify(protocol)}`);
  }
  const headers = new Headers(options?.headers);
  if (protocol) headers.set("sec-websocket-protocol", protocol);
  const socket = new RelayWebSocket(arg.url, protocol, relay.conn);
  const response = new Response(null, { status: 200, headers });
  accepting.set(response, socket);
  return { socket, response };
}

function honoHelper(
  createEvents: (c: HonoContext) => WebSocketEvents | Promise<WebSocketEvents>,
  options?: UpgradeOptions,
): HonoMiddleware {
  return async (c, next) => {
    if (!upgrades.has(c.req.raw)) {
      await next();
      return;
    }
    const events = await createEvents(c);
    const { socket, response } = upgradeWebSocket(c.req.raw, options);
    const ws: WebSocketContext = {
      send: (source) => socket.send(source),
      close: (code, reason) => socket.close(code, reason),
      get readyState() {
        return socket.readyState;
      },
      get protocol() {
        return socket.protocol || null;
      },
      url: new URL(socket.url),
      raw: socket,
      get binaryType() {
        return socket.binaryType;
      },
      set binaryType(type) {
        socket.binaryType = type;
      },
    };
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", (e) => events.onOpen?.(e, ws));
    socket.addEventListener("message", (e) => events.onMessage?.(e as MessageEvent, ws));
    socket.addEventListener("close", (e) => events.onClose?.(e as CloseEvent, ws));
    socket.addEventListener("error", (e) => events.onError?.(e, ws));
    return response;
  };
}

/** A close event: `CloseEvent` where the runtime has one (Node 23+), else the same shape. */
const CloseEventClass: typeof CloseEvent =
  (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent ??
  (class extends Event {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
    constructor(type: string, init: CloseEventInit = {}) {
      super(type, init);
      this.code = init.code ?? 0;
      this.reason = init.reason ?? "";
      this.wasClean = init.wasClean ?? false;
    }
  } as unknown as typeof CloseEvent);

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * The client's WebSocket, on the function's side: `send`, `close`, `readyState`, `protocol`,
 * `binaryType` and `open`/`message`/`close`/`error` events, as a browser's. Sends go out in
 * order; `bufferedAmount` is what the window has not taken yet.
 */
export class RelayWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  /** `"blob"` (as browsers) or `"arraybuffer"`: what a binary message's `data` is. */
  binaryType: BinaryType = "blob";
  readonly extensions = "";
  #readyState = CONNECTING;
  #bufferedAmount = 0;
  #sending: Promise<void> = Promise.resolve();
  #closeSent = false;
  #closeEvent: { code: number; reason: string; wasClean: boolean } | undefined;
  #handlers = new Map<string, EventListener>();
  #done!: () => void;
  /** Resolves once the socket is closed. */
  readonly closed = new Promise<void>((resolve) => (this.#done = resolve));

  constructor(
    readonly url: string,
    readonly protocol: string,
    private readonly conn: BindingConnection,
  ) {
    super();
  }

  get readyState(): number {
    return this.#readyState;
  }

  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** Sends a message: a string as text; bytes (an ArrayBuffer, a view, a Blob) as binary. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#readyState === CONNECTING) {
      throw new DOMException("the WebSocket is not open yet", "InvalidStateError");
    }
    const size = typeof data === "string" ? Buffer.byteLength(data) : data instanceof Blob ? data.size : data.byteLength;
    if (this.#readyState !== OPEN || this.#closeSent) return;
    this.#bufferedAmount += size;
    const conn = this.conn;
    this.#sending = this.#sending.then(async () => {
      try {
        if (typeof data === "string") await conn.sendText(data);
        else await conn.sendBinary(await bytesOf(data));
      } catch (e) {
        this.#failed(e);
      } finally {
        this.#bufferedAmount -= size;
      }
    });
  }

  /** Closes with `code` (1000 or 3000–4999) and `reason` (at most 123 bytes). */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`close code ${code} is not 1000 or 3000-4999`, "InvalidAccessError");
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) {
      throw new DOMException("the close reason is longer than 123 bytes", "SyntaxError");
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    this.#readyState = CLOSING;
    this.#sendClose(code ?? 1005, code === undefined ? "" : (reason ?? ""));
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const conn = this.conn;
    this.#sending = this.#sending.then(async () => {
      try {
        await conn.closeWebSocket(code, reason);
        this.#finish({ code, reason, wasClean: true });
      } catch (e) {
        this.#failed(e);
      }
    });
  }

  /** Opens the socket once the gateway accepted the upgrade, and reads until the close. */
  async run(): Promise<void> {
    this.#readyState = OPEN;
    this.dispatchEvent(new Event("open"));
    for (;;) {
      let message: BindingMessage | null;
      try {
        message = await this.conn.readMessage();
      } catch (e) {
        // After our own close, the relay ending is the close completing.
        if (!this.#closeSent) this.#failed(e);
        break;
      }
      if (!message) break;
      if (message.kind === "close") {
        const code = message.code ?? 1005;
        const reason = message.reason ?? "";
        if (this.#readyState === OPEN) this.#readyState = CLOSING;
        // The reply to a close repeats it, as a WebSocket server does (a close without a
        // code comes with no reason).
        this.#sendClose(code, reason);
        await this.#sending;
        this.#finish({ code, reason, wasClean: true });
        break;
      }
      if (this.#readyState !== OPEN) continue;
      const data =
        message.kind === "text"
          ? message.text!
          : this.binaryType === "arraybuffer"
            ? arrayBufferOf(message.data!)
            : new Blob([arrayBufferOf(message.data!)]);
      this.dispatchEvent(new MessageEvent("message", { data }));
    }
    await this.#sending;
    await this.closed;
  }

  #failed(error: unknown): void {
    if (this.#readyState === CLOSED) return;
    const e = relayError(error) as Error;
    this.dispatchEvent(Object.assign(new Event("error"), { error: e, message: e.message }));
    this.#finish({ code: 1006, reason: "", wasClean: false });
  }

  #finish(event: { code: number; reason: string; wasClean: boolean }): void {
    if (this.#closeEvent) return;
    this.#closeEvent = event;
    this.#readyState = CLOSED;
    this.dispatchEvent(new CloseEventClass("close", event));
    this.#done();
  }

  // `onopen`, `onmessage`, `onclose`, `onerror`, as a browser's.
  #handler(type: string): EventListener | null {
    return this.#handlers.get(type) ?? null;
  }

  #setHandler(type: string, handler: EventListener | null): void {
    const old = this.#handlers.get(type);
    if (old) this.removeEventListener(type, old);
    if (typeof handler === "function") {
      this.#handlers.set(type, handler);
      this.addEventListener(type, handler);
    } else this.#handlers.delete(type);
  }

  get onopen(): EventListener | null {
    return this.#handler("open");
  }
  set onopen(h: EventListener | null) {
    this.#setHandler("open", h);
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return this.#handler("message") as ((event: MessageEvent) => void) | null;
  }
  set onmessage(h: ((event: MessageEvent) => void) | null) {
    this.#setHandler("message", h as EventListener | null);
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return this.#handler("close") as ((event: CloseEvent) => void) | null;
  }
  set onclose(h: ((event: CloseEvent) => void) | null) {
    this.#setHandler("close", h as EventListener | null);
  }
  get onerror(): EventListener | null {
    return this.#handler("error");
  }
  set onerror(h: EventListener | null) {
    this.#setHandler("error", h);
  }
}

async function bytesOf(data: ArrayBufferLike | ArrayBufferView | Blob): Promise<Buffer> {
  if (data instanceof Blob) return Buffer.from(await data.arrayBuffer());
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data as ArrayBuffer);
}

function arrayBufferOf(data: Buffer): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}
