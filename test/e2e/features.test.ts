// End-to-end: what no peer does (issue 5) — rotation, token cache, curl-ready output, auth check,
// invoke, CI masking, completion — against the emulator through the built binary.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { assertNoSecretsIn, startWorld, type TestWorld } from "./helpers.js";

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  // CI mask registrations are the one place a secret may stand on stderr (see src/output/ci.ts).
  const withoutMasks = world.stderrLog.map((s) =>
    s.split("\n").filter((l) => !l.startsWith("::add-mask::") && !l.startsWith("##vso[task.setsecret]")).join("\n"),
  );
  assertNoSecretsIn(withoutMasks, world.secrets);
  await world.close();
});

async function keys(name: string) {
  const r = await world.run(["keys", "list", name, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  const k = JSON.parse(r.stdout) as { primaryKey: string; secondaryKey: string };
  world.secrets.add(k.primaryKey);
  world.secrets.add(k.secondaryKey);
  return k;
}

describe("keys rotate", () => {
  it("stops on a failing --exec with the primary untouched, then resumes and finishes", async () => {
    const before = await keys("demo-aci");
    const failed = await world.run(["keys", "rotate", "demo-aci", "--exec", "exit 3", "--then-primary", "--yes"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/--exec command failed \(exit 3\)/);
    expect(failed.stdout).toBe("");
    const mid = await keys("demo-aci");
    expect(mid.primaryKey).toBe(before.primaryKey);
    expect(mid.secondaryKey).not.toBe(before.secondaryKey);

    const status = await world.run(["keys", "rotate", "demo-aci", "--status", "-o", "json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ name: "demo-aci", inProgress: true, phase: "secondary-regenerated" });
    expect(status.stdout).not.toContain(mid.secondaryKey);

    const out = join(world.home, "hook-saw-key");
    const resumed = await world.run([
      "keys", "rotate", "demo-aci", "--exec", `printf %s "$AMLAUTH_NEW_KEY" > '${out}'`, "--then-primary", "--yes",
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await keys("demo-aci");
    // The secondary was not regenerated a second time; the primary was.
    expect(after.secondaryKey).toBe(mid.secondaryKey);
    expect(after.primaryKey).not.toBe(mid.primaryKey);
    expect(resumed.stdout.trim()).toBe(after.secondaryKey);
    expect(readFileSync(out, "utf8")).toBe(after.secondaryKey);

    const done = await world.run(["keys", "rotate", "demo-aci", "--status"]);
    expect(done.stdout).toMatch(/no rotation in progress/);
  });

  it("--verify proves the new secondary key against the scoring URI", async () => {
    const r = await world.run(["keys", "rotate", "demo-aci", "--verify", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/verified/);
    const k = await keys("demo-aci");
    expect(r.stdout.trim()).toBe(k.secondaryKey);
    // Leave no rotation behind for other tests.
    const fin = await world.run(["keys", "rotate", "demo-aci", "--then-primary", "--yes"]);
    expect(fin.code, fin.stderr).toBe(0);
  });
});

describe("token cache", () => {
  it("serves a second token get from the cache with no request, in 0600 files under a 0700 dir", async () => {
    const first = await world.run(["token", "get", "demo-aks"]);
    expect(first.code, first.stderr).toBe(0);
    world.secrets.add(first.stdout.trim());
    const count = world.emulator.requests().length;
    const second = await world.run(["token", "get", "demo-aks"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(world.emulator.requests().length).toBe(count);

    const dir = join(world.env.XDG_CACHE_HOME!, "amlauth");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(statSync(f).mode & 0o777, f).toBe(0o600);
  });

  it("--force-refresh and --no-cache go to the service", async () => {
    const count = world.emulator.requests().length;
    const r = await world.run(["token", "get", "demo-aks", "--force-refresh"]);
    expect(r.code).toBe(0);
    world.secrets.add(r.stdout.trim());
    expect(world.emulator.requests().some((q, i) => i >= count && q.path.endsWith("/token"))).toBe(true);
  });
});

describe("curl-ready output", () => {
  it("--header and --curl-config shape the secret for curl", async () => {
    const k = await keys("demo-aci");
    const h = await world.run(["keys", "list", "demo-aci", "--header"]);
    expect(h.stdout).toBe(`Authorization: Bearer ${k.primaryKey}\n`);
    const c = await world.run(["keys", "list", "demo-aci", "--secondary", "--curl-config"]);
    expect(c.stdout).toBe(`header = "Authorization: Bearer ${k.secondaryKey}"\n`);
    const t = await world.run(["token", "get", "demo-aks", "--header"]);
    expect(t.stdout).toMatch(/^Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("-o env prints NAME=value lines", async () => {
    const r = await world.run(["token", "get", "demo-aks", "-o", "env"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^AMLAUTH_TOKEN=[\w-]+\.[\w-]+\.[\w-]+$/m);
  });
});

describe("CI masking", () => {
  it("under GITHUB_ACTIONS the mask line precedes the secret", async () => {
    const k = await keys("demo-aci");
    const r = await world.run(["keys", "list", "demo-aci", "--primary"], { env: { GITHUB_ACTIONS: "true" }, combined: true });
    expect(r.code).toBe(0);
    const lines = r.combined!.split("\n");
    const mask = lines.indexOf(`::add-mask::${k.primaryKey}`);
    const secret = lines.indexOf(k.primaryKey);
    expect(mask).toBeGreaterThanOrEqual(0);
    expect(secret).toBeGreaterThan(mask);
  });

  it("under Azure Pipelines it uses task.setsecret", async () => {
    const r = await world.run(["token", "get", "demo-aks"], { env: { TF_BUILD: "True" } });
    expect(r.code).toBe(0);
    world.secrets.add(r.stdout.trim());
    expect(r.stderr).toContain(`##vso[task.setsecret]${r.stdout.trim()}`);
  });
});

describe("auth check and invoke", () => {
  it("passes with the right credential for key and token services", async () => {
    const a = await world.run(["auth", "check", "demo-aci"]);
    expect(a.code, a.stderr).toBe(0);
    const b = await world.run(["auth", "check", "demo-aks", "-o", "json"]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ ok: true, status: 200 });
  });

  it("names a wrong key (exit 4)", async () => {
    const r = await world.run(["auth", "check", "demo-aci", "--credential-stdin"], { input: "wrong-key-0123456789" });
    expect(r.code).toBe(4);
    expect(r.stdout + r.stderr).toMatch(/key was rejected/);
  });

  it("names an unknown service (exit 3)", async () => {
    const r = await world.run(["auth", "check", "no-such-service"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no-such-service/);
  });

  it("invoke prints the scoring response body", async () => {
    const r = await world.run(["invoke", "demo-aks", "--data", '{"data":[[1,2]]}']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ input: { data: [[1, 2]] } });
  });
});

describe("completion", () => {
  it("prints scripts that know the commands and flags", async () => {
    const bash = await world.run(["completion", "bash"]);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toContain("complete -F _amlauth amlauth");
    expect(bash.stdout).toContain("--then-primary");
    const fish = await world.run(["completion", "fish"]);
    expect(fish.stdout).toContain("complete -c amlauth");
    const bad = await world.run(["completion", "tcsh"]);
    expect(bad.code).toBe(2);
  });
});

describe("expired tokens", () => {
  let shortWorld: TestWorld;
  beforeAll(async () => {
    shortWorld = await startWorld({ tokenLifetimeSeconds: 2, tokenRefreshSeconds: 1 });
  });
  afterAll(async () => {
    await shortWorld.close();
  });

  it("fetches a new token once refreshAfter has passed", async () => {
    const a = await shortWorld.run(["token", "get", "demo-aks", "-o", "json"]);
    expect(a.code, a.stderr).toBe(0);
    const refreshAfter = Date.parse((JSON.parse(a.stdout) as { refreshAfter: string }).refreshAfter);
    await untilPast(refreshAfter);
    const count = shortWorld.emulator.requests().filter((q) => q.path.endsWith("/token")).length;
    const b = await shortWorld.run(["token", "get", "demo-aks"]);
    expect(b.code).toBe(0);
    expect(shortWorld.emulator.requests().filter((q) => q.path.endsWith("/token")).length).toBe(count + 1);
  });

  it("auth check names an expired token (exit 4)", async () => {
    const a = await shortWorld.run(["token", "get", "demo-aks", "--no-cache", "-o", "json"]);
    const tok = JSON.parse(a.stdout) as { accessToken: string; expiryOn: string };
    await untilPast(Date.parse(tok.expiryOn));
    const r = await shortWorld.run(["auth", "check", "demo-aks", "--credential-stdin"], { input: tok.accessToken });
    expect(r.code).toBe(4);
    expect(r.stdout + r.stderr).toMatch(/expired/);
  });
});

/** Polls the clock (bounded) until `epochMs` has passed. */
async function untilPast(epochMs: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() <= epochMs + 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
