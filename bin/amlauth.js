#!/usr/bin/env node
// The only file that touches `process`: builds the real context, runs main(), exits with its code.
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";
import { main } from "../dist/cli.js";
import { createProcessContext } from "../dist/cli.js";

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal) => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130); // second Ctrl-C: leave now
  controller.abort(signal);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// A closed pipe (`amlauth token get | head -c0`) is not an error worth a stack trace.
process.stdout.on("error", (err) => {
  if (err && err.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

const ctx = createProcessContext(process, {
  homedir: homedir(),
  cliPath: fileURLToPath(import.meta.url),
  signal: controller.signal,
});
const code = await main(process.argv.slice(2), ctx);
process.exit(code);
