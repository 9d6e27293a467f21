// Scoring-endpoint auth (issue 2's matrix) and the JWT pitfalls of RFC 8725 (issue 7's matrix).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MMS, signIn, startTestEmulator } from "./helpers.js";
import type { Reply, TestEmulator } from "./helpers.js";
import { JwtSigner } from "../../src/emulator/jwt.js";
import { AML_TOKEN_ISSUER } from "../../src/emulator/deps.js";
import { ML_DATA_PLANE_AUDIENCE } from "../../src/emulator/world.js";

let emu: TestEmulator;
let signer: JwtSigner;
const AKS = "/api/v1/service/demo-aks/score";
const ACI = "/aci/demo-aci/score";

beforeAll(async () => {
  emu = await startTestEmulator();
  signer = new JwtSigner(await readFile(join(emu.dataDir, "signing-key.pem"), "utf8"));
  // A second token-auth service, for "token of another service".
  const r = await emu.arm("POST", `${MMS}/services`, {
    body: { name: "other-aks", computeType: "AKS", computeName: "aks-compute", authEnabled: false, aadAuthEnabled: true, environmentImageRequest: { modelIds: [] } },
  });
  expect(r.status).toBe(202);
});
afterAll(async () => {
  await emu?.dispose();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const nowSec = () => Math.floor(Date.now() / 1000);

function score(path: string, credential?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return emu.call("POST", path, { body: { data: [[1, 2]] }, headers, ...(credential === undefined ? {} : { bearer: credential }) });
}

async function serviceToken(name: string): Promise<string> {
  const r = await emu.arm("POST", `${MMS}/services/${name}/token`);
  expect(r.status).toBe(201);
  return r.json.accessToken as string;
}

async function keys(name: string): Promise<{ primaryKey: string; secondaryKey: string }> {
  return (await emu.arm("POST", `${MMS}/services/${name}/listkeys`)).json;
}

function expect401(r: Reply, code: string): void {
  expect(r.status, r.text).toBe(401);
  expect(r.json.error.code).toBe(code);
  expect(r.headers["www-authenticate"]).toMatch(/^Bearer realm="amlauth-emulator"/);
}

/** Claims of a good token for demo-aks, to vary one at a time. */
function goodClaims(): Record<string, unknown> {
  const iat = nowSec();
  return { aud: "amlauth-emulator:v1/services/demo-aks", iss: AML_TOKEN_ISSUER, iat, nbf: iat, exp: iat + 600, sub: "test" };
}

describe("scoring auth: key mode (demo-aci)", () => {
  it("accepts the primary and the secondary key and echoes the input", async () => {
    const k = await keys("demo-aci");
    for (const key of [k.primaryKey, k.secondaryKey]) {
      const r = await score(ACI, key);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ service: "demo-aci", input: { data: [[1, 2]] } });
    }
  });

  it("refuses a missing credential, another scheme, a wrong key and a token, each with its reason", async () => {
    const missing = await score(ACI);
    expect401(missing, "MissingCredential");
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="amlauth-emulator"');
    expect401(await score(ACI, undefined, { authorization: "Basic Zm9vOmJhcg==" }), "InvalidAuthorizationScheme");
    const wrong = await score(ACI, "definitely-not-the-key");
    expect401(wrong, "InvalidKey");
    expect(wrong.text).not.toContain("definitely-not-the-key");
    expect401(await score(ACI, await serviceToken("demo-aks")), "TokenNotAccepted");
  });

  it("stops accepting a regenerated key at once", async () => {
    const before = await keys("demo-aci");
    expect((await score(ACI, before.primaryKey)).status).toBe(200);
    const regen = await emu.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, { body: { keyType: "Primary", keyValue: null } });
    expect(regen.status).toBe(202);
    expect401(await score(ACI, before.primaryKey), "InvalidKey");
    expect((await score(ACI, before.secondaryKey)).status).toBe(200);
    expect((await score(ACI, (await keys("demo-aci")).primaryKey)).status).toBe(200);
  });

  it("serves a service without auth to anyone, and only on its own path style", async () => {
    const r = await emu.arm("POST", `${MMS}/services`, { body: { name: "open-aci", computeType: "ACI", environmentImageRequest: { modelIds: [] } } });
    expect(r.status).toBe(202);
    expect((await score("/aci/open-aci/score")).status).toBe(200);
    const wrongStyle = await score("/api/v1/service/open-aci/score");
    expect(wrongStyle.status).toBe(404);
    expect(wrongStyle.json.error.message).toContain("/aci/open-aci/score");
  });
});

