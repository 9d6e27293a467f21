#!/usr/bin/env node
// The published entry, and the only file that touches `process`.
// `--version`, and `--help` when stdout is not a terminal, are answered from files that the build
// writes by running the real program (scripts/build.mjs), so the commonest calls in scripts load
// nothing else. `token get` in a pipe first tries dist/fast.cjs (src/fast-path.ts), which answers
// cache hits without commander; whatever it does not answer, and everything else, goes to the
// bundled ESM CLI (dist/cli.js). AMLAUTH_NO_FAST_PATH=1 skips the fast path (for debugging).
//
// The quick answers write with plain synchronous writes to fd 1/2: process.stdout is a stream
// that Node builds on first use (for a pipe, a net.Socket), which costs more than the answer.
"use strict";
const { fstatSync, readFileSync, writeSync } = require("node:fs");
const { join } = require("node:path");

const args = process.argv.slice(2);
const dist = join(__dirname, "..", "dist");

const only = args.length === 1 ? args[0] : undefined;
if (only === "--version" || only === "-V" || ((only === "--help" || only === "-h") && !stdoutIsTTY())) {
  fdSink(1).write(readFileSync(join(dist, only === "--version" || only === "-V" ? "version.txt" : "help.txt"), "utf8"));
  return;
}

const noFastPath = process.env.AMLAUTH_NO_FAST_PATH;
if (args.includes("token") && args.includes("get") && (noFastPath === undefined || noFastPath === "" || noFastPath === "0") && !stdoutIsTTY()) {
  tryFastPath();
} else {
  runFullCli();
}

function tryFastPath() {
  let fast;
  try {
    fast = require(join(dist, "fast.cjs"));
  } catch {
    // No usable fast path (e.g. a build from before it existed): the full CLI answers.
    return runFullCli();
  }
  const ctx = {
    env: process.env,
    cwd: process.cwd(),
    homedir: require("node:os").homedir(),
    now: () => Date.now(),
    stdoutIsTTY: false,
    stdout: fdSink(1),
    stderr: fdSink(2),
  };
  fast.runFastTokenGet(args, ctx).then(
    (answered) => {
      if (!answered) runFullCli();
    },
    // It writes only after every check passed, so a failure here left stdout untouched.
    () => runFullCli(),
  );
}

function runFullCli() {
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
    const ctx = createProcessContext(process, { homedir: require("node:os").homedir(), cliPath: __filename, signal: controller.signal });
    process.exit(await main(args, ctx));
  });
}

/** Only a character device can be a terminal; only then is process.stdout worth building to ask. */
function stdoutIsTTY() {
  try {
    if (!fstatSync(1).isCharacterDevice()) return false;
  } catch {
    return true; // no usable fd 1: leave it to the full CLI
  }
  return Boolean(process.stdout.isTTY);
}

/**
 * Synchronous writes to a file descriptor, all bytes or none left behind. A closed pipe ends the
 * process quietly with exit code 0, as the full CLI's EPIPE handler does; a non-blocking fd that
 * is full hands the rest to the process stream, which waits for the reader.
 */
function fdSink(fd) {
  return {
    write(text) {
      const bytes = Buffer.from(text, "utf8");
      let offset = 0;
      try {
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
      } catch (err) {
        if (err && err.code === "EPIPE") process.exit(process.exitCode ?? 0);
        if (err && err.code === "EAGAIN") return (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(offset));
        throw err;
      }
      return true;
    },
  };
}
