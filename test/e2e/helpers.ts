// Helpers for end-to-end tests: spawn the built `bin/amlauth.cjs` against an in-process emulator,
// with an isolated HOME/XDG tree, and collect every stderr so a test can prove no secret leaked.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator } from "../../src/emulator/index.js";
import type { RunningEmulator } from "../../src/emulator/types.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(REPO_ROOT, "bin", "amlauth.cjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order (spawned with one shared pipe). */
  combined?: string;
}

export interface TestWorld {
  emulator: RunningEmulator;
  home: string;
  dataDir: string;
  env: Record<string, string>;
  /** Every stderr seen by run(), for the secret-hygiene check. */
  stderrLog: string[];
  /** Every secret the tests have seen (keys, tokens), for the same check. */
  secrets: Set<string>;
  run(args: string[], opts?: RunOptions): Promise<CliResult>;
  close(): Promise<void>;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  /** Merge stdout+stderr into one pipe to observe ordering. */
  combined?: boolean;
  timeoutMs?: number;
}

export async function startWorld(opts: { deployDelayMs?: number; tokenRefreshSeconds?: number; tokenLifetimeSeconds?: number } = {}): Promise<TestWorld> {
  const home = mkdtempSync(join(tmpdir(), "amlauth-e2e-"));
  const dataDir = join(home, "emulator");
  const emulator = await startEmulator({
    port: 0,
    dataDir,
    deployDelayMs: opts.deployDelayMs ?? 0,
    ...(opts.tokenRefreshSeconds !== undefined ? { tokenRefreshSeconds: opts.tokenRefreshSeconds } : {}),
    ...(opts.tokenLifetimeSeconds !== undefined ? { tokenLifetimeSeconds: opts.tokenLifetimeSeconds } : {}),
  });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    AMLAUTH_EMULATOR_DIR: dataDir,
    AMLAUTH_EMULATOR: "1",
    NO_COLOR: "1",
    TZ: "UTC",
  };
  const world: TestWorld = {
    emulator,
    home,
    dataDir,
    env,
    stderrLog: [],
    secrets: new Set(),
    run: (args, runOpts = {}) => runCli(args, { ...runOpts, env: { ...env, ...(runOpts.env ?? {}) }, cwd: home }).then((r) => {
      world.stderrLog.push(r.stderr);
      return r;
    }),
    async close() {
      await emulator.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return world;
}

export function runCli(
  args: string[],
  opts: RunOptions & { env: Record<string, string | undefined>; cwd: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(opts.env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    // combined: one pipe for both streams (via sh 2>&1) so the arrival order is the write order.
    const child = opts.combined
      ? spawn("/bin/sh", ["-c", 'exec "$0" "$@" 2>&1', process.execPath, BIN, ...args], { cwd: opts.cwd, env })
      : spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env });
    let stdout = "";
    let stderr = "";
    let combined = "";
    child.stdout.on("data", (d: Buffer) => {
      if (opts.combined) combined += d.toString();
      else stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`amlauth ${args.join(" ")} did not finish within ${opts.timeoutMs ?? 20_000} ms\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ...(opts.combined ? { combined } : {}) });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Fails with the offending secret's first characters only (never prints a whole secret). */
export function assertNoSecretsIn(texts: string[], secrets: Iterable<string>): void {
  for (const secret of secrets) {
    if (!secret || secret.length < 8) continue;
    for (const text of texts) {
      if (text.includes(secret)) {
        throw new Error(`a secret starting with ${secret.slice(0, 4)}… appeared in stderr: ${text.replace(secret, "[SECRET]").slice(0, 300)}`);
      }
    }
  }
}

/** POST to a URL on the emulator, trusting its CA (no global TLS switches). */
export async function postJson(
  url: string,
  caFile: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { request } = await import("node:https");
  const { readFileSync } = await import("node:fs");
  const ca = readFileSync(caFile, "utf8");
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", ca, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)), ...headers } },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
