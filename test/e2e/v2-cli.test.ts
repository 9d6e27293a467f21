// End-to-end: the same verbs on v2 online endpoints, managed and Kubernetes (issue 4 acceptance).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertNoSecretsIn, postJson, startWorld, type TestWorld } from "./helpers.js";

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  assertNoSecretsIn(world.stderrLog, world.secrets);
  await world.close();
});

async function show(name: string) {
  const r = await world.run(["auth", "show", name, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { name: string; computeType: string; authMode: string; scoringUri: string; state: string };
}

describe("v2 endpoints", () => {
  it("shows managed and Kubernetes endpoints", async () => {
    expect(await show("demo-managed")).toMatchObject({ computeType: "Managed", authMode: "key" });
    expect(await show("demo-k8s")).toMatchObject({ computeType: "Kubernetes", authMode: "aml_token" });
  });

  it("regenerates a key; the pre-regen key is refused by the scoring URI", async () => {
    const before = JSON.parse((await world.run(["keys", "list", "demo-managed", "-o", "json"])).stdout) as { primaryKey: string };
    world.secrets.add(before.primaryKey);
    const info = await show("demo-managed");
    expect((await postJson(info.scoringUri, world.emulator.caFile, { a: 1 }, { authorization: `Bearer ${before.primaryKey}` })).status).toBe(200);
    const r = await world.run(["keys", "regen", "demo-managed", "--primary", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    const fresh = r.stdout.trim();
    world.secrets.add(fresh);
    expect(fresh).not.toBe(before.primaryKey);
    expect((await postJson(info.scoringUri, world.emulator.caFile, { a: 1 }, { authorization: `Bearer ${before.primaryKey}` })).status).toBe(401);
    expect((await postJson(info.scoringUri, world.emulator.caFile, { a: 1 }, { authorization: `Bearer ${fresh}` })).status).toBe(200);
  });

  it("token get on an aml_token Kubernetes endpoint is accepted by its scoring URI", async () => {
    const r = await world.run(["token", "get", "demo-k8s"]);
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    world.secrets.add(token);
    const info = await show("demo-k8s");
    expect((await postJson(info.scoringUri, world.emulator.caFile, { a: 1 }, { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("refuses aad_token on a Kubernetes endpoint (exit 2) and none on v2 (exit 2)", async () => {
    const aad = await world.run(["auth", "set", "demo-k8s", "--mode", "aad_token"]);
    expect(aad.code).toBe(2);
    expect(aad.stderr).toMatch(/managed/);
    const none = await world.run(["auth", "set", "demo-managed", "--mode", "none"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/none/);
    expect((await show("demo-k8s")).authMode).toBe("aml_token");
  });

  it("switches a managed endpoint to aad_token and back, and token get then returns an Entra token", async () => {
    const set = await world.run(["auth", "set", "demo-managed", "--mode", "aad_token", "-o", "json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ authMode: "aad_token" });
    const t = await world.run(["token", "get", "demo-managed"]);
    expect(t.code, t.stderr).toBe(0);
    world.secrets.add(t.stdout.trim());
    const info = await show("demo-managed");
    expect((await postJson(info.scoringUri, world.emulator.caFile, { a: 1 }, { authorization: `Bearer ${t.stdout.trim()}` })).status).toBe(200);
    const back = await world.run(["auth", "set", "demo-managed", "--mode", "key"]);
    expect(back.code, back.stderr).toBe(0);
  });

  it("deploys a new endpoint with --api v2", async () => {
    const r = await world.run(["deploy", "--api", "v2", "e2e-endpoint", "--auth", "aml_token", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: "e2e-endpoint", computeType: "Managed", authMode: "aml_token" });
  });

  it("an ambiguous NAME (v1 service and v2 endpoint) exits 2 with the hint", async () => {
    const score = join(world.home, "score.py");
    writeFileSync(score, "def init():\n    pass\n\ndef run(data):\n    return data\n");
    const v1 = await world.run(["deploy", "twin-name", "--compute-type", "aci", "-m", "demo-model:1", "--entry-script", score, "--auth", "key"]);
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = await world.run(["deploy", "--api", "v2", "twin-name", "--auth", "key"]);
    expect(v2.code, v2.stderr).toBe(0);
    const r = await world.run(["keys", "list", "twin-name"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--api v1/);
    const chosen = await world.run(["keys", "list", "twin-name", "--api", "v2", "-o", "json"]);
    expect(chosen.code, chosen.stderr).toBe(0);
    const k = JSON.parse(chosen.stdout) as { primaryKey: string; secondaryKey: string };
    world.secrets.add(k.primaryKey);
    world.secrets.add(k.secondaryKey);
  });

  it("a missing endpoint with --api v2 exits 3", async () => {
    const r = await world.run(["auth", "show", "nope-endpoint", "--api", "v2"]);
    expect(r.code).toBe(3);
  });
});
