// The emulator's v2 routes driven by the REAL @azure/arm-machinelearning client over HTTPS:
// unchanged SDK code, its own pipeline and poller; only `endpoint`, a static credential and an
// https.Agent trusting the emulator's CA are configured.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "node:https";
import { AzureMachineLearningWorkspaces } from "@azure/arm-machinelearning";
import type { OnlineEndpoint } from "@azure/arm-machinelearning";
import { signIn, startTestEmulator, WS_PATH } from "../emulator/helpers.js";
import type { TestEmulator } from "../emulator/helpers.js";
import { EMULATOR_RESOURCE_GROUP as RG, EMULATOR_SUBSCRIPTION_ID, EMULATOR_WORKSPACE as WS } from "../../src/emulator/world.js";

let emu: TestEmulator;
let client: AzureMachineLearningWorkspaces;
let agent: Agent;
const fast = { updateIntervalInMs: 0 };
const AKS_ID = `${WS_PATH}/computes/aks-compute`;

beforeAll(async () => {
  emu = await startTestEmulator({ inMemory: true });
  agent = new Agent({ ca: emu.ca, keepAlive: true });
  const token = await signIn(emu.url, emu.ca, "https://management.azure.com/.default");
  const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
  client = new AzureMachineLearningWorkspaces(credential, EMULATOR_SUBSCRIPTION_ID, {
    endpoint: emu.url,
    agent,
    retryOptions: { maxRetries: 0 },
  });
});
afterAll(async () => {
  agent?.destroy();
  await emu?.dispose();
});

async function scoreWith(name: string, credential: string): Promise<number> {
  const r = await emu.call("POST", `/v2/${name}/score`, { bearer: credential, body: { data: [1] } });
  return r.status;
}

