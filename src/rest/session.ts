// The client factory every command uses: one pipeline, one credential, one cache, and the two
// backends built on demand. Nothing here loads an Azure SDK module or touches the network until
// a backend or a token is actually needed (the v2 adapter is imported only for v2 work).
import { connect } from "node:net";
import { join } from "node:path";
import type { Context } from "../context.js";
import { NetworkError, NotFoundError, UsageError } from "../errors.js";
import { CONNECTION_FILE, readConnectionFile } from "../emulator/connection.js";
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT_ID } from "../emulator/world.js";
import { VERSION } from "../version.js";
import type { AmlauthCache, ControlTokenKey } from "./cache.js";
import { createTokenSource, type CredentialKind, type TokenSource } from "./credentials.js";
import { discoverWorkspaceHosts, NoModelManagementHostError, type WorkspaceTarget } from "./discovery.js";
import { createHttpPipeline } from "./http.js";
import type { HttpPipeline } from "./http-types.js";
import type { PollTiming } from "./poll.js";
import { resolveApi, v2EndpointExists } from "./resolve.js";
import type { ApiKind, AuthBackend } from "./types.js";
import { createV1Backend } from "./v1.js";
import {
  collectCa,
  findEmulatorConnection,
  openSessionCache,
  pickCredentialKind,
  sessionTarget,
  type EmulatorConnection,
  type SessionConfig,
} from "./session-target.js";

export { normalizeArmEndpoint, type EmulatorConnection, type SessionConfig } from "./session-target.js";

export interface SessionOptions {
  verbose?: boolean;
  /** --verbose trace sink (stderr). Only called when verbose is set. */
  trace?: (line: string) => void;
  /** One-line notices for stderr (e.g. "starting the emulator"). */
  notice?: (line: string) => void;
  /** Skip the control-token cache (neither read nor write). */
  noCache?: boolean;
  /** Poll timing for long-running operations (tests make it fast). */
  poll?: PollTiming;
}

export interface Session {
  pipeline: HttpPipeline;
  /** A control-plane (or data-plane audience) access token for `scope`, via the cache. */
  credentialToken(scope: string): Promise<string>;
  backend(api: ApiKind): Promise<AuthBackend>;
  /** NAME → its API (explicit, cached, or looked up as both) and that backend. */
  resolve(name: string): Promise<{ api: ApiKind; backend: AuthBackend }>;
  cache: AmlauthCache;
  /** The workspace and cloud this session talks to. */
  target: { subscription?: string; resourceGroup?: string; workspace?: string; armEndpoint: string; authorityHost: string };
  credentialKind: CredentialKind;
  /** Set in emulator mode. */
  emulator?: EmulatorConnection;
  close(): void;
}

