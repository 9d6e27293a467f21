// `amlauth emulator start|stop|status|reset`: run functions in process, and real detached processes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { access, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import type { Context } from "../../src/context.js";
import type { GlobalOptions } from "../../src/commands/globals.js";
import { AmlauthError, ExitCode, UsageError } from "../../src/errors.js";
import { runEmulatorReset, runEmulatorStart, runEmulatorStatus, runEmulatorStop } from "../../src/commands/emulator.js";
import { defaultEmulatorDataDir, resolveEmulatorDataDir } from "../../src/emulator/connection.js";
import { startEmulator } from "../../src/emulator/index.js";
import { decorate, freshDataDirs, httpsCall, MMS } from "./helpers.js";

interface TestCtx {
  ctx: Context;
  stdout: () => string;
  stderr: () => string;
  abort: () => void;
}

function makeCtx(overrides: Partial<Context> = {}): TestCtx {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => (stdout += d));
  err.on("data", (d) => (stderr += d));
  const controller = new AbortController();
  const ctx: Context = {
    stdin: new PassThrough(),
    stdout: out,
    stderr: err,
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env: {},
    cwd: "/",
    homedir: "/nonexistent-home",
    now: () => Date.now(),
    execPath: process.execPath,
    cliPath: "/nonexistent-cli",
    pid: 424242,
    signal: controller.signal,
    ...overrides,
  };
  return { ctx, stdout: () => stdout, stderr: () => stderr, abort: () => controller.abort() };
}

const json = (): GlobalOptions => ({ output: "json" });
const table = (): GlobalOptions => ({ output: "table" });

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exists = (file: string) => access(file).then(() => true, () => false);
const freshDir = freshDataDirs();

describe("data directory", () => {
  it("uses --data-dir, then AMLAUTH_EMULATOR_DIR, then the XDG state dir", () => {
    expect(defaultEmulatorDataDir({}, "/home/u")).toBe("/home/u/.local/state/amlauth/emulator");
    expect(defaultEmulatorDataDir({ XDG_STATE_HOME: "/xdg" }, "/home/u")).toBe("/xdg/amlauth/emulator");
    expect(defaultEmulatorDataDir({ XDG_STATE_HOME: "relative" }, "/home/u")).toBe("/home/u/.local/state/amlauth/emulator");
    expect(resolveEmulatorDataDir(undefined, { AMLAUTH_EMULATOR_DIR: "emu" }, "/home/u", "/work")).toBe("/work/emu");
    expect(resolveEmulatorDataDir("/flag", { AMLAUTH_EMULATOR_DIR: "/env" }, "/home/u", "/work")).toBe("/flag");
  });
});

