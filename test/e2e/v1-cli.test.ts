// End-to-end: the built CLI against the emulator, v1 web services (issue 3 acceptance).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { assertNoSecretsIn, postJson, startWorld, type TestWorld } from "./helpers.js";

let world: TestWorld;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  // Issue 3: no key, token or secret appears on stderr in any test run.
  assertNoSecretsIn(world.stderrLog, world.secrets);
  await world.close();
});

async function keysOf(name: string): Promise<{ primaryKey: string; secondaryKey: string }> {
  const r = await world.run(["keys", "list", name, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  const keys = JSON.parse(r.stdout) as { primaryKey: string; secondaryKey: string };
  world.secrets.add(keys.primaryKey);
  world.secrets.add(keys.secondaryKey);
  return keys;
}

describe("keys", () => {
  it("lists both keys as JSON with exactly the documented fields", async () => {
    const keys = await keysOf("demo-aci");
    expect(Object.keys(keys).sort()).toEqual(["primaryKey", "secondaryKey"]);
    expect(keys.primaryKey).not.toBe(keys.secondaryKey);
  });

  it("prints just one key with --primary, raw in a pipe", async () => {
    const keys = await keysOf("demo-aci");
    const r = await world.run(["keys", "list", "demo-aci", "--primary"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(keys.primaryKey + "\n");
    expect(r.stderr).toBe("");
  });

  it("refuses regen without --yes when not on a TTY (exit 2), changing nothing", async () => {
    const before = await keysOf("demo-aci");
    const r = await world.run(["keys", "regen", "demo-aci", "--primary"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(r.stdout).toBe("");
    expect(await keysOf("demo-aci")).toEqual(before);
  });

  it("requires exactly one of --primary/--secondary (exit 2)", async () => {
    const r = await world.run(["keys", "regen", "demo-aci", "--yes"]);
    expect(r.code).toBe(2);
    const both = await world.run(["keys", "regen", "demo-aci", "--primary", "--secondary", "--yes"]);
    expect(both.code).toBe(2);
  });

  it("regenerates a key, prints the new key once, and the old key stops working", async () => {
    const before = await keysOf("demo-aci");
    const show = await world.run(["auth", "show", "demo-aci", "-o", "json"]);
    const info = JSON.parse(show.stdout) as { scoringUri: string };
    const ok = await postJson(info.scoringUri, world.emulator.caFile, { data: [1] }, { authorization: `Bearer ${before.primaryKey}` });
    expect(ok.status).toBe(200);

    const r = await world.run(["keys", "regen", "demo-aci", "--primary", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    const newKey = r.stdout.trim();
    world.secrets.add(newKey);
    expect(newKey).not.toBe(before.primaryKey);
    expect((await keysOf("demo-aci")).primaryKey).toBe(newKey);

    const old = await postJson(info.scoringUri, world.emulator.caFile, { data: [1] }, { authorization: `Bearer ${before.primaryKey}` });
    expect(old.status).toBe(401);
    const fresh = await postJson(info.scoringUri, world.emulator.caFile, { data: [1] }, { authorization: `Bearer ${newKey}` });
    expect(fresh.status).toBe(200);
  });

  it("sets an explicit key value read from stdin, never from argv", async () => {
    const value = "stdinKeyValue0123456789abcdef";
    world.secrets.add(value);
    const r = await world.run(["keys", "regen", "demo-aci", "--secondary", "--value-stdin", "--yes"], { input: value + "\n" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(value);
    expect((await keysOf("demo-aci")).secondaryKey).toBe(value);
  });
});

describe("token get", () => {
  it("prints the raw JWT and a newline, accepted by the scoring URI", async () => {
    const r = await world.run(["token", "get", "demo-aks"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = r.stdout.trim();
    world.secrets.add(token);
    const show = JSON.parse((await world.run(["auth", "show", "demo-aks", "-o", "json"])).stdout) as { scoringUri: string };
    const res = await postJson(show.scoringUri, world.emulator.caFile, { data: [1] }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
  });

  it("refuses an ACI service with exit 2 and the reason", async () => {
    const r = await world.run(["token", "get", "demo-aci"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/ACI/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("prints ISO-8601 times with -o json", async () => {
    const r = await world.run(["token", "get", "demo-aks", "-o", "json"]);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as Record<string, string>;
    world.secrets.add(t.accessToken!);
    expect(Object.keys(t).sort()).toEqual(["accessToken", "expiryOn", "refreshAfter", "tokenType"]);
    expect(t.expiryOn).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });
});

describe("auth show / set and the rules", () => {
  it("shows the documented JSON shape", async () => {
    const r = await world.run(["auth", "show", "demo-aks", "-o", "json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(info).sort()).toEqual(
      ["authEnabled", "authMode", "computeType", "name", "scoringUri", "state", "tokenAuthEnabled"].sort(),
    );
    expect(info).toMatchObject({ name: "demo-aks", computeType: "AKS", authMode: "token", authEnabled: false, tokenAuthEnabled: true });
  });

  it("refuses token auth on ACI before any change (exit 2)", async () => {
    const r = await world.run(["auth", "set", "demo-aci", "--mode", "token"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ACI/);
    const show = JSON.parse((await world.run(["auth", "show", "demo-aci", "-o", "json"])).stdout) as { authMode: string };
    expect(show.authMode).toBe("key");
  });

  it("switches AKS between token and key without ever having both", async () => {
    const toKey = await world.run(["auth", "set", "demo-aks", "--mode", "key", "-o", "json"]);
    expect(toKey.code, toKey.stderr).toBe(0);
    expect(JSON.parse(toKey.stdout)).toMatchObject({ authMode: "key", authEnabled: true, tokenAuthEnabled: false });
    const back = await world.run(["auth", "set", "demo-aks", "--mode", "token", "-o", "json"]);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ authMode: "token", authEnabled: false, tokenAuthEnabled: true });
  });

  it("refuses key+token in a deploy config file (exit 2, nothing sent)", async () => {
    const dir = join(world.home, "bad-dc");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
    writeFileSync(join(dir, "dc.json"), JSON.stringify({ computeType: "AKS", authEnabled: true, tokenAuthEnabled: true, computeTargetName: "aks-compute" }));
    const before = world.emulator.requests().length;
    const r = await world.run(["deploy", "both-on", "--dc", join(dir, "dc.json"), "-m", "demo-model:1", "--entry-script", join(dir, "score.py")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/both/i);
    expect(world.emulator.requests().length).toBe(before);
  });
});

describe("deploy", () => {
  it("deploys ACI with key auth and AKS with token auth, printing scoring URI and mode", async () => {
    const dir = join(world.home, "proj");
    mkdirSync(join(dir, "src"), { recursive: true });
    writeFileSync(join(dir, "src", "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
    const aci = await world.run(["deploy", "e2e-aci", "--compute-type", "aci", "-m", "demo-model:1", "--entry-script", join(dir, "src", "score.py"), "--auth", "key", "-o", "json"]);
    expect(aci.code, aci.stderr).toBe(0);
    expect(JSON.parse(aci.stdout)).toMatchObject({ name: "e2e-aci", computeType: "ACI", authMode: "key", state: "Healthy" });
    const aks = await world.run([
      "deploy", "e2e-aks", "--compute-type", "aks", "--compute-target", "aks-compute", "-m", "demo-model:1",
      "--entry-script", "score.py", "--source-dir", join(dir, "src"), "--auth", "token", "-o", "json",
    ]);
    expect(aks.code, aks.stderr).toBe(0);
    const info = JSON.parse(aks.stdout) as { scoringUri: string; authMode: string };
    expect(info.authMode).toBe("token");
    const t = await world.run(["token", "get", "e2e-aks"]);
    expect(t.code, t.stderr).toBe(0);
    world.secrets.add(t.stdout.trim());
    const res = await postJson(info.scoringUri, world.emulator.caFile, { x: 1 }, { authorization: `Bearer ${t.stdout.trim()}` });
    expect(res.status).toBe(200);
  });

  it("refuses token auth on ACI with exit 2 before any network call", async () => {
    writeFileSync(join(world.home, "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
    const before = world.emulator.requests().length;
    const r = await world.run(["deploy", "bad-aci", "--compute-type", "aci", "-m", "demo-model:1", "--entry-script", "score.py", "--auth", "token"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ACI/);
    expect(world.emulator.requests().length).toBe(before);
  });
});

describe("failures", () => {
  it("a missing service exits 3 with one line", async () => {
    const r = await world.run(["keys", "list", "no-such-svc", "--api", "v1"]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/no-such-svc/);
  });

  it("a rejected credential exits 4", async () => {
    const r = await world.run(["keys", "list", "demo-aci", "--credential", "static"], { env: { AMLAUTH_ACCESS_TOKEN: "not-a-valid-token-at-all" } });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it("an unknown flag is a usage error (exit 2)", async () => {
    const r = await world.run(["keys", "list", "--bogus"]);
    expect(r.code).toBe(2);
  });
});