export async function createSession(ctx: Context, config: SessionConfig, opts: SessionOptions = {}): Promise<Session> {
  const emulator = config.emulator ? await ensureEmulator(ctx, opts.notice) : undefined;

  const target = sessionTarget(config, emulator);
  const { armEndpoint, authorityHost, subscription, resourceGroup, workspace } = target;
  const ca = collectCa(config, emulator);
  const cache = openSessionCache(ctx, config, target);

  const credentialKind = pickCredentialKind(ctx, config, emulator);
  const controlScope = `${new URL(armEndpoint).origin}/.default`;

  // The emulator credential signs in through the pipeline, and the pipeline asks the credential
  // for bearer tokens; the getter below is only called after both exist.
  const pipeline = createHttpPipeline({
    ...(ca.length > 0 ? { ca, caExclusive: Boolean(emulator) } : {}),
    scope: controlScope,
    getAccessToken: (scope) => pipelineToken(scope),
    ...(opts.verbose && opts.trace ? { trace: opts.trace } : {}),
    signal: ctx.signal,
    userAgent: `amlauth/${VERSION}`,
    now: () => ctx.now(),
    ...(config.timeoutSeconds !== undefined ? { timeoutMs: config.timeoutSeconds * 1000 } : {}),
    ...(config.retries !== undefined ? { maxRetries: config.retries } : {}),
  });
  const tokenSource: TokenSource = createTokenSource({
    kind: credentialKind,
    env: config.tenantId ? { ...ctx.env, AZURE_TENANT_ID: config.tenantId } : ctx.env,
    now: () => ctx.now(),
    authorityHost,
    ca,
    caExclusive: Boolean(emulator),
    signal: ctx.signal,
    pipeline,
    ...(emulator
      ? { emulator: { authorityHost: emulator.url, tenantId: emulator.tenantId || EMULATOR_TENANT_ID, clientId: emulator.clientId || EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET } }
      : {}),
  });

  const tokenKey = (scope: string): ControlTokenKey => ({
    kind: tokenSource.kind,
    tenantId: tokenSource.tenantId,
    clientId: tokenSource.clientId,
    scope,
  });
  const inFlight = new Map<string, Promise<string>>();
  const pipelineAsked = new Set<string>();

  async function fetchToken(scope: string, refresh: boolean): Promise<string> {
    const useCache = tokenSource.cacheable && !opts.noCache;
    if (useCache && !refresh) {
      const hit = cache.getControlToken(tokenKey(scope));
      if (hit) return hit.token;
    }
    if (useCache && refresh) cache.deleteControlToken(tokenKey(scope));
    const fresh = await tokenSource.getToken(scope);
    if (useCache) cache.putControlToken(tokenKey(scope), fresh);
    return fresh.token;
  }

  function credentialToken(scope: string): Promise<string> {
    let pending = inFlight.get(scope);
    if (!pending) {
      pending = fetchToken(scope, false);
      inFlight.set(scope, pending);
      pending.catch(() => inFlight.delete(scope));
    }
    return pending;
  }

  /** The pipeline asks once per scope; asking again means the service answered 401: refresh. */
  function pipelineToken(scope: string): Promise<string> {
    if (!pipelineAsked.has(scope)) {
      pipelineAsked.add(scope);
      return credentialToken(scope);
    }
    const pending = fetchToken(scope, true);
    inFlight.set(scope, pending);
    pending.catch(() => inFlight.delete(scope));
    return pending;
  }

  const requireTarget = (): WorkspaceTarget => {
    const missing = [
      ["subscription", subscription, "--subscription or AMLAUTH_SUBSCRIPTION"],
      ["resource group", resourceGroup, "--resource-group or AMLAUTH_RESOURCE_GROUP"],
      ["workspace", workspace, "--workspace or AMLAUTH_WORKSPACE"],
    ].filter(([, value]) => !value);
    if (missing.length > 0) {
      throw new UsageError(`no ${missing.map(([what]) => what).join(", ")} configured`, {
        hint: `pass ${missing.map(([, , how]) => how).join("; ")} (or use --emulator)`,
      });
    }
    return { armEndpoint, subscription: subscription!, resourceGroup: resourceGroup!, workspace: workspace! };
  };

  const backends = new Map<ApiKind, Promise<AuthBackend>>();
  function backend(api: ApiKind): Promise<AuthBackend> {
    let pending = backends.get(api);
    if (!pending) {
      pending = buildBackend(api);
      backends.set(api, pending);
      pending.catch(() => backends.delete(api));
    }
    return pending;
  }

  async function buildBackend(api: ApiKind): Promise<AuthBackend> {
    const t = requireTarget();
    if (api === "v1") {
      return createV1Backend({
        pipeline,
        workspace: t,
        hosts: () => discoverWorkspaceHosts(pipeline, t, cache, ctx.signal),
        cwd: ctx.cwd,
        ...(opts.poll ? { poll: opts.poll } : {}),
      });
    }
    // Dynamic: the v2 adapter (and, inside it, the ARM SDK) loads only for v2 work.
    const { createV2Backend } = await import("./v2.js");
    return createV2Backend({
      pipeline,
      getToken: credentialToken,
      config: { subscription: t.subscription, resourceGroup: t.resourceGroup, workspace: t.workspace, armEndpoint },
      ...(ca.length > 0 ? { ca } : {}),
      ...(opts.poll?.initialDelayMs !== undefined ? { pollIntervalMs: opts.poll.initialDelayMs } : {}),
    });
  }

  async function lookupApi(name: string, useCache: boolean): Promise<ApiKind> {
    const t = requireTarget();
    return resolveApi(name, {
      explicit: config.api,
      cache: useCache ? cache : { getKind: () => undefined, putKind: (n, a) => cache.putKind(n, a) },
      workspace: t,
      findV1: async (n) => {
        try {
          return (await (await backend("v1")).find(n)) !== null;
        } catch (err) {
          // A workspace without Model Management cannot hold v1 services.
          if (err instanceof NoModelManagementHostError) return false;
          throw err;
        }
      },
      findV2: (n) => v2EndpointExists(pipeline, t, n, ctx.signal),
    });
  }

  async function resolve(name: string): Promise<{ api: ApiKind; backend: AuthBackend }> {
    const fromCache = !config.api && cache.getKind(name) !== undefined;
    const api = await lookupApi(name, true);
    const chosen = await backend(api);
    if (!fromCache) return { api, backend: chosen };
    // A cached answer can go stale (service deleted, name reused on the other API). When the
    // backend says "not found", forget the answer, look again, and retry once on the new side.
    return { api, backend: withStaleResolutionRetry(chosen, name, async () => {
      cache.deleteKind(name);
      const fresh = await lookupApi(name, false);
      return fresh === api ? undefined : backend(fresh);
    }) };
  }

  return {
    pipeline,
    credentialToken,
    backend,
    resolve,
    cache,
    target: {
      ...(subscription ? { subscription } : {}),
      ...(resourceGroup ? { resourceGroup } : {}),
      ...(workspace ? { workspace } : {}),
      armEndpoint,
      authorityHost,
    },
    credentialKind,
    ...(emulator ? { emulator } : {}),
    close() {
      pipeline.close();
    },
  };
}

