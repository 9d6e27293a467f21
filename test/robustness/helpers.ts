// Helpers for the reliability/security tests (issue 7): run the CLI in process against a world
// (in-process emulator + isolated HOME), inject emulator faults, read its request log, and the
// checks every failing run must pass (one line, documented exit code, no stack trace).
import { readFileSync } from "node:fs";
import { main } from "../../src/main.js";
import { makeTestContext } from "../unit/helpers.js";
import type { CliResult, TestWorld } from "../e2e/helpers.js";
import { httpsCall } from "../emulator/helpers.js";

export interface InProcessResult extends CliResult {
  /** Wall-clock duration of the run. */
  ms: number;
}

export interface InProcessOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  /** Fail the test when a run takes longer (default 15 s); the run itself is abandoned. */
  timeoutMs?: number;
  /** Aborted like Ctrl-C would abort the bin's signal. */
  signal?: AbortSignal;
}

/**
 * `amlauth ARGS` in this process with a test Context: the world's env, HOME and cwd, the real
 * clock (the emulator mints tokens with it), and stdin closed after `input`.
 */
export async function runInProcess(
  base: { env: Record<string, string>; home: string },
  args: string[],
  opts: InProcessOptions = {},
): Promise<InProcessResult> {
  const env = Object.fromEntries(
    Object.entries({ ...base.env, ...(opts.env ?? {}) }).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  const ctx = makeTestContext({
    env,
    cwd: opts.cwd ?? base.home,
    homedir: base.home,
    now: () => Date.now(),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  ctx.stdin.end(opts.input ?? "");
  const started = Date.now();
  const limit = opts.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    main(args, ctx),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`amlauth ${args.join(" ")} did not finish within ${limit} ms`)), limit);
    }),
  ]).finally(() => clearTimeout(timer));
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText(), ms: Date.now() - started };
}

export interface FaultSpec {
  match: { method?: string; pathRegex: string };
  action: "429" | "503" | "reset" | "delay";
  retryAfterSeconds?: number;
  delayMs?: number;
  count: number;
  afterApply?: boolean;
}

function caOf(world: TestWorld): string {
  return readFileSync(world.emulator.caFile, "utf8");
}

/** POST /_emulator/faults. */
export async function injectFaults(world: TestWorld, ...faults: FaultSpec[]): Promise<void> {
  const r = await httpsCall(`${world.emulator.url}/_emulator/faults`, caOf(world), "POST", { body: faults });
  if (r.status !== 201) throw new Error(`fault injection failed: ${r.status} ${r.text}`);
}

/** Faults still armed (not yet spent). */
export async function pendingFaults(world: TestWorld): Promise<Array<FaultSpec & { remaining: number }>> {
  const r = await httpsCall(`${world.emulator.url}/_emulator/faults`, caOf(world), "GET");
  return (r.json as { faults: Array<FaultSpec & { remaining: number }> }).faults;
}

export interface LoggedRequest {
  seq: number;
  method: string;
  path: string;
  status: number;
  ms: number;
}

/** The emulator's request log after sequence number `since` (0 = everything kept). */
export async function requestsSince(world: TestWorld, since: number): Promise<{ requests: LoggedRequest[]; lastSeq: number }> {
  const r = await httpsCall(`${world.emulator.url}/_emulator/requests?since=${since}`, caOf(world), "GET");
  return r.json as { requests: LoggedRequest[]; lastSeq: number };
}

export async function lastSeq(world: TestWorld): Promise<number> {
  return (await requestsSince(world, Number.MAX_SAFE_INTEGER)).lastSeq;
}

/** A stack frame as Node prints it ("    at fn (file.js:1:2)"). */
export const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/**
 * The failure contract of issue 3/7: exactly one line on stderr, starting "amlauth: ", no stack
 * frame, nothing on stdout. (CI mask lines and progress lines are not expected in these runs.)
 */
export function failureProblems(r: CliResult, expectedCode: number): string[] {
  const problems: string[] = [];
  if (r.code !== expectedCode) problems.push(`exit ${r.code}, expected ${expectedCode}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  if (lines.length !== 1) problems.push(`${lines.length} stderr lines, expected 1`);
  if (!lines[0]?.startsWith("amlauth: ")) problems.push(`stderr does not start with "amlauth: "`);
  if (STACK_FRAME.test(r.stderr)) problems.push("stack trace on stderr");
  if (/\bundefined\b|\[object Object\]|\bNaN\b/.test(r.stderr)) problems.push("internal value leaked into the message");
  if (r.stdout !== "") problems.push("data on stdout");
  return problems;
}

/** Polls `probe` (bounded) until it returns a value other than undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface SpawnedCli {
  child: import("node:child_process").ChildProcessWithoutNullStreams;
  /** stderr so far. */
  stderr(): string;
  done: Promise<CliResult>;
}

/** Spawns the built bin like test/e2e/helpers.ts runCli, but hands back the child (for signals). */
export async function spawnCli(world: TestWorld, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<SpawnedCli> {
  const { spawn } = await import("node:child_process");
  const { BIN } = await import("../e2e/helpers.js");
  const child = spawn(process.execPath, [BIN, ...args], { cwd: world.home, env: { ...world.env, ...(opts.env ?? {}) } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end();
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`amlauth ${args.join(" ")} did not finish within ${opts.timeoutMs ?? 20_000} ms\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
  return { child, stderr: () => stderr, done };
}
