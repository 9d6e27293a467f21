// The on-disk cache: control-plane access tokens, AML service tokens, workspace discovery and
// v1/v2 resolution. Files are 0600 in a 0700 directory, written atomically (temp + rename);
// anything unreadable or malformed is a miss and gets overwritten by the next put.
// A hit costs a couple of small synchronous reads and loads no network or Azure module, nor
// node:crypto (loading it costs more than the reads: file names use the small sha256Hex below).
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ApiKind, ServiceToken } from "./types.js";

export interface CacheEnvironment {
  env: Record<string, string | undefined>;
  homedir: string;
  now(): number;
}

/** Which cloud and workspace the entries belong to. */
export interface CacheScope {
  authorityHost: string;
  armEndpoint: string;
  subscription?: string | undefined;
  resourceGroup?: string | undefined;
  workspace?: string | undefined;
}

/** Identifies one identity's control-plane token. */
export interface ControlTokenKey {
  kind: string;
  tenantId?: string | undefined;
  clientId?: string | undefined;
  scope: string;
}

export interface CachedAccessToken {
  token: string;
  /** Epoch ms. */
  expiresOnMs: number;
}

/** Hosts of a workspace's data-plane services, from its discovery document. */
export interface WorkspaceHosts {
  modelmanagement: string;
  history?: string;
  experimentation?: string;
  api?: string;
}

export interface AmlauthCache {
  readonly dir: string;
  getControlToken(key: ControlTokenKey): CachedAccessToken | undefined;
  putControlToken(key: ControlTokenKey, token: CachedAccessToken): void;
  deleteControlToken(key: ControlTokenKey): void;
  /** A token that is still before its refreshAfter. */
  getServiceToken(api: ApiKind, name: string): ServiceToken | undefined;
  putServiceToken(api: ApiKind, name: string, token: ServiceToken): void;
  deleteServiceToken(api: ApiKind, name: string): void;
  getDiscovery(): WorkspaceHosts | undefined;
  putDiscovery(hosts: WorkspaceHosts): void;
  getKind(name: string): ApiKind | undefined;
  putKind(name: string, api: ApiKind): void;
  deleteKind(name: string): void;
}

const ENTRY_VERSION = 1;
/** Reuse a control token until this long before it expires... */
const CONTROL_TOKEN_MARGIN_MS = 5 * 60_000;
const DISCOVERY_TTL_MS = 24 * 60 * 60_000;
const KIND_TTL_MS = 7 * 24 * 60 * 60_000;

/** $AMLAUTH_CACHE_DIR, else $XDG_CACHE_HOME/amlauth, else ~/.cache/amlauth. */
export function cacheDirectory(env: Record<string, string | undefined>, homedir: string): string {
  const explicit = env.AMLAUTH_CACHE_DIR?.trim();
  if (explicit) return explicit;
  const xdg = env.XDG_CACHE_HOME?.trim();
  // XDG says relative values are invalid and must be ignored.
  if (xdg && xdg.startsWith("/")) return join(xdg, "amlauth");
  return join(homedir, ".cache", "amlauth");
}

/**
 * Control tokens are reused until 5 minutes before expiry; a short-lived token (under 10 minutes
 * of total life) only for the first half of its remaining life, so it is never used at its edge.
 */
export function controlTokenUsable(token: CachedAccessToken & { obtainedAtMs?: number }, nowMs: number): boolean {
  const lifetime = token.expiresOnMs - (token.obtainedAtMs ?? nowMs);
  const margin = Math.min(CONTROL_TOKEN_MARGIN_MS, Math.max(0, lifetime / 2));
  return nowMs < token.expiresOnMs - margin;
}

