// The native addon, loaded on the first relayed invocation only, and the one place its
// errors become JS errors with a stable `code`.

import type * as Binding from "../binding.js";
import * as portable from "./portable.js";

/** The names and numbers this wrapper shares with Rust, dumped from the addon at build time
 * (`dist/constants.json`), so direct invocations need no addon. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const constants: Binding.BindingConstants = require("../constants.json");

/** An error from the relay, with a stable `code`: one of the addon's `errorCodes`, or `ERR_RELAY_PLATFORM`. */
export class RelayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RelayError";
    this.code = code;
  }
}

let addon: typeof Binding | undefined;
let loadError: unknown;

/** The addon for this platform, or `undefined` if there is none. */
export function tryNative(): typeof Binding | undefined {
  if (addon || loadError) return addon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require("../../binding.cjs") as typeof Binding;
  } catch (e) {
    loadError = e;
  }
  return addon;
}

/** The adapter's pure functions (core/src/adapter): the addon's, or on a platform without
 * one the portable copies that the golden vectors pin to them (direct invocations only). */
export interface Adapter {
  requestView: typeof Binding.requestView;
  bufferedResult: typeof Binding.bufferedResult;
  functionUrlEvent: typeof Binding.functionUrlEvent;
  localResponse: typeof Binding.localResponse;
}

/** The addon's adapter, or the portable one where there is no addon. */
export function adapter(): Adapter {
  return tryNative() ?? portable;
}

/** The addon for this platform; a RelayError (`ERR_RELAY_PLATFORM`) naming the platform if
 * there is none. */
export function native(): typeof Binding {
  const loaded = tryNative();
  if (loaded) return loaded;
  const platform = `${process.platform}-${process.arch}`;
  throw new RelayError(
    "ERR_RELAY_PLATFORM",
    `lambda-relay has no native addon for ${platform}: relayed invocations need one, and one is ` +
      `published for Lambda's platforms (linux-x64-gnu and linux-arm64-gnu). Direct invocations and ` +
      `\`lambda-relay serve\` work without it. Deploy with the addon of your function's architecture: ` +
      `\`npm install --os=linux --cpu=x64 --libc=glibc\` (or --cpu=arm64), or a lambda-relay layer.`,
    { cause: loadError },
  );
}

/** Turns an error thrown by the addon (an `Error` whose `code` property is one of its
 * `errorCodes`) into a RelayError. */
export function relayError(error: unknown): unknown {
  if (error instanceof Error && !(error instanceof RelayError)) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && constants.errorCodes.includes(code)) return new RelayError(code, error.message, { cause: error });
  }
  return error;
}

/** Runs a synchronous native call, mapping its errors. */
export function callSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw relayError(e);
  }
}

/** Runs a native call, mapping its errors. */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw relayError(e);
  }
}
