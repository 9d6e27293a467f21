// Unit tests of the v2 adapter: the real @azure/arm-machinelearning client, bridged to an in-memory
// HttpPipeline (test/v2/fake-arm.ts). No sockets.
import { describe, expect, it } from "vitest";
import {
  AuthError,
  MaybeAppliedError,
  NotFoundError,
  RuleViolationError,
  ServiceError,
  UsageError,
} from "../../src/errors.js";
import { createV2Backend, ML_DATA_PLANE_SCOPE } from "../../src/rest/v2.js";
import { ARM, FakeArm, RG, SUB, WS, armError, fakeJwt } from "./fake-arm.js";

const K8S = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}/computes/aks`;
const NOW_MS = 1_900_000_000_000;

function setup(seed: ConstructorParameters<typeof FakeArm>[0] = {}) {
  const arm = new FakeArm(seed);
  const scopes: string[] = [];
  const backend = createV2Backend({
    pipeline: arm,
    getToken: async (scope) => {
      scopes.push(scope);
      return scope === ML_DATA_PLANE_SCOPE ? fakeJwt({ exp: NOW_MS / 1000 + 3600, aud: "https://ml.azure.com" }) : "arm-token";
    },
    config: { subscription: SUB, resourceGroup: RG, workspace: WS, armEndpoint: `${ARM}/` },
    pollIntervalMs: 0,
    reconcileWaitMs: 0,
    now: () => NOW_MS,
  });
  return { arm, backend, scopes };
}

const wait = { wait: true };

describe("v2 adapter: reads and mapping", () => {
  it("maps managed and Kubernetes endpoints to ServiceInfo", async () => {
    const { backend } = setup({
      managed: { authMode: "AADToken" },
      k8s: { authMode: "AMLToken", compute: K8S },
      keyed: { authMode: "Key", provisioningState: "Updating" },
    });
    expect(await backend.get("managed")).toEqual({
      api: "v2",
      name: "managed",
      computeType: "Managed",
      authMode: "aad_token",
      authEnabled: false,
      tokenAuthEnabled: true,
      state: "Succeeded",
      scoringUri: `${ARM}/score/managed`,
    });
    expect(await backend.get("k8s")).toMatchObject({ computeType: "Kubernetes", authMode: "aml_token", authEnabled: false, tokenAuthEnabled: true });
    expect(await backend.get("keyed")).toMatchObject({ computeType: "Managed", authMode: "key", authEnabled: true, tokenAuthEnabled: false, state: "Updating" });
  });

  it("sends SDK requests through the pipeline with the SDK's own bearer, the ARM scope and no compression", async () => {
    const { arm, backend, scopes } = setup({ ep: {} });
    await backend.listKeys("ep");
    const req = arm.sent[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe(
      `${ARM}/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}/onlineEndpoints/ep/listKeys?api-version=2022-10-01`,
    );
    expect(req.auth).toBe(false);
    expect(req.idempotent).toBe(true); // listKeys only reads
    expect(req.headers?.authorization).toBe("Bearer arm-token");
    expect(req.headers?.["accept-encoding"]).toBeUndefined();
    expect(scopes).toEqual([`${ARM}/.default`]);
  });

  it("find returns null for an unknown endpoint; get names endpoint, workspace and resource group", async () => {
    const { backend } = setup();
    expect(await backend.find("ghost")).toBeNull();
    const err = await backend.get("ghost").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(`online endpoint ghost not found in workspace ${WS} (resource group ${RG})`);
  });

  it("find does not hide a missing resource group", async () => {
    const { arm, backend } = setup();
    arm.interceptors.push(() => armError(404, "ResourceGroupNotFound", "Resource group 'rg-1' could not be found."));
    const err = await backend.find("x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain("ResourceGroupNotFound");
  });

  it("maps 401/403 to AuthError and other statuses to a one-line ServiceError with the ARM code", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.interceptors.push(() => armError(403, "AuthorizationFailed", "The client does not have authorization\nto perform action."));
    const denied = await backend.get("ep").catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AuthError);
    expect((denied as Error).message).toContain("403 AuthorizationFailed");

    arm.interceptors.length = 0;
    arm.interceptors.push(() => armError(409, "Conflict", "Endpoint is busy\n  with another operation"));
    const conflict = (await backend.get("ep").catch((e: unknown) => e)) as ServiceError;
    expect(conflict).toBeInstanceOf(ServiceError);
    expect(conflict.status).toBe(409);
    expect(conflict.code).toBe("Conflict");
    expect(conflict.message).not.toContain("\n");
    expect(conflict.message).toContain("Endpoint is busy with another operation");
  });

  it("refuses a plain-http ARM endpoint before loading anything", async () => {
    const arm = new FakeArm();
    const backend = createV2Backend({
      pipeline: arm,
      getToken: async () => "t",
      config: { subscription: SUB, resourceGroup: RG, workspace: WS, armEndpoint: "http://127.0.0.1:1" },
    });
    await expect(backend.get("x")).rejects.toBeInstanceOf(UsageError);
    expect(arm.sent).toHaveLength(0);
  });
});

describe("v2 adapter: key regeneration", () => {
  it("runs the SDK poller to completion, sending keyType and keyValue, as a non-idempotent POST", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.pollsBeforeDone = 2;
    await backend.regenerateKey("ep", "Secondary", "chosen-value-123", wait);
    expect(arm.endpoints.get("ep")!.secondaryKey).toBe("chosen-value-123");
    const post = arm.sent.find((r) => r.url.includes("/regenerateKeys"))!;
    expect(JSON.parse(String(post.body))).toEqual({ keyType: "Secondary", keyValue: "chosen-value-123" });
    expect(post.idempotent).toBe(false);
    expect(arm.count("GET", "/operations/1")).toBe(3); // InProgress, InProgress, Succeeded
    expect(await backend.listKeys("ep")).toEqual({ primaryKey: "ep-primary-0", secondaryKey: "chosen-value-123" });
  });

  it("with wait:false returns once the server accepted, without waiting for the operation", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.pollsBeforeDone = 5;
    await backend.regenerateKey("ep", "Primary", undefined, { wait: false });
    expect(arm.count("POST", "/regenerateKeys")).toBe(1);
    expect(arm.count("GET", "/operations/1")).toBeLessThanOrEqual(1);
    expect(arm.endpoints.get("ep")!.primaryKey).toBe("ep-primary-0");
  });

  it("does not regenerate twice when an ambiguous failure hid a change the server made", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.interceptors.push((req, path) => {
      if (!path.endsWith("/regenerateKeys")) return undefined;
      arm.endpoints.get("ep")!.primaryKey = "applied-before-the-fault";
      throw new MaybeAppliedError("connection reset after the request was sent");
    });
    await backend.regenerateKey("ep", "Primary", undefined, wait);
    expect(arm.count("POST", "/regenerateKeys")).toBe(1);
    expect(arm.count("POST", "/listKeys")).toBe(2); // before and after
  });

  it("keeps re-reading the keys for a while when the lost request's change shows up late", async () => {
    const arm = new FakeArm({ ep: {} });
    const backend = createV2Backend({
      pipeline: arm,
      getToken: async () => "arm-token",
      config: { subscription: SUB, resourceGroup: RG, workspace: WS, armEndpoint: ARM },
      pollIntervalMs: 5,
      reconcileWaitMs: 1000,
    });
    let listsAfterFault = -1;
    arm.interceptors.push((_req, path) => {
      if (path.endsWith("/regenerateKeys")) {
        listsAfterFault = 0;
        throw new MaybeAppliedError("reply lost");
      }
      // The server's operation ends between the 2nd and 3rd read after the fault.
      if (path.endsWith("/listKeys") && listsAfterFault >= 0 && ++listsAfterFault === 3) {
        arm.endpoints.get("ep")!.primaryKey = "applied-late";
      }
      return undefined;
    });
    await backend.regenerateKey("ep", "Primary", undefined, wait);
    expect(arm.count("POST", "/regenerateKeys")).toBe(1);
    expect(arm.count("POST", "/listKeys")).toBe(4); // before, then three reads
  });

  it("retries exactly once when the keys show the first attempt did not apply", async () => {
    const { arm, backend } = setup({ ep: {} });
    let faults = 1;
    arm.interceptors.push((_req, path) => {
      if (path.endsWith("/regenerateKeys") && faults-- > 0) return armError(503, "ServiceUnavailable", "try later");
      return undefined;
    });
    await backend.regenerateKey("ep", "Primary", undefined, wait);
    expect(arm.count("POST", "/regenerateKeys")).toBe(2);
    expect(arm.endpoints.get("ep")!.primaryKey).not.toBe("ep-primary-0");
  });

  it("gives up with MaybeAppliedError after two ambiguous failures", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.interceptors.push((_req, path) => {
      if (path.endsWith("/regenerateKeys")) throw new MaybeAppliedError("reset");
      return undefined;
    });
    await expect(backend.regenerateKey("ep", "Secondary", undefined, wait)).rejects.toBeInstanceOf(MaybeAppliedError);
    expect(arm.count("POST", "/regenerateKeys")).toBe(2);
  });

  it("turns a Failed operation into a ServiceError carrying the code, without retrying", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.failNextOperation("KeyRegenFailed", "the vault is locked");
    const err = (await backend.regenerateKey("ep", "Primary", undefined, wait).catch((e: unknown) => e)) as ServiceError;
    expect(err).toBeInstanceOf(ServiceError);
    expect(err.code).toBe("KeyRegenFailed");
    expect(err.message).toContain("the vault is locked");
    expect(arm.count("POST", "/regenerateKeys")).toBe(1);
  });

  it("keeps an explicit key value out of error messages", async () => {
    const { arm, backend } = setup({ ep: {} });
    arm.interceptors.push((_req, path) =>
      path.endsWith("/regenerateKeys") ? armError(400, "InvalidKey", "key 'short-secret-value' is too short") : undefined,
    );
    const err = (await backend.regenerateKey("ep", "Primary", "short-secret-value", wait).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ServiceError);
    expect(err.message).not.toContain("short-secret-value");
    expect(err.message).toContain("[redacted]");
  });
});

describe("v2 adapter: tokens", () => {
  it("returns the /token answer for aml_token endpoints (epoch seconds kept)", async () => {
    const { backend } = setup({ ep: { authMode: "AMLToken" } });
    expect(await backend.getToken("ep")).toEqual({
      accessToken: "aml.token.value",
      tokenType: "Bearer",
      expiryOn: 2_000_000_000,
      refreshAfter: 1_999_999_000,
    });
  });

  it("accepts millisecond times by magnitude", async () => {
    const { arm, backend } = setup({ ep: { authMode: "AMLToken" } });
    arm.tokenReply = { accessToken: "t", tokenType: "Bearer", expiryTimeUtc: 2_000_000_000_123, refreshAfterTimeUtc: 1_999_999_000_999 };
    expect(await backend.getToken("ep")).toMatchObject({ expiryOn: 2_000_000_000, refreshAfter: 1_999_999_000 });
  });

  it("refuses key endpoints with a usage error pointing at keys list, without calling /token", async () => {
    const { arm, backend } = setup({ ep: { authMode: "Key" } });
    const err = (await backend.getToken("ep").catch((e: unknown) => e)) as UsageError;
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain("key auth");
    expect(err.hint).toContain("amlauth keys list ep");
    expect(arm.count("POST", "/token")).toBe(0);
  });

  it("gets an Entra token for the ML data plane for aad_token endpoints", async () => {
    const { arm, backend, scopes } = setup({ ep: { authMode: "AADToken" } });
    const token = await backend.getToken("ep");
    expect(scopes).toContain(ML_DATA_PLANE_SCOPE);
    expect(token.expiryOn).toBe(NOW_MS / 1000 + 3600);
    expect(token.refreshAfter).toBe(token.expiryOn - 300);
    expect(arm.count("POST", "/token")).toBe(0);
  });
});

describe("v2 adapter: auth mode and deploy", () => {
  it("changes the mode with GET then PUT and waits for Succeeded", async () => {
    const { arm, backend } = setup({ ep: { authMode: "Key", description: "kept" } });
    const info = await backend.setAuthMode("ep", { mode: "token" }, wait);
    expect(info).toMatchObject({ authMode: "aml_token", state: "Succeeded" });
    const put = arm.sent.find((r) => r.method === "PUT")!;
    const body = JSON.parse(String(put.body));
    expect(body.properties).toMatchObject({ authMode: "AMLToken", description: "kept" });
    expect(body.properties.provisioningState).toBeUndefined(); // read-only fields are not sent back
    expect(arm.endpoints.get("ep")!.authMode).toBe("AMLToken");
  });

  it("makes no PUT when the mode is already the requested one", async () => {
    const { arm, backend } = setup({ ep: { authMode: "AMLToken" } });
    await backend.setAuthMode("ep", { mode: "aml_token" }, wait);
    expect(arm.count("PUT", "/ep")).toBe(0);
  });

  it("refuses none before any request and aad_token on Kubernetes before any change", async () => {
    const { arm, backend } = setup({ k8s: { authMode: "Key", compute: K8S } });
    await expect(backend.setAuthMode("k8s", { mode: "none" }, wait)).rejects.toBeInstanceOf(RuleViolationError);
    expect(arm.sent).toHaveLength(0);
    await expect(backend.setAuthMode("k8s", { mode: "aad_token" }, wait)).rejects.toBeInstanceOf(RuleViolationError);
    expect(arm.count("PUT", "/k8s")).toBe(0);
  });

  it("deploys a new Kubernetes endpoint in the workspace's location", async () => {
    const { arm, backend } = setup();
    const info = await backend.deploy({ api: "v2", name: "fresh", authMode: "aml_token", compute: K8S, description: "d" }, wait);
    expect(info).toMatchObject({ name: "fresh", computeType: "Kubernetes", authMode: "aml_token", state: "Succeeded" });
    expect(arm.endpoints.get("fresh")).toMatchObject({ location: "fakewest", compute: K8S, description: "d" });
  });

  it("with wait:false returns the state right after the PUT was accepted", async () => {
    const { backend } = setup();
    const info = await backend.deploy({ api: "v2", name: "fresh", authMode: "key" }, { wait: false });
    expect(info.state).toBe("Updating");
  });

  it("refuses aad_token with --compute before any request, and a compute change on an existing endpoint", async () => {
    const { arm, backend } = setup({ managed: { authMode: "Key" } });
    await expect(backend.deploy({ api: "v2", name: "x", authMode: "aad_token", compute: K8S }, wait)).rejects.toBeInstanceOf(RuleViolationError);
    expect(arm.sent).toHaveLength(0);
    await expect(backend.deploy({ api: "v2", name: "managed", authMode: "key", compute: K8S }, wait)).rejects.toBeInstanceOf(UsageError);
    await expect(backend.deploy({ api: "v2", name: "managed", authMode: "key", location: "mars" }, wait)).rejects.toBeInstanceOf(UsageError);
    expect(arm.count("PUT", "/managed")).toBe(0);
  });

  it("updates an existing endpoint's mode through deploy, keeping its location", async () => {
    const { arm, backend } = setup({ managed: { authMode: "Key", location: "elsewhere" } });
    await backend.deploy({ api: "v2", name: "managed", authMode: "aad_token" }, wait);
    expect(arm.endpoints.get("managed")).toMatchObject({ authMode: "AADToken", location: "elsewhere" });
  });
});