describe("start in the foreground (in process)", () => {
  it("prints one JSON line, writes connection.json, logs requests, and cleans up when the signal aborts", async () => {
    const dataDir = await freshDir();
    const t = makeCtx();
    const running = runEmulatorStart({ dataDir, port: 0, deployDelayMs: 0 }, t.ctx, json);
    const line = await waitFor(() => (t.stdout().includes("\n") ? t.stdout() : undefined), "the ready line");
    expect(line.trim().split("\n")).toHaveLength(1);
    const ready = JSON.parse(line);
    expect(ready).toEqual({ url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), caFile: join(dataDir, "ca.pem"), pid: 424242 });
    const conn = JSON.parse(await readFile(join(dataDir, "connection.json"), "utf8"));
    expect(conn).toMatchObject({ url: ready.url, caFile: ready.caFile, pid: 424242, dataDir, workspace: "amlauth-ws" });
    expect((await stat(join(dataDir, "key.pem"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "signing-key.pem"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "state.json"))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dataDir, "connection.json"), "utf8")).not.toMatch(/PRIVATE KEY|secret/i);

    const ca = await readFile(ready.caFile, "utf8");
    expect((await httpsCall(`${ready.url}/discovery`, ca, "GET")).status).toBe(200);
    await waitFor(() => (/^GET \/discovery 200 \d+ms$/m.test(t.stderr()) ? true : undefined), "the request log line");

    // status while running; a second start on the same dir is refused
    const s = makeCtx();
    await runEmulatorStatus({ dataDir }, s.ctx, json);
    expect(JSON.parse(s.stdout())).toMatchObject({ running: true, url: ready.url, pid: 424242, inMemory: false });
    await expect(runEmulatorStart({ dataDir, port: 0 }, makeCtx().ctx, json)).rejects.toThrow(/already running/);
    // reset is refused while a file-backed emulator runs
    await expect(runEmulatorReset({ dataDir }, makeCtx().ctx, json)).rejects.toBeInstanceOf(UsageError);

    t.abort();
    await running;
    expect(await exists(join(dataDir, "connection.json"))).toBe(false);
    expect(t.stderr()).toMatch(/emulator stopped; state saved in/);

    const after = makeCtx();
    const failure = await runEmulatorStatus({ dataDir }, after.ctx, json).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AmlauthError);
    expect((failure as AmlauthError).exitCode).toBe(ExitCode.Failure);
    expect(JSON.parse(after.stdout())).toEqual({ running: false, dataDir });

    const reset = makeCtx();
    await runEmulatorReset({ dataDir }, reset.ctx, table);
    expect(reset.stdout()).toMatch(/^reset the emulator state in /);
    expect(await exists(join(dataDir, "state.json"))).toBe(false);
    expect(await exists(join(dataDir, "ca.pem"))).toBe(true);
    const again = makeCtx();
    await runEmulatorReset({ dataDir }, again.ctx, table);
    expect(again.stdout()).toMatch(/^nothing to reset/);
  });

  it("prints human lines for table output, resets an in-memory emulator while it runs", async () => {
    const dataDir = await freshDir();
    const t = makeCtx({ stdoutIsTTY: true });
    const running = runEmulatorStart({ dataDir, port: 0, inMemory: true, deployDelayMs: 0 }, t.ctx, () => ({}));
    await waitFor(() => (t.stdout().includes("CA file:") ? true : undefined), "the ready lines");
    expect(t.stdout()).toMatch(/^amlauth emulator listening at https:\/\/127\.0\.0\.1:\d+ \(pid 424242\)\nCA file: .*ca\.pem\n$/);
    const conn = JSON.parse(await readFile(join(dataDir, "connection.json"), "utf8"));
    const emu = { url: conn.url, ca: await readFile(conn.caFile, "utf8") };
    const created = await httpsCall(`${emu.url}${MMS}/services`, emu.ca, "POST", {
      bearer: "amlauth-emulator-static-token",
      body: { name: "temp-aci", computeType: "ACI", environmentImageRequest: { modelIds: [] } },
    });
    expect(created.status).toBe(202);
    const r = makeCtx();
    await runEmulatorReset({ dataDir }, r.ctx, json);
    expect(JSON.parse(r.stdout())).toEqual({ reset: true, url: conn.url });
    const gone = await httpsCall(`${emu.url}${MMS}/services/temp-aci`, emu.ca, "GET", { bearer: "amlauth-emulator-static-token" });
    expect(gone.status).toBe(404);
    t.abort();
    await running;
    expect(await exists(join(dataDir, "state.json"))).toBe(false); // in memory: nothing written
  });

  it("stop refuses an emulator that runs inside another program (no process id of its own)", async () => {
    const dataDir = await freshDir();
    const inProcess = await startEmulator({ port: 0, dataDir, inMemory: true, deployDelayMs: 0 });
    try {
      const signalled: number[] = [];
      const err = await runEmulatorStop({ dataDir }, makeCtx().ctx, json, { kill: (pid) => void signalled.push(pid) }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/runs inside another program/);
      expect(signalled).toEqual([]);
    } finally {
      await inProcess.close();
    }
  });

  it("explains a taken --port, and falls back from the default port", async () => {
    const dataDir = await freshDir();
    const holder = decorate(await startEmulator({ port: 0, inMemory: true, deployDelayMs: 0, dataDir: await freshDir(), writeConnectionFile: false }), "", null);
    try {
      const err = await runEmulatorStart({ dataDir, port: holder.port, inMemory: true }, makeCtx().ctx, json).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AmlauthError);
      expect((err as AmlauthError).message).toBe(`port ${holder.port} is already in use`);
      const fallback = await startEmulator({ port: holder.port, portFallback: true, inMemory: true, dataDir, writeConnectionFile: false });
      expect(fallback.port).not.toBe(holder.port);
      await fallback.close();
    } finally {
      await holder.close();
    }
  });
});

