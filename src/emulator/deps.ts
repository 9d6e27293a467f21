// RouteDeps: everything a route module (routes/*.ts) may use. Built once per server by
// createRouteDeps(); route factories receive it: `export function xRoutes(deps: RouteDeps): Route[]`.
// This is a contract for the v2 routes too: additions are fine, changes are not.
//
//   store       EmulatorStore: `store.state` is an immutable snapshot; change it only with
//               `await store.update(draft => ...)` (atomic, durable when it resolves).
//   errors      the one error factory: `throw deps.errors.notFound("...")`; the server renders it
//               in the route's errorShape (default ARM `{error:{code,message}}`).
//   now()       epoch ms (injectable clock).
//   baseUrl()   e.g. https://127.0.0.1:7443 (no trailing slash); also ctx.baseUrl.
//   options     deploy delay and token lifetimes.
//   tokens      JWT signer/verifier, issuers, audiences, mint helpers (Entra + AML service tokens).
//   operations  long-running operations shared by v1 and v2 (begin inside an update; settle; get).
//   workspace   the seeded workspace: names, ARM ids, assert() for path params.
//   scoring     scoring-auth helpers (key compare, token verify, 401 builder): see scoring-auth.ts.
//   callerOf()  who made an authenticated control-plane request (set by the server after auth).
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RequestContext, Route } from "./types.js";
import type { ErrorShape, HttpErrorFactory } from "./errors.js";
import { httpErrors } from "./errors.js";
import type { JwtClaims, JwtSigner, JwtVerifier, Jwk } from "./jwt.js";
import type { EmulatorState, EmulatorStore, OperationRecord, StatePatch } from "./store.js";
import {
  EMULATOR_AKS_COMPUTE,
  EMULATOR_REGION,
  EMULATOR_RESOURCE_GROUP,
  EMULATOR_SUBSCRIPTION_ID,
  EMULATOR_TENANT_ID,
  EMULATOR_WORKSPACE,
  ML_DATA_PLANE_AUDIENCE,
} from "./world.js";
import * as scoringAuth from "./scoring-auth.js";

