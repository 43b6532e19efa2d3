#!/usr/bin/env node
// `lambda-relay serve ./handler.mjs [--export handler] [--port 9000] [--host 127.0.0.1] [--auth none|aws_iam]`

import path from "node:path";
import { pathToFileURL } from "node:url";

import { serve, serverUrl } from "./serve.js";

// The CommonJS build would turn `import()` into `require()`, which cannot load ES modules
// on Node 20; this keeps a real dynamic import.
const importModule = new Function("specifier", "return import(specifier)") as (s: string) => Promise<Record<string, any>>;

const USAGE =
  "usage: lambda-relay serve <module> [--export handler] [--port 9000] [--host 127.0.0.1] [--auth none|aws_iam]\n" +
  "Serves a Lambda handler as a local Function URL, buffered as a Function URL is. --auth aws_iam answers\n" +
  "requests whose SigV4 signature does not verify for AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with Lambda's 403.";

async function main(argv: string[]): Promise<void> {
  const [command, file, ...rest] = argv;
  if (command !== "serve" || !file) throw new Error(USAGE);
  const options: Record<string, string> = { export: "handler", port: "9000", host: "127.0.0.1", auth: "none" };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]?.replace(/^--/, "");
    const value = rest[i + 1];
    if (!key || !(key in options) || value === undefined) throw new Error(`${USAGE}\nunknown or incomplete option: ${rest[i]}`);
    options[key] = value;
  }
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${options.port}`);
  const mod = await importModule(pathToFileURL(path.resolve(file)).href);
  const handler = mod[options.export!] ?? mod.default?.[options.export!];
  if (typeof handler !== "function") throw new Error(`${file} has no exported function ${options.export}`);
  if (options.auth !== "none" && options.auth !== "aws_iam") throw new Error(`${USAGE}\n--auth must be none or aws_iam`);
  const server = await serve(handler, { port, host: options.host, auth: options.auth });
  const auth = options.auth === "aws_iam" ? ", AuthType AWS_IAM" : "";
  console.log(`lambda-relay: serving ${file} (${options.export}) as a Function URL on ${serverUrl(server)}${auth}`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