describe("real SDK against the emulator's onlineEndpoints routes", () => {
  it("gets the seeded managed and Kubernetes endpoints in 2022-10-01 shape", async () => {
    const managed = await client.onlineEndpoints.get(RG, WS, "demo-managed");
    expect(managed).toMatchObject({
      name: "demo-managed",
      type: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
      properties: { authMode: "Key", provisioningState: "Succeeded" },
    });
    expect(managed.properties.compute).toBeUndefined();
    expect(managed.properties.scoringUri).toBe(`${emu.url}/v2/demo-managed/score`);
    expect(managed.properties.keys).toBeUndefined();
    const k8s = await client.onlineEndpoints.get(RG, WS, "demo-k8s");
    expect(k8s.properties).toMatchObject({ authMode: "AMLToken", compute: AKS_ID });
  });

  it("listKeys, then beginRegenerateKeysAndWait to completion changes only the chosen key", async () => {
    const before = await client.onlineEndpoints.listKeys(RG, WS, "demo-managed");
    expect(before.primaryKey).toMatch(/^[A-Za-z0-9]{32}$/);
    await client.onlineEndpoints.beginRegenerateKeysAndWait(RG, WS, "demo-managed", { keyType: "Secondary" }, fast);
    const after = await client.onlineEndpoints.listKeys(RG, WS, "demo-managed");
    expect(after.primaryKey).toBe(before.primaryKey);
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    expect(await scoreWith("demo-managed", before.secondaryKey!)).toBe(401);
    expect(await scoreWith("demo-managed", after.secondaryKey!)).toBe(200);
  });

  it("honours keyValue in regenerateKeys", async () => {
    await client.onlineEndpoints.beginRegenerateKeysAndWait(RG, WS, "demo-managed", { keyType: "Primary", keyValue: "chosenPrimaryKey0123456789" }, fast);
    expect((await client.onlineEndpoints.listKeys(RG, WS, "demo-managed")).primaryKey).toBe("chosenPrimaryKey0123456789");
  });

  it("getToken gives an AMLToken endpoint a token its scoring URI accepts (epoch seconds)", async () => {
    const t = await client.onlineEndpoints.getToken(RG, WS, "demo-k8s");
    const nowSeconds = Date.now() / 1000;
    expect(t.tokenType).toBe("Bearer");
    expect(t.expiryTimeUtc!).toBeGreaterThan(nowSeconds);
    expect(t.expiryTimeUtc!).toBeLessThan(nowSeconds + 86_400);
    expect(t.refreshAfterTimeUtc!).toBeLessThanOrEqual(t.expiryTimeUtc!);
    expect(await scoreWith("demo-k8s", t.accessToken!)).toBe(200);
    // Bound to its endpoint: the token opens nothing else.
    expect(await scoreWith("demo-managed", t.accessToken!)).toBe(401);
  });

  it("refuses getToken on a Key endpoint with a 400 RestError", async () => {
    await expect(client.onlineEndpoints.getToken(RG, WS, "demo-managed")).rejects.toMatchObject({ statusCode: 400, code: "AuthModeMismatch" });
  });

  it("beginCreateOrUpdateAndWait creates, switches authMode, and keeps create-only keys out of replies", async () => {
    const body: OnlineEndpoint = {
      location: "emulatorwest",
      properties: { authMode: "Key", description: "sdk test", keys: { primaryKey: "createOnlyPrimary123", secondaryKey: "createOnlySecondary12" } },
    };
    const created = await client.onlineEndpoints.beginCreateOrUpdateAndWait(RG, WS, "sdk-made", body, fast);
    expect(created.properties).toMatchObject({ authMode: "Key", provisioningState: "Succeeded", description: "sdk test" });
    expect(created.properties.keys).toBeUndefined();
    expect(await client.onlineEndpoints.listKeys(RG, WS, "sdk-made")).toEqual({ primaryKey: "createOnlyPrimary123", secondaryKey: "createOnlySecondary12" });

    const switched = await client.onlineEndpoints.beginCreateOrUpdateAndWait(
      RG,
      WS,
      "sdk-made",
      { ...created, properties: { ...created.properties, authMode: "AADToken" } },
      fast,
    );
    expect(switched.properties).toMatchObject({ authMode: "AADToken", provisioningState: "Succeeded" });
    const mlToken = await signIn(emu.url, emu.ca, "https://ml.azure.com/.default");
    expect(await scoreWith("sdk-made", mlToken)).toBe(200);
    expect(await scoreWith("sdk-made", "createOnlyPrimary123")).toBe(401);
    // An Entra token for ARM is not one for the ML data plane.
    expect(await scoreWith("sdk-made", await signIn(emu.url, emu.ca, "https://management.azure.com/.default"))).toBe(401);
  });

  it("refuses AADToken on a Kubernetes endpoint and unknown auth modes with 400", async () => {
    await expect(
      client.onlineEndpoints.beginCreateOrUpdateAndWait(RG, WS, "k8s-aad", { location: "emulatorwest", properties: { authMode: "AADToken", compute: AKS_ID } }, fast),
    ).rejects.toMatchObject({ statusCode: 400 });
    await expect(
      client.onlineEndpoints.beginCreateOrUpdateAndWait(RG, WS, "bad-mode", { location: "emulatorwest", properties: { authMode: "None" } }, fast),
    ).rejects.toMatchObject({ statusCode: 400, code: "InvalidAuthMode" });
    await expect(client.onlineEndpoints.get(RG, WS, "k8s-aad")).rejects.toMatchObject({ statusCode: 404, code: "ResourceNotFound" });
  });

  it("PATCH updates tags through the Location poller, and refuses properties", async () => {
    const patched = await client.onlineEndpoints.beginUpdateAndWait(RG, WS, "demo-k8s", { tags: { team: "ml" } }, fast);
    expect(patched.tags).toEqual({ team: "ml" });
    const raw = await emu.arm("PATCH", `${WS_PATH}/onlineEndpoints/demo-k8s?api-version=2022-10-01`, { body: { properties: { authMode: "Key" } } });
    expect(raw.status).toBe(400);
    expect((await client.onlineEndpoints.get(RG, WS, "demo-k8s")).properties.authMode).toBe("AMLToken");
  });

  it("lists every endpoint across pages by following nextLink", async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        emu.arm("PUT", `${WS_PATH}/onlineEndpoints/bulk-${String(i).padStart(2, "0")}?api-version=2022-10-01`, {
          body: { location: "emulatorwest", properties: { authMode: "Key" } },
        }),
      ),
    );
    const names: string[] = [];
    for await (const ep of client.onlineEndpoints.list(RG, WS)) names.push(ep.name!);
    expect(names.filter((n) => n.startsWith("bulk-"))).toHaveLength(50);
    expect(names).toContain("demo-managed");
    expect(new Set(names).size).toBe(names.length);
  });

  it("beginDeleteAndWait removes the endpoint", async () => {
    await client.onlineEndpoints.beginCreateOrUpdateAndWait(RG, WS, "to-delete", { location: "emulatorwest", properties: { authMode: "Key" } }, fast);
    await client.onlineEndpoints.beginDeleteAndWait(RG, WS, "to-delete", fast);
    await expect(client.onlineEndpoints.get(RG, WS, "to-delete")).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe("raw v2 routes", () => {
  it("keeps listKeys camelCase (listkeys is the v1 spelling) and requires api-version and a bearer", async () => {
    const base = `${WS_PATH}/onlineEndpoints/demo-managed`;
    expect((await emu.arm("POST", `${base}/listkeys?api-version=2022-10-01`)).status).toBe(404);
    expect((await emu.arm("POST", `${base}/listKeys`)).status).toBe(400);
    expect((await emu.call("POST", `${base}/listKeys?api-version=2022-10-01`)).status).toBe(401);
  });

  it("answers regenerateKeys with 202, Azure-AsyncOperation and Location, and rejects a bad keyType", async () => {
    const path = `${WS_PATH}/onlineEndpoints/demo-managed/regenerateKeys?api-version=2022-10-01`;
    const ok = await emu.arm("POST", path, { body: { keyType: "Secondary" } });
    expect(ok.status).toBe(202);
    expect(String(ok.headers["azure-asyncoperation"])).toMatch(/\/mfeOperationsStatus\//);
    expect(String(ok.headers["location"])).toMatch(/\/mfeOperationResults\//);
    const status = await emu.arm("GET", String(ok.headers["azure-asyncoperation"]).slice(emu.url.length));
    expect(status.json.status).toBe("Succeeded");
    expect((await emu.arm("POST", path, { body: { keyType: "Tertiary" } })).status).toBe(400);
  });

  it("scoring refuses a missing credential with a Bearer challenge", async () => {
    const r = await emu.call("POST", "/v2/demo-managed/score", { body: {} });
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toMatch(/^Bearer /);
  });
});