/** A Route plus two optional emulator-specific settings. Plain `Route`s get the defaults. */
export interface EmulatorRoute extends Route {
  /** Wire shape of this route's errors. Default "arm". */
  errorShape?: ErrorShape;
  /** Request body limit in bytes. Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Path prefix of ARM workspace-scoped routes, with named groups sub, rg, ws. Compose routes as
 * `new RegExp("^" + ARM_WORKSPACE_PATH + "/onlineEndpoints/(?<name>[^/]+)$")`.
 */
export const ARM_WORKSPACE_PATH =
  "/subscriptions/(?<sub>[^/]+)/resourceGroups/(?<rg>[^/]+)/providers/Microsoft\\.MachineLearningServices/workspaces/(?<ws>[^/]+)";

export interface ResolvedEmulatorOptions {
  /** Delay before a deploy/update completes (ms). */
  deployDelayMs: number;
  /** Lifetime of AML service tokens (v1 /token, v2 getToken), seconds. */
  tokenLifetimeSeconds: number;
  /** refreshAfter = iat + this, seconds. */
  tokenRefreshSeconds: number;
  /** Lifetime of Entra access tokens from the token endpoint, seconds. */
  entraTokenLifetimeSeconds: number;
}

export interface ServiceToken {
  accessToken: string;
  tokenType: "Bearer";
  /** Epoch seconds. */
  issuedAt: number;
  expiryOn: number;
  refreshAfter: number;
}

export interface TokenService {
  readonly signer: JwtSigner;
  readonly verifier: JwtVerifier;
  jwks(): { keys: Jwk[] };
  /** Issuer of Entra access tokens: `${baseUrl}/${tenant}/v2.0` (matches the OpenID metadata). */
  entraIssuer(): string;
  /** Issuer of AML service tokens (v1 /token, v2 getToken). */
  amlTokenIssuer(): string;
  /** Audience that binds an AML service token to one service / endpoint. */
  serviceAudience(api: "v1" | "v2", name: string): string;
  /** Inverse of serviceAudience, for "token of another service" messages. */
  parseServiceAudience(aud: unknown): { api: "v1" | "v2"; name: string } | null;
  /** Audiences the control plane accepts (ARM + this emulator's own URL). */
  controlPlaneAudiences(): string[];
  /** The Azure ML data-plane audience (aad_token endpoints). */
  readonly dataPlaneAudience: string;
  /** Mints an Entra-style access token (what the token endpoint returns). */
  mintEntraToken(audience: string, subject: string): { accessToken: string; expiresIn: number; expiresOn: number };
  /** Mints an AML service token bound to serviceAudience(api, name). */
  mintServiceToken(api: "v1" | "v2", name: string, subject: string): ServiceToken;
}

export interface BeginOperation {
  api: "v1" | "v2";
  operationType: string;
  target: string;
  /** Default options.deployDelayMs. 0 or less = completes inside this very update. */
  delayMs?: number;
  /** Applied to the state on completion. Patches whose parent path is gone are skipped. */
  onComplete?: StatePatch[];
}

export interface OperationService {
  /**
   * Call INSIDE `store.update(draft => ...)`: records a new operation in the draft. With no delay
   * it completes at once (onComplete applied to the same draft); otherwise a timer completes it.
   */
  begin(draft: EmulatorState, init: BeginOperation): OperationRecord;
  /** Completes every operation whose time has come. Cheap when nothing is due. */
  settleDue(): Promise<void>;
  /** settleDue() then the operation (undefined when unknown). */
  get(id: string): Promise<OperationRecord | undefined>;
}

export interface WorkspaceService {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly region: string;
  readonly tenantId: string;
  readonly aksCompute: string;
  /** ARM id of the workspace. */
  armId(): string;
  computeArmId(compute: string): string;
  /**
   * Throws the right 404 (SubscriptionNotFound / ResourceGroupNotFound / ResourceNotFound) unless
   * params.sub/rg/ws name the seeded workspace (case-insensitive, like ARM).
   */
  assert(params: Record<string, string>): void;
}

/** Who made an authenticated control-plane request. */
export interface Caller {
  kind: "static-token" | "jwt";
  /** Client id / subject; "static-token" for EMULATOR_STATIC_TOKEN. */
  subject: string;
  claims: JwtClaims | null;
}

export interface RouteDeps {
  store: EmulatorStore;
  errors: HttpErrorFactory;
  now(): number;
  baseUrl(): string;
  options: ResolvedEmulatorOptions;
  tokens: TokenService;
  operations: OperationService;
  workspace: WorkspaceService;
  scoring: typeof scoringAuth;
  callerOf(ctx: RequestContext): Caller | undefined;
}

/** Internal: the server records the caller here after checking the bearer. */
export interface RouteDepsInternals {
  deps: RouteDeps;
  setCaller(req: IncomingMessage, caller: Caller): void;
  /** Schedules completion timers for operations still running (after a restart). */
  resumeOperations(): void;
  /** Clears timers. */
  close(): void;
}

/** Issuer of AML service tokens (v1 /token, v2 getToken). */
export const AML_TOKEN_ISSUER = "amlauth-emulator:aml-token-service";

const MAX_KEPT_OPERATIONS = 500;
/** Arrays grown by "append" patches (e.g. service event logs) keep their last N items. */
export const MAX_APPENDED_ITEMS = 200;

export function createRouteDeps(init: {
  store: EmulatorStore;
  signer: JwtSigner;
  verifier: JwtVerifier;
  now: () => number;
  baseUrl: () => string;
  options: ResolvedEmulatorOptions;
}): RouteDepsInternals {
  const { store, signer, verifier, now, baseUrl, options } = init;
  const callers = new WeakMap<IncomingMessage, Caller>();
  const timers = new Set<NodeJS.Timeout>();
  const nowSec = () => Math.floor(now() / 1000);

  const tokens: TokenService = {
    signer,
    verifier,
    dataPlaneAudience: ML_DATA_PLANE_AUDIENCE,
    jwks: () => ({ keys: [signer.jwk] }),
    entraIssuer: () => `${baseUrl()}/${EMULATOR_TENANT_ID}/v2.0`,
    // Port-independent like the audience: a token stays valid when the emulator restarts on
    // another port with the same data dir (same signing key), as it would across Azure restarts.
    amlTokenIssuer: () => AML_TOKEN_ISSUER,
    // Port-independent, so a token's binding does not depend on how the emulator was reached.
    serviceAudience: (api, name) => `amlauth-emulator:${api}/${api === "v1" ? "services" : "onlineEndpoints"}/${name}`,
    parseServiceAudience(aud) {
      if (typeof aud !== "string") return null;
      const m = /^amlauth-emulator:(v1|v2)\/(?:services|onlineEndpoints)\/(.+)$/.exec(aud);
      return m ? { api: m[1] as "v1" | "v2", name: m[2]! } : null;
    },
    controlPlaneAudiences: () => [
      "https://management.azure.com",
      "https://management.azure.com/",
      "https://management.core.windows.net",
      "https://management.core.windows.net/",
      baseUrl(),
      `${baseUrl()}/`,
    ],
    mintEntraToken(audience, subject) {
      const iat = nowSec();
      const exp = iat + options.entraTokenLifetimeSeconds;
      const accessToken = signer.sign({
        aud: audience,
        iss: tokens.entraIssuer(),
        iat,
        nbf: iat,
        exp,
        sub: subject,
        appid: subject,
        azp: subject,
        oid: subject,
        tid: EMULATOR_TENANT_ID,
        ver: "2.0",
      });
      return { accessToken, expiresIn: options.entraTokenLifetimeSeconds, expiresOn: exp };
    },
    mintServiceToken(api, name, subject) {
      const iat = nowSec();
      const expiryOn = iat + options.tokenLifetimeSeconds;
      const refreshAfter = iat + Math.min(options.tokenRefreshSeconds, options.tokenLifetimeSeconds);
      const accessToken = signer.sign({
        aud: tokens.serviceAudience(api, name),
        iss: tokens.amlTokenIssuer(),
        iat,
        nbf: iat,
        exp: expiryOn,
        sub: subject,
        service: name,
        workspace: EMULATOR_WORKSPACE,
      });
      return { accessToken, tokenType: "Bearer", issuedAt: iat, expiryOn, refreshAfter };
    },
  };

  let closed = false;
  const scheduleSettle = (delayMs: number) => {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      operations
        .settleDue()
        .then(() => {
          // Timers can fire a little before Date.now() reaches the due time (libuv caches its
          // loop time), so whatever is still pending gets another timer instead of waiting for a
          // route that happens to call settleDue().
          const t = now();
          const next = Math.min(...Object.values(store.state.operations).filter((op) => op.status === "Running").map((op) => op.completeAt));
          if (Number.isFinite(next) && next > t) scheduleSettle(next - t + 1);
        })
        .catch(() => undefined);
    }, Math.max(0, delayMs));
    timer.unref();
    timers.add(timer);
  };

  const operations: OperationService = {
    begin(draft, initOp) {
      const delayMs = initOp.delayMs ?? options.deployDelayMs;
      const at = now();
      const op: OperationRecord = {
        id: randomUUID(),
        api: initOp.api,
        operationType: initOp.operationType,
        target: initOp.target,
        status: "Running",
        createdAt: new Date(at).toISOString(),
        completeAt: at + Math.max(0, delayMs),
        endedAt: null,
        error: null,
        onComplete: initOp.onComplete ?? [],
      };
      pruneOperations(draft);
      draft.operations[op.id] = op;
      if (delayMs <= 0) completeOperation(draft, op, at);
      else scheduleSettle(delayMs);
      return op;
    },
    async settleDue() {
      const t = now();
      const due = Object.values(store.state.operations).some((op) => op.status === "Running" && op.completeAt <= t);
      if (!due) return;
      await store.update((draft) => {
        for (const op of Object.values(draft.operations)) {
          if (op.status === "Running" && op.completeAt <= t) completeOperation(draft, op, t);
        }
      });
    },
    async get(id) {
      await operations.settleDue();
      return store.state.operations[id];
    },
  };

  const sameName = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
  const workspace: WorkspaceService = {
    subscriptionId: EMULATOR_SUBSCRIPTION_ID,
    resourceGroup: EMULATOR_RESOURCE_GROUP,
    name: EMULATOR_WORKSPACE,
    region: EMULATOR_REGION,
    tenantId: EMULATOR_TENANT_ID,
    aksCompute: EMULATOR_AKS_COMPUTE,
    armId: () =>
      `/subscriptions/${EMULATOR_SUBSCRIPTION_ID}/resourceGroups/${EMULATOR_RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${EMULATOR_WORKSPACE}`,
    computeArmId: (compute) => `${workspace.armId()}/computes/${compute}`,
    assert(params) {
      if (!sameName(params["sub"], EMULATOR_SUBSCRIPTION_ID)) {
        throw httpErrors.notFound(`The subscription '${params["sub"] ?? ""}' could not be found.`, "SubscriptionNotFound");
      }
      if (!sameName(params["rg"], EMULATOR_RESOURCE_GROUP)) {
        throw httpErrors.notFound(`Resource group '${params["rg"] ?? ""}' could not be found.`, "ResourceGroupNotFound");
      }
      if (!sameName(params["ws"], EMULATOR_WORKSPACE)) {
        throw httpErrors.resourceNotFound("Microsoft.MachineLearningServices/workspaces", params["ws"] ?? "", params["rg"] ?? "");
      }
    },
  };

  const deps: RouteDeps = {
    store,
    errors: httpErrors,
    now,
    baseUrl,
    options,
    tokens,
    operations,
    workspace,
    scoring: scoringAuth,
    callerOf: (ctx) => callers.get(ctx.req),
  };

  return {
    deps,
    setCaller: (req, caller) => callers.set(req, caller),
    resumeOperations() {
      const t = now();
      for (const op of Object.values(store.state.operations)) {
        if (op.status === "Running") scheduleSettle(op.completeAt - t);
      }
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

function completeOperation(draft: EmulatorState, op: OperationRecord, at: number): void {
  for (const patch of op.onComplete) applyStatePatch(draft, patch);
  op.status = "Succeeded";
  op.endedAt = new Date(at).toISOString();
  op.onComplete = [];
}

/** Applies one patch; skipped when the parent object no longer exists (e.g. service deleted). */
export function applyStatePatch(draft: EmulatorState, patch: StatePatch): void {
  let parent: unknown = draft;
  const path = patch.path;
  for (const segment of path.slice(0, -1)) {
    if (parent === null || typeof parent !== "object") return;
    parent = (parent as Record<string, unknown>)[segment];
  }
  const last = path[path.length - 1];
  if (last === undefined || parent === null || typeof parent !== "object") return;
  const target = parent as Record<string, unknown>;
  if (patch.op === "set") target[last] = structuredClone(patch.value);
  else if (patch.op === "delete") delete target[last];
  else if (Array.isArray(target[last])) {
    const list = target[last] as unknown[];
    list.push(structuredClone(patch.value));
    if (list.length > MAX_APPENDED_ITEMS) list.splice(0, list.length - MAX_APPENDED_ITEMS);
  }
}

function pruneOperations(draft: EmulatorState): void {
  const ids = Object.keys(draft.operations);
  if (ids.length < MAX_KEPT_OPERATIONS) return;
  const finished = Object.values(draft.operations)
    .filter((op) => op.status !== "Running")
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  for (const op of finished.slice(0, ids.length - MAX_KEPT_OPERATIONS + 1)) delete draft.operations[op.id];
}
