// Every emulator route over real HTTPS (port 0, generated CA), including the negative cases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "node:https";
import { createHash } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { httpsCall, MMS, signIn, startTestEmulator, WS_PATH } from "./helpers.js";
import type { TestEmulator } from "./helpers.js";
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_STATIC_TOKEN,
  EMULATOR_TENANT_ID,
  ML_DATA_PLANE_AUDIENCE,
} from "../../src/emulator/world.js";
import { JwtVerifier } from "../../src/emulator/jwt.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator({ inMemory: true });
});
afterAll(async () => {
  await emu?.dispose();
});

const form = (fields: Record<string, string>) => ({
  raw: true,
  body: new URLSearchParams(fields).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded" },
});
const tokenPath = `/${EMULATOR_TENANT_ID}/oauth2/v2.0/token`;
const goodForm = {
  grant_type: "client_credentials",
  client_id: EMULATOR_CLIENT_ID,
  client_secret: EMULATOR_CLIENT_SECRET,
  scope: "https://management.azure.com/.default",
};

describe("Entra-like sign-in", () => {
  it("publishes OpenID metadata whose endpoints point back at the emulator", async () => {
    const r = await emu.call("GET", `/${EMULATOR_TENANT_ID}/v2.0/.well-known/openid-configuration`);
    expect(r.status).toBe(200);
    for (const key of ["token_endpoint", "authorization_endpoint", "end_session_endpoint", "jwks_uri", "issuer"]) {
      expect(r.json[key]).toMatch(new RegExp(`^${emu.url}/${EMULATOR_TENANT_ID}/`));
    }
    const jwks = await emu.call("GET", new URL(r.json.jwks_uri).pathname);
    expect(jwks.json.keys).toHaveLength(1);
    expect(jwks.json.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(jwks.json.keys[0].d).toBeUndefined();
  });

  it("issues RS256 access tokens whose aud is the scope minus /.default", async () => {
    const r = await emu.call("POST", tokenPath, form({ ...goodForm, scope: `${ML_DATA_PLANE_AUDIENCE}/.default` }));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
    const [head] = r.json.access_token.split(".");
    expect(JSON.parse(Buffer.from(head, "base64url").toString())).toMatchObject({ alg: "RS256" });
    expect(JwtVerifier.peekClaims(r.json.access_token)).toMatchObject({
      aud: ML_DATA_PLANE_AUDIENCE,
      iss: `${emu.url}/${EMULATOR_TENANT_ID}/v2.0`,
      sub: EMULATOR_CLIENT_ID,
    });
    // client_secret_basic works as well
    const basic = Buffer.from(`${EMULATOR_CLIENT_ID}:${EMULATOR_CLIENT_SECRET}`).toString("base64");
    const r2 = await emu.call("POST", tokenPath, {
      ...form({ grant_type: "client_credentials", scope: goodForm.scope }),
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` },
    });
    expect(r2.status).toBe(200);
  });

  it.each([
    ["a wrong secret", { client_secret: "nope" }, 401, "invalid_client"],
    ["no secret", { client_secret: "" }, 401, "invalid_client"],
    ["an unknown client", { client_id: "33333333-3333-3333-3333-333333333333" }, 400, "unauthorized_client"],
    ["another grant", { grant_type: "password" }, 400, "unsupported_grant_type"],
    ["a scope without /.default", { scope: "https://management.azure.com" }, 400, "invalid_scope"],
    ["no scope", { scope: "" }, 400, "invalid_request"],
  ])("refuses %s in Entra's error shape", async (_what, change, status, code) => {
    const r = await emu.call("POST", tokenPath, form({ ...goodForm, ...change }));
    expect(r.status).toBe(status);
    expect(r.json.error).toBe(code);
    expect(r.json.error_description).toMatch(/^AADSTS\d+: /);
    expect(Array.isArray(r.json.error_codes)).toBe(true);
    expect(r.text).not.toContain(EMULATOR_CLIENT_SECRET);
  });

  it("refuses an unknown tenant", async () => {
    const r = await emu.call("POST", `/contoso.onmicrosoft.com/oauth2/v2.0/token`, form(goodForm));
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("invalid_tenant");
  });

  it("works with @azure/identity's ClientSecretCredential", async () => {
    const credential = new ClientSecretCredential(EMULATOR_TENANT_ID, EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true,
      agent: new Agent({ ca: emu.ca }),
    } as ConstructorParameters<typeof ClientSecretCredential>[3]);
    const token = await credential.getToken("https://management.azure.com/.default");
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
    const ws = await emu.call("GET", `${WS_PATH}?api-version=2022-10-01`, { bearer: token.token });
    expect(ws.status).toBe(200);
  });
});

describe("ARM and discovery", () => {
  it("serves the workspace with a discoveryUrl pointing back at the emulator, for any api-version", async () => {
    for (const version of ["2022-05-01", "2099-01-01-preview"]) {
      const r = await emu.arm("GET", `${WS_PATH}?api-version=${version}`);
      expect(r.status).toBe(200);
      expect(r.json.properties.discoveryUrl).toBe(`${emu.url}/discovery`);
      expect(r.json.id).toBe(WS_PATH);
    }
    const disc = await emu.call("GET", "/discovery");
    expect(disc.status).toBe(200);
    for (const key of ["api", "experimentation", "history", "modelmanagement"]) expect(disc.json[key]).toBe(emu.url);
  });

  it("serves the AKS compute (ARM and the SDK v1 api-host path) with the keys the SDK reads", async () => {
    const arm = await emu.arm("GET", `${WS_PATH}/computes/aks-compute?api-version=2020-02-02`);
    expect(arm.status).toBe(200);
    expect(arm.json.properties.computeType).toBe("AKS");
    expect(arm.json.properties.properties).toHaveProperty("loadBalancerSubnet", null);
    const rp = await emu.arm("GET", `/rp/workspaces${WS_PATH}/computes/aks-compute?api-version=2020-02-02`);
    expect(rp.json).toEqual(arm.json);
    const missing = await emu.arm("GET", `${WS_PATH}/computes/nope?api-version=2020-02-02`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("ResourceNotFound");
  });

  it("answers ARM errors in ARM's shape", async () => {
    const noVersion = await emu.arm("GET", WS_PATH);
    expect(noVersion.status).toBe(400);
    expect(noVersion.json.error.code).toBe("MissingApiVersionParameter");
    const otherWs = await emu.arm("GET", WS_PATH.replace("amlauth-ws", "other-ws") + "?api-version=1");
    expect(otherWs.status).toBe(404);
    expect(otherWs.json).toEqual({ error: { code: "ResourceNotFound", message: expect.stringContaining("other-ws") } });
    const otherRg = await emu.arm("GET", WS_PATH.replace("amlauth-rg", "nope-rg") + "?api-version=1");
    expect(otherRg.json.error.code).toBe("ResourceGroupNotFound");
  });

  it("requires a bearer from the emulator on the control plane (401 that says why)", async () => {
    const path = `${WS_PATH}?api-version=2022-05-01`;
    const missing = await emu.call("GET", path);
    expect(missing.status).toBe(401);
    expect(missing.json.error.code).toBe("AuthenticationFailed");
    expect(missing.json.error.message).toMatch(/header is missing/);
    expect(missing.headers["www-authenticate"]).toMatch(/^Bearer authorization_uri=/);
    const garbage = await emu.call("GET", path, { bearer: "not-a-token" });
    expect(garbage.status).toBe(401);
    expect(garbage.json.error.code).toBe("InvalidAuthenticationToken");
    const basic = await emu.call("GET", path, { headers: { authorization: "Basic Zm9vOmJhcg==" } });
    expect(basic.status).toBe(401);
    // a data-plane token is not a control-plane token
    const mlToken = await signIn(emu.url, emu.ca, `${ML_DATA_PLANE_AUDIENCE}/.default`);
    const wrongAud = await emu.call("GET", path, { bearer: mlToken });
    expect(wrongAud.status).toBe(401);
    expect(wrongAud.json.error.code).toBe("InvalidAuthenticationTokenAudience");
    // the documented static token and a token for the emulator's own URL are accepted
    expect((await emu.call("GET", path, { bearer: EMULATOR_STATIC_TOKEN })).status).toBe(200);
    const ownUrl = await signIn(emu.url, emu.ca, `${emu.url}/.default`);
    expect((await emu.call("GET", path, { bearer: ownUrl })).status).toBe(200);
  });
});

describe("Model Management v1", () => {
  it("lists and gets services with every key the v1 SDK requires", async () => {
    const list = await emu.arm("GET", `${MMS}/services?expand=true`);
    expect(list.status).toBe(200);
    expect(list.json.value.map((s: { name: string }) => s.name).sort()).toEqual(["demo-aci", "demo-aks"]);
    const common = ["computeType", "createdTime", "description", "kvTags", "name", "properties"];
    const aci = ["appInsightsEnabled", "authEnabled", "cname", "containerResourceRequirements", "location", "publicIp", "scoringUri", "sslCertificate", "sslEnabled", "sslKey"];
    const aks = [
      "appInsightsEnabled", "authEnabled", "autoScaler", "computeName", "containerResourceRequirements", "dataCollection",
      "maxConcurrentRequestsPerContainer", "maxQueueWaitMs", "numReplicas", "scoringTimeoutMs", "scoringUri",
      "livenessProbeRequirements", "aadAuthEnabled",
    ];
    const a = (await emu.arm("GET", `${MMS}/services/demo-aci?expand=true`)).json;
    for (const key of [...common, ...aci]) expect(a).toHaveProperty(key);
    expect(a).toMatchObject({ computeType: "ACI", authEnabled: true, scoringUri: `${emu.url}/aci/demo-aci/score` });
    expect(Number.isNaN(Date.parse(a.createdTime))).toBe(false);
    const k = (await emu.arm("GET", `${MMS}/services/demo-aks?expand=true`)).json;
    for (const key of [...common, ...aks]) expect(k).toHaveProperty(key);
    for (const key of ["cpu", "cpuLimit", "memoryInGB", "memoryInGBLimit", "gpu"]) expect(k.containerResourceRequirements).toHaveProperty(key);
    for (const key of ["autoscaleEnabled", "maxReplicas", "minReplicas", "refreshPeriodInSeconds", "targetUtilization"]) expect(k.autoScaler).toHaveProperty(key);
    expect(k).toMatchObject({ authEnabled: false, aadAuthEnabled: true, scoringUri: `${emu.url}/api/v1/service/demo-aks/score` });
    const filtered = await emu.arm("GET", `${MMS}/services?computeType=AKS`);
    expect(filtered.json.value.map((s: { name: string }) => s.name)).toEqual(["demo-aks"]);
  });

  it("answers unknown services and wrong casing with 404 in the MMS shape", async () => {
    const missing = await emu.arm("GET", `${MMS}/services/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: "NotFound", statusCode: 404, details: [] });
    const camel = await emu.arm("POST", `${MMS}/services/demo-aci/listKeys`);
    expect(camel.status).toBe(404);
    expect(camel.json.statusCode).toBe(404);
    const lower = await emu.arm("POST", `${MMS}/services/demo-aci/regeneratekeys`, { body: { keyType: "Primary" } });
    expect(lower.status).toBe(404);
    const noBearer = await emu.call("POST", `${MMS}/services/demo-aci/listkeys`);
    expect(noBearer.status).toBe(401);
    expect(noBearer.json).toMatchObject({ code: "AuthenticationFailed", statusCode: 401 });
    const wrongVerb = await emu.arm("GET", `${MMS}/services/demo-aci/listkeys`);
    expect(wrongVerb.status).toBe(405);
    expect(wrongVerb.headers["allow"]).toBe("POST");
  });

  it("deploys: 202 + Operation-Location, the service exists at once, then Healthy", async () => {
    const body = {
      name: "flow-aks",
      computeType: "AKS",
      computeName: "aks-compute",
      keys: { primaryKey: null, secondaryKey: null },
      environmentImageRequest: { modelIds: ["demo-model:1"] },
      authEnabled: false,
      aadAuthEnabled: true,
      containerResourceRequirements: { cpu: 0.5, cpuLimit: null, memoryInGB: 1, memoryInGBLimit: null, gpu: null },
    };
    const created = await emu.arm("POST", `${MMS}/services`, { body });
    expect(created.status).toBe(202);
    const location = String(created.headers["operation-location"]);
    expect(location).toMatch(new RegExp(`^${emu.url}${MMS}/operations/[0-9a-f-]{36}$`));
    const svc = await emu.arm("GET", `${MMS}/services/flow-aks?expand=true`);
    expect(svc.status).toBe(200);
    expect(svc.json).toMatchObject({ state: "Healthy", aadAuthEnabled: true, authEnabled: false });
    expect(svc.json.containerResourceRequirements).toMatchObject({ cpu: 0.5, memoryInGB: 1, cpuLimit: null });
    const op = await emu.arm("GET", new URL(location).pathname);
    expect(op.json).toMatchObject({ state: "Succeeded", operationType: "Deploy" });
    const again = await emu.arm("POST", `${MMS}/services`, { body });
    expect(again.status).toBe(409);
    expect((await emu.arm("POST", `${MMS}/services`, { body: { ...body, overwrite: true } })).status).toBe(202);
    const del = await emu.arm("DELETE", `${MMS}/services/flow-aks`);
    expect(del.status).toBe(200);
    expect((await emu.arm("DELETE", `${MMS}/services/flow-aks`)).status).toBe(204);
    expect((await emu.arm("GET", `${MMS}/services/flow-aks`)).status).toBe(404);
  });

  it("applies the server-side defaults: ACI key auth off, AKS key auth on, token auth off", async () => {
    const base = { keys: { primaryKey: null, secondaryKey: null }, environmentImageRequest: { modelIds: [] } };
    expect((await emu.arm("POST", `${MMS}/services`, { body: { ...base, name: "def-aci", computeType: "ACI" } })).status).toBe(202);
    expect((await emu.arm("POST", `${MMS}/services`, { body: { ...base, name: "def-aks", computeType: "AKS", computeName: "aks-compute" } })).status).toBe(202);
    expect((await emu.arm("GET", `${MMS}/services/def-aci`)).json).toMatchObject({ authEnabled: false });
    expect((await emu.arm("GET", `${MMS}/services/def-aks`)).json).toMatchObject({ authEnabled: true, aadAuthEnabled: false });
  });

  it.each([
    ["token auth on ACI", { computeType: "ACI", aadAuthEnabled: true }, "TokenAuthNotSupportedOnACI", /not supported on ACI/],
    ["key and token auth together", { computeType: "AKS", computeName: "aks-compute", authEnabled: true, aadAuthEnabled: true }, "KeyAndTokenAuthExclusive", /cannot both be enabled/],
    ["token auth with AKS's key-auth default", { computeType: "AKS", computeName: "aks-compute", aadAuthEnabled: true }, "KeyAndTokenAuthExclusive", /on by default on AKS/],
  ])("rejects %s with 400 {code,statusCode,message,details} naming the rule", async (_what, fields, rule, message) => {
    const r = await emu.arm("POST", `${MMS}/services`, {
      body: { name: "rule-svc", keys: { primaryKey: null, secondaryKey: null }, environmentImageRequest: { modelIds: [] }, ...fields },
    });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: "BadRequest", statusCode: 400, details: [{ code: rule }] });
    expect(r.json.message).toMatch(message);
    expect((await emu.arm("GET", `${MMS}/services/rule-svc`)).status).toBe(404);
  });

  it("validates create requests (name, compute, model) without creating anything", async () => {
    const base = { name: "bad-one", computeType: "AKS", computeName: "aks-compute", environmentImageRequest: { modelIds: [] } };
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ name: "Bad_Name" }, 400, /"name"/],
      [{ computeType: "IOT" }, 400, /computeType/],
      [{ computeName: "other-aks" }, 400, /not found/],
      [{ environmentImageRequest: { modelIds: ["ghost:9"] } }, 400, /ghost:9/],
      [{ environmentImageRequest: undefined }, 400, /environmentImageRequest/],
      [{ keys: { primaryKey: "has space", secondaryKey: null } }, 400, /keys.primaryKey/],
    ];
    for (const [change, status, message] of cases) {
      const r = await emu.arm("POST", `${MMS}/services`, { body: { ...base, ...change } });
      expect(r.status, JSON.stringify(change)).toBe(status);
      expect(r.json.message).toMatch(message);
      expect(r.text).not.toContain("has space");
    }
  });

  it("PATCHes auth flags with application/json-patch+json and enforces the rules", async () => {
    const path = `${MMS}/services/demo-aks`;
    const patch = (ops: unknown, type = "application/json-patch+json") =>
      emu.arm("PATCH", path, { body: ops, headers: { "content-type": type } });
    const both = await patch([{ op: "replace", path: "/authEnabled", value: true }]);
    expect(both.status).toBe(400);
    expect(both.json.details[0].code).toBe("KeyAndTokenAuthExclusive");
    expect((await patch([{ op: "replace", path: "/authEnabled", value: true }], "application/json")).status).toBe(415);
    expect((await patch([])).status).toBe(400);
    expect((await patch([{ op: "replace", path: "/keys/primaryKey", value: "x" }])).status).toBe(400);
    const toKey = await patch([
      { op: "replace", path: "/aadAuthEnabled", value: false },
      { op: "replace", path: "/authEnabled", value: true },
      { op: "add", path: "/kvTags/team", value: "ml" },
    ]);
    expect(toKey.status).toBe(202);
    expect(toKey.headers["operation-location"]).toMatch(/\/operations\//);
    expect((await emu.arm("GET", path)).json).toMatchObject({ authEnabled: true, aadAuthEnabled: false, kvTags: { team: "ml" } });
    const back = await patch([
      { op: "replace", path: "/authEnabled", value: false },
      { op: "replace", path: "/aadAuthEnabled", value: true },
    ]);
    expect(back.status).toBe(202);
    const aci = await emu.arm("PATCH", `${MMS}/services/demo-aci`, {
      body: [{ op: "replace", path: "/aadAuthEnabled", value: true }],
      headers: { "content-type": "application/json-patch+json" },
    });
    expect(aci.status).toBe(400);
    expect(aci.json.details[0].code).toBe("TokenAuthNotSupportedOnACI");
  });

  it("lists keys (even with key auth off) and regenerates them: 202 + Operation-Location, explicit keyValue honoured", async () => {
    const before = (await emu.arm("POST", `${MMS}/services/demo-aks/listkeys`)).json;
    expect(before.primaryKey).toMatch(/^[A-Za-z0-9]{32}$/);
    const regen = await emu.arm("POST", `${MMS}/services/demo-aks/regenerateKeys`, { body: { keyType: "Secondary", keyValue: null } });
    expect(regen.status).toBe(202);
    const op = await emu.arm("GET", new URL(String(regen.headers["operation-location"])).pathname);
    expect(op.json.state).toBe("Succeeded");
    const after = (await emu.arm("POST", `${MMS}/services/demo-aks/listkeys`)).json;
    expect(after.primaryKey).toBe(before.primaryKey);
    expect(after.secondaryKey).not.toBe(before.secondaryKey);
    for (const keyType of ["primary", "PRIMARY", 0, "0"]) {
      const value = `explicit-${String(keyType)}-value`;
      expect((await emu.arm("POST", `${MMS}/services/demo-aks/regenerateKeys`, { body: { keyType, keyValue: value } })).status).toBe(202);
      expect((await emu.arm("POST", `${MMS}/services/demo-aks/listkeys`)).json.primaryKey).toBe(value);
    }
    const bad = await emu.arm("POST", `${MMS}/services/demo-aks/regenerateKeys`, { body: { keyType: "Tertiary" } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/Primary.*Secondary/);
    expect((await emu.arm("POST", `${MMS}/services/demo-aks/regenerateKeys`, { body: {} })).status).toBe(400);
  });

  it("mints service tokens (201, epoch seconds) only for AKS with token auth", async () => {
    const t = await emu.arm("POST", `${MMS}/services/demo-aks/token`);
    expect(t.status).toBe(201);
    expect(t.json).toEqual({ accessToken: expect.any(String), tokenType: "Bearer", expiryOn: expect.any(Number), refreshAfter: expect.any(Number) });
    const nowSec = Date.now() / 1000;
    expect(t.json.expiryOn).toBeGreaterThan(nowSec + 3500);
    expect(t.json.refreshAfter).toBeGreaterThan(nowSec);
    expect(t.json.refreshAfter).toBeLessThan(t.json.expiryOn);
    const aci = await emu.arm("POST", `${MMS}/services/demo-aci/token`);
    expect(aci.status).toBe(400);
    expect(aci.json.message).toMatch(/ACI services do not support token authentication/);
    const keyOnly = await emu.arm("POST", `${MMS}/services/def-aks/token`);
    expect(keyOnly.status).toBe(400);
    expect(keyOnly.json.message).toMatch(/not enabled on service 'def-aks'/);
  });

  it("serves logs, operations, models and the validate endpoints", async () => {
    const logs = await emu.arm("GET", `${MMS}/services/demo-aci/logs?tail=10&init=false`);
    expect(logs.status).toBe(200);
    expect(typeof logs.json.content).toBe("string");
    expect((await emu.arm("GET", `${MMS}/operations/00000000-0000-0000-0000-00000000dead`)).status).toBe(404);
    const model = await emu.arm("GET", `${MMS}/models/demo-model%3A1`);
    expect(model.status).toBe(200);
    expect(model.json).toMatchObject({ id: "demo-model:1", name: "demo-model", version: 1 });
    expect((await emu.arm("GET", `${MMS}/models?name=demo-model&count=1`)).json.value).toHaveLength(1);
    expect((await emu.arm("GET", `${MMS}/models/demo-model%3A9`)).status).toBe(404);
    const nameTaken = await emu.arm("POST", `${MMS}/services/validate/name/demo-aci`, { body: {} });
    expect(nameTaken.status).toBe(200);
    expect(nameTaken.json.error.message).toMatch(/already exists/);
    expect((await emu.arm("POST", `${MMS}/services/validate/name/brand-new`, { body: {} })).json).toEqual({});
    const validate = await emu.arm("POST", `${MMS}/services/validate`, {
      body: { type: "Update", serviceName: "demo-aks", createRequest: null, updateRequest: [{ op: "replace", path: "/authEnabled", value: true }] },
    });
    expect(validate.status).toBe(200);
    expect(validate.json.error.message).toMatch(/cannot both be enabled/);
    const resource = await emu.arm("POST", `${MMS}/services/validate/resource`, {
      body: { name: "res-ok", computeType: "ACI", environmentImageRequest: { modelIds: ["demo-model:1"] } },
    });
    expect(resource.json).toEqual({});
  });
});

