// Discovery, v2 existence checks and v1 payload validation against a scripted server: the
// shapes a real service could send that the emulator never does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError, ServiceError } from "../../src/errors.js";
import { discoverWorkspaceHosts, NoModelManagementHostError } from "../../src/rest/discovery.js";
import { createHttpPipeline } from "../../src/rest/http.js";
import type { HttpPipeline } from "../../src/rest/http-types.js";
import { v2EndpointExists } from "../../src/rest/resolve.js";
import { createV1Backend, parseV1Service } from "../../src/rest/v1.js";
import { json, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
let pipeline: HttpPipeline;
const ws = { subscription: "sub", resourceGroup: "rg", workspace: "ws" };
beforeAll(async () => {
  server = await startTestServer();
  pipeline = createHttpPipeline({ ca: [server.tls.caPem], getAccessToken: async () => "arm-token", maxRetries: 0 });
});
afterAll(async () => {
  pipeline.close();
  await server.close();
});

describe("discovery", () => {
  it("reads discoveryUrl from the workspace, then fetches the document without auth", async () => {
    server.script(
      (_q, res) => json(res, 200, { properties: { discoveryUrl: `${server.url}/discovery` } }),
      (_q, res) => json(res, 200, { modelmanagement: "https://mms.example/", history: "https://hist.example", api: "not a url" }),
    );
    const stored: unknown[] = [];
    const hosts = await discoverWorkspaceHosts(pipeline, { armEndpoint: server.url, ...ws }, { getDiscovery: () => undefined, putDiscovery: (h) => stored.push(h) });
    expect(hosts).toEqual({ modelmanagement: "https://mms.example", history: "https://hist.example" });
    expect(stored).toEqual([hosts]);
    const [armCall, discoveryCall] = server.seen.slice(-2);
    expect(armCall!.path).toBe("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws?api-version=2022-05-01");
    expect(armCall!.headers.authorization).toBe("Bearer arm-token");
    expect(discoveryCall!.headers.authorization).toBeUndefined();
  });

  it("explains a workspace that is missing, has no discoveryUrl, or no Model Management host", async () => {
    const target = { armEndpoint: server.url, ...ws };
    server.script((_q, res) => json(res, 404, { error: { code: "ResourceNotFound", message: "gone" } }));
    await expect(discoverWorkspaceHosts(pipeline, target)).rejects.toThrow(
      new NotFoundError("workspace ws (resource group rg, subscription sub) not found"),
    );
    server.script((_q, res) => json(res, 200, { properties: {} }));
    await expect(discoverWorkspaceHosts(pipeline, target)).rejects.toThrow(
      "workspace ws (resource group rg, subscription sub) has no properties.discoveryUrl; cannot find its Model Management host",
    );
    server.script(
      (_q, res) => json(res, 200, { properties: { discoveryUrl: `${server.url}/d` } }),
      (_q, res) => json(res, 200, { api: "https://api.example" }),
    );
    await expect(discoverWorkspaceHosts(pipeline, target)).rejects.toBeInstanceOf(NoModelManagementHostError);
  });
});

describe("v2 existence check", () => {
  it("tells a missing endpoint from a missing workspace", async () => {
    const target = { armEndpoint: server.url, ...ws };
    server.script((_q, res) => json(res, 200, { name: "e" }));
    expect(await v2EndpointExists(pipeline, target, "e")).toBe(true);
    expect(server.seen.at(-1)!.path).toMatch(/\/workspaces\/ws\/onlineEndpoints\/e\?api-version=2022-10-01$/);
    server.script((_q, res) => json(res, 404, { error: { code: "ResourceNotFound", message: "no endpoint" } }));
    expect(await v2EndpointExists(pipeline, target, "e")).toBe(false);
    server.script((_q, res) => json(res, 404, { error: { code: "ParentResourceNotFound", message: "no workspace" } }));
    await expect(v2EndpointExists(pipeline, target, "e")).rejects.toBeInstanceOf(NotFoundError);
    server.script((_q, res) => json(res, 500, { error: { code: "InternalError", message: "boom" } }));
    await expect(v2EndpointExists(pipeline, target, "e")).rejects.toThrow("online endpoint e: boom (InternalError)");
  });
});

describe("v1 payload validation", () => {
  const aks = { name: "s", computeType: "AKS", authEnabled: false, aadAuthEnabled: true, state: "Healthy", scoringUri: "https://x/score" };

  it("maps flags to the auth mode (ACI never has token auth)", () => {
    expect(parseV1Service(aks, "s")).toEqual({ ...aks, computeType: "AKS" });
    expect(parseV1Service({ ...aks, computeType: "ACI", authEnabled: null, aadAuthEnabled: true, state: null, scoringUri: null }, "s")).toEqual({
      name: "s",
      computeType: "ACI",
      authEnabled: false,
      aadAuthEnabled: false,
      state: "Unknown",
      scoringUri: null,
    });
  });

  it("turns missing or wrong-typed fields into one-line ServiceErrors", () => {
    const cases: Array<[unknown, string]> = [
      [[], "the reply for web service s is not a JSON object"],
      [{ ...aks, name: 3 }, "the reply for web service s has no name"],
      [{ ...aks, computeType: "IOT" }, "web service s has compute type IOT; amlauth manages ACI and AKS services only"],
      [{ ...aks, authEnabled: "yes" }, "the reply for web service s has a non-boolean authEnabled"],
      [{ name: "s", computeType: "AKS", authEnabled: true }, "the reply for web service s is missing aadAuthEnabled"],
      [{ ...aks, scoringUri: 42 }, "the reply for web service s has a non-string scoringUri"],
    ];
    for (const [body, message] of cases) {
      expect(() => parseV1Service(body, "s")).toThrow(new ServiceError(message));
    }
  });

  it("rejects listkeys and token replies with missing fields", async () => {
    const v1 = createV1Backend({ pipeline, workspace: ws, hosts: async () => ({ modelmanagement: server.url }) });
    server.script((_q, res) => json(res, 200, { primaryKey: "only-one" }));
    await expect(v1.listKeys("s")).rejects.toThrow("the listkeys reply for s is missing primaryKey or secondaryKey");
    expect(server.seen.at(-1)!.path).toBe("/modelmanagement/v1.0/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/services/s/listkeys");
    server.script((_q, res) => json(res, 201, { accessToken: "t", tokenType: "Bearer", expiryOn: "soon" }));
    await expect(v1.getToken("s")).rejects.toThrow("the token reply for s is missing or has a wrong type for expiryOn, refreshAfter");
  });

  it("sends regenerateKeys with keyValue always present and needs no operation to finish", async () => {
    const v1 = createV1Backend({ pipeline, workspace: ws, hosts: async () => ({ modelmanagement: server.url }) });
    server.script(
      (_q, res) => json(res, 200, { primaryKey: "p1", secondaryKey: "s1" }),
      (_q, res) => json(res, 200, {}),
    );
    await v1.regenerateKey("s", "Secondary", undefined, { wait: true });
    const post = server.seen.at(-1)!;
    expect(post.path).toMatch(/\/services\/s\/regenerateKeys$/);
    expect(JSON.parse(post.body)).toEqual({ keyType: "Secondary", keyValue: null });
  });
});
