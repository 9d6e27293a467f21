// The v2 adapter: Azure ML online endpoints over ARM through @azure/arm-machinelearning 2.1.1.
// The SDK keeps its own policies (bearer token, api-version, LRO poller) but sends every request
// through our shared HttpPipeline via its supported `httpClient` option, so retries, timeouts,
// CA trust and redacted --verbose tracing are the same as for v1.
import { setTimeout as sleep } from "node:timers/promises";
import type * as ArmMl from "@azure/arm-machinelearning";
import type { V1DeploySpec, V2DeploySpec } from "../core/deploy-config.js";
import { assertV2ModeAllowed, normalizeV2AuthMode, v2ModeFromWire, v2WireMode } from "../core/rules.js";
import type { RuleSource, V2AuthMode } from "../core/rules.js";
import {
  AmlauthError,
  AuthError,
  InterruptedError,
  MaybeAppliedError,
  NotFoundError,
  ServiceError,
  UsageError,
} from "../errors.js";
import type { HttpPipeline, HttpRequest } from "./http-types.js";
import type { AuthBackend, KeyType, ServiceInfo, ServiceKeys, ServiceToken, WaitOptions } from "./types.js";

/** Audience of Entra tokens accepted by aad_token endpoints' scoring URIs. */
export const ML_DATA_PLANE_SCOPE = "https://ml.azure.com/.default";

/** Default pause between LRO polls; a Retry-After header from the server still wins. */
const DEFAULT_POLL_INTERVAL_MS = 500;
/** Default time an accepted-but-unconfirmed regeneration gets to show up in listKeys. */
const DEFAULT_RECONCILE_WAIT_MS = 5000;

export interface V2BackendDeps {
  pipeline: HttpPipeline;
  /** Bearer material for a scope (with or without the "Bearer " prefix). */
  getToken: (scope: string) => Promise<string>;
  config: { subscription: string; resourceGroup: string; workspace: string; armEndpoint: string };
  /**
   * Extra CA certificates. Trust is applied by `pipeline` (every SDK request goes through it), so
   * the adapter itself does not need them; kept so callers can hand the same deps to both adapters.
   */
  ca?: string[];
  /** LRO poll interval; tests pass 0. */
  pollIntervalMs?: number;
  /**
   * After an ambiguous regenerate failure, how long to keep re-reading the keys for the change to
   * show before concluding it was not applied (the server applies it when its operation ends).
   */
  reconcileWaitMs?: number;
  /** Milliseconds since the epoch (tests control time). */
  now?: () => number;
}

type ArmClient = ArmMl.AzureMachineLearningWorkspaces;
type OnlineEndpoint = ArmMl.OnlineEndpoint;
type ClientOptions = NonNullable<ConstructorParameters<typeof ArmMl.AzureMachineLearningWorkspaces>[2]>;
type TokenCredential = ConstructorParameters<typeof ArmMl.AzureMachineLearningWorkspaces>[0];
type SdkHttpClient = NonNullable<ClientOptions["httpClient"]>;
type SdkRequest = Parameters<SdkHttpClient["sendRequest"]>[0];
type SdkResponse = Awaited<ReturnType<SdkHttpClient["sendRequest"]>>;
type SdkHeaders = SdkResponse["headers"];

