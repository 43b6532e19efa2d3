// The SAM template, checked offline: it parses, every function's handler path names a
// module in this folder that exports that handler, and every Function URL has the
// lambda:InvokeFunction permission it needs besides the one SAM adds.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { parse } from "yaml";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

it("template.yaml parses and its handlers exist", async () => {
  const template = parse(readFileSync(path.join(here, "template.yaml"), "utf8"));
  assert.equal(template.Transform, "AWS::Serverless-2016-10-31");
  assert.match(template.Globals.Function.Runtime, /^nodejs(20|22|24)\.x$/);
  const resources = Object.entries(template.Resources);
  const functions = resources.filter(([, r]) => r.Type === "AWS::Serverless::Function").map(([, r]) => r);
  assert.equal(functions.length, 6);
  const withUrls = resources.filter(([, r]) => r.Type === "AWS::Serverless::Function" && (r.Properties.FunctionUrlConfig ?? template.Globals.Function.FunctionUrlConfig));
  const invokable = resources
    .filter(([, r]) => r.Type === "AWS::Lambda::Permission" && r.Properties.Action === "lambda:InvokeFunction" && r.Properties.InvokedViaFunctionUrl === true && r.Properties.Principal === "*")
    .map(([, r]) => r.Properties.FunctionName.Ref);
  assert.deepEqual(invokable.sort(), withUrls.map(([name]) => name).sort(), "each Function URL's function may be invoked through it");
  for (const fn of functions) {
    const [file, exported] = fn.Properties.Handler.split(/\.(?=[^.]+$)/);
    const module = await import(pathToFileURL(path.join(here, `${file}.mjs`)).href);
    assert.equal(typeof module[exported], "function", fn.Properties.Handler);
  }
  const env = template.Globals.Function.Environment.Variables;
  assert.deepEqual(Object.keys(env).sort(), ["RELAY_GATEWAY_URL", "RELAY_SECRET"]);
});
