// The native addon, loaded on the first relayed invocation only, and the one place its
// errors become JS errors with a stable `code`.

import type * as Binding from "../binding.js";

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

/** The addon for this platform; a RelayError (`ERR_RELAY_PLATFORM`) naming the platform if
 * there is none. */
export function native(): typeof Binding {
  if (addon) return addon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require("../../binding.cjs") as typeof Binding;
    return addon;
  } catch (e) {
    const platform = `${process.platform}-${process.arch}`;
    throw new RelayError(
      "ERR_RELAY_PLATFORM",
      `lambda-relay has no native addon for ${platform}: relayed invocations need one, and one is ` +
        `published for Lambda's platforms (linux-x64-gnu and linux-arm64-gnu). Direct invocations and ` +
        `\`lambda-relay serve\` work without it. Deploy with the addon of your function's architecture: ` +
        `\`npm install --os=linux --cpu=x64\` (or --cpu=arm64), or a lambda-relay layer.`,
      { cause: e },
    );
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
