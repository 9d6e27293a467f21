// Issue 6: the `token get` start-up fast path (src/fast-path.ts → dist/fast.cjs). On a cache hit
// it must print exactly what the full CLI prints, load no commander/Azure/HTTP module and send no
// request; everything else must fall through to the full CLI. Every run here is traced (CommonJS
// and ESM loads), so each test also proves which path answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { BIN, REPO_ROOT, startWorld, type CliResult, type TestWorld } from "./helpers.js";
import { fastTokenGetAnswer, parseFastTokenGetArgs, type FastContext } from "../../src/fast-path.js";
import { sha256Hex } from "../../src/rest/cache.js";

const TRACE_REQUIRES = join(REPO_ROOT, "test", "fixtures", "trace-requires.cjs");
const TRACE_IMPORTS = join(REPO_ROOT, "test", "fixtures", "trace-loads.mjs");
const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]*$/;

interface TracedResult extends CliResult {
  /** Repo-relative paths and node: names of every module the process loaded. */
  loads: string[];
}

let world: TestWorld;
let traceDir: string;
let traceCount = 0;

beforeAll(async () => {
  world = await startWorld();
  traceDir = mkdtempSync(join(tmpdir(), "amlauth-fast-trace-"));
  // Fill the caches (kind resolution, control and service tokens) through the full CLI.
  for (const name of ["demo-aks", "demo-k8s"]) {
    const r = await world.run(["token", "get", name], { env: { AMLAUTH_NO_FAST_PATH: "1" } });
    expect(r.code, r.stderr).toBe(0);
    world.secrets.add(r.stdout.trim());
  }
});

afterAll(async () => {
  await world?.close();
  if (traceDir) rmSync(traceDir, { recursive: true, force: true });
});

async function traced(args: string[], env: Record<string, string | undefined> = {}): Promise<TracedResult> {
  const log = join(traceDir, `loads-${++traceCount}.txt`);
  const r = await world.run(args, {
    env: { ...env, AMLAUTH_TRACE_LOADS: log, NODE_OPTIONS: `--require ${TRACE_REQUIRES} --import ${TRACE_IMPORTS}` },
  });
  const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
  // The entry shows up in both traces (the ESM loader runs the CommonJS main module too).
  const loads = [...new Set(lines.map((u) => (u.startsWith("file:") ? relative(REPO_ROOT, new URL(u).pathname) : u)))];
  return { ...r, loads };
}

const answeredFast = (r: TracedResult) => r.loads.includes("dist/fast.cjs") && !r.loads.includes("dist/cli.js");
const fellThrough = (r: TracedResult) => r.loads.includes("dist/cli.js");
const tokenRequests = () => world.emulator.requests().filter((q) => q.path.endsWith("/token")).length;
const cacheDir = () => join(world.env.XDG_CACHE_HOME!, "amlauth");
const tokenFiles = () => readdirSync(cacheDir()).filter((f) => f.startsWith("token-") && f.endsWith(".json"));

