// Issue 7, part 3: one run of a representative superset of the end-to-end commands, all with
// --verbose, then proof that no key, token, client secret or emulator signing/TLS key appears
//   - on stderr (traces, notices, error messages) — the traces show [REDACTED] instead,
//   - in any file under HOME/cwd other than the 0600 token cache and the emulator's own 0600 files,
//   - in the argv of a child process amlauth spawns (the --exec hook, the detached emulator).
// Most commands run in process (fast); the two that spawn children run through the built bin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { runCli, startWorld, type CliResult, type TestWorld } from "../e2e/helpers.js";
import { EMULATOR_CLIENT_SECRET } from "../../src/emulator/world.js";
import { runInProcess, waitFor } from "./helpers.js";
import { storedState } from "./world-state.js";

let world: TestWorld;
/** Everything amlauth wrote to stderr in this file, per command. */
const stderrs: Array<{ args: string[]; stderr: string }> = [];
const secrets = new Set<string>();
let detachedPid: number | undefined;

const JWT = /eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/g;
const SCORE_PY = "def init():\n    pass\n\ndef run(data):\n    return data\n";

function remember(value: string | undefined): void {
  if (value && value.trim().length >= 8) secrets.add(value.trim());
}

/** Keys of every service and endpoint as the server holds them right now. */
function rememberStoredKeys(state = storedState(world)): void {
  for (const s of Object.values(state.v1Services)) [s.keys.primaryKey, s.keys.secondaryKey].forEach(remember);
  for (const e of Object.values(state.v2Endpoints)) [e.keys.primaryKey, e.keys.secondaryKey].forEach(remember);
}

/** Every 64-character base64 line of a PEM private key: any one of them showing up is a leak. */
function rememberPemLines(file: string): void {
  for (const line of readFileSync(file, "utf8").split("\n")) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) secrets.add(line);
}

async function amlauth(args: string[], opts: { input?: string; env?: Record<string, string>; expect?: number } = {}): Promise<CliResult> {
  const r = await runInProcess(world, [...args, "--verbose"], { ...(opts.input !== undefined ? { input: opts.input } : {}), env: opts.env ?? {} });
  stderrs.push({ args, stderr: r.stderr });
  expect(r.code, `amlauth ${args.join(" ")}: ${r.stderr.split("\n").filter((l) => l.startsWith("amlauth:")).join(" ")}`).toBe(opts.expect ?? 0);
  for (const jwt of r.stdout.match(JWT) ?? []) remember(jwt);
  rememberStoredKeys();
  return r;
}

async function amlauthSpawned(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await runCli([...args, "--verbose"], { env: { ...world.env, TMPDIR: join(world.home, "tmp"), ...env }, cwd: world.home, timeoutMs: 30_000 });
  stderrs.push({ args, stderr: r.stderr });
  return r;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    return e.isDirectory() ? walk(full) : e.isFile() ? [full] : [];
  });
}

function leakedIn(text: string): string | undefined {
  for (const secret of secrets) if (text.includes(secret)) return secret;
  const jwt = text.match(JWT)?.[0];
  return jwt;
}

beforeAll(async () => {
  world = await startWorld();
  mkdirSync(join(world.home, "tmp"), { recursive: true });
  mkdirSync(join(world.home, "src"), { recursive: true });
  writeFileSync(join(world.home, "src", "score.py"), SCORE_PY);
  remember(EMULATOR_CLIENT_SECRET);
  rememberPemLines(join(world.dataDir, "signing-key.pem"));
  rememberPemLines(join(world.dataDir, "key.pem"));
  rememberStoredKeys();
});

afterAll(async () => {
  if (detachedPid !== undefined) {
    try {
      process.kill(detachedPid, "SIGTERM");
    } catch {
      // already stopped
    }
  }
  await world.close();
});