export function createV2Backend(deps: V2BackendDeps): AuthBackend {
  const { subscription, resourceGroup, workspace } = deps.config;
  const now = deps.now ?? (() => Date.now());
  const pollIntervalMs = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const reconcileWaitMs = deps.reconcileWaitMs ?? DEFAULT_RECONCILE_WAIT_MS;
  const where = `workspace ${workspace} (resource group ${resourceGroup})`;

  // Loaded on first use: v1-only commands, rule violations and cache hits never pay for the SDK.
  let clientPromise: Promise<ArmClient> | undefined;
  const client = (): Promise<ArmClient> => {
    clientPromise ??= createArmClient(deps, now);
    return clientPromise;
  };

  const endpointNotFound = (name: string) => `online endpoint ${name} not found in ${where}`;

  async function call<T>(name: string, action: string, run: (c: ArmClient) => Promise<T>, secret?: string): Promise<T> {
    const c = await client();
    try {
      return await run(c);
    } catch (err) {
      throw toAmlauthError(err, { action, notFound: endpointNotFound(name), secret });
    }
  }

  async function readEndpoint(name: string): Promise<OnlineEndpoint> {
    return call(name, `get online endpoint ${name}`, (c) => c.onlineEndpoints.get(resourceGroup, workspace, name));
  }

  async function findEndpoint(name: string): Promise<OnlineEndpoint | null> {
    try {
      return await readEndpoint(name);
    } catch (err) {
      if (err instanceof NotFoundError && !isContainerMissing(err)) return null;
      throw err;
    }
  }

  async function listKeys(name: string): Promise<ServiceKeys> {
    const keys = await call(name, `list keys of ${name}`, (c) =>
      c.onlineEndpoints.listKeys(resourceGroup, workspace, name),
    );
    if (typeof keys.primaryKey !== "string" || typeof keys.secondaryKey !== "string") {
      throw new ServiceError(`the listKeys reply for ${name} has no primaryKey/secondaryKey`);
    }
    return { primaryKey: keys.primaryKey, secondaryKey: keys.secondaryKey };
  }

  /** PUT the endpoint and wait (or not); returns what the server holds afterwards. */
  async function putEndpoint(name: string, body: OnlineEndpoint, opts: WaitOptions): Promise<ServiceInfo> {
    const operationOptions = { updateIntervalInMs: pollIntervalMs, abortSignal: opts.signal };
    return call(name, `create or update online endpoint ${name}`, async (c) => {
      const poller = await c.onlineEndpoints.beginCreateOrUpdate(resourceGroup, workspace, name, body, operationOptions);
      if (!opts.wait) {
        // The PUT was accepted; report the state the server shows now (usually Updating).
        return toServiceInfo(await c.onlineEndpoints.get(resourceGroup, workspace, name), name);
      }
      if (!poller.isDone()) opts.onProgress?.("Updating");
      const result = await poller.pollUntilDone({ abortSignal: opts.signal });
      return toServiceInfo(result, name);
    });
  }

  /**
   * Did a regeneration whose reply was lost take effect? The server applies it when its operation
   * ends, so re-read the keys for a while (bounded) instead of judging from a single read.
   */
  async function keyChangeShows(
    name: string,
    before: ServiceKeys,
    keyType: KeyType,
    keyValue: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const pause = Math.max(pollIntervalMs, 10);
    const extraReads = Math.floor(reconcileWaitMs / pause);
    for (let read = 0; ; read++) {
      if (keyChanged(before, await listKeys(name), keyType, keyValue)) return true;
      if (read >= extraReads) return false;
      try {
        await sleep(pause, undefined, { signal });
      } catch {
        throw new InterruptedError(`interrupted while checking whether the key of ${name} was regenerated`, {
          hint: `check with \`amlauth keys list ${name}\``,
        });
      }
    }
  }

  async function regenerateOnce(name: string, keyType: KeyType, keyValue: string | undefined, opts: WaitOptions): Promise<void> {
    const body: ArmMl.RegenerateEndpointKeysRequest = keyValue === undefined ? { keyType } : { keyType, keyValue };
    await call(
      name,
      `regenerate the ${keyType.toLowerCase()} key of ${name}`,
      async (c) => {
        const poller = await c.onlineEndpoints.beginRegenerateKeys(resourceGroup, workspace, name, body, {
          updateIntervalInMs: pollIntervalMs,
          abortSignal: opts.signal,
        });
        if (!opts.wait) return;
        if (!poller.isDone()) opts.onProgress?.("Regenerating");
        await poller.pollUntilDone({ abortSignal: opts.signal });
      },
      keyValue,
    );
  }

  return {
    api: "v2",

    async get(name) {
      return toServiceInfo(await readEndpoint(name), name);
    },

    async find(name) {
      const endpoint = await findEndpoint(name);
      return endpoint === null ? null : toServiceInfo(endpoint, name);
    },

    listKeys,

    async regenerateKey(name, keyType, keyValue, opts = { wait: true }) {
      // Read first so an ambiguous failure can be settled by comparing, not by guessing.
      const before = await listKeys(name);
      try {
        await regenerateOnce(name, keyType, keyValue, opts);
        return;
      } catch (err) {
        if (!isAmbiguous(err)) throw err;
      }
      if (await keyChangeShows(name, before, keyType, keyValue, opts.signal)) return;
      // Still unchanged: the first request most likely never took effect. Should it still be queued,
      // a second regeneration is harmless for a random key (nobody has seen the first one) and
      // idempotent with an explicit value.
      try {
        await regenerateOnce(name, keyType, keyValue, opts);
      } catch (err) {
        if (!isAmbiguous(err)) throw err;
        throw new MaybeAppliedError(
          `regenerating the ${keyType.toLowerCase()} key of ${name} failed twice without a clear answer; check with \`amlauth keys list ${name}\``,
          { cause: err },
        );
      }
    },

    async getToken(name) {
      const endpoint = await readEndpoint(name);
      const mode = modeFromWire(endpoint.properties.authMode, name);
      if (mode === "key") {
        throw new UsageError(`online endpoint ${name} uses key auth; it has no tokens`, {
          hint: `use \`amlauth keys list ${name}\``,
        });
      }
      if (mode === "aad_token") {
        // aad_token endpoints take an Entra token for the ML data plane from the user's own
        // credential; /token is only for AMLToken endpoints.
        const accessToken = stripBearer(await deps.getToken(ML_DATA_PLANE_SCOPE));
        const expiryOn = readJwtExpiry(accessToken);
        if (expiryOn === undefined) {
          throw new AuthError("the credential returned an Entra token without an expiry (exp) claim");
        }
        return { accessToken, tokenType: "Bearer", expiryOn, refreshAfter: refreshBefore(expiryOn, now()), source: "entra" };
      }
      const token = await call(name, `get a token for ${name}`, (c) =>
        c.onlineEndpoints.getToken(resourceGroup, workspace, name),
      );
      return toServiceToken(token, name, now());
    },

    async setAuthMode(name, change, opts) {
      const mode = normalizeV2AuthMode(change.mode);
      const endpoint = await readEndpoint(name);
      const current = modeFromWire(endpoint.properties.authMode, name);
      if (current === mode) return toServiceInfo(endpoint, name);
      assertModeFitsCompute(mode, endpoint.properties.compute, name, "update");
      const body: OnlineEndpoint = {
        ...endpoint,
        properties: { ...endpoint.properties, authMode: v2WireMode(mode) },
      };
      return putEndpoint(name, body, opts);
    },

    async deploy(spec, opts) {
      const v2 = requireV2Spec(spec);
      const mode = normalizeV2AuthMode(v2.authMode);
      if (v2.compute !== undefined) assertModeFitsCompute(mode, v2.compute, v2.name, "flag");

      const existing = await findEndpoint(v2.name);
      if (existing !== null) {
        const currentCompute = existing.properties.compute;
        if (v2.compute !== undefined && !sameArmId(currentCompute, v2.compute)) {
          throw new UsageError(
            `online endpoint ${v2.name} already exists on ${currentCompute ? `compute ${currentCompute}` : "managed compute"}; its compute cannot change`,
            { hint: "pick another endpoint name, or deploy without --compute to keep the current one" },
          );
        }
        if (v2.location !== undefined && v2.location.toLowerCase() !== existing.location.toLowerCase()) {
          throw new UsageError(`online endpoint ${v2.name} already exists in ${existing.location}; its location cannot change`, {
            hint: "drop --location, or pick another endpoint name",
          });
        }
        assertModeFitsCompute(mode, currentCompute, v2.name, "flag");
        const unchanged =
          modeFromWire(existing.properties.authMode, v2.name) === mode &&
          (v2.description === undefined || v2.description === existing.properties.description);
        if (unchanged) return toServiceInfo(existing, v2.name);
        const body: OnlineEndpoint = {
          ...existing,
          properties: {
            ...existing.properties,
            authMode: v2WireMode(mode),
            ...(v2.description === undefined ? {} : { description: v2.description }),
          },
        };
        return putEndpoint(v2.name, body, opts);
      }

      const location = v2.location ?? (await workspaceLocation());
      const properties: ArmMl.OnlineEndpointProperties = { authMode: v2WireMode(mode) };
      if (v2.compute !== undefined) properties.compute = v2.compute;
      if (v2.description !== undefined) properties.description = v2.description;
      return putEndpoint(v2.name, { location, properties }, opts);
    },
  };

  async function workspaceLocation(): Promise<string> {
    const c = await client();
    let ws: ArmMl.Workspace;
    try {
      ws = await c.workspaces.get(resourceGroup, workspace);
    } catch (err) {
      throw toAmlauthError(err, {
        action: `get workspace ${workspace}`,
        notFound: `workspace ${workspace} not found in resource group ${resourceGroup} (subscription ${subscription})`,
      });
    }
    if (!ws.location) throw new ServiceError(`workspace ${workspace} has no location in its ARM reply`);
    return ws.location;
  }
}

