// The pure part of building a session: which cloud, workspace, credential kind and CA files a
// configuration means, and the cache those select. No network, no HTTP module, no Azure SDK:
// createSession (session.ts) builds on it, and so does the start-up fast path (src/fast-path.ts),
// which must find the very cache entry a full run would use.
import { readFileSync } from "node:fs";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { normalizeCloudEndpoint } from "../core/clouds.js";
import { readConnectionFile, resolveEmulatorDataDir } from "../emulator/connection.js";
import type { ConnectionInfo } from "../emulator/types.js";
import { EMULATOR_RESOURCE_GROUP, EMULATOR_SUBSCRIPTION_ID, EMULATOR_WORKSPACE } from "../emulator/world.js";
import { openCache, type AmlauthCache } from "./cache.js";
import { normalizeAuthorityHost, parseCredentialKind, type CredentialKind } from "./credentials.js";
import type { ApiKind } from "./types.js";

/** The parts of ResolvedConfig (src/config/types.ts) the session reads. */
export interface SessionConfig {
  subscription?: string | undefined;
  resourceGroup?: string | undefined;
  workspace?: string | undefined;
  api?: ApiKind | undefined;
  credential?: string | undefined;
  tenantId?: string | undefined;
  /** https URL (or a cloud name); default public ARM. */
  armEndpoint?: string | undefined;
  authorityHost?: string | undefined;
  caFile?: string | undefined;
  emulator?: boolean | undefined;
  cacheDir?: string | undefined;
  timeoutSeconds?: number | undefined;
  retries?: number | undefined;
}

/** connection.json as the emulator writes it (no secrets). */
export type EmulatorConnection = ConnectionInfo;

/** The cloud and workspace a session talks to. */
export interface SessionTarget {
  armEndpoint: string;
  authorityHost: string;
  subscription: string | undefined;
  resourceGroup: string | undefined;
  workspace: string | undefined;
}

export function normalizeArmEndpoint(value: string | undefined): string {
  return normalizeCloudEndpoint(value, "armEndpoint");
}

/**
 * The emulator serves exactly one workspace: in emulator mode every target value comes from its
 * connection file, so a subscription picked up from the environment for real Azure
 * (AZURE_SUBSCRIPTION_ID in CI) cannot point --emulator runs elsewhere.
 */
export function sessionTarget(config: SessionConfig, emulator: EmulatorConnection | undefined): SessionTarget {
  if (emulator) {
    return {
      armEndpoint: emulator.url,
      authorityHost: emulator.url,
      subscription: emulator.subscriptionId || EMULATOR_SUBSCRIPTION_ID,
      resourceGroup: emulator.resourceGroup || EMULATOR_RESOURCE_GROUP,
      workspace: emulator.workspace || EMULATOR_WORKSPACE,
    };
  }
  return {
    armEndpoint: normalizeArmEndpoint(config.armEndpoint),
    authorityHost: normalizeAuthorityHost(config.authorityHost),
    subscription: config.subscription,
    resourceGroup: config.resourceGroup,
    workspace: config.workspace,
  };
}

/** The on-disk cache for this target, in the configured cache folder. */
export function openSessionCache(ctx: Pick<Context, "env" | "homedir" | "now">, config: SessionConfig, target: SessionTarget): AmlauthCache {
  return openCache(
    { env: config.cacheDir ? { ...ctx.env, AMLAUTH_CACHE_DIR: config.cacheDir } : ctx.env, homedir: ctx.homedir, now: () => ctx.now() },
    target,
  );
}

export function pickCredentialKind(ctx: Pick<Context, "env">, config: SessionConfig, emulator: EmulatorConnection | undefined): CredentialKind {
  const explicit = config.credential ? parseCredentialKind(config.credential) : undefined;
  if (emulator) {
    // Only the emulator's own sign-in (or a token handed over on purpose with --credential
    // static) makes sense there; a profile's `cli` or a CI's Azure token must not be used.
    return explicit === "static" ? "static" : "emulator";
  }
  if (explicit === "emulator") throw new UsageError("credential `emulator` works only with --emulator");
  if (explicit) return explicit;
  // A token the caller already holds is the fastest path (CI).
  return ctx.env.AMLAUTH_ACCESS_TOKEN?.trim() ? "static" : "default";
}

/** --ca-file and the emulator's CA (NODE_EXTRA_CA_CERTS stays in effect through Node's own roots). */
export function collectCa(config: SessionConfig, emulator: EmulatorConnection | undefined): string[] {
  const pems: string[] = [];
  const read = (path: string, what: string) => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
    }
    // Node silently ignores a `ca` entry that holds no certificate, which would surface later as
    // a puzzling TLS failure; say so now.
    if (!text.includes("-----BEGIN CERTIFICATE-----")) {
      throw new UsageError(`${what} ${path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
    }
    pems.push(text);
  };
  if (config.caFile) read(config.caFile, "the CA file");
  if (emulator) read(emulator.caFile, "the emulator CA file");
  return pems;
}

/** Where the emulator keeps its connection file, and that file if there is a readable one. */
export async function findEmulatorConnection(ctx: Pick<Context, "env" | "homedir" | "cwd">): Promise<{ dataDir: string; connection: EmulatorConnection | null }> {
  const dataDir = resolveEmulatorDataDir(undefined, ctx.env, ctx.homedir, ctx.cwd);
  return { dataDir, connection: await readConnectionFile(dataDir) };
}