/** Wraps a backend so a NotFoundError re-resolves NAME once (only for cached resolutions). */
function withStaleResolutionRetry(
  inner: AuthBackend,
  name: string,
  reResolve: () => Promise<AuthBackend | undefined>,
): AuthBackend {
  const retry = async <T>(call: (b: AuthBackend) => Promise<T>): Promise<T> => {
    try {
      return await call(inner);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const other = await reResolve().catch(() => undefined);
      if (!other) throw err;
      return call(other);
    }
  };
  return {
    api: inner.api,
    get: (n) => (n === name ? retry((b) => b.get(n)) : inner.get(n)),
    find: (n) => inner.find(n),
    listKeys: (n) => (n === name ? retry((b) => b.listKeys(n)) : inner.listKeys(n)),
    // regenerateKey reads the keys first, so a NotFoundError comes before any change.
    regenerateKey: (n, keyType, keyValue, o) => (n === name ? retry((b) => b.regenerateKey(n, keyType, keyValue, o)) : inner.regenerateKey(n, keyType, keyValue, o)),
    getToken: (n) => (n === name ? retry((b) => b.getToken(n)) : inner.getToken(n)),
    // setAuthMode GETs the service before changing it, so the same holds.
    setAuthMode: (n, change, o) => (n === name ? retry((b) => b.setAuthMode(n, change, o)) : inner.setAuthMode(n, change, o)),
    deploy: (spec, o) => inner.deploy(spec, o),
  };
}

// ---------------------------------------------------------------------------------------------
// Emulator mode: find the running emulator through its connection file, or start one.

const EMULATOR_START_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_000;

/**
 * The running emulator's connection, starting one in the background when none answers. The
 * liveness check is a bare TCP connect (no HTTP request), so cache hits stay request-free.
 */
export async function ensureEmulator(ctx: Context, notice?: (line: string) => void): Promise<EmulatorConnection> {
  const { dataDir, connection: existing } = await findEmulatorConnection(ctx);
  if (existing && (await portAnswers(existing.url))) return existing;
  notice?.("no emulator is running; starting one in the background (amlauth emulator start --detach)");
  await startDetachedEmulator(ctx);
  const started = await readConnectionFile(dataDir);
  if (!started || !(await portAnswers(started.url))) {
    throw new NetworkError(`the emulator did not come up (no usable ${join(dataDir, CONNECTION_FILE)})`, "emulator", {
      hint: "run `amlauth emulator start` in another terminal to see why",
    });
  }
  return started;
}

function portAnswers(url: string): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, "");
    port = Number(u.port || 443);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function startDetachedEmulator(ctx: Context): Promise<void> {
  const { spawn } = await import("node:child_process");
  await new Promise<void>((resolve, reject) => {
    // No secrets on this command line: the emulator needs none.
    const child = spawn(ctx.execPath, [ctx.cliPath, "emulator", "start", "--detach"], {
      cwd: ctx.cwd,
      env: ctx.env as NodeJS.ProcessEnv,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new NetworkError("the emulator did not start within 30 s", "emulator", { hint: "run `amlauth emulator start` to see why" }));
    }, EMULATOR_START_TIMEOUT_MS);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new NetworkError(`could not start the emulator: ${err.message}`, "emulator"));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const last = stderr.trim().split("\n").pop()?.replace(/^amlauth:\s*/, "") ?? "";
      reject(
        new NetworkError(`could not start the emulator${last ? `: ${last.slice(0, 200)}` : ` (exit code ${code})`}`, "emulator", {
          hint: "run `amlauth emulator start` to see why",
        }),
      );
    });
  });
}