// ---------------------------------------------------------------------------------------------
// Building the SDK client

async function createArmClient(deps: V2BackendDeps, now: () => number): Promise<ArmClient> {
  const armOrigin = armOriginOf(deps.config.armEndpoint);
  // The SDK is CommonJS: bundled as ESM, its exports may sit on `default`.
  const sdk = (await import("@azure/arm-machinelearning")) as typeof import("@azure/arm-machinelearning") & {
    default?: typeof import("@azure/arm-machinelearning");
  };
  const { AzureMachineLearningWorkspaces } = sdk.default ?? sdk;
  const credential: TokenCredential = {
    async getToken(scopes) {
      const scope = Array.isArray(scopes) ? scopes[0] : scopes;
      if (scope === undefined) throw new AuthError("the ARM client asked for a token without a scope");
      const token = stripBearer(await deps.getToken(scope));
      // The SDK's bearer policy only needs the expiry to know when to ask again. A non-JWT
      // (the emulator's static token) gets a short lifetime so it is re-read regularly.
      const expiresOnSeconds = readJwtExpiry(token);
      return { token, expiresOnTimestamp: expiresOnSeconds === undefined ? now() + 5 * 60_000 : expiresOnSeconds * 1000 };
    },
  };
  return new AzureMachineLearningWorkspaces(credential, deps.config.subscription, {
    endpoint: armOrigin,
    credentialScopes: [`${armOrigin}/.default`],
    httpClient: createBridgeHttpClient(deps.pipeline),
    // Retries belong to our pipeline (it knows which requests are safe to repeat).
    retryOptions: { maxRetries: 0 },
  });
}

