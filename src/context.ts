// The one object every command receives. Tests build it with in-memory streams;
// only bin/amlauth.cjs builds it from the real process.
import type { Readable, Writable } from "node:stream";

export interface Context {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
  cwd: string;
  homedir: string;
  /** Milliseconds since the epoch. Injected so tests control time. */
  now(): number;
  /** Path of the node executable and of the CLI entry, for spawning `amlauth emulator start --detach`. */
  execPath: string;
  cliPath: string;
  pid: number;
  /** Aborted on SIGINT/SIGTERM by the bin; long waits listen to it. */
  signal: AbortSignal;
}

export interface ProcessLike {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd(): string;
  execPath: string;
  pid: number;
}

export function createProcessContext(
  proc: ProcessLike,
  opts: { homedir: string; cliPath: string; signal: AbortSignal },
): Context {
  return {
    stdin: proc.stdin,
    stdout: proc.stdout,
    stderr: proc.stderr,
    stdinIsTTY: Boolean(proc.stdin.isTTY),
    stdoutIsTTY: Boolean(proc.stdout.isTTY),
    stderrIsTTY: Boolean(proc.stderr.isTTY),
    env: proc.env,
    cwd: proc.cwd(),
    homedir: opts.homedir,
    now: () => Date.now(),
    execPath: proc.execPath,
    cliPath: opts.cliPath,
    pid: proc.pid,
    signal: opts.signal,
  };
}
