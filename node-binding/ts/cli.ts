#!/usr/bin/env node
// `lambda-relay serve ./handler.mjs [--export handler] [--port 9000] [--host 127.0.0.1] [--auth none|aws_iam]`
// `lambda-relay dev ./handler.mjs [--export handler] [--port 8787]`

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

import { serve, serverUrl } from "./serve.js";

// The CommonJS build would turn `import()` into `require()`, which cannot load ES modules
// on Node 20; this keeps a real dynamic import.
const importModule = new Function("specifier", "return import(specifier)") as (s: string) => Promise<Record<string, any>>;

const USAGE =
  "usage: lambda-relay serve <module> [--export handler] [--port 9000] [--host 127.0.0.1] [--auth none|aws_iam]\n" +
  "       lambda-relay dev <module> [--export handler] [--port 8787]\n" +
  "serve: a Lambda handler as a local Function URL, buffered as a Function URL is. --auth aws_iam answers\n" +
  "  requests whose SigV4 signature does not verify for AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with Lambda's 403.\n" +
  "dev: the handler behind the gateway in workerd, streaming as deployed (uploads and disconnects too);\n" +
  "  the gateway (lambda-relay-gateway) and workerd come from npm on first use.";

type Options = Record<string, string>;

function parse(rest: string[], options: Options): Options {
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]?.replace(/^--/, "");
    const value = rest[i + 1];
    if (!key || !(key in options) || value === undefined) throw new Error(`${USAGE}\nunknown or incomplete option: ${rest[i]}`);
    options[key] = value;
  }
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${options.port}`);
  return options;
}

async function loadHandler(file: string, name: string): Promise<(...args: any[]) => any> {
  const mod = await importModule(pathToFileURL(path.resolve(file)).href);
  const handler = mod[name] ?? mod.default?.[name];
  if (typeof handler !== "function") throw new Error(`${file} has no exported function ${name}`);
  return handler;
}

async function main(argv: string[]): Promise<void> {
  const [command, file, ...rest] = argv;
  if (!file || (command !== "serve" && command !== "dev")) throw new Error(USAGE);
  if (command === "dev") return dev(file, parse(rest, { export: "handler", port: "8787" }));
  const options = parse(rest, { export: "handler", port: "9000", host: "127.0.0.1", auth: "none" });
  if (options.auth !== "none" && options.auth !== "aws_iam") throw new Error(`${USAGE}\n--auth must be none or aws_iam`);
  const handler = await loadHandler(file, options.export!);
  const server = await serve(handler, { port: Number(options.port), host: options.host, auth: options.auth });
  const auth = options.auth === "aws_iam" ? ", AuthType AWS_IAM" : "";
  console.log(`lambda-relay: serving ${file} (${options.export}) as a Function URL on ${serverUrl(server)}${auth}`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/**
 * `dev`: the handler as a local Function URL on a free port, and in front of it the gateway
 * (`lambda-relay-gateway dev`, run by npx from npm: LAMBDA_RELAY_DEV_GATEWAY names another
 * package spec, such as a tarball) in workerd on 127.0.0.1, with a random secret shared by the
 * two. One URL, whose responses stream exactly as deployed.
 */
async function dev(file: string, options: Options): Promise<void> {
  const handler = await loadHandler(file, options.export!);
  const secret = randomBytes(32).toString("hex");
  const fn = await serve(handler, { port: 0, host: "127.0.0.1" });
  const version = (require("../../package.json") as { version: string }).version;
  const spec = process.env.LAMBDA_RELAY_DEV_GATEWAY || `lambda-relay-gateway@${version}`;
  // npx beside the npm that runs us (npm_execpath, under npx or npm run), else on PATH.
  const npmCli = process.env.npm_execpath;
  const npxCli = npmCli ? path.join(path.dirname(npmCli), "npx-cli.js") : undefined;
  const [command, args] = npxCli && existsSync(npxCli) ? [process.execPath, [npxCli]] : ["npx", []];
  const gateway = spawn(command, [...args, "--yes", "--package", spec, "lambda-relay-gateway", "dev", "--port", options.port!], {
    env: { ...process.env, LAMBDA_RELAY_GATEWAY_VARS: JSON.stringify({ LAMBDA_URL: serverUrl(fn), RELAY_SECRET: secret }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stop = (code: number) => {
    gateway.kill("SIGTERM");
    fn.close(() => process.exit(code));
  };
  process.on("SIGTERM", () => stop(0));
  process.on("SIGINT", () => stop(0));
  gateway.on("exit", (code) => {
    console.error(`lambda-relay dev: the gateway exited (${code ?? "signal"})`);
    fn.close(() => process.exit(code || 1));
  });
  gateway.on("error", (e) => {
    console.error(`lambda-relay dev: could not start the gateway with npx (${e.message}); it needs npm on PATH`);
    stop(1);
  });
  for await (const line of readline.createInterface({ input: gateway.stdout! })) {
    const ready = /ready on (http\S+)/.exec(line);
    if (!ready) {
      console.log(line);
      continue;
    }
    const url = ready[1]!;
    // The function dials the gateway at invocation time: from now on, this one.
    process.env.RELAY_GATEWAY_URL = url.replace(/^http/, "ws");
    process.env.RELAY_SECRET = secret;
    console.log(`lambda-relay dev: ${url} → ${file} (${options.export}), streaming through the gateway in workerd; the function itself on ${serverUrl(fn)}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