export function openCache(context: CacheEnvironment, scope: CacheScope): AmlauthCache {
  const dir = cacheDirectory(context.env, context.homedir);
  tightenDirMode(dir);
  const cloud = `${scope.authorityHost.toLowerCase()}|${scope.armEndpoint.toLowerCase()}`;
  const workspaceKey =
    scope.subscription && scope.resourceGroup && scope.workspace
      ? `${cloud}|${scope.subscription.toLowerCase()}|${scope.resourceGroup.toLowerCase()}|${scope.workspace.toLowerCase()}`
      : undefined;

  const fileFor = (category: string, key: string) => join(dir, `${category}-${sha256Hex(key).slice(0, 40)}.json`);

  function read<T>(category: string, key: string): T | undefined {
    const entry = readEntry(fileFor(category, key));
    if (!entry || entry.key !== key) return undefined;
    if (typeof entry.expiresAtMs === "number" && context.now() >= entry.expiresAtMs) return undefined;
    return entry.value as T;
  }
  function write(category: string, key: string, value: unknown, expiresAtMs: number): void {
    writeEntry(dir, fileFor(category, key), { v: ENTRY_VERSION, key, expiresAtMs, value });
  }
  function remove(category: string, key: string): void {
    try {
      unlinkSync(fileFor(category, key));
    } catch {
      // Already gone.
    }
  }
  const controlKey = (k: ControlTokenKey) => `${cloud}|${k.tenantId ?? ""}|${k.kind}|${k.clientId ?? ""}|${k.scope}`;
  const serviceKey = (api: ApiKind, name: string) => (workspaceKey ? `${workspaceKey}|${api}|${name}` : undefined);
  const kindKey = (name: string) => (workspaceKey ? `${workspaceKey}|${name}` : undefined);

  return {
    dir,
    getControlToken(key) {
      const entry = read<{ token: unknown; expiresOnMs: unknown; obtainedAtMs: unknown }>("control", controlKey(key));
      if (!entry || typeof entry.token !== "string" || typeof entry.expiresOnMs !== "number") return undefined;
      const token = {
        token: entry.token,
        expiresOnMs: entry.expiresOnMs,
        ...(typeof entry.obtainedAtMs === "number" ? { obtainedAtMs: entry.obtainedAtMs } : {}),
      };
      return controlTokenUsable(token, context.now()) ? { token: token.token, expiresOnMs: token.expiresOnMs } : undefined;
    },
    putControlToken(key, token) {
      write("control", controlKey(key), { token: token.token, expiresOnMs: token.expiresOnMs, obtainedAtMs: context.now() }, token.expiresOnMs);
    },
    deleteControlToken(key) {
      remove("control", controlKey(key));
    },
    getServiceToken(api, name) {
      const key = serviceKey(api, name);
      if (!key) return undefined;
      const t = read<Record<string, unknown>>("token", key);
      if (!t) return undefined;
      if (typeof t.accessToken !== "string" || typeof t.tokenType !== "string" || typeof t.expiryOn !== "number" || typeof t.refreshAfter !== "number") {
        return undefined;
      }
      const nowS = context.now() / 1000;
      if (nowS >= t.refreshAfter || nowS >= t.expiryOn) return undefined;
      return { accessToken: t.accessToken, tokenType: t.tokenType, expiryOn: t.expiryOn, refreshAfter: t.refreshAfter };
    },
    putServiceToken(api, name, token) {
      const key = serviceKey(api, name);
      if (!key) return;
      write("token", key, token, Math.min(token.refreshAfter, token.expiryOn) * 1000);
    },
    deleteServiceToken(api, name) {
      const key = serviceKey(api, name);
      if (key) remove("token", key);
    },
    getDiscovery() {
      if (!workspaceKey) return undefined;
      const hosts = read<Record<string, unknown>>("discovery", workspaceKey);
      if (!hosts || typeof hosts.modelmanagement !== "string") return undefined;
      const out: WorkspaceHosts = { modelmanagement: hosts.modelmanagement };
      for (const k of ["history", "experimentation", "api"] as const) if (typeof hosts[k] === "string") out[k] = hosts[k];
      return out;
    },
    putDiscovery(hosts) {
      if (workspaceKey) write("discovery", workspaceKey, hosts, context.now() + DISCOVERY_TTL_MS);
    },
    getKind(name) {
      const key = kindKey(name);
      if (!key) return undefined;
      const v = read<unknown>("kind", key);
      return v === "v1" || v === "v2" ? v : undefined;
    },
    putKind(name, api) {
      const key = kindKey(name);
      if (key) write("kind", key, api, context.now() + KIND_TTL_MS);
    },
    deleteKind(name) {
      const key = kindKey(name);
      if (key) remove("kind", key);
    },
  };
}

interface Entry {
  v: number;
  key: string;
  expiresAtMs?: number;
  value: unknown;
}

function readEntry(file: string): Entry | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 1024 * 1024) return undefined;
    // Someone loosened it: close the gap before reading a secret out of it.
    if ((st.mode & 0o077) !== 0) chmodSync(file, 0o600);
    const parsed = JSON.parse(readFileSync(fd, "utf8")) as unknown;
    if (!parsed || typeof parsed !== "object") return undefined;
    const entry = parsed as Partial<Entry>;
    if (entry.v !== ENTRY_VERSION || typeof entry.key !== "string" || !("value" in entry)) return undefined;
    return entry as Entry;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

let tempCounter = 0;

function writeEntry(dir: string, file: string, entry: Entry): void {
  // The cache only saves time: a read-only or full disk must never fail the command.
  try {
    ensureDir(dir);
    // Unique per process and write; "wx" refuses to reuse a name rather than clobber it.
    tempCounter += 1;
    const tmp = `${file}.${Date.now().toString(36)}${tempCounter.toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`;
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify(entry));
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, file);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // Nothing left to clean.
      }
      throw err;
    }
  } catch {
    // Best effort (see above).
  }
}

function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tightenDirMode(dir);
}

function tightenDirMode(dir: string): void {
  try {
    const st = statSync(dir);
    if (st.isDirectory() && (st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    // Not created yet: ensureDir makes it 0700.
  }
}

// SHA-256 (FIPS 180-4) of a string's UTF-8 bytes, as lower-case hex. Only names cache files (no
// security role); equal to createHash("sha256") output, which test/e2e/fast-path.test.ts checks.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256Hex(text: string): string {
  const data = Buffer.from(text, "utf8");
  // The message, the 0x80 marker, zero padding and the 64-bit big-endian bit length: whole 64-byte blocks.
  const size = Math.ceil((data.length + 9) / 64) * 64;
  const bytes = new Uint8Array(size);
  bytes.set(data);
  bytes[data.length] = 0x80;
  const bits = data.length * 8;
  const high = Math.floor(bits / 0x100000000);
  for (let i = 0; i < 4; i++) {
    bytes[size - 8 + i] = (high >>> (24 - 8 * i)) & 0xff;
    bytes[size - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff;
  }
  // Int32 arithmetic with `| 0` and Int32Array stores wraps modulo 2^32 as the algorithm wants;
  // rotations are written out (cold code: this runs once or twice per process, uncompiled).
  const h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Int32Array(64);
  for (let block = 0; block < size; block += 64) {
    for (let i = 0; i < 16; i++) {
      const j = block + i * 4;
      w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (s0 + w[i - 16]! + s1 + w[i - 7]!) | 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let k = h[7]!;
    for (let i = 0; i < 64; i++) {
      const sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + sum1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (sum0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + k;
  }
  let hex = "";
  for (const word of h) hex += (word >>> 0).toString(16).padStart(8, "0");
  return hex;
}