describe("secret hygiene across the command surface, with --verbose", () => {
  it("keeps every secret off stderr, out of files other than 0600 ones, and out of child argv", { timeout: 60_000 }, async () => {
    // v1: keys, regen (random and from stdin), tokens in every shape, show/set, deploys, invoke, check.
    await amlauth(["keys", "list", "demo-aci", "-o", "json"]);
    await amlauth(["keys", "list", "demo-aci", "--secondary", "--header"]);
    await amlauth(["keys", "list", "demo-aci", "--curl-config"]);
    await amlauth(["keys", "regen", "demo-aci", "--primary", "--yes"]);
    const stdinKey = "stdinKeyValue-0123456789abcdefXYZ";
    remember(stdinKey);
    await amlauth(["keys", "regen", "demo-aci", "--secondary", "--value-stdin", "--yes"], { input: stdinKey + "\n" });
    await amlauth(["keys", "regen", "demo-aci", "--secondary", "--yes", "-o", "json"]);
    await amlauth(["token", "get", "demo-aks"]);
    await amlauth(["token", "get", "demo-aks", "-o", "json", "--force-refresh"]);
    await amlauth(["token", "get", "demo-aks", "--header"]);
    await amlauth(["token", "get", "demo-aks", "--curl-config", "--no-cache"]);
    await amlauth(["token", "get", "demo-aks", "-o", "env"]);
    await amlauth(["auth", "show", "demo-aks", "-o", "json"]);
    await amlauth(["deploy", "h-aci", "--compute-type", "aci", "-m", "demo-model:1", "--entry-script", "src/score.py", "--auth", "key"]);
    await amlauth(["deploy", "h-aks", "--compute-type", "aks", "--compute-target", "aks-compute", "-m", "demo-model:1", "--entry-script", "score.py", "--source-dir", "src", "--auth", "token"]);
    await amlauth(["auth", "set", "h-aks", "--mode", "key"]);
    await amlauth(["auth", "set", "h-aks", "--mode", "token"]);
    await amlauth(["invoke", "demo-aks", "--data", '{"data":[[1,2]]}']);
    await amlauth(["invoke", "h-aci", "--data", "{}"]);
    await amlauth(["auth", "check", "demo-aci"]);
    await amlauth(["auth", "check", "demo-aci", "--key", "secondary"]);
    await amlauth(["auth", "check", "demo-aks", "--token"]);
    // v2: managed and Kubernetes endpoints, aad_token (an Entra data-plane token on stdout).
    await amlauth(["keys", "list", "demo-managed", "-o", "json"]);
    await amlauth(["keys", "regen", "demo-managed", "--secondary", "--yes"]);
    await amlauth(["token", "get", "demo-k8s"]);
    await amlauth(["auth", "set", "demo-managed", "--mode", "aad_token"]);
    await amlauth(["token", "get", "demo-managed"]);
    await amlauth(["auth", "set", "demo-managed", "--mode", "key"]);
    await amlauth(["deploy", "--api", "v2", "h-endpoint", "--auth", "aml_token"]);
    // Failures carry the secret they were given into their error path: it must stay out.
    const wrongKey = "wrong-key-0123456789-abcdef";
    remember(wrongKey);
    await amlauth(["auth", "check", "demo-aci", "--credential-stdin"], { input: wrongKey, expect: 4 });
    const rejectedToken = "rejected-static-token-0123456789";
    remember(rejectedToken);
    await amlauth(["keys", "list", "demo-aci", "--credential", "static"], { env: { AMLAUTH_ACCESS_TOKEN: rejectedToken }, expect: 4 });
    await amlauth(["keys", "list", "no-such-svc", "--api", "v1"], { expect: 3 });
    await amlauth(["keys", "regen", "demo-aci", "--primary"], { expect: 2 });

    // keys rotate --exec through the bin: the hook records its own argv and its parent's (amlauth),
    // and a hash of the key it was handed, proving it got the key through the environment only.
    const hook =
      `tr '\\0' ' ' < /proc/$$/cmdline > hook-argv.txt; tr '\\0' ' ' < /proc/$PPID/cmdline > amlauth-argv.txt; ` +
      `printf %s "$AMLAUTH_NEW_KEY" | sha256sum | cut -c1-64 > hook-key.sha256`;
    const rotate = await amlauthSpawned(["keys", "rotate", "demo-aci", "--exec", hook, "--verify", "--then-primary", "--yes"]);
    expect(rotate.code, rotate.stderr).toBe(0);
    rememberStoredKeys();
    const handed = storedState(world).v1Services["demo-aci"]!.keys.secondaryKey;
    expect(readFileSync(join(world.home, "hook-key.sha256"), "utf8").trim()).toBe(createHash("sha256").update(handed).digest("hex"));
    const hookArgv = readFileSync(join(world.home, "hook-argv.txt"), "utf8");
    const parentArgv = readFileSync(join(world.home, "amlauth-argv.txt"), "utf8");
    expect(parentArgv).toContain("keys rotate demo-aci");
    expect(leakedIn(hookArgv), "hook argv").toBeUndefined();
    expect(leakedIn(parentArgv), "amlauth argv").toBeUndefined();

    // --emulator with none running starts one in the background: check that process's argv.
    const emu2 = join(world.home, "emu2");
    const started = await amlauthSpawned(["--emulator", "keys", "list", "demo-aci", "-o", "json"], { AMLAUTH_EMULATOR: undefined, AMLAUTH_EMULATOR_DIR: emu2 });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toMatch(/starting one in the background/);
    const conn = JSON.parse(readFileSync(join(emu2, "connection.json"), "utf8")) as { pid: number };
    detachedPid = conn.pid;
    const emuArgv = readFileSync(`/proc/${conn.pid}/cmdline`, "utf8").split("\0").join(" ");
    expect(emuArgv).toMatch(/emulator start/);
    rememberPemLines(join(emu2, "signing-key.pem"));
    rememberPemLines(join(emu2, "key.pem"));
    const emu2Keys = JSON.parse(started.stdout) as { primaryKey: string; secondaryKey: string };
    remember(emu2Keys.primaryKey);
    remember(emu2Keys.secondaryKey);
    expect(leakedIn(emuArgv), "detached emulator argv").toBeUndefined();
    const stop = await amlauthSpawned(["emulator", "stop"], { AMLAUTH_EMULATOR_DIR: emu2 });
    expect(stop.code, stop.stderr).toBe(0);
    await waitFor(() => (existsSync(`/proc/${conn.pid}`) ? undefined : true), "the detached emulator to exit");
    detachedPid = undefined;

    // Control-plane tokens live only in the cache; learn them there so the checks below cover them.
    const cacheDir = join(world.env.XDG_CACHE_HOME!, "amlauth");
    for (const file of walk(cacheDir)) for (const jwt of readFileSync(file, "utf8").match(JWT) ?? []) remember(jwt);
    expect(secrets.size).toBeGreaterThan(40);

    // 1. stderr: no secret, no JWT; the traces show the placeholders instead.
    for (const { args, stderr } of stderrs) {
      const leak = leakedIn(stderr);
      expect(leak, `amlauth ${args.join(" ")} leaked ${leak?.slice(0, 4)}… on stderr`).toBeUndefined();
    }
    const allStderr = stderrs.map((s) => s.stderr).join("\n");
    expect(allStderr).toContain("authorization: Bearer [REDACTED]");
    expect(allStderr).toContain("client_secret=[REDACTED]");
    expect(allStderr).toMatch(/"primaryKey":"\[REDACTED\]","secondaryKey":"\[REDACTED\]"/);
    expect(allStderr).toMatch(/"accessToken":"\[REDACTED\]"/);
    expect(allStderr).toMatch(/"keyValue":"\[REDACTED\]"/);
    expect(allStderr).toMatch(/"access_token":"\[REDACTED\]"/);

    // 2. files: a file holding a secret must be 0600 and live in the cache or an emulator data dir.
    const allowedDirs = [cacheDir, world.dataDir, emu2];
    let secretFiles = 0;
    for (const file of walk(world.home)) {
      const leak = leakedIn(readFileSync(file, "latin1"));
      if (leak === undefined) continue;
      secretFiles += 1;
      const where = relative(world.home, file);
      expect(allowedDirs.some((d) => file.startsWith(d + "/")), `${where} holds a secret outside the cache/emulator dirs`).toBe(true);
      expect(statSync(file).mode & 0o777, `${where} holds a secret`).toBe(0o600);
    }
    expect(secretFiles).toBeGreaterThan(0);
    for (const dir of allowedDirs) expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
    for (const name of ["state.json", "signing-key.pem", "key.pem", "emulator.log"]) {
      expect(statSync(join(emu2, name)).mode & 0o777, `emulator ${name}`).toBe(0o600);
    }
    // Nothing went to a temp dir behind our back.
    expect(readdirSync(join(world.home, "tmp"))).toEqual([]);
  });
});