describe("detached processes", () => {
  let cliPath: string;
  beforeAll(async () => {
    const scratch = await freshDir();
    cliPath = join(scratch, "amlauth-emulator-cli.mjs");
    await build({
      entryPoints: [join(import.meta.dirname, "fixtures/emulator-cli.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: cliPath,
      logLevel: "silent",
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  });

  it("start --detach returns once it answers; status and stop work on the real process", async () => {
    const dataDir = await freshDir();
    const ctx = () => makeCtx({ cliPath, env: { PATH: process.env["PATH"] } });
    const start = ctx();
    await runEmulatorStart({ dataDir, port: 0, detach: true, deployDelayMs: 0 }, start.ctx, json);
    const ready = JSON.parse(start.stdout());
    expect(ready.pid).not.toBe(424242);
    expect(ready.pid).toBeGreaterThan(0);
    const ca = await readFile(ready.caFile, "utf8");
    const keys = await httpsCall(`${ready.url}${MMS}/services/demo-aci/listkeys`, ca, "POST", { bearer: "amlauth-emulator-static-token" });
    expect(keys.status).toBe(200);
    expect((await httpsCall(`${ready.url}/aci/demo-aci/score`, ca, "POST", { body: { x: 1 }, bearer: keys.json.primaryKey })).status).toBe(200);

    const status = ctx();
    await runEmulatorStatus({ dataDir }, status.ctx, table);
    expect(status.stdout()).toContain(`running at ${ready.url} (pid ${ready.pid})`);

    const stop = ctx();
    await runEmulatorStop({ dataDir }, stop.ctx, json);
    expect(JSON.parse(stop.stdout())).toEqual({ stopped: true, url: ready.url, pid: ready.pid });
    expect(await exists(join(dataDir, "connection.json"))).toBe(false);
    await expect(httpsCall(`${ready.url}/discovery`, ca, "GET")).rejects.toThrow();
    const log = await readFile(join(dataDir, "emulator.log"), "utf8");
    expect(log).toMatch(/POST \/aci\/demo-aci\/score 200/);
    expect(log).not.toContain(keys.json.primaryKey);
    expect((await stat(join(dataDir, "emulator.log"))).mode & 0o777).toBe(0o600);

    // stop again: nothing to do, not an error
    const idle = ctx();
    await runEmulatorStop({ dataDir }, idle.ctx, table);
    expect(idle.stderr()).toMatch(/no emulator is running/);
  });

  it("start --detach reports a child that fails during start-up", async () => {
    const dataDir = await freshDir();
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dataDir, "state.json"), "{ not json");
    const t = makeCtx({ cliPath, env: { PATH: process.env["PATH"] } });
    const err = await runEmulatorStart({ dataDir, port: 0, detach: true }, t.ctx, json).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmlauthError);
    expect((err as AmlauthError).message).toMatch(/exited during start-up: .*cannot be loaded/);
  });

  it("stop leaves the process of a stale connection file alone", async () => {
    const dataDir = await freshDir();
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(dataDir, "connection.json"),
      JSON.stringify({ url: "https://127.0.0.1:1", caFile: join(dataDir, "ca.pem"), pid: process.pid, dataDir, startedAt: "", subscriptionId: "s", resourceGroup: "r", workspace: "w", tenantId: "t", clientId: "c" }),
    );
    const signalled: number[] = [];
    const t = makeCtx();
    await runEmulatorStop({ dataDir }, t.ctx, json, { kill: (pid) => void signalled.push(pid) });
    expect(signalled).toEqual([]);
    expect(JSON.parse(t.stdout())).toMatchObject({ stopped: false, running: false });
    expect(await exists(join(dataDir, "connection.json"))).toBe(false);
  });
});
