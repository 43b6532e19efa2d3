// The wrapper shares its names with Rust through the addon only: dist/constants.json is what
// the addon says, the TypeScript sources spell none of the relay's names, and the ESM entry
// exports exactly what the CommonJS build does.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import * as esm from "lambda-relay";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

describe("one source for every shared name", () => {
  it("dist/constants.json is what the addon says", () => {
    const dumped = JSON.parse(readFileSync(path.join(dir, "dist", "constants.json"), "utf8"));
    assert.deepEqual(dumped, require(path.join(dir, "binding.cjs")).constants());
    assert.equal(dumped.relayIdHeader, "x-lambda-relay-id");
  });

  it("the TypeScript sources spell no relay header, outcome or error code name", () => {
    const names = [/x-lambda-relay/, /"(relayed|aborted|refused|unconfigured)"/, /handler_error|body_error/, /ERR_RELAY_(?!PLATFORM|\[)/];
    for (const file of readdirSync(path.join(dir, "ts"))) {
      const text = readFileSync(path.join(dir, "ts", file), "utf8");
      for (const name of names) assert.doesNotMatch(text, name, `ts/${file}`);
    }
  });

  it("the ESM entry exports what the CommonJS build exports", () => {
    const cjs = require("lambda-relay");
    assert.deepEqual(Object.keys(esm).filter((k) => k !== "default").sort(), Object.keys(cjs).sort());
    assert.equal(esm.streamHandler, cjs.streamHandler);
  });
});

describe("a panic inside the addon", () => {
  it("reaches JavaScript as an exception, and the process and the addon carry on", () => {
    const addon = require(path.join(dir, "binding.cjs"));
    assert.throws(() => addon.__panicForTest("boom in Rust"), (e) => e instanceof Error && /boom in Rust/.test(e.message));
    // The addon still answers after the panic.
    assert.equal(addon.constants().relayIdHeader, "x-lambda-relay-id");
  });
});
