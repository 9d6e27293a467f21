// The on-disk cache: control-plane access tokens, AML service tokens, workspace discovery and
// v1/v2 resolution. Files are 0600 in a 0700 directory, written atomically (temp + rename);
// anything unreadable or malformed is a miss and gets overwritten by the next put.
// A hit costs a couple of small synchronous reads and loads no network or Azure module.
import { createHash, randomBytes } from "node:crypto";
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

  const fileFor = (category: string, key: string) =>
    join(dir, `${category}-${createHash("sha256").update(key).digest("hex").slice(0, 40)}.json`);

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

function writeEntry(dir: string, file: string, entry: Entry): void {
  // The cache only saves time: a read-only or full disk must never fail the command.
  try {
    ensureDir(dir);
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
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