describe("artifacts, blobs and environments (what a real deploy uploads)", () => {
  const metadata = (container: string, paths: string[]) =>
    emu.arm("POST", `/artifact/v2.0${WS_PATH}/artifacts/batch/metadata/LocalUpload/${container}`, {
      body: { paths: paths.map((path) => ({ path })) },
      headers: { "content-type": "application/json-patch+json; charset=utf-8" },
    });

  it("creates artifacts, takes the blob PUT via the contentUri, and deploys with the uploaded assets", async () => {
    const r = await metadata("aff651ee", ["score.py"]);
    expect(r.status).toBe(200);
    expect(r.json.errors).toEqual({});
    expect(r.json.artifacts["score.py"]).toMatchObject({ artifactId: "LocalUpload/aff651ee/score.py", origin: "LocalUpload", container: "aff651ee", path: "score.py" });
    const info = r.json.artifactContentInformation["score.py"];
    expect(info.contentUri).toMatch(new RegExp(`^${emu.url}/blob/LocalUpload/aff651ee/score\\.py\\?.*sig=`));
    const content = Buffer.from("def init():\n    pass\n");
    const md5 = createHash("md5").update(content).digest("base64");
    const put = (headers: Record<string, string>) =>
      httpsCall(info.contentUri, emu.ca, "PUT", { raw: true, body: content, headers: { "x-ms-blob-type": "BlockBlob", ...headers } });
    // A deploy that references a blob not uploaded yet is refused.
    const early = await emu.arm("POST", `${MMS}/services`, {
      body: {
        name: "art-aci", computeType: "ACI",
        environmentImageRequest: { driverProgram: "score.py", assets: [{ id: "score.py", mimeType: "application/x-python", url: "aml://artifact/LocalUpload/aff651ee/score.py" }], modelIds: ["demo-model:1"] },
      },
    });
    expect(early.status).toBe(400);
    expect(early.json.message).toMatch(/never uploaded/);
    const created = await put({ "if-none-match": "*", "content-md5": md5 });
    expect(created.status).toBe(201);
    expect(created.headers["content-md5"]).toBe(md5);
    const head = await httpsCall(info.contentUri, emu.ca, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(content.length));
    const get = await httpsCall(info.contentUri, emu.ca, "GET");
    expect(get.text).toBe(content.toString());
    const overwrite = await put({ "if-none-match": "*" });
    expect(overwrite.status).toBe(409);
    expect(overwrite.headers["x-ms-error-code"]).toBe("BlobAlreadyExists");
    expect(overwrite.text).toContain("<Code>BlobAlreadyExists</Code>");
    const deployed = await emu.arm("POST", `${MMS}/services`, {
      body: {
        name: "art-aci", computeType: "ACI", authEnabled: true,
        environmentImageRequest: { driverProgram: "score.py", assets: [{ id: "score.py", mimeType: "application/x-python", url: "aml://artifact/LocalUpload/aff651ee/score.py" }], modelIds: ["demo-model:1"] },
      },
    });
    expect(deployed.status).toBe(202);
  });

  it("refuses blob calls without a valid SAS and mismatched MD5", async () => {
    const r = await metadata("bbbb0001", ["pkg/a.tar.gz"]);
    const uri = new URL(r.json.artifactContentInformation["pkg/a.tar.gz"].contentUri);
    const noSig = await httpsCall(`${uri.origin}${uri.pathname}`, emu.ca, "PUT", { raw: true, body: "x", headers: { "x-ms-blob-type": "BlockBlob" } });
    expect(noSig.status).toBe(403);
    expect(noSig.headers["x-ms-error-code"]).toBe("AuthenticationFailed");
    const other = new URL(uri);
    other.pathname = other.pathname.replace("a.tar.gz", "b.tar.gz");
    expect((await httpsCall(other.toString(), emu.ca, "PUT", { raw: true, body: "x", headers: { "x-ms-blob-type": "BlockBlob" } })).status).toBe(403);
    const badMd5 = await httpsCall(uri.toString(), emu.ca, "PUT", { raw: true, body: "x", headers: { "x-ms-blob-type": "BlockBlob", "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==" } });
    expect(badMd5.status).toBe(400);
    expect((await httpsCall(uri.toString(), emu.ca, "PUT", { raw: true, body: "x" })).status).toBe(400);
    expect((await httpsCall(uri.toString(), emu.ca, "HEAD")).status).toBe(404);
    const traversal = await metadata("bbbb0002", ["../etc/passwd"]);
    expect(traversal.status).toBe(400);
  });

  it("serves the seeded environment on the experimentation host", async () => {
    const env = await emu.arm("GET", `/environment/v1.0${WS_PATH}/environments/demo-env/versions/1`);
    expect(env.status).toBe(200);
    expect(env.json).toMatchObject({ name: "demo-env", version: "1" });
    expect(env.json.python.condaDependencies).toBeTypeOf("object");
    expect((await emu.arm("GET", `/environment/v1.0${WS_PATH}/environments/demo-env`)).status).toBe(200);
    expect((await emu.arm("GET", `/environment/v1.0${WS_PATH}/environments/demo-env/versions/7`)).status).toBe(404);
  });
});