function armOriginOf(armEndpoint: string): string {
  let url: URL;
  try {
    url = new URL(armEndpoint);
  } catch {
    throw new UsageError(`the ARM endpoint ${JSON.stringify(armEndpoint)} is not a URL`);
  }
  if (url.protocol !== "https:") {
    // The SDK's bearer policy refuses plain http outright; say so before it does.
    throw new UsageError(`the ARM endpoint must use https: ${url.origin}`);
  }
  return url.origin;
}

/** Bridges the SDK's HttpClient contract to our pipeline. */
function createBridgeHttpClient(pipeline: HttpPipeline): SdkHttpClient {
  return {
    async sendRequest(request: SdkRequest): Promise<SdkResponse> {
      const method = request.method;
      if (method !== "GET" && method !== "POST" && method !== "PUT" && method !== "PATCH" && method !== "DELETE" && method !== "HEAD") {
        throw new ServiceError(`the ARM client tried an unsupported HTTP method ${method}`);
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) {
        // Our pipeline hands back text; ask for an uncompressed body.
        if (name.toLowerCase() === "accept-encoding") continue;
        headers[name.toLowerCase()] = value;
      }
      const outgoing: HttpRequest = {
        method,
        url: request.url,
        headers,
        // The SDK's own bearer policy has already set Authorization.
        auth: false,
        idempotent: isIdempotentArmRequest(method, request.url),
      };
      const body = bodyAsString(request.body);
      if (body !== undefined) outgoing.body = body;
      if (request.timeout > 0) outgoing.timeoutMs = request.timeout;
      if (request.abortSignal instanceof AbortSignal) outgoing.signal = request.abortSignal;
      const response = await pipeline.send(outgoing);
      return {
        request,
        status: response.status,
        headers: new BridgeHeaders(response.headers),
        bodyAsText: response.bodyText,
      };
    },
  };
}

/**
 * listKeys and token are POSTs that only read; they are safe to resend. regenerateKeys and PATCH
 * are not; GET/PUT/DELETE keep the pipeline's default (idempotent).
 */
function isIdempotentArmRequest(method: HttpRequest["method"], url: string): boolean {
  if (method === "PATCH") return false;
  if (method !== "POST") return true;
  const path = new URL(url).pathname;
  return /\/(listKeys|token)$/i.test(path);
}

