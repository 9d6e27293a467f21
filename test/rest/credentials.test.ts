import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT_ID, startEmulator, type StartedEmulator } from "../../src/emulator/index.js";
import { AuthError, UsageError } from "../../src/errors.js";
import { createTokenSource, jwtExpirySeconds, normalizeAuthorityHost, parseCredentialKind } from "../../src/rest/credentials.js";
import { createHttpPipeline } from "../../src/rest/http.js";
import type { HttpPipeline } from "../../src/rest/http-types.js";
import { tempDir } from "./helpers.js";

let emu: StartedEmulator;
let root: { dir: string; cleanup(): void };
let ca: string;
let pipeline: HttpPipeline;

beforeAll(async () => {
  root = tempDir("amlauth-cred-");
  emu = await startEmulator({ port: 0, dataDir: join(root.dir, "emu"), inMemory: true });
  ca = readFileSync(emu.caFile, "utf8");
  pipeline = createHttpPipeline({ ca: [ca], maxRetries: 0 });
});
afterAll(async () => {
  pipeline?.close();
  await emu?.close();
  root?.cleanup();
});

const jwtWithExp = (exp: number) =>
  `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.sig`;

describe("kinds and clouds", () => {
  it("parses kinds with aliases and refuses unknown ones", () => {
    expect(parseCredentialKind("CLI")).toBe("cli");
    expect(parseCredentialKind("mi")).toBe("managed-identity");
    expect(() => parseCredentialKind("browser")).toThrow(UsageError);
  });

  it("maps cloud names to authority hosts and refuses plain http", () => {
    expect(normalizeAuthorityHost(undefined)).toBe("https://login.microsoftonline.com");
    expect(normalizeAuthorityHost("china")).toBe("https://login.chinacloudapi.cn");
    expect(normalizeAuthorityHost("https://login.example/path")).toBe("https://login.example");
    expect(() => normalizeAuthorityHost("http://login.example")).toThrow(UsageError);
  });
});

describe("static", () => {
  it("uses AMLAUTH_ACCESS_TOKEN with its JWT expiry and is never cached", async () => {
    const token = jwtWithExp(2_000_000_000);
    const source = createTokenSource({ kind: "static", env: { AMLAUTH_ACCESS_TOKEN: `Bearer ${token}` }, now: () => 0 });
    expect(source.cacheable).toBe(false);
    expect(await source.getToken("s")).toEqual({ token, expiresOnMs: 2_000_000_000_000 });
    expect(jwtExpirySeconds("not-a-jwt")).toBeUndefined();
  });

  it("says what to set when the variable is missing", async () => {
    const err = await createTokenSource({ kind: "static", env: {}, now: () => 0 }).getToken("s").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toBe("credential `static` needs AMLAUTH_ACCESS_TOKEN");
  });
});

describe("emulator sign-in (no @azure/identity)", () => {
  const emulatorSettings = (secret: string) => ({
    kind: "emulator" as const,
    env: {},
    now: () => Date.now(),
    pipeline,
    emulator: { authorityHost: emu.url, tenantId: EMULATOR_TENANT_ID, clientId: EMULATOR_CLIENT_ID, clientSecret: secret },
  });

  it("gets a JWT for the requested scope", async () => {
    const token = await createTokenSource(emulatorSettings(EMULATOR_CLIENT_SECRET)).getToken(`${emu.url}/.default`);
    expect(token.token.split(".")).toHaveLength(3);
    expect(token.expiresOnMs).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it("turns a refused sign-in into a one-line AuthError", async () => {
    const err = await createTokenSource(emulatorSettings("wrong-secret-value")).getToken(`${emu.url}/.default`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe("sign-in to the emulator failed: AADSTS7000215: Invalid client secret provided.");
  });
});

describe("@azure/identity kinds", () => {
  it("client-secret signs in against a custom authority trusted through the extra CA", async () => {
    const source = createTokenSource({
      kind: "client-secret",
      env: { AZURE_TENANT_ID: EMULATOR_TENANT_ID, AZURE_CLIENT_ID: EMULATOR_CLIENT_ID, AZURE_CLIENT_SECRET: EMULATOR_CLIENT_SECRET },
      now: () => Date.now(),
      authorityHost: emu.url,
      ca: [ca],
    });
    const token = await source.getToken(`${emu.url}/.default`);
    expect(token.token.split(".")).toHaveLength(3);
    expect(source.tenantId).toBe(EMULATOR_TENANT_ID);
  });

  it("reports a rejected secret in one line without the secret", async () => {
    const secret = "definitely-wrong-secret-4711";
    const source = createTokenSource({
      kind: "client-secret",
      env: { AZURE_TENANT_ID: EMULATOR_TENANT_ID, AZURE_CLIENT_ID: EMULATOR_CLIENT_ID, AZURE_CLIENT_SECRET: secret },
      now: () => Date.now(),
      authorityHost: emu.url,
      ca: [ca],
    });
    const err = await source.getToken(`${emu.url}/.default`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe("sign-in failed (client-secret): AADSTS7000215: Invalid client secret provided.");
  });

  it("names the missing variables", async () => {
    const err = await createTokenSource({ kind: "workload-identity", env: { AZURE_TENANT_ID: "t" }, now: () => 0 })
      .getToken("s")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe("credential `workload-identity` needs AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE in the environment");
  });
});
