#!/usr/bin/env node
// The published entry, and the only file that touches `process`.
// `--version`, and `--help` when stdout is not a terminal, are answered from files that the build
// writes by running the real program (scripts/build.mjs), so the commonest calls in scripts load
// nothing else. Everything else goes to the bundled ESM CLI (dist/cli.js).
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const args = process.argv.slice(2);
const dist = join(__dirname, "..", "dist");
const only = args.length === 1 ? args[0] : undefined;
if (only === "--version" || only === "-V" || ((only === "--help" || only === "-h") && !process.stdout.isTTY)) {
  process.stdout.write(readFileSync(join(dist, only === "--version" || only === "-V" ? "version.txt" : "help.txt"), "utf8"));
  return;
}

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

import(join(dist, "cli.js")).then(async ({ main, createProcessContext }) => {
  const ctx = createProcessContext(process, {
    homedir: require("node:os").homedir(),
    cliPath: __filename,
    signal: controller.signal,
  });
  process.exit(await main(args, ctx));
});