function bodyAsString(body: SdkRequest["body"]): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  // Every onlineEndpoints operation sends JSON text; anything else means the SDK changed under us.
  throw new ServiceError("the ARM client produced a non-text request body, which amlauth does not send");
}

class BridgeHeaders implements SdkHeaders {
  private readonly byLowerName = new Map<string, { name: string; value: string }>();
  constructor(raw: Record<string, string>) {
    for (const [name, value] of Object.entries(raw)) this.set(name, value);
  }
  get(name: string): string | undefined {
    return this.byLowerName.get(name.toLowerCase())?.value;
  }
  has(name: string): boolean {
    return this.byLowerName.has(name.toLowerCase());
  }
  set(name: string, value: string | number | boolean): void {
    this.byLowerName.set(name.toLowerCase(), { name, value: String(value) });
  }
  delete(name: string): void {
    this.byLowerName.delete(name.toLowerCase());
  }
  toJSON(options?: { preserveCase?: boolean }): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [lower, { name, value }] of this.byLowerName) out[options?.preserveCase ? name : lower] = value;
    return out;
  }
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const [lower, { value }] of this.byLowerName) yield [lower, value];
  }
}

// ---------------------------------------------------------------------------------------------
// Mapping

function modeFromWire(wire: string | undefined, name: string): V2AuthMode {
  if (typeof wire !== "string") throw new ServiceError(`the ARM reply for online endpoint ${name} has no properties.authMode`);
  return v2ModeFromWire(wire);
}

function toServiceInfo(endpoint: OnlineEndpoint, fallbackName: string): ServiceInfo {
  const name = endpoint.name ?? fallbackName;
  if (endpoint.properties === undefined || endpoint.properties === null) {
    throw new ServiceError(`the ARM reply for online endpoint ${name} has no properties`);
  }
  const mode = modeFromWire(endpoint.properties.authMode, name);
  return {
    api: "v2",
    name,
    computeType: endpoint.properties.compute ? "Kubernetes" : "Managed",
    authMode: mode,
    authEnabled: mode === "key",
    tokenAuthEnabled: mode === "aml_token" || mode === "aad_token",
    state: endpoint.properties.provisioningState ?? "Unknown",
    scoringUri: endpoint.properties.scoringUri ?? null,
  };
}

function toServiceToken(token: ArmMl.EndpointAuthToken, name: string, nowMs: number): ServiceToken {
  if (typeof token.accessToken !== "string" || token.accessToken === "") {
    throw new ServiceError(`the token reply for ${name} has no accessToken`);
  }
  const expiryOn = toEpochSeconds(token.expiryTimeUtc) ?? readJwtExpiry(token.accessToken);
  if (expiryOn === undefined) throw new ServiceError(`the token reply for ${name} has no expiryTimeUtc`);
  const refreshAfter = toEpochSeconds(token.refreshAfterTimeUtc) ?? refreshBefore(expiryOn, nowMs);
  return { accessToken: token.accessToken, tokenType: token.tokenType || "Bearer", expiryOn, refreshAfter };
}

/**
 * expiryTimeUtc / refreshAfterTimeUtc are int64 with no unit in the 2022-10-01 spec (unknown [?]).
 * Epoch seconds is the likely unit; a value above 1e11 can only be milliseconds (1e11 s is the
 * year 5138), so both are accepted. 0 is the spec's default and means "not given".
 */
function toEpochSeconds(value: number | undefined): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  return value > 1e11 ? Math.floor(value / 1000) : Math.floor(value);
}

/** Ask again five minutes before expiry, or halfway through a shorter remaining life. */
function refreshBefore(expiryOnSeconds: number, nowMs: number): number {
  const nowSeconds = Math.floor(nowMs / 1000);
  const remaining = expiryOnSeconds - nowSeconds;
  return expiryOnSeconds - Math.min(300, Math.max(0, Math.floor(remaining / 2)));
}

function stripBearer(material: string): string {
  return material.replace(/^Bearer\s+/i, "").trim();
}

/** `exp` (epoch seconds) of a JWT, without verifying it (the issuer's clients do that). */
function readJwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (payload !== null && typeof payload === "object" && "exp" in payload && typeof payload.exp === "number") {
      return Math.floor(payload.exp);
    }
  } catch {
    // Not a JWT: the caller falls back.
  }
  return undefined;
}

