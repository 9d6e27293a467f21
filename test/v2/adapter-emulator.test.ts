// The v2 adapter end to end: createV2Backend → the shared HTTPS pipeline → the emulator.
// Operations take a little time here (deployDelayMs > 0) so the SDK poller really waits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpPipeline } from "../../src/rest/http.js";
import { createV2Backend } from "../../src/rest/v2.js";
import { NotFoundError, RuleViolationError, UsageError } from "../../src/errors.js";
import type { AuthBackend } from "../../src/rest/types.js";
import type { HttpPipeline } from "../../src/rest/http-types.js";
import { signIn, startTestEmulator } from "../emulator/helpers.js";
import type { TestEmulator } from "../emulator/helpers.js";
import { EMULATOR_AKS_COMPUTE, EMULATOR_RESOURCE_GROUP, EMULATOR_SUBSCRIPTION_ID, EMULATOR_WORKSPACE } from "../../src/emulator/world.js";
import { WS_PATH } from "../emulator/helpers.js";

const AKS_ID = `${WS_PATH}/computes/${EMULATOR_AKS_COMPUTE}`;
let emu: TestEmulator;
let pipeline: HttpPipeline;
let backend: AuthBackend;
const scopes: string[] = [];
const trace: string[] = [];

beforeAll(async () => {
  emu = await startTestEmulator({ inMemory: true, deployDelayMs: 120 });
  pipeline = createHttpPipeline({ ca: [emu.ca], maxRetries: 2, trace: (line) => trace.push(line) });
  backend = createV2Backend({
    pipeline,
    getToken: (scope) => {
      scopes.push(scope);
      return signIn(emu.url, emu.ca, scope);
    },
    config: {
      subscription: EMULATOR_SUBSCRIPTION_ID,
      resourceGroup: EMULATOR_RESOURCE_GROUP,
      workspace: EMULATOR_WORKSPACE,
      armEndpoint: emu.url,
    },
    ca: [emu.ca],
    pollIntervalMs: 40,
  });
});
afterAll(async () => {
  pipeline?.close();
  await emu?.dispose();
});

const score = async (name: string, credential: string) =>
  (await emu.call("POST", `/v2/${name}/score`, { bearer: credential, body: { x: 1 } })).status;
const count = (method: string, suffix: string, since: number) =>
  emu.requestLog(since).filter((r) => r.method === method && r.path.endsWith(suffix)).length;
const lastSeq = () => emu.requestLog().at(-1)?.seq ?? 0;

