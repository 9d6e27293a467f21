// amlauth emulator start|stop|status|reset — the local HTTPS emulator of the Azure ML APIs.
// The emulator itself (a separate bundle entry) is imported only by `start`.
import { Command, InvalidArgumentError, Option } from "commander";
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { kill as killProcess } from "node:process";
import type { Context } from "../context.js";
import type { GlobalOptions, OutputFormat } from "./globals.js";
import { AmlauthError, ExitCode, InterruptedError, UsageError } from "../errors.js";
import {
  DEFAULT_EMULATOR_PORT,
  readConnectionFile,
  removeConnectionFile,
  resolveEmulatorDataDir,
} from "../emulator/connection.js";
import type { ConnectionInfo } from "../emulator/types.js";

export interface EmulatorStartOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  inMemory?: boolean;
  empty?: boolean;
  detach?: boolean;
  deployDelayMs?: number;
}

export interface EmulatorDirOptions {
  dataDir?: string;
}

/** Process control, injectable for tests. */
export interface ProcessControl {
  kill(pid: number, signal: NodeJS.Signals | 0): void;
}
const realProcesses: ProcessControl = { kill: (pid, signal) => killProcess(pid, signal) };

/** What /_emulator/health answers. */
interface Health {
  status: string;
  url: string;
  pid: number;
  dataDir: string;
  inMemory: boolean;
  startedAt: string;
}

const LOG_FILE = "emulator.log";
const DETACH_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return n;
}

function parseDelay(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected a number of milliseconds (0 or more)");
  return n;
}

export function makeEmulatorCommand(ctx: Context, globals: () => GlobalOptions): Command {
  const emulator = new Command("emulator").description(
    "run the local HTTPS emulator of the Azure ML APIs (Entra sign-in, ARM, Model Management v1, scoring)",
  );
  emulator.addHelpText(
    "after",
    `
The emulator serves HTTPS with its own CA (ca.pem in the data directory). Its data directory is
--data-dir, else $AMLAUTH_EMULATOR_DIR, else $XDG_STATE_HOME/amlauth/emulator (~/.local/state/...).
Other commands find a running emulator through connection.json there (see --emulator).

Examples:
  amlauth emulator start                 # foreground; Ctrl-C stops it and saves its state
  amlauth emulator start --detach -o json
  amlauth emulator status
  amlauth emulator stop`,
  );

  emulator
    .command("start")
    .description("start the emulator and print its URL and CA file")
    .addOption(new Option("--port <n>", `port to listen on (default ${DEFAULT_EMULATOR_PORT}, or a free one when taken; 0 = any free port)`).argParser(parsePort))
    .option("--host <host>", "address to bind (default 127.0.0.1)")
    .option("--data-dir <dir>", "where certificates, keys and state live")
    .option("--in-memory", "keep services and keys in memory only (certificates still go to the data dir)")
    .option("--empty", "do not seed the demo services and endpoints (applies when the state is new)")
    .option("--detach", "start in the background and return once it answers")
    .addOption(new Option("--deploy-delay-ms <ms>", "time a deploy or update stays Transitioning (default 1500)").argParser(parseDelay))
    .action(async (opts: EmulatorStartOptions) => {
      await runEmulatorStart(opts, ctx, globals);
    });

  emulator
    .command("stop")
    .description("stop the emulator started with --detach (or in another terminal)")
    .option("--data-dir <dir>", "data directory of the emulator to stop")
    .action(async (opts: EmulatorDirOptions) => {
      await runEmulatorStop(opts, ctx, globals);
    });

  emulator
    .command("status")
    .description("say whether the emulator is running (exit 1 when it is not)")
    .option("--data-dir <dir>", "data directory of the emulator")
    .action(async (opts: EmulatorDirOptions) => {
      await runEmulatorStatus(opts, ctx, globals);
    });

  emulator
    .command("reset")
    .description("delete the emulator's services, keys and uploads (only while it is stopped, or when it runs --in-memory)")
    .option("--data-dir <dir>", "data directory of the emulator")
    .action(async (opts: EmulatorDirOptions) => {
      await runEmulatorReset(opts, ctx, globals);
    });

  return emulator;
}

// ---------------------------------------------------------------------------------------------
// start

