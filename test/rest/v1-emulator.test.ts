// The v1 adapter, discovery, resolution and the session against the real emulator over HTTPS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Context } from "../../src/context.js";
import { EMULATOR_CLIENT_SECRET, EMULATOR_STATIC_TOKEN, startEmulator, type StartedEmulator } from "../../src/emulator/index.js";
import { NotFoundError, RuleViolationError, ServiceError, UsageError } from "../../src/errors.js";
import type { V1DeploySpec } from "../../src/core/deploy-config.js";
import { createSession, type Session, type SessionConfig } from "../../src/rest/session.js";
import { tempDir } from "./helpers.js";

let emu: StartedEmulator;
let root: { dir: string; cleanup(): void };
let session: Session;
const notices: string[] = [];
const FAST_POLL = { initialDelayMs: 5, maxDelayMs: 20 };

function contextFor(env: Record<string, string | undefined>, cwd = root.dir): Context {
  return {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    env,
    cwd,
    homedir: root.dir,
    now: () => Date.now(),
    execPath: process.execPath,
    cliPath: join(root.dir, "no-cli.js"),
    pid: process.pid,
    signal: new AbortController().signal,
  };
}

function openSession(extra: Partial<SessionConfig> = {}, env: Record<string, string> = {}): Promise<Session> {
  const ctx = contextFor({ AMLAUTH_EMULATOR_DIR: emu.dataDir, ...env });
  return createSession(ctx, { emulator: true, cacheDir: join(root.dir, "cache"), ...extra }, { poll: FAST_POLL, notice: (l) => notices.push(l) });
}

