// A Context for tests: in-memory streams, no TTY, empty environment, a fixed clock.
// Reusable by any test: `const ctx = makeTestContext({ env: { NO_COLOR: "1" } }); ...; ctx.stdoutText()`.
import { PassThrough } from "node:stream";
import type { Context } from "../../src/context.js";

/** 2026-01-01T00:00:00Z */
export const TEST_NOW_MS = Date.UTC(2026, 0, 1);

export interface TestContext extends Context {
  stdin: PassThrough;
  stdout: PassThrough;
  stderr: PassThrough;
  /** Everything written to stdout so far. */
  stdoutText(): string;
  /** Everything written to stderr so far. */
  stderrText(): string;
  /** Aborts ctx.signal (as Ctrl-C would); no effect when a signal was passed in. */
  abort(): void;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer | string) => chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
  return () => Buffer.concat(chunks).toString("utf8");
}

/** Streams are always the helper's own PassThroughs; everything else may be overridden. */
export function makeTestContext(overrides: Partial<Omit<Context, "stdin" | "stdout" | "stderr">> = {}): TestContext {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const controller = new AbortController();
  const stdoutText = collect(stdout);
  const stderrText = collect(stderr);
  const base: Context = {
    stdin,
    stdout,
    stderr,
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env: {},
    cwd: "/nonexistent-amlauth-test-cwd",
    homedir: "/nonexistent-amlauth-test-home",
    now: () => TEST_NOW_MS,
    execPath: process.execPath,
    cliPath: "/nonexistent-amlauth-test-cli.js",
    pid: 4242,
    signal: controller.signal,
  };
  return {
    ...base,
    ...overrides,
    stdin,
    stdout,
    stderr,
    stdoutText,
    stderrText,
    abort: () => controller.abort(),
  };
}