export async function runEmulatorStart(opts: EmulatorStartOptions, ctx: Context, globals: () => GlobalOptions): Promise<void> {
  const dataDir = resolveEmulatorDataDir(opts.dataDir, ctx.env, ctx.homedir, ctx.cwd);
  if (opts.host !== undefined && opts.host.trim() === "") throw new UsageError("--host needs an address, e.g. 127.0.0.1");
  const running = await findRunning(dataDir);
  if (running !== null) {
    throw new AmlauthError(`an emulator is already running at ${running.url} (pid ${running.pid}) with data dir ${dataDir}`, ExitCode.Failure, {
      hint: "stop it with `amlauth emulator stop`, or pass another --data-dir",
    });
  }
  if (opts.detach) {
    await startDetached(opts, dataDir, ctx, globals);
    return;
  }

  const { startEmulator } = await import("../emulator/index.js");
  // One write per event-loop turn instead of one per request: under load (scoring benchmarks)
  // a syscall per log line would cost real throughput.
  let pending = "";
  const flushLog = () => {
    if (pending !== "") ctx.stderr.write(pending);
    pending = "";
  };
  const log = (line: string) => {
    if (pending === "") setImmediate(flushLog);
    pending += `${line}\n`;
  };
  let emu;
  try {
    emu = await startEmulator({
      port: opts.port ?? DEFAULT_EMULATOR_PORT,
      portFallback: opts.port === undefined,
      host: opts.host ?? "127.0.0.1",
      dataDir,
      inMemory: opts.inMemory === true,
      empty: opts.empty === true,
      deployDelayMs: opts.deployDelayMs ?? 1500,
      writeConnectionFile: true,
      pid: ctx.pid,
      log,
    });
  } catch (err) {
    throw describeStartFailure(err, opts);
  }
  printReady(ctx, globals().output, { url: emu.url, caFile: emu.caFile, pid: ctx.pid });
  if (ctx.stderrIsTTY) ctx.stderr.write("Press Ctrl-C to stop (state is saved).\n");
  await waitForAbort(ctx.signal);
  await emu.close();
  flushLog();
  ctx.stderr.write(`amlauth emulator stopped${opts.inMemory ? "" : `; state saved in ${dataDir}`}\n`);
}

function describeStartFailure(err: unknown, opts: EmulatorStartOptions): AmlauthError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EADDRINUSE") {
    return new AmlauthError(`port ${opts.port} is already in use`, ExitCode.Failure, {
      hint: "pick another with --port, or --port 0 for any free port",
    });
  }
  if (e.code === "EACCES") {
    return new AmlauthError(`not allowed to listen on port ${opts.port ?? DEFAULT_EMULATOR_PORT}`, ExitCode.Failure, {
      hint: "use a port above 1023",
    });
  }
  if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") {
    return new UsageError(`cannot listen on host ${opts.host}: no such local address`);
  }
  if (err instanceof RangeError) return new UsageError(err.message);
  return new AmlauthError(`could not start the emulator: ${e.message ?? String(err)}`, ExitCode.Failure, { cause: err });
}

async function startDetached(opts: EmulatorStartOptions, dataDir: string, ctx: Context, globals: () => GlobalOptions): Promise<void> {
  // Loaded here, not at the top: this file is on every command's start-up path.
  const { spawn } = await import("node:child_process");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const logPath = join(dataDir, LOG_FILE);
  // One log per detached run (truncated), so it never grows across restarts.
  const logFile = await open(logPath, "w", 0o600);
  // Only flags: nothing secret ever goes on this command line.
  const args = [ctx.cliPath, "emulator", "start", "--data-dir", dataDir];
  if (opts.port !== undefined) args.push("--port", String(opts.port));
  if (opts.host !== undefined) args.push("--host", opts.host);
  if (opts.inMemory) args.push("--in-memory");
  if (opts.empty) args.push("--empty");
  if (opts.deployDelayMs !== undefined) args.push("--deploy-delay-ms", String(opts.deployDelayMs));
  let exited: { code: number | null } | null = null;
  let child;
  try {
    child = spawn(ctx.execPath, args, {
      cwd: ctx.cwd,
      env: ctx.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", logFile.fd, logFile.fd],
    });
  } finally {
    await logFile.close();
  }
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let failure: Error | null = null;
  void spawnError.then((err) => (failure = err));
  child.once("exit", (code) => (exited = { code }));
  child.unref();

  const deadline = Date.now() + DETACH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (failure !== null) throw new AmlauthError(`could not start the emulator: ${(failure as Error).message}`);
    if (exited !== null) {
      const last = await lastLogLine(logPath);
      throw new AmlauthError(`the emulator exited during start-up${last ? `: ${last}` : ""}`, ExitCode.Failure, {
        hint: `see ${logPath}, or run \`amlauth emulator start\` in the foreground`,
      });
    }
    const conn = await readConnectionFile(dataDir);
    if (conn !== null && conn.pid === child.pid && (await probeHealth(conn)) !== null) {
      printReady(ctx, globals().output, { url: conn.url, caFile: conn.caFile, pid: conn.pid });
      return;
    }
    await delay(POLL_MS, ctx.signal);
  }
  if (child.pid !== undefined) safeKill(realProcesses, child.pid, "SIGTERM");
  throw new AmlauthError(`the emulator did not answer within ${DETACH_TIMEOUT_MS / 1000} s`, ExitCode.Failure, {
    hint: `see ${logPath}`,
  });
}