/** POST /_emulator/faults (loopback admin route). */
function addFault(fault: Record<string, unknown>): Promise<void> {
  const ca = readFileSync(emu.caFile, "utf8");
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(fault);
    const req = request(`${emu.url}/_emulator/faults`, { method: "POST", ca, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`fault not added: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const countRequests = (since: number, method: string, pathEnd: string) =>
  emu.requestLog(since).filter((r) => r.method === method && r.path.endsWith(pathEnd)).length;
const lastSeq = () => emu.requestLog().at(-1)?.seq ?? 0;

beforeAll(async () => {
  root = tempDir("amlauth-v1-emu-");
  emu = await startEmulator({ port: 0, dataDir: join(root.dir, "emu"), deployDelayMs: 0 });
  session = await openSession();
});
afterAll(async () => {
  session?.close();
  await emu?.close();
  root?.cleanup();
});

describe("resolution and discovery", () => {
  it("finds v1 services and v2 endpoints by name, and names the workspace when neither exists", async () => {
    const aci = await session.resolve("demo-aci");
    expect(aci.api).toBe("v1");
    const managed = await session.resolve("demo-managed");
    expect(managed.api).toBe("v2");
    expect((await managed.backend.get("demo-managed")).api).toBe("v2");
    const missing = await session.resolve("no-such-thing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toBe(
      "no v1 web service or v2 online endpoint named no-such-thing in workspace amlauth-ws (resource group amlauth-rg)",
    );
  });

  it("answers a second resolution and discovery from the cache, with no request", async () => {
    const other = await openSession();
    const since = lastSeq();
    expect((await other.resolve("demo-aci")).api).toBe("v1");
    expect(other.cache.getDiscovery()?.modelmanagement).toBe(emu.url);
    expect(emu.requestLog(since)).toEqual([]);
    // The first real call reuses the cached control-plane token: no sign-in request.
    await (await other.backend("v1")).get("demo-aci");
    expect(countRequests(since, "POST", "/oauth2/v2.0/token")).toBe(0);
    expect(countRequests(since, "GET", "/discovery")).toBe(0);
    other.close();
  });

  it("refuses an ambiguous name with the documented hint", async () => {
    const v2 = await session.backend("v2");
    await v2.deploy({ api: "v2", name: "demo-aci", authMode: "key" }, { wait: true });
    const fresh = await openSession({}, {});
    fresh.cache.deleteKind("demo-aci");
    const err = await fresh.resolve("demo-aci").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      "demo-aci exists as both a v1 web service and a v2 online endpoint; pass --api v1 or --api v2 (or set api in your profile)",
    );
    const explicit = await openSession({ api: "v1" });
    expect((await explicit.resolve("demo-aci")).api).toBe("v1");
    fresh.close();
    explicit.close();
  });
});

describe("v1 adapter", () => {
  it("reads services and maps their auth mode", async () => {
    const v1 = await session.backend("v1");
    const aci = await v1.get("demo-aci");
    expect(aci).toMatchObject({ api: "v1", name: "demo-aci", computeType: "ACI", authMode: "key", authEnabled: true, tokenAuthEnabled: false, state: "Healthy" });
    expect(aci.scoringUri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    const aks = await v1.get("demo-aks");
    expect(aks).toMatchObject({ computeType: "AKS", authMode: "token", authEnabled: false, tokenAuthEnabled: true });
    expect(await v1.find("nope-svc")).toBeNull();
    await expect(v1.get("nope-svc")).rejects.toThrow("web service nope-svc in workspace amlauth-ws (resource group amlauth-rg) not found");
  });

  it("lists keys, regenerates one (generated and explicit), and mints tokens", async () => {
    const v1 = await session.backend("v1");
    const before = await v1.listKeys("demo-aci");
    await v1.regenerateKey("demo-aci", "Secondary", undefined, { wait: true });
    const after = await v1.listKeys("demo-aci");
    expect(after.primaryKey).toBe(before.primaryKey);
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    await v1.regenerateKey("demo-aci", "Primary", "explicit-primary-key-0123456789", { wait: true });
    expect((await v1.listKeys("demo-aci")).primaryKey).toBe("explicit-primary-key-0123456789");

    const token = await v1.getToken("demo-aks");
    expect(token.accessToken.split(".")).toHaveLength(3);
    expect(token.refreshAfter).toBeLessThan(token.expiryOn);
    const aci = await v1.getToken("demo-aci").catch((e: unknown) => e);
    expect(aci).toBeInstanceOf(ServiceError);
    expect((aci as ServiceError).status).toBe(400);
    expect((aci as Error).message).not.toContain("\n");
  });

  it("switches auth modes with a JSON Patch and waits for the operation", async () => {
    const v1 = await session.backend("v1");
    const progress: string[] = [];
    const keyMode = await v1.setAuthMode("demo-aks", { mode: "key" }, { wait: true, onProgress: (l) => progress.push(l) });
    expect(keyMode).toMatchObject({ authMode: "key", authEnabled: true, tokenAuthEnabled: false, state: "Healthy" });
    expect(progress.at(-1)).toBe("Succeeded");
    const back = await v1.setAuthMode("demo-aks", { mode: "token" }, { wait: true });
    expect(back.authMode).toBe("token");
    const since = lastSeq();
    expect((await v1.setAuthMode("demo-aks", { mode: "token" }, { wait: true })).authMode).toBe("token");
    expect(countRequests(since, "PATCH", "/services/demo-aks")).toBe(0); // already there: nothing sent
    await expect(v1.setAuthMode("demo-aci", { mode: "token" }, { wait: true })).rejects.toBeInstanceOf(RuleViolationError);
  });
});

describe("no double-apply", () => {
  it("a regenerate whose reply is lost after the server applied it is not sent again", async () => {
    const v1 = await session.backend("v1");
    const before = await v1.listKeys("demo-aci");
    await addFault({ match: { method: "POST", pathRegex: "/services/demo-aci/regenerateKeys$" }, action: "reset", count: 1, afterApply: true });
    const since = lastSeq();
    await v1.regenerateKey("demo-aci", "Secondary", undefined, { wait: true });
    const posts = emu.requestLog(since).filter((r) => r.method === "POST" && r.path.endsWith("/regenerateKeys"));
    expect(posts.map((r) => r.status)).toEqual([0]); // the one POST was answered with a reset
    const after = await v1.listKeys("demo-aci");
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    expect(after.primaryKey).toBe(before.primaryKey);
  });

  it("a regenerate refused before applying (503) is retried exactly once", async () => {
    const v1 = await session.backend("v1");
    const before = await v1.listKeys("demo-aci");
    await addFault({ match: { method: "POST", pathRegex: "/services/demo-aci/regenerateKeys$" }, action: "503", count: 1 });
    const since = lastSeq();
    await v1.regenerateKey("demo-aci", "Primary", undefined, { wait: true });
    const posts = emu.requestLog(since).filter((r) => r.method === "POST" && r.path.endsWith("/regenerateKeys"));
    expect(posts.map((r) => r.status)).toEqual([503, 202]);
    expect((await v1.listKeys("demo-aci")).primaryKey).not.toBe(before.primaryKey);
  });

  it("survives 429 with Retry-After and a reset on reads", async () => {
    const v1 = await session.backend("v1");
    await addFault({ match: { method: "POST", pathRegex: "/services/demo-aks/listkeys$" }, action: "429", retryAfterSeconds: 0, count: 2 });
    await addFault({ match: { method: "GET", pathRegex: "/services/demo-aks$" }, action: "reset", count: 1 });
    expect((await v1.listKeys("demo-aks")).primaryKey.length).toBeGreaterThan(8);
    expect((await v1.get("demo-aks")).name).toBe("demo-aks");
  });
});

describe("deploy", () => {
  function deploySpec(over: Partial<V1DeploySpec>): V1DeploySpec {
    return {
      api: "v1",
      name: "svc-new",
      computeType: "ACI",
      models: ["demo-model:1"],
      entryScript: "score.py",
      authEnabled: true,
      aadAuthEnabled: false,
      extra: {},
      ...over,
    };
  }

  it("uploads the source directory, fetches the environment and waits until Healthy", async () => {
    const src = join(root.dir, "proj", "src");
    mkdirSync(join(src, "lib"), { recursive: true });
    writeFileSync(join(src, "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
    writeFileSync(join(src, "lib", "util.py"), "X = 1\n");
    const v1 = await session.backend("v1");
    const since = lastSeq();
    const info = await v1.deploy(deploySpec({ name: "aci-deployed", sourceDir: "proj/src", environment: { name: "demo-env", version: "1" } }), {
      wait: true,
    });
    expect(info).toMatchObject({ name: "aci-deployed", computeType: "ACI", authMode: "key", state: "Healthy" });
    const log = emu.requestLog(since);
    expect(log.filter((r) => r.method === "POST" && r.path.includes("/artifacts/batch/metadata/LocalUpload/"))).toHaveLength(2);
    expect(log.filter((r) => r.method === "PUT" && r.path.startsWith("/blob/"))).toHaveLength(2);
    expect(log.filter((r) => r.path.includes("/environments/demo-env/versions/1"))).toHaveLength(1);
    expect(log.filter((r) => r.method === "POST" && r.path.endsWith("/services"))).toHaveLength(1);
    expect((await v1.listKeys("aci-deployed")).primaryKey.length).toBeGreaterThan(8);
  });

  it("AKS with token auth; a create whose reply is lost is followed, not re-sent", async () => {
    writeFileSync(join(root.dir, "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
    await addFault({ match: { method: "POST", pathRegex: "/services$" }, action: "reset", count: 1, afterApply: true });
    const v1 = await session.backend("v1");
    const since = lastSeq();
    const info = await v1.deploy(
      deploySpec({ name: "aks-deployed", computeType: "AKS", computeTarget: "aks-compute", authEnabled: false, aadAuthEnabled: true }),
      { wait: true },
    );
    expect(info).toMatchObject({ computeType: "AKS", authMode: "token", state: "Healthy" });
    const creates = emu.requestLog(since).filter((r) => r.method === "POST" && r.path.endsWith("/services"));
    expect(creates.map((r) => r.status)).toEqual([0]);
  });

  it("names a missing model and refuses to replace an existing service without overwrite", async () => {
    const v1 = await session.backend("v1");
    const since = lastSeq();
    const missing = await v1.deploy(deploySpec({ name: "svc-x", models: ["demo-model:2"] }), { wait: true }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toBe("model demo-model:2 not found in workspace amlauth-ws");
    expect(countRequests(since, "POST", "/services")).toBe(0);
    await expect(v1.deploy(deploySpec({ name: "demo-aci" }), { wait: true })).rejects.toThrow(/already exists/);
  });
});

describe("session credentials", () => {
  it("refreshes a cached control token the service rejects, once, and caches the new one", async () => {
    const cacheDir = join(root.dir, "cache-401");
    const first = await openSession({ cacheDir });
    await (await first.backend("v1")).get("demo-aci");
    first.close();
    // Replace the cached token with one the emulator will refuse (same file, same expiry).
    const files = readdirSync(cacheDir).filter((f) => f.startsWith("control-"));
    expect(files).toHaveLength(1);
    const file = join(cacheDir, files[0]!);
    const entry = JSON.parse(readFileSync(file, "utf8"));
    entry.value.token = "revoked-token";
    writeFileSync(file, JSON.stringify(entry), { mode: 0o600 });

    const second = await openSession({ cacheDir });
    const since = lastSeq();
    expect((await (await second.backend("v1")).get("demo-aks")).name).toBe("demo-aks");
    const log = emu.requestLog(since);
    expect(log.map((r) => r.status)).toEqual([401, 200, 200]); // refused GET, sign-in, GET again
    expect(JSON.parse(readFileSync(file, "utf8")).value.token).not.toBe("revoked-token");
    second.close();
  });

  it("uses AMLAUTH_ACCESS_TOKEN only with --credential static, without signing in or caching it", async () => {
    const cacheDir = join(root.dir, "cache-static");
    const ignored = await openSession({ cacheDir }, { AMLAUTH_ACCESS_TOKEN: "an-azure-token-from-ci" });
    expect(ignored.credentialKind).toBe("emulator"); // never sent to the emulator unless asked
    ignored.close();
    const s = await openSession({ cacheDir, credential: "static" }, { AMLAUTH_ACCESS_TOKEN: EMULATOR_STATIC_TOKEN });
    expect(s.credentialKind).toBe("static");
    const since = lastSeq();
    expect((await (await s.backend("v1")).listKeys("demo-aks")).primaryKey.length).toBeGreaterThan(8);
    expect(countRequests(since, "POST", "/oauth2/v2.0/token")).toBe(0);
    const written = readdirSync(cacheDir).map((f) => readFileSync(join(cacheDir, f), "utf8")).join("\n");
    expect(written).not.toContain(EMULATOR_STATIC_TOKEN);
    s.close();
  });

  it("traces every call with --verbose and never prints a key or token", async () => {
    const lines: string[] = [];
    const ctx = contextFor({ AMLAUTH_EMULATOR_DIR: emu.dataDir });
    const s = await createSession(ctx, { emulator: true, cacheDir: join(root.dir, "cache-trace") }, { verbose: true, trace: (l) => lines.push(l), poll: FAST_POLL });
    const v1 = await s.backend("v1");
    const keys = await v1.listKeys("demo-aks");
    const token = await v1.getToken("demo-aks");
    const text = lines.join("\n");
    expect(text).toMatch(/→ POST https:\/\/127\.0\.0\.1:\d+\/modelmanagement\/v1\.0\/.*\/services\/demo-aks\/listkeys/);
    expect(text).toMatch(/← 201 \(\d+ ms\)/);
    for (const secret of [keys.primaryKey, keys.secondaryKey, token.accessToken, EMULATOR_CLIENT_SECRET]) expect(text).not.toContain(secret);
    expect(text).toContain("[REDACTED]");
    s.close();
  });
});

describe("emulator discovery by the session", () => {
  it("starts the emulator when the connection file points at nothing", async () => {
    const dir = join(root.dir, "stale-emu");
    mkdirSync(dir, { recursive: true });
    const stale = { ...emu.connection, url: "https://127.0.0.1:1", dataDir: dir };
    writeFileSync(join(dir, "connection.json"), JSON.stringify(stale));
    // Stands in for `amlauth emulator start --detach`: records its argv and writes a fresh file.
    const fakeCli = join(root.dir, "fake-cli.mjs");
    writeFileSync(
      fakeCli,
      `import { writeFileSync } from "node:fs";
writeFileSync(${JSON.stringify(join(dir, "argv.json"))}, JSON.stringify(process.argv.slice(2)));
writeFileSync(${JSON.stringify(join(dir, "connection.json"))}, JSON.stringify(${JSON.stringify({ ...emu.connection, dataDir: dir })}));
`,
    );
    const ctx = { ...contextFor({ AMLAUTH_EMULATOR_DIR: dir }), cliPath: fakeCli };
    const seen: string[] = [];
    const s = await createSession(ctx, { emulator: true, cacheDir: join(root.dir, "cache2") }, { notice: (l) => seen.push(l) });
    expect(JSON.parse(readFileSync(join(dir, "argv.json"), "utf8"))).toEqual(["emulator", "start", "--detach"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/starting one in the background/);
    expect(s.target.armEndpoint).toBe(emu.url);
    expect((await (await s.backend("v1")).get("demo-aks")).name).toBe("demo-aks");
    s.close();
  });
});