describe("scoring auth: token mode (demo-aks)", () => {
  it("publishes a swagger document next to the scoring URI", async () => {
    const r = await emu.call("GET", "/api/v1/service/demo-aks/swagger.json");
    expect(r.status).toBe(200);
    expect(r.json.paths).toHaveProperty("/api/v1/service/demo-aks/score");
    expect((await emu.call("GET", "/aci/demo-aks/swagger.json")).status).toBe(404);
  });

  it("accepts a token from this emulator's /token", async () => {
    const r = await score(AKS, await serviceToken("demo-aks"));
    expect(r.status).toBe(200);
    expect(r.json.service).toBe("demo-aks");
  });

  it("refuses the token of another service, naming it", async () => {
    const r = await score(AKS, await serviceToken("other-aks"));
    expect401(r, "WrongAudience");
    expect(r.json.error.message).toContain("other-aks");
  });

  it("refuses a key while in token mode", async () => {
    expect401(await score(AKS, (await keys("demo-aks")).primaryKey), "KeyNotAccepted");
    expect401(await score(AKS), "MissingCredential");
  });

  it("refuses Entra tokens (control-plane or data-plane) for a v1 service", async () => {
    expect401(await score(AKS, await emu.armToken()), "WrongIssuer");
    expect401(await score(AKS, await signIn(emu.url, emu.ca, `${ML_DATA_PLANE_AUDIENCE}/.default`)), "WrongIssuer");
  });

  // RFC 8725 pitfalls: each forged token is refused with the reason that applies.
  const forged: [string, () => Promise<string> | string, string][] = [
    ["a good token (control)", () => signer.sign(goodClaims()), "OK"],
    ["an expired token", () => signer.sign({ ...goodClaims(), exp: nowSec() - 5 }), "ExpiredToken"],
    ["alg none", () => `${b64({ alg: "none", typ: "JWT" })}.${b64(goodClaims())}.`, "MalformedToken"],
    ["alg none with a signature part", () => `${b64({ alg: "none", typ: "JWT", kid: signer.kid })}.${b64(goodClaims())}.AAAA`, "UnsupportedAlgorithm"],
    [
      "HS256 signed with the public key as secret",
      () => {
        const data = `${b64({ alg: "HS256", typ: "JWT", kid: signer.kid })}.${b64(goodClaims())}`;
        return `${data}.${createHmac("sha256", signer.publicKeyPem).update(data).digest("base64url")}`;
      },
      "UnsupportedAlgorithm",
    ],
    ["kid injection (a path)", () => signer.sign(goodClaims(), { kid: "../../../../../dev/null" }), "UnknownKeyId"],
    ["kid injection (a URL)", () => signer.sign(goodClaims(), { kid: "https://attacker.invalid/jwks.json", jku: "https://attacker.invalid/jwks.json" }), "UnknownKeyId"],
    [
      "our kid on a token signed by another key",
      () => {
        const other = new JwtSigner(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString());
        const token = other.sign(goodClaims());
        const [, body, sig] = token.split(".");
        return `${b64({ alg: "RS256", typ: "JWT", kid: signer.kid })}.${body}.${sig}`;
      },
      "InvalidSignature",
    ],
    [
      "a tampered payload (audience switched, signature kept)",
      () => {
        const [head, , sig] = signer.sign({ ...goodClaims(), aud: "amlauth-emulator:v1/services/other-aks" }).split(".");
        return `${head}.${b64(goodClaims())}.${sig}`;
      },
      "InvalidSignature",
    ],
    ["a missing exp", () => signer.sign({ ...goodClaims(), exp: undefined }), "MissingClaim"],
    ["a non-numeric exp", () => signer.sign({ ...goodClaims(), exp: "9999999999" as unknown as number }), "MissingClaim"],
    ["a wrong audience", () => signer.sign({ ...goodClaims(), aud: "https://management.azure.com" }), "WrongAudience"],
    ["a wrong issuer", () => signer.sign({ ...goodClaims(), iss: "https://login.microsoftonline.com/x/v2.0" }), "WrongIssuer"],
    ["a future nbf", () => signer.sign({ ...goodClaims(), nbf: nowSec() + 300 }), "TokenNotYetValid"],
    ["a future iat", () => signer.sign({ ...goodClaims(), iat: nowSec() + 300 }), "IssuedInFuture"],
    ["a critical header", () => signer.sign(goodClaims(), { crit: ["exp"] }), "UnsupportedCriticalHeader"],
    ["garbage with dots", () => "a.b.c", "MalformedToken"],
  ];

  it.each(forged)("JWT matrix: %s", async (_what, make, expected) => {
    const r = await score(AKS, await make());
    if (expected === "OK") expect(r.status).toBe(200);
    else expect401(r, expected);
  });

  it("follows the mode at once when it changes (token → key → token)", async () => {
    const token = await serviceToken("demo-aks");
    const patch = (authEnabled: boolean) =>
      emu.arm("PATCH", `${MMS}/services/demo-aks`, {
        body: [
          { op: "replace", path: "/authEnabled", value: authEnabled },
          { op: "replace", path: "/aadAuthEnabled", value: !authEnabled },
        ],
        headers: { "content-type": "application/json-patch+json" },
      });
    expect((await patch(true)).status).toBe(202);
    expect401(await score(AKS, token), "TokenNotAccepted");
    expect((await score(AKS, (await keys("demo-aks")).primaryKey)).status).toBe(200);
    expect((await patch(false)).status).toBe(202);
    expect((await score(AKS, token)).status).toBe(200);
  });
});