function sameArmId(a: string | undefined, b: string): boolean {
  // ARM ids are case-insensitive; a trailing slash is noise.
  const norm = (s: string) => s.trim().replace(/\/+$/, "").toLowerCase();
  return a !== undefined && norm(a) === norm(b);
}

function keyChanged(before: ServiceKeys, after: ServiceKeys, keyType: KeyType, keyValue: string | undefined): boolean {
  const field = keyType === "Primary" ? "primaryKey" : "secondaryKey";
  if (keyValue !== undefined) return after[field] === keyValue;
  return after[field] !== before[field];
}

function requireV2Spec(spec: V1DeploySpec | V2DeploySpec): V2DeploySpec {
  if (spec.api !== "v2") throw new UsageError(`a v1 deployment spec was given to the v2 backend (${spec.name})`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// v2 auth rules (src/core/rules.ts), checked before any call that would change something

function assertModeFitsCompute(mode: V2AuthMode, compute: string | undefined, name: string, source: RuleSource): void {
  assertV2ModeAllowed(mode, { kubernetes: Boolean(compute), name }, source);
}

// ---------------------------------------------------------------------------------------------
// Errors

interface RestErrorLike {
  name: "RestError";
  message: string;
  statusCode?: number;
  code?: string;
}

function isRestError(err: unknown): err is RestErrorLike {
  return err instanceof Error && err.name === "RestError";
}

/** A failure after which the server may or may not have applied a non-idempotent request. */
function isAmbiguous(err: unknown): boolean {
  if (err instanceof MaybeAppliedError) return true;
  return err instanceof ServiceError && err.status !== undefined && err.status >= 500;
}

const CONTAINER_MISSING_CODES = /^(ResourceGroupNotFound|WorkspaceNotFound|SubscriptionNotFound)$/i;

function isContainerMissing(err: NotFoundError): boolean {
  return err.cause instanceof Error && isRestError(err.cause) && CONTAINER_MISSING_CODES.test(err.cause.code ?? "");
}

const LRO_FAILED = /^The long-running operation has failed(?:\. ([^.\s]+)\. ([\s\S]*))?$/;

function oneLine(text: string, secret?: string): string {
  let line = text.replace(/\s+/g, " ").trim();
  if (secret) line = line.split(secret).join("[redacted]");
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

function toAmlauthError(err: unknown, ctx: { action: string; notFound: string; secret?: string | undefined }): Error {
  if (err instanceof AmlauthError) return err;
  if (err instanceof Error && err.name === "AbortError") {
    return new InterruptedError(`interrupted while waiting to ${ctx.action}`, {
      hint: "the operation may still finish on the server; check with `amlauth auth show`",
    });
  }
  if (isRestError(err)) {
    const status = err.statusCode;
    const code = err.code;
    const detail = oneLine(err.message, ctx.secret);
    if (status === 401 || status === 403) {
      return new AuthError(`ARM refused to ${ctx.action} (${status}${code ? ` ${code}` : ""}): ${detail}`, {
        hint: status === 403 ? "the signed-in identity lacks a role on the workspace" : "sign in again or check --credential",
        cause: err,
      });
    }
    if (status === 404) {
      const message = code && CONTAINER_MISSING_CODES.test(code) ? `${code}: ${detail}` : ctx.notFound;
      return new NotFoundError(message, { cause: err });
    }
    const opts: { status?: number; code?: string; cause: unknown } = { cause: err };
    if (status !== undefined) opts.status = status;
    if (code !== undefined) opts.code = code;
    return new ServiceError(`failed to ${ctx.action}: ${status ?? "no status"}${code ? ` ${code}` : ""}: ${detail}`, opts);
  }
  if (err instanceof Error) {
    const lro = LRO_FAILED.exec(err.message);
    if (lro) {
      const code = lro[1];
      const detail = lro[2] ? `: ${oneLine(lro[2], ctx.secret)}` : "";
      return new ServiceError(`failed to ${ctx.action}: the operation failed${code ? ` (${code})` : ""}${detail}`, {
        ...(code === undefined ? {} : { code }),
        cause: err,
      });
    }
    if (err.name === "PollerCancelledError") {
      return new ServiceError(`failed to ${ctx.action}: the operation was canceled on the server`, { cause: err });
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}