describe("v2 adapter against the emulator", () => {
  it("reads managed and Kubernetes endpoints", async () => {
    expect(await backend.get("demo-managed")).toEqual({
      api: "v2",
      name: "demo-managed",
      computeType: "Managed",
      authMode: "key",
      authEnabled: true,
      tokenAuthEnabled: false,
      state: "Succeeded",
      scoringUri: `${emu.url}/v2/demo-managed/score`,
    });
    expect(await backend.get("demo-k8s")).toMatchObject({ computeType: "Kubernetes", authMode: "aml_token", tokenAuthEnabled: true });
    expect(await backend.find("nope")).toBeNull();
    await expect(backend.get("nope")).rejects.toThrow(NotFoundError);
    // The control-plane token was asked for the ARM endpoint's own scope.
    expect(scopes).toContain(`${emu.url}/.default`);
  });

  it("regenerates a key to completion; the pre-regen key is then refused by the scoring URI", async () => {
    const before = await backend.listKeys("demo-managed");
    expect(await score("demo-managed", before.primaryKey)).toBe(200);
    const since = lastSeq();
    const labels: string[] = [];
    await backend.regenerateKey("demo-managed", "Primary", undefined, { wait: true, onProgress: (l) => labels.push(l) });
    const after = await backend.listKeys("demo-managed");
    expect(after.primaryKey).not.toBe(before.primaryKey);
    expect(after.secondaryKey).toBe(before.secondaryKey);
    expect(await score("demo-managed", before.primaryKey)).toBe(401);
    expect(await score("demo-managed", after.primaryKey)).toBe(200);
    expect(count("POST", "/regenerateKeys", since)).toBe(1);
    // The poller really waited: at least one InProgress answer before Succeeded.
    expect(emu.requestLog(since).filter((r) => r.path.includes("/mfeOperationsStatus/")).length).toBeGreaterThanOrEqual(2);
    expect(labels).toContain("Regenerating");
    // Keys never reach the --verbose trace.
    expect(trace.join("\n")).not.toContain(after.primaryKey);
  });

  it("never applies a regeneration twice when the reply is lost after the server applied it", async () => {
    const before = await backend.listKeys("demo-managed");
    const fault = await emu.call("POST", "/_emulator/faults", {
      body: { match: { method: "POST", pathRegex: "/demo-managed/regenerateKeys$" }, action: "reset", count: 1, afterApply: true },
    });
    expect(fault.status).toBeLessThan(300);
    const since = lastSeq();
    await backend.regenerateKey("demo-managed", "Secondary", "afterApplyValue1234", { wait: true });
    expect(count("POST", "/regenerateKeys", since)).toBe(1);
    // Applied by the one request, once its operation completes.
    await expect.poll(async () => (await backend.listKeys("demo-managed")).secondaryKey, { timeout: 5000, interval: 50 }).toBe("afterApplyValue1234");
    expect((await backend.listKeys("demo-managed")).primaryKey).toBe(before.primaryKey);
  });

  it("gets a token for an aml_token endpoint that its scoring URI accepts", async () => {
    const token = await backend.getToken("demo-k8s");
    const nowSeconds = Date.now() / 1000;
    expect(token.expiryOn).toBeGreaterThan(nowSeconds);
    expect(token.refreshAfter).toBeLessThanOrEqual(token.expiryOn);
    expect(await score("demo-k8s", token.accessToken)).toBe(200);
    await expect(backend.getToken("demo-managed")).rejects.toThrow(UsageError);
  });

  it("deploys a managed endpoint, switches it to aad_token and back, with the right credential accepted each time", async () => {
    const created = await backend.deploy({ api: "v2", name: "adapter-made", authMode: "key", description: "made by a test" }, { wait: true });
    expect(created).toMatchObject({ name: "adapter-made", computeType: "Managed", authMode: "key", state: "Succeeded" });
    const keys = await backend.listKeys("adapter-made");
    expect(await score("adapter-made", keys.primaryKey)).toBe(200);

    const aad = await backend.setAuthMode("adapter-made", { mode: "aad_token" }, { wait: true });
    expect(aad).toMatchObject({ authMode: "aad_token", tokenAuthEnabled: true, state: "Succeeded" });
    const entra = await backend.getToken("adapter-made");
    expect(await score("adapter-made", entra.accessToken)).toBe(200);
    expect(await score("adapter-made", keys.primaryKey)).toBe(401);

    const since = lastSeq();
    await backend.setAuthMode("adapter-made", { mode: "aad_token" }, { wait: true });
    expect(count("PUT", "/adapter-made", since)).toBe(0); // unchanged: no PUT

    const back = await backend.setAuthMode("adapter-made", { mode: "key" }, { wait: false });
    expect(back.authMode).toBe("key");
    await expect.poll(async () => (await backend.get("adapter-made")).state, { timeout: 5000, interval: 50 }).toBe("Succeeded");
    expect(await score("adapter-made", keys.primaryKey)).toBe(200);
  });

  it("deploys a Kubernetes endpoint in the workspace's region", async () => {
    const info = await backend.deploy({ api: "v2", name: "adapter-k8s", authMode: "aml_token", compute: AKS_ID }, { wait: true });
    expect(info).toMatchObject({ computeType: "Kubernetes", authMode: "aml_token", state: "Succeeded" });
  });

  it("refuses aad_token on a Kubernetes endpoint before any change reaches the server", async () => {
    const since = lastSeq();
    await expect(backend.setAuthMode("demo-k8s", { mode: "aad_token" }, { wait: true })).rejects.toThrow(RuleViolationError);
    expect(count("PUT", "/demo-k8s", since)).toBe(0);
    const before = lastSeq();
    await expect(backend.deploy({ api: "v2", name: "never-made", authMode: "aad_token", compute: AKS_ID }, { wait: true })).rejects.toThrow(
      RuleViolationError,
    );
    await expect(backend.setAuthMode("demo-k8s", { mode: "none" }, { wait: true })).rejects.toThrow(RuleViolationError);
    expect(emu.requestLog(before)).toHaveLength(0);
  });
});