describe("time-dependent behaviour (injected clock)", () => {
  it("expires a cached, once-accepted token at its exp, and answers 503 until a deploy completes", async () => {
    let clock = Date.now();
    const timed = await startTestEmulator({ inMemory: true, dataDir: emu.dataDir, now: () => clock, tokenLifetimeSeconds: 60, deployDelayMs: 500 });
    try {
      const t = await timed.arm("POST", `${MMS}/services/demo-aks/token`);
      expect(t.json.expiryOn - Math.floor(clock / 1000)).toBe(60);
      expect(t.json.refreshAfter - Math.floor(clock / 1000)).toBe(30);
      const call = () => timed.call("POST", AKS, { body: {}, bearer: t.json.accessToken });
      expect((await call()).status).toBe(200); // verified and cached
      clock += 61_000;
      const expired = await call();
      expect(expired.status).toBe(401);
      expect(expired.json.error.code).toBe("ExpiredToken");

      const created = await timed.arm("POST", `${MMS}/services`, { body: { name: "slow-aci", computeType: "ACI", environmentImageRequest: { modelIds: [] } } });
      expect(created.status).toBe(202);
      const opPath = new URL(String(created.headers["operation-location"])).pathname;
      expect((await timed.arm("GET", `${MMS}/services/slow-aci`)).json.state).toBe("Transitioning");
      expect((await timed.arm("GET", opPath)).json.state).toBe("Running");
      const early = await timed.call("POST", "/aci/slow-aci/score", { body: {} });
      expect(early.status).toBe(503);
      clock += 600;
      expect((await timed.arm("GET", opPath)).json.state).toBe("Succeeded");
      expect((await timed.arm("GET", `${MMS}/services/slow-aci`)).json.state).toBe("Healthy");
      expect((await timed.call("POST", "/aci/slow-aci/score", { body: {} })).status).toBe(200);
    } finally {
      await timed.agent.destroy();
      await timed.close();
    }
  });
});