describe("a cache hit answered by the fast path", () => {
  const cases: Array<{ what: string; args: string[]; env?: Record<string, string> }> = [
    { what: "raw (the pipe default)", args: ["token", "get", "demo-aks"] },
    { what: "-o json before the command", args: ["-o", "json", "token", "get", "demo-aks"] },
    { what: "--output=env after NAME", args: ["token", "get", "demo-aks", "--output=env"] },
    { what: "-o tsv with --emulator and --no-color", args: ["--emulator", "token", "get", "demo-aks", "-o", "tsv", "--no-color"] },
    { what: "GITHUB_ACTIONS mask lines", args: ["token", "get", "demo-aks"], env: { GITHUB_ACTIONS: "true" } },
    { what: "TF_BUILD mask lines, -o json", args: ["token", "get", "demo-aks", "-o", "json"], env: { TF_BUILD: "True", GITHUB_ACTIONS: "true" } },
    { what: "a v2 endpoint (aml_token)", args: ["token", "get", "demo-k8s", "--api", "v2"] },
    { what: "NAME from AMLAUTH_SERVICE", args: ["token", "get"], env: { AMLAUTH_SERVICE: "demo-aks" } },
  ];
  for (const c of cases) {
    it(`prints what the full CLI prints: ${c.what}`, async () => {
      const before = world.emulator.requests().length;
      const fast = await traced(c.args, c.env);
      expect(fast.code, fast.stderr).toBe(0);
      expect(answeredFast(fast), fast.loads.join(" ")).toBe(true);
      // No request at all: not even the token or ARM lookups a full run may make.
      expect(world.emulator.requests().length).toBe(before);

      const full = await traced(c.args, { ...c.env, AMLAUTH_NO_FAST_PATH: "1" });
      expect(fellThrough(full)).toBe(true);
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
      expect(fast.stdout).toMatch(/eyJ/);
      if (c.env?.GITHUB_ACTIONS) expect(fast.stderr).toMatch(/^::add-mask::eyJ/m);
      if (c.env?.TF_BUILD) expect(fast.stderr).toMatch(/^##vso\[task\.setsecret\]eyJ/m);
    });
  }

  it("loads nothing but the bin, dist/fast.cjs and a few node builtins", async () => {
    const r = await traced(["token", "get", "demo-aks"]);
    expect(r.code).toBe(0);
    const ours = r.loads.filter((l) => !l.startsWith("node:") && !l.startsWith("test/fixtures/"));
    expect(ours.sort()).toEqual(["bin/amlauth.cjs", "dist/fast.cjs"]);
    const builtins = new Set(r.loads.filter((l) => l.startsWith("node:")));
    for (const heavy of ["node:https", "node:http", "node:net", "node:tls", "node:child_process", "node:stream", "node:crypto", "node:fs/promises"]) {
      expect(builtins.has(heavy), heavy).toBe(false);
    }
  });
});

describe("falling through to the full CLI", () => {
  it("a miss fetches a token, and the next run is a fast hit", async () => {
    for (const f of tokenFiles()) rmSync(join(cacheDir(), f));
    const before = tokenRequests();
    const miss = await traced(["token", "get", "demo-aks"]);
    expect(miss.code, miss.stderr).toBe(0);
    expect(fellThrough(miss)).toBe(true);
    expect(miss.stdout.trim()).toMatch(JWT);
    expect(tokenRequests()).toBe(before + 1);
    world.secrets.add(miss.stdout.trim());

    const hit = await traced(["token", "get", "demo-aks"]);
    expect(answeredFast(hit)).toBe(true);
    expect(hit.stdout).toBe(miss.stdout);
    expect(tokenRequests()).toBe(before + 1);
  });

  it("an entry past its refreshAfter fetches a new token", async () => {
    const warm = await world.run(["token", "get", "demo-aks"]);
    expect(warm.code).toBe(0);
    // Age every cached service token: refreshAfter a minute ago, expiry still ahead.
    const past = Math.floor(Date.now() / 1000) - 60;
    for (const f of tokenFiles()) {
      const path = join(cacheDir(), f);
      const entry = JSON.parse(readFileSync(path, "utf8")) as { value: { refreshAfter: number } };
      entry.value.refreshAfter = past;
      writeFileSync(path, JSON.stringify(entry));
    }
    const before = tokenRequests();
    const r = await traced(["token", "get", "demo-aks"]);
    expect(r.code, r.stderr).toBe(0);
    expect(fellThrough(r)).toBe(true);
    expect(r.stdout.trim()).toMatch(JWT);
    expect(tokenRequests()).toBe(before + 1);
    world.secrets.add(r.stdout.trim());
  });

  it("the get command's own flags, --verbose and unknown flags go to the full CLI", async () => {
    const before = tokenRequests();
    const refresh = await traced(["token", "get", "demo-aks", "--force-refresh"]);
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(fellThrough(refresh)).toBe(true);
    expect(tokenRequests()).toBe(before + 1);
    world.secrets.add(refresh.stdout.trim());

    const verbose = await traced(["--verbose", "token", "get", "demo-aks"]);
    expect(verbose.code).toBe(0);
    expect(fellThrough(verbose)).toBe(true);
    expect(verbose.stderr).toMatch(/config file: none found/);

    const unknown = await traced(["token", "get", "demo-aks", "--bogus"]);
    expect(fellThrough(unknown)).toBe(true);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toMatch(/^amlauth: unknown option '--bogus'/);
  });

  it("a config file that needs cosmiconfig goes to the full CLI, with the same answer", async () => {
    const userDir = join(world.env.XDG_CONFIG_HOME!, "amlauth");
    mkdirSync(userDir, { recursive: true });
    const file = join(userDir, "config.json");
    writeFileSync(file, JSON.stringify({ output: "json" }));
    try {
      const r = await traced(["token", "get", "demo-aks"]);
      expect(r.code, r.stderr).toBe(0);
      expect(fellThrough(r)).toBe(true);
      expect(JSON.parse(r.stdout)).toMatchObject({ tokenType: "Bearer" });
    } finally {
      rmSync(file);
    }
  });

  it.skipIf(!existsSync("/usr/bin/script"))("a terminal on stdout gets the full CLI's table", async () => {
    const log = join(traceDir, "loads-tty.txt");
    // util-linux script(1) runs the command on a pseudo-terminal.
    const r = spawnSync("/usr/bin/script", ["-qec", `${process.execPath} ${BIN} token get demo-aks`, "/dev/null"], {
      cwd: world.home,
      env: { ...world.env, AMLAUTH_TRACE_LOADS: log, NODE_OPTIONS: `--require ${TRACE_REQUIRES} --import ${TRACE_IMPORTS}` },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^FIELD\s+VALUE/m);
    expect(readFileSync(log, "utf8")).toContain("/dist/cli.js");
  });
});

describe("fast path units", () => {
  it("names cache files with a SHA-256 equal to node:crypto's", () => {
    for (const text of ["", "abc", "https://127.0.0.1:7443|x|v1|demo-aks", "é😀".repeat(40), "x".repeat(55), "x".repeat(56), "x".repeat(64), "y".repeat(1000)]) {
      expect(sha256Hex(text), JSON.stringify(text.slice(0, 20))).toBe(createHash("sha256").update(text).digest("hex"));
    }
  });

  it("takes only `token get [NAME]` with globals it can resolve", () => {
    expect(parseFastTokenGetArgs(["token", "get", "svc"])).toEqual({ name: "svc", flags: {} });
    expect(parseFastTokenGetArgs(["-w", "ws", "--emulator", "token", "--output=json", "get"])).toEqual({
      name: undefined,
      flags: { workspace: "ws", emulator: true, output: "json" },
    });
    expect(parseFastTokenGetArgs(["-o", "raw", "-o", "env", "token", "get", "svc"])?.flags.output).toBe("env");
    for (const argv of [
      ["token", "get", "svc", "--no-cache"],
      ["token", "get", "svc", "--header"],
      ["token", "get", "svc", "--verbose"],
      ["token", "get", "svc", "-h"],
      ["token", "get", "a", "b"],
      ["token", "get", "--", "svc"],
      ["token", "get", "svc", "-o", "yaml"],
      ["token", "get", "svc", "-ojson"],
      ["token", "get", "svc", "-o"],
      ["token", "get", "svc", "-g", "-w"],
      ["--emulator=true", "token", "get", "svc"],
      ["keys", "list", "svc"],
      ["get", "token", "svc"],
      ["token", "svc", "get"],
    ]) {
      expect(parseFastTokenGetArgs(argv), argv.join(" ")).toBeUndefined();
    }
  });

  it("answers nothing for a terminal, and the same hit for a pipe", async () => {
    // A fresh entry (earlier tests aged them).
    const fresh = await world.run(["token", "get", "demo-k8s"]);
    expect(fresh.code, fresh.stderr).toBe(0);
    world.secrets.add(fresh.stdout.trim());
    const sink = { write: () => true };
    const ctx: FastContext = {
      env: { ...world.env },
      cwd: world.home,
      homedir: world.home,
      now: () => Date.now(),
      stdoutIsTTY: true,
      stdout: sink,
      stderr: sink,
    };
    expect(await fastTokenGetAnswer(["token", "get", "demo-k8s"], ctx)).toBeUndefined();
    const hit = await fastTokenGetAnswer(["token", "get", "demo-k8s"], { ...ctx, stdoutIsTTY: false });
    expect(hit?.text).toBe(fresh.stdout);
    // Past the entry's refreshAfter by the injected clock: a miss.
    const later = hit!.token.refreshAfter * 1000 + 1;
    expect(await fastTokenGetAnswer(["token", "get", "demo-k8s"], { ...ctx, stdoutIsTTY: false, now: () => later })).toBeUndefined();
  });
});

describe("the fast bundle", () => {
  interface Metafile {
    outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
  }
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, "dist", "fast-meta.json"), "utf8")) as Metafile;

  it("is small and built from the shared modules, without commander, Azure, HTTP or parsers", () => {
    const out = meta.outputs["dist/fast.cjs"]!;
    expect(out.bytes).toBeLessThan(64 * 1024);
    const inputs = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k);
    expect(inputs.filter((i) => i.includes("node_modules"))).toEqual([]);
    const forbidden = /^src\/(main|app)\.ts$|^src\/commands\/|^src\/rest\/(session|v1|v2|discovery|poll|resolve)\.ts$|^src\/config\/load\.ts$|^src\/core\/config-file\.ts$|^src\/output\/(print|color)\.ts$|^src\/emulator\/(?!connection|world)/;
    expect(inputs.filter((i) => forbidden.test(i))).toEqual([]);
    // Reused, not copied: the real config, cache, target and output modules are in it.
    for (const shared of ["src/config/locate.ts", "src/config/resolve.ts", "src/rest/cache.ts", "src/rest/session-target.ts", "src/output/format.ts", "src/output/ci.ts", "src/emulator/connection.ts"]) {
      expect(inputs).toContain(shared);
    }
    const requires = [...readFileSync(join(REPO_ROOT, "dist", "fast.cjs"), "utf8").matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    // Not even node:crypto or node:fs/promises (see src/rest/cache.ts and src/fast-path-fs.ts).
    expect(new Set(requires)).toEqual(new Set(["node:fs", "node:path"]));
  });
});