async function lastLogLine(file: string): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    const lines = text.trim().split("\n");
    return (lines[lines.length - 1] ?? "").replace(/^amlauth:\s*/, "").slice(0, 300);
  } catch {
    return "";
  }
}

function printReady(ctx: Context, output: OutputFormat | undefined, info: { url: string; caFile: string; pid: number }): void {
  const format = output ?? (ctx.stdoutIsTTY ? "table" : "raw");
  switch (format) {
    case "json":
      ctx.stdout.write(`${JSON.stringify({ url: info.url, caFile: info.caFile, pid: info.pid })}\n`);
      return;
    case "tsv":
      ctx.stdout.write(`${info.url}\t${info.caFile}\t${info.pid}\n`);
      return;
    case "env":
      ctx.stdout.write(
        `AMLAUTH_EMULATOR_URL=${shellQuote(info.url)}\nAMLAUTH_EMULATOR_CA_FILE=${shellQuote(info.caFile)}\nAMLAUTH_EMULATOR_PID=${info.pid}\n`,
      );
      return;
    default:
      ctx.stdout.write(`amlauth emulator listening at ${info.url} (pid ${info.pid})\nCA file: ${info.caFile}\n`);
  }
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// stop / status / reset

export async function runEmulatorStop(
  opts: EmulatorDirOptions,
  ctx: Context,
  globals: () => GlobalOptions,
  processes: ProcessControl = realProcesses,
): Promise<void> {
  const dataDir = resolveEmulatorDataDir(opts.dataDir, ctx.env, ctx.homedir, ctx.cwd);
  const json = globals().output === "json";
  const conn = await readConnectionFile(dataDir);
  const health = conn === null ? null : await probeHealth(conn);
  if (conn === null || health === null) {
    // A stale file (killed emulator) is removed; the pid in it is NOT signalled: it may be reused.
    if (conn !== null) await removeConnectionFile(dataDir, conn);
    if (json) ctx.stdout.write(`${JSON.stringify({ stopped: false, running: false, dataDir })}\n`);
    else ctx.stderr.write(`amlauth: no emulator is running (data dir ${dataDir})\n`);
    return;
  }
  if (conn.pid <= 0 || health.pid !== conn.pid) {
    throw new AmlauthError(`the emulator at ${conn.url} runs inside another program (no process id to stop)`, ExitCode.Failure, {
      hint: "stop the program that started it",
    });
  }
  safeKill(processes, conn.pid, "SIGTERM");
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  // Done when the process is gone, or when it removed its connection file: that is the last step
  // of a graceful close (state flushed). A zombie waiting for its reaper still answers kill(pid, 0).
  while (isAlive(processes, conn.pid) && (await readConnectionFile(dataDir))?.pid === conn.pid) {
    if (Date.now() >= deadline) {
      throw new AmlauthError(`the emulator (pid ${conn.pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s`, ExitCode.Failure, {
        hint: `kill -9 ${conn.pid}`,
      });
    }
    await delay(POLL_MS, ctx.signal);
  }
  await removeConnectionFile(dataDir, conn);
  if (json) ctx.stdout.write(`${JSON.stringify({ stopped: true, url: conn.url, pid: conn.pid })}\n`);
  else ctx.stdout.write(`stopped the emulator at ${conn.url} (pid ${conn.pid})\n`);
}

export async function runEmulatorStatus(opts: EmulatorDirOptions, ctx: Context, globals: () => GlobalOptions): Promise<void> {
  const dataDir = resolveEmulatorDataDir(opts.dataDir, ctx.env, ctx.homedir, ctx.cwd);
  const conn = await readConnectionFile(dataDir);
  const health = conn === null ? null : await probeHealth(conn);
  const json = globals().output === "json";
  if (conn !== null && health !== null) {
    if (json) {
      ctx.stdout.write(
        `${JSON.stringify({ running: true, url: conn.url, caFile: conn.caFile, pid: conn.pid, dataDir, inMemory: health.inMemory, startedAt: health.startedAt })}\n`,
      );
    } else {
      ctx.stdout.write(`running at ${conn.url} (pid ${conn.pid}${health.inMemory ? ", in memory" : ""})\nCA file: ${conn.caFile}\n`);
    }
    return;
  }
  if (json) ctx.stdout.write(`${JSON.stringify({ running: false, dataDir })}\n`);
  throw new AmlauthError(`the emulator is not running (data dir ${dataDir})`, ExitCode.Failure, {
    hint: "start it with `amlauth emulator start`",
  });
}

export async function runEmulatorReset(opts: EmulatorDirOptions, ctx: Context, globals: () => GlobalOptions): Promise<void> {
  const dataDir = resolveEmulatorDataDir(opts.dataDir, ctx.env, ctx.homedir, ctx.cwd);
  const json = globals().output === "json";
  const conn = await readConnectionFile(dataDir);
  const health = conn === null ? null : await probeHealth(conn);
  if (conn !== null && health !== null) {
    if (!health.inMemory) {
      throw new UsageError(`the emulator is running at ${conn.url} (pid ${conn.pid}); its state can only be reset while it is stopped`, {
        hint: "run `amlauth emulator stop` first",
      });
    }
    const reply = await httpsJson(conn, "POST", "/_emulator/reset");
    if (reply === null || reply.status !== 200) throw new AmlauthError(`the emulator at ${conn.url} refused the reset`);
    if (json) ctx.stdout.write(`${JSON.stringify({ reset: true, url: conn.url })}\n`);
    else ctx.stdout.write(`reset the in-memory emulator at ${conn.url}\n`);
    return;
  }
  const { wipeStoredState } = await import("../emulator/store.js");
  const existed = await wipeStoredState(dataDir);
  if (json) ctx.stdout.write(`${JSON.stringify({ reset: existed, dataDir })}\n`);
  else ctx.stdout.write(existed ? `reset the emulator state in ${dataDir}\n` : `nothing to reset in ${dataDir}\n`);
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The emulator recorded in dataDir, if it really answers. */
async function findRunning(dataDir: string): Promise<ConnectionInfo | null> {
  const conn = await readConnectionFile(dataDir);
  if (conn === null) return null;
  return (await probeHealth(conn)) === null ? null : conn;
}

async function probeHealth(conn: ConnectionInfo): Promise<Health | null> {
  const reply = await httpsJson(conn, "GET", "/_emulator/health");
  if (reply === null || reply.status !== 200) return null;
  const body = reply.body as Partial<Health> | null;
  return body !== null && typeof body === "object" && body.status === "ok" && typeof body.pid === "number" ? (body as Health) : null;
}

/** One small HTTPS call to the emulator trusting its CA; null on any network/TLS failure. */
async function httpsJson(conn: ConnectionInfo, method: string, path: string): Promise<{ status: number; body: unknown } | null> {
  let ca: string;
  try {
    ca = await readFile(conn.caFile, "utf8");
  } catch {
    return null;
  }
  const { request: httpsRequest } = await import("node:https");
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(path, conn.url);
    } catch {
      resolve(null);
      return;
    }
    const req = httpsRequest(url, { method, ca, timeout: PROBE_TIMEOUT_MS, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(null));
    req.end();
  });
}

function isAlive(processes: ProcessControl, pid: number): boolean {
  try {
    processes.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function safeKill(processes: ProcessControl, pid: number, signal: NodeJS.Signals): void {
  try {
    processes.kill(pid, signal);
  } catch {
    // already gone
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new InterruptedError());
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
