import { afterEach, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDirectory, controlTokenUsable, openCache, type CacheScope } from "../../src/rest/cache.js";
import { tempDir } from "./helpers.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(scope: Partial<CacheScope> = {}) {
  const t = tempDir("amlauth-cache-");
  cleanups.push(t.cleanup);
  let now = Date.parse("2030-01-01T00:00:00Z");
  const dir = join(t.dir, "cache", "amlauth");
  const env = { AMLAUTH_CACHE_DIR: dir };
  const fullScope: CacheScope = {
    authorityHost: "https://login.example",
    armEndpoint: "https://arm.example",
    subscription: "sub",
    resourceGroup: "rg",
    workspace: "ws",
    ...scope,
  };
  const open = (s: Partial<CacheScope> = {}) => openCache({ env, homedir: t.dir, now: () => now }, { ...fullScope, ...s });
  return { dir, open, advance: (ms: number) => (now += ms), now: () => now };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("cache directory", () => {
  it("follows AMLAUTH_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(cacheDirectory({ AMLAUTH_CACHE_DIR: "/x/y" }, "/home/u")).toBe("/x/y");
    expect(cacheDirectory({ XDG_CACHE_HOME: "/xdg" }, "/home/u")).toBe("/xdg/amlauth");
    expect(cacheDirectory({ XDG_CACHE_HOME: "relative" }, "/home/u")).toBe("/home/u/.cache/amlauth");
    expect(cacheDirectory({}, "/home/u")).toBe("/home/u/.cache/amlauth");
  });

  it("creates a 0700 directory with 0600 files, and tightens a loose existing one", () => {
    const c = setup();
    const cache = c.open();
    cache.putServiceToken("v1", "svc", { accessToken: "tok-secret", tokenType: "Bearer", expiryOn: c.now() / 1000 + 7200, refreshAfter: c.now() / 1000 + 3600 });
    expect(mode(c.dir)).toBe(0o700);
    const files = readdirSync(c.dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^token-[0-9a-f]{40}\.json$/); // the name does not reveal the service
    expect(mode(join(c.dir, files[0]!))).toBe(0o600);

    chmodSync(c.dir, 0o755);
    chmodSync(join(c.dir, files[0]!), 0o644);
    const reopened = c.open();
    expect(mode(c.dir)).toBe(0o700);
    expect(reopened.getServiceToken("v1", "svc")?.accessToken).toBe("tok-secret");
    expect(mode(join(c.dir, files[0]!))).toBe(0o600);
  });
});

describe("entries", () => {
  it("treats corrupted or foreign entries as misses and overwrites them", () => {
    const c = setup();
    const cache = c.open();
    cache.putKind("demo", "v1");
    const file = join(c.dir, readdirSync(c.dir)[0]!);
    writeFileSync(file, "{ not json", { mode: 0o600 });
    expect(cache.getKind("demo")).toBeUndefined();
    writeFileSync(file, JSON.stringify({ v: 1, key: "someone else", value: "v2" }), { mode: 0o600 });
    expect(cache.getKind("demo")).toBeUndefined();
    cache.putKind("demo", "v2");
    expect(cache.getKind("demo")).toBe("v2");
    expect(JSON.parse(readFileSync(file, "utf8")).value).toBe("v2");
    expect(readdirSync(c.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps service tokens only until refreshAfter, per workspace and API", () => {
    const c = setup();
    const cache = c.open();
    const nowS = c.now() / 1000;
    cache.putServiceToken("v1", "svc", { accessToken: "a", tokenType: "Bearer", expiryOn: nowS + 600, refreshAfter: nowS + 300 });
    expect(cache.getServiceToken("v1", "svc")?.accessToken).toBe("a");
    expect(cache.getServiceToken("v2", "svc")).toBeUndefined();
    expect(c.open({ workspace: "other" }).getServiceToken("v1", "svc")).toBeUndefined();
    expect(c.open({ armEndpoint: "https://arm.other" }).getServiceToken("v1", "svc")).toBeUndefined();
    c.advance(299_000);
    expect(cache.getServiceToken("v1", "svc")?.accessToken).toBe("a");
    c.advance(1_000);
    expect(cache.getServiceToken("v1", "svc")).toBeUndefined();
    cache.putServiceToken("v1", "svc", { accessToken: "b", tokenType: "Bearer", expiryOn: nowS + 6000, refreshAfter: nowS + 3000 });
    cache.deleteServiceToken("v1", "svc");
    expect(cache.getServiceToken("v1", "svc")).toBeUndefined();
  });

  it("reuses control tokens until 5 minutes before expiry, per identity", () => {
    const c = setup();
    const cache = c.open();
    const key = { kind: "cli", tenantId: "t", clientId: undefined, scope: "https://arm.example/.default" };
    cache.putControlToken(key, { token: "ctl", expiresOnMs: c.now() + 60 * 60_000 });
    expect(cache.getControlToken(key)?.token).toBe("ctl");
    expect(cache.getControlToken({ ...key, tenantId: "other" })).toBeUndefined();
    expect(cache.getControlToken({ ...key, kind: "env" })).toBeUndefined();
    c.advance(54 * 60_000);
    expect(cache.getControlToken(key)?.token).toBe("ctl");
    c.advance(60_001);
    expect(cache.getControlToken(key)).toBeUndefined();
  });

  it("uses only half the life of a short-lived control token", () => {
    const t0 = 1_000_000;
    const short = { token: "x", expiresOnMs: t0 + 4 * 60_000, obtainedAtMs: t0 };
    expect(controlTokenUsable(short, t0 + 119_000)).toBe(true);
    expect(controlTokenUsable(short, t0 + 121_000)).toBe(false);
  });

  it("never fails a command when the cache cannot be written", () => {
    const c = setup();
    mkdirSync(join(c.dir, ".."), { recursive: true });
    writeFileSync(c.dir, "a file where the directory should be");
    const cache = c.open();
    expect(() => cache.putKind("demo", "v1")).not.toThrow();
    expect(cache.getKind("demo")).toBeUndefined();
  });
});
