// The native addon, and the one place its errors become JS errors with a stable `code`.

import type * as Binding from "../binding.js";

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Binding = require("../../binding.cjs");

/** An error from the relay, with a stable `code` (`ERR_RELAY_ABORTED`, `ERR_RELAY_REFUSED`, …). */
export class RelayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RelayError";
    this.code = code;
  }
}

const CODED = /^(ERR_RELAY_[A-Z_]+): ([\s\S]*)$/;

/** Turns an error thrown by the addon into a RelayError (its message starts with the code). */
export function relayError(error: unknown): unknown {
  if (error instanceof Error && !(error instanceof RelayError)) {
    const m = CODED.exec(error.message);
    if (m) return new RelayError(m[1]!, m[2]!, { cause: error });
  }
  return error;
}

/** Runs a native call, mapping its errors. */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw relayError(e);
  }
}
