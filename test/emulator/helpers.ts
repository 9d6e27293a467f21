// Shared helpers for the emulator tests: start an emulator on port 0 in a temp dir and talk to it
// over real HTTPS, trusting only its generated CA (never NODE_TLS_REJECT_UNAUTHORIZED).
import { request as httpsRequest, Agent } from "node:https";
import { afterAll } from "vitest";
import { chmod, copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator/index.js";
import { ensureTlsMaterial } from "../../src/emulator/certs.js";
import { loadOrCreateSigningKey } from "../../src/emulator/jwt.js";
import type { EmulatorStartOptions, StartedEmulator } from "../../src/emulator/index.js";
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_RESOURCE_GROUP,
  EMULATOR_SUBSCRIPTION_ID,
  EMULATOR_TENANT_ID,
  EMULATOR_WORKSPACE,
} from "../../src/emulator/world.js";

export const WS_PATH = `/subscriptions/${EMULATOR_SUBSCRIPTION_ID}/resourceGroups/${EMULATOR_RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${EMULATOR_WORKSPACE}`;
export const MMS = `/modelmanagement/v1.0${WS_PATH}`;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when not JSON). */
  json: any;
}

export interface TestEmulator extends StartedEmulator {
  ca: string;
  agent: Agent;
  call(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  /** A control-plane bearer from the token endpoint (cached per emulator). */
  armToken(): Promise<string>;
  /** call() with the control-plane bearer. */
  arm(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  dispose(): Promise<void>;
}

export interface CallOptions {
  headers?: Record<string, string>;
  body?: unknown;
  /** Send `body` as-is (string/Buffer) instead of JSON-encoding it. */
  raw?: boolean;
  bearer?: string;
}

export async function tempDir(prefix = "amlauth-emu-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

// RSA key generation is slow (hundreds of ms per key on a busy 2-core box), so each test file makes
// the certificates and signing key once and copies them into every fresh data dir.
let template: Promise<string> | null = null;
const KEY_FILES: [string, number][] = [["ca.pem", 0o644], ["cert.pem", 0o644], ["key.pem", 0o600], ["signing-key.pem", 0o600]];

// Each test file gets its own module instance (vitest isolation): remove its template at the end.
afterAll(async () => {
  if (template !== null) await rm(await template, { recursive: true, force: true });
});

/** A new temp data dir that already holds valid certificates and a signing key. */
/**
 * Fresh prepared data dirs for one test file, removed in that file's afterAll:
 * `const freshDir = freshDataDirs();` at the top level of the file.
 */
export function freshDataDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await preparedDataDir();
    dirs.push(d);
    return d;
  };
}

export async function preparedDataDir(): Promise<string> {
  template ??= (async () => {
    const dir = await tempDir("amlauth-emu-template-");
    await Promise.all([ensureTlsMaterial(dir, "127.0.0.1", Date.now()), loadOrCreateSigningKey(dir)]);
    return dir;
  })();
  const source = await template;
  const dir = await tempDir();
  for (const [file, mode] of KEY_FILES) {
    await copyFile(join(source, file), join(dir, file));
    await chmod(join(dir, file), mode);
  }
  return dir;
}

export function httpsCall(url: string, ca: string, method: string, opts: CallOptions = {}, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      if (opts.raw) payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(String(opts.body));
      else {
        payload = Buffer.from(JSON.stringify(opts.body));
        headers["content-type"] ??= "application/json";
      }
      headers["content-length"] = String(payload.length);
    }
    if (opts.bearer !== undefined) headers["authorization"] = `Bearer ${opts.bearer}`;
    const req = httpsRequest(url, { method, headers, ca, ...(agent ? { agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text === "" ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

export function decorate(emu: StartedEmulator, ca: string, ownedDir: string | null): TestEmulator {
  const agent = new Agent({ ca, keepAlive: true });
  let token: Promise<string> | null = null;
  const call = (method: string, path: string, opts?: CallOptions) => httpsCall(emu.url + path, ca, method, opts, agent);
  const t: TestEmulator = Object.assign(emu, {
    ca,
    agent,
    call,
    armToken() {
      token ??= signIn(emu.url, ca, "https://management.azure.com/.default");
      return token;
    },
    async arm(method: string, path: string, opts: CallOptions = {}) {
      return call(method, path, { ...opts, bearer: opts.bearer ?? (await t.armToken()) });
    },
    async dispose() {
      agent.destroy();
      await emu.close();
      if (ownedDir !== null) await rm(ownedDir, { recursive: true, force: true });
    },
  });
  return t;
}

/** Starts an emulator for a test: port 0, a prepared temp data dir (removed by dispose), no deploy delay. */
export async function startTestEmulator(opts: EmulatorStartOptions = {}): Promise<TestEmulator> {
  const ownedDir = opts.dataDir === undefined ? await preparedDataDir() : null;
  const emu = await startEmulator({ port: 0, deployDelayMs: 0, ...opts, ...(ownedDir ? { dataDir: ownedDir } : {}) });
  return decorate(emu, await readFile(emu.caFile, "utf8"), ownedDir);
}

export async function signIn(url: string, ca: string, scope: string): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: EMULATOR_CLIENT_ID,
    client_secret: EMULATOR_CLIENT_SECRET,
    scope,
  });
  const reply = await httpsCall(`${url}/${EMULATOR_TENANT_ID}/oauth2/v2.0/token`, ca, "POST", {
    raw: true,
    body: form.toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  if (reply.status !== 200) throw new Error(`sign-in failed: ${reply.status} ${reply.text}`);
  return reply.json.access_token as string;
}
