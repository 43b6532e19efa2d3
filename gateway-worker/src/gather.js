// The client's request body gathered into frames, in JavaScript: the pump (body.rs) asks for one
// frame at a time and crosses into wasm once per frame, not once per read. workerd hands a body
// over ~55 KiB a read; a Rust future around each read (its promise, wasm-bindgen's microtask
// queue, the select against the pause timer) cost about as much as the read itself.
//
// A frame's first read (BYOB) fills it in place. Later reads fill a scratch buffer that is
// copied in after them: a pending read holds its whole buffer until it settles, and a frame
// must be sendable while one is pending, because the client may have paused. Once a frame has
// its first bytes, later reads race its deadline, `pauseMs` on: a body that flows fills the
// frame first; when the deadline wins, the client paused, and the frame goes with what it has (the
// pending read carries on into the next frame), so a body that trickles is never held back.

const PAUSED = Symbol("paused");

/** The alignment a later read keeps between the scratch buffer and the frame. */
const ALIGN = 64;

export class BodyGatherer {
  /** @param {ReadableStream} body the client's request body */
  constructor(body) {
    this.reader = body.getReader({ mode: "byob" });
    /** @type {ArrayBuffer | null} later reads' buffer: a frame's payload and ALIGN long */
    this.scratch = null;
    /** @type {{ read: Promise<ReadableStreamReadResult<Uint8Array>>, inPlace: boolean } | null} */
    this.pending = null;
    /** @type {ArrayBuffer | null} the buffer the last fill filled (a read gives back a new one) */
    this.frame = null;
    /** The body ended. */
    this.ended = false;
    /** A drain took the body over: a fill still waiting on a read returns at once. */
    this.stopped = false;
    /** The pause timer, the waiting frame's resolver and when it goes without more. */
    this.timer = null;
    this.onPause = null;
    this.deadline = 0;
  }

  /**
   * Fills `frame` from byte `offset` with up to `size` bytes of the body. Resolves with the
   * bytes gathered, once the frame is full, the client paused for `pauseMs` after its first
   * bytes, or the body ended (then `ended`); the filled buffer is `this.frame` afterwards.
   * Rejects when the body fails.
   * @param {ArrayBuffer} frame
   * @param {number} offset
   * @param {number} size
   * @param {number} pauseMs
   * @returns {Promise<number>}
   */
  async fill(frame, offset, size, pauseMs) {
    this.frame = frame;
    let gathered = 0;
    let paused = null;
    try {
      while (gathered < size) {
        if (!this.pending) {
          const inPlace = gathered === 0;
          if (!(this.scratch?.byteLength >= size + ALIGN)) this.scratch = new ArrayBuffer(size + ALIGN);
          // A later read lands in the scratch buffer at the alignment it will have in the
          // frame, so copying it in moves aligned words on both sides.
          const view = inPlace
            ? new Uint8Array(frame, offset, size)
            : new Uint8Array(this.scratch, (offset + gathered) % ALIGN, size - gathered);
          this.pending = { read: this.reader.read(view), inPlace };
        }
        const { read, inPlace } = this.pending;
        const result = paused ? await Promise.race([read, paused]) : await read;
        if (this.stopped) return 0;
        if (result === PAUSED) break;
        this.pending = null;
        if (result.done) {
          this.ended = true;
          break;
        }
        const value = result.value;
        if (inPlace) {
          frame = value.buffer;
        } else {
          this.scratch = value.buffer;
          new Uint8Array(frame, offset + gathered, value.byteLength).set(value);
        }
        gathered += value.byteLength;
        if (!paused) {
          paused = new Promise((resolve) => (this.onPause = resolve));
          this.deadline = Date.now() + pauseMs;
          this.#arm(pauseMs);
        }
      }
    } finally {
      this.onPause = null;
    }
    this.frame = frame;
    return gathered;
  }

  /**
   * One timer for the gatherer, not one a frame (a timer's start and clear cost more than a
   * frame's reads here): armed when a frame gets its first bytes and none is pending; when it
   * fires it pauses the frame waiting past its deadline, or waits out the rest of a later
   * frame's, or lapses if no frame waits.
   */
  #arm(ms) {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.onPause) return;
      const left = this.deadline - Date.now();
      if (left > 0) return this.#arm(left);
      const pause = this.onPause;
      this.onPause = null;
      pause(PAUSED);
    }, ms);
  }

  /**
   * Reads the rest of the body and drops it (a read still pending first), until it ends,
   * fails, pauses for `idleMs`, or `limit` bytes were dropped; then the body is cancelled.
   * A fill still waiting returns 0 and reads no more.
   * @param {number} limit
   * @param {number} idleMs
   * @returns {Promise<void>}
   */
  async drain(limit, idleMs) {
    this.stopped = true;
    // (A scratch buffer whose last read was the body's end stays detached: length 0.)
    let buffer = this.scratch?.byteLength ? this.scratch : new ArrayBuffer(64 * 1024);
    let dropped = 0;
    try {
      for (;;) {
        const read = this.pending?.read ?? (dropped < limit ? this.reader.read(new Uint8Array(buffer)) : null);
        this.pending = null;
        if (!read) break;
        let timer;
        const idle = new Promise((resolve) => (timer = setTimeout(resolve, idleMs, PAUSED)));
        const result = await Promise.race([read, idle]);
        clearTimeout(timer);
        if (result === PAUSED) break;
        if (result.done) return;
        dropped += result.value.byteLength;
        buffer = result.value.buffer;
      }
    } catch {
      // The body failed: there is nothing left to read.
      return;
    }
    this.reader.cancel().catch(() => {});
  }
}
