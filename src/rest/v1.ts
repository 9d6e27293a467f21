// The v1 adapter: Azure ML web services (ACI/AKS) on the Model Management REST API.
// Paths and casing follow v1-contract.md exactly (`listkeys` lowercase, `regenerateKeys` camelCase,
// PATCH as application/json-patch+json, `aadAuthEnabled` as the token-auth wire name).
import type { V1DeploySpec, V2DeploySpec } from "../core/deploy-config.js";
import { MaybeAppliedError, NotFoundError, ServiceError, UsageError } from "../errors.js";
import { planV1AuthUpdate } from "../core/rules.js";
import { abortableSleep, errorFromResponse } from "./http.js";
import type { WorkspaceHosts } from "./cache.js";
import type { HttpPipeline, HttpRequest } from "./http-types.js";
import { operationIdFrom, pollUntil, pollV1Operation, type PollTiming } from "./poll.js";
import type { AuthBackend, AuthChange, KeyType, ServiceInfo, ServiceKeys, ServiceToken, WaitOptions } from "./types.js";

export interface V1Workspace {
  subscription: string;
  resourceGroup: string;
  workspace: string;
}

export interface V1BackendDeps {
  pipeline: HttpPipeline;
  workspace: V1Workspace;
  /** The workspace's service hosts (discovery; cached by the caller). Called lazily. */
  hosts: () => Promise<WorkspaceHosts>;
  /** Poll timing (tests make it fast). */
  poll?: PollTiming;
  /** Directory that relative deploy paths are resolved against. */
  cwd?: string;
}

/** A v1 service as MMS returns it, reduced to what amlauth needs, validated. */
export interface V1Service {
  name: string;
  computeType: "ACI" | "AKS";
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  state: string;
  scoringUri: string | null;
}

export const MMS_JSON_PATCH = "application/json-patch+json";
/** How long a regeneration with an unknown outcome is looked for before it is sent again. */
const RECONCILE_WINDOW_MS = 3000;
const RECONCILE_POLL_MS = 300;

export function mmsWorkspaceBase(mmsHost: string, ws: V1Workspace): string {
  return (
    `${mmsHost.replace(/\/+$/, "")}/modelmanagement/v1.0/subscriptions/${encodeURIComponent(ws.subscription)}` +
    `/resourceGroups/${encodeURIComponent(ws.resourceGroup)}/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(ws.workspace)}`
  );
}

export function resumeHintFor(name: string): string {
  return `check with \`amlauth auth show ${name}\``;
}

export function createV1Backend(deps: V1BackendDeps): AuthBackend {
  const { pipeline, workspace } = deps;
  const where = `workspace ${workspace.workspace} (resource group ${workspace.resourceGroup})`;
  let basePromise: Promise<string> | undefined;
  const base = (): Promise<string> => {
    basePromise ??= deps.hosts().then((h) => mmsWorkspaceBase(h.modelmanagement, workspace));
    basePromise.catch(() => {
      basePromise = undefined;
    });
    return basePromise;
  };
  const serviceUrl = async (name: string, suffix = "") => `${await base()}/services/${encodeURIComponent(name)}${suffix}`;
  const notFound = (name: string) => `web service ${name} in ${where}`;

  async function readService(name: string, signal?: AbortSignal): Promise<V1Service> {
    const { body } = await pipeline.sendJson<unknown>(
      { method: "GET", url: await serviceUrl(name, "?expand=true"), ...(signal ? { signal } : {}) },
      notFound(name),
    );
    return parseV1Service(body, name);
  }

  async function findService(name: string): Promise<V1Service | null> {
    // Discovery failures (an unknown workspace) must not read as "no such service".
    await base();
    try {
      return await readService(name);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  async function listKeys(name: string): Promise<ServiceKeys> {
    const { body } = await pipeline.sendJson<unknown>(
      // listkeys only reads, so it is safe to resend.
      { method: "POST", url: await serviceUrl(name, "/listkeys"), idempotent: true },
      notFound(name),
    );
    const keys = asObject(body, `the listkeys reply for ${name}`);
    const primaryKey = keys.primaryKey;
    const secondaryKey = keys.secondaryKey;
    if (typeof primaryKey !== "string" || typeof secondaryKey !== "string") {
      throw new ServiceError(`the listkeys reply for ${name} is missing primaryKey or secondaryKey`);
    }
    return { primaryKey, secondaryKey };
  }

  async function waitForOperation(name: string, what: string, operationRef: string, opts: WaitOptions): Promise<void> {
    const id = operationIdFrom(operationRef);
    if (!id) throw new ServiceError(`the reply for ${what} has an unusable Operation-Location`);
    await pollV1Operation(pipeline, `${await base()}/operations/${encodeURIComponent(id)}`, {
      ...deps.poll,
      describe: what,
      resumeHint: resumeHintFor(name),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  }

  /** Waits until the service leaves Transitioning (used when there is no operation to follow). */
  async function waitForServiceState(name: string, what: string, opts: WaitOptions): Promise<V1Service> {
    let latest: V1Service | undefined;
    await pollUntil(
      async () => {
        latest = await readService(name, opts.signal);
        return { done: latest.state !== "Transitioning", label: latest.state };
      },
      {
        ...deps.poll,
        describe: what,
        resumeHint: resumeHintFor(name),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      },
    );
    if (latest && latest.state !== "Healthy") {
      throw new ServiceError(`${what} ended with the service ${latest.state}`, { hint: resumeHintFor(name) });
    }
    return latest!;
  }

  async function regenerateKey(name: string, keyType: KeyType, keyValue?: string, opts: WaitOptions = { wait: true }): Promise<void> {
    if (keyType !== "Primary" && keyType !== "Secondary") {
      throw new UsageError(`invalid key type ${JSON.stringify(keyType)}; use Primary or Secondary`);
    }
    const field = keyType === "Primary" ? "primaryKey" : "secondaryKey";
    const what = `regeneration of the ${keyType.toLowerCase()} key of ${name}`;
    // Read first: if the POST's fate is unknown, comparing against this tells whether it happened.
    const before = await listKeys(name);
    const request = async (): Promise<HttpRequest> => ({
      method: "POST",
      url: await serviceUrl(name, "/regenerateKeys"),
      headers: { "content-type": "application/json" },
      // keyValue is always present on the wire; null means "generate one" (SDK behaviour).
      body: JSON.stringify({ keyType, keyValue: keyValue ?? null }),
      idempotent: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    // Only the status and Operation-Location matter here: a 2xx with an unreadable body still
    // means the key was regenerated, so the body is not parsed.
    const send = async (): Promise<{ status: number; headers: Record<string, string> }> => {
      const req = await request();
      const res = await pipeline.send(req);
      if (res.status >= 400) throw errorFromResponse(res, new URL(req.url).host, notFound(name));
      return res;
    };
    let reply: { status: number; headers: Record<string, string> };
    try {
      reply = await send();
    } catch (err) {
      if (!(err instanceof MaybeAppliedError)) throw err;
      // A request that timed out may still be running on the server, so look for its effect for a
      // few seconds before concluding it was dropped (v2 does the same).
      const deadline = Date.now() + RECONCILE_WINDOW_MS;
      for (;;) {
        const after = await listKeys(name);
        if (after[field] !== before[field] || (keyValue !== undefined && after[field] === keyValue)) return;
        if (Date.now() >= deadline) break;
        await abortableSleep(RECONCILE_POLL_MS, opts.signal);
      }
      // Not applied: the one retry cannot double-apply. A second unknown outcome goes to the user.
      reply = await send();
    }
    const operation = reply.headers["operation-location"];
    if (!opts.wait || !operation) return;
    await waitForOperation(name, what, operation, opts);
  }

  async function getToken(name: string): Promise<ServiceToken> {
    const { body } = await pipeline.sendJson<unknown>(
      // Minting a token changes nothing on the service: safe to resend.
      { method: "POST", url: await serviceUrl(name, "/token"), idempotent: true },
      notFound(name),
    );
    const t = asObject(body, `the token reply for ${name}`);
    const missing = (["accessToken", "tokenType", "expiryOn", "refreshAfter"] as const).filter((k) =>
      k === "accessToken" || k === "tokenType" ? typeof t[k] !== "string" || t[k] === "" : !isEpochSeconds(t[k]),
    );
    if (missing.length > 0) throw new ServiceError(`the token reply for ${name} is missing or has a wrong type for ${missing.join(", ")}`);
    return {
      accessToken: t.accessToken as string,
      tokenType: t.tokenType as string,
      expiryOn: Number(t.expiryOn),
      refreshAfter: Number(t.refreshAfter),
    };
  }

  async function setAuthMode(name: string, change: AuthChange, opts: WaitOptions): Promise<ServiceInfo> {
    const mode = change.mode;
    if (mode !== "key" && mode !== "token" && mode !== "none") {
      throw new UsageError(`${mode} is a v2 auth mode; v1 web services use key, token or none`);
    }
    const current = await readService(name, opts.signal);
    // The same pure rules as the CLI's pre-flight check: token on ACI is refused, and the patch
    // switches the old mode off before the new one on (never key+token, never /aadAuthEnabled on ACI).
    const plan = planV1AuthUpdate({ ...current, name }, mode);
    if (!plan.changed) return toServiceInfo(current);
    const patchRequest: HttpRequest = {
      method: "PATCH",
      url: await serviceUrl(name),
      headers: { "content-type": MMS_JSON_PATCH },
      body: JSON.stringify(plan.patch),
      // Not resent blindly: while the first PATCH is still being applied the service refuses a
      // second one (Conflict), so a lost reply is reconciled by reading the service instead.
      idempotent: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    let reply: { headers: Record<string, string>; body: unknown };
    try {
      reply = await pipeline.sendJson<unknown>(patchRequest, notFound(name));
    } catch (err) {
      if (!(err instanceof MaybeAppliedError)) throw err;
      const after = await readService(name, opts.signal);
      const landed = after.state === "Transitioning" || (after.authEnabled === plan.next.authEnabled && after.aadAuthEnabled === plan.next.aadAuthEnabled);
      if (landed) {
        // Our change reached the service: follow it to the end instead of sending it again.
        return toServiceInfo(opts.wait ? await waitForServiceState(name, `the auth change of ${name}`, opts) : after);
      }
      reply = await pipeline.sendJson<unknown>(patchRequest, notFound(name));
    }
    const { headers, body } = reply;
    const what = `the auth change of ${name}`;
    const operation =
      headers["operation-location"] ??
      (body && typeof body === "object" && typeof (body as Record<string, unknown>).operationId === "string"
        ? ((body as Record<string, unknown>).operationId as string)
        : undefined);
    if (opts.wait) {
      if (operation) await waitForOperation(name, what, operation, opts);
      else return toServiceInfo(await waitForServiceState(name, what, opts));
    }
    return toServiceInfo(await readService(name, opts.signal));
  }

  async function deploy(spec: V1DeploySpec | V2DeploySpec, opts: WaitOptions): Promise<ServiceInfo> {
    if (spec.api !== "v1") throw new UsageError("a v2 endpoint spec was passed to the v1 deploy");
    const { deployV1 } = await import("./v1-deploy.js");
    const service = await deployV1(
      {
        pipeline,
        workspace,
        hosts: deps.hosts,
        mmsBase: base,
        readService: (n, signal) => readService(n, signal),
        findService,
        waitForOperation: (n, what, ref, o) => waitForOperation(n, what, ref, o),
        waitForServiceState: (n, what, o) => waitForServiceState(n, what, o),
        ...(deps.cwd ? { cwd: deps.cwd } : {}),
      },
      spec,
      opts,
    );
    return toServiceInfo(service);
  }

  return {
    api: "v1",
    async get(name) {
      return toServiceInfo(await readService(name));
    },
    async find(name) {
      const service = await findService(name);
      return service ? toServiceInfo(service) : null;
    },
    listKeys,
    regenerateKey,
    getToken,
    setAuthMode,
    deploy,
  };
}

// ---------------------------------------------------------------------------------------------
// Payload validation and mapping

/** Validates an MMS service payload (v1-contract.md §3.1); wrong shapes become one-line errors. */
export function parseV1Service(body: unknown, requestedName: string): V1Service {
  const what = `the reply for web service ${requestedName}`;
  const s = asObject(body, what);
  const name = s.name;
  if (typeof name !== "string" || name === "") throw new ServiceError(`${what} has no name`);
  const computeType = s.computeType;
  if (typeof computeType !== "string") throw new ServiceError(`${what} has no computeType`);
  const upper = computeType.toUpperCase();
  if (upper !== "ACI" && upper !== "AKS") {
    throw new ServiceError(`web service ${name} has compute type ${computeType}; amlauth manages ACI and AKS services only`);
  }
  const flag = (key: string, required: boolean): boolean => {
    if (!(key in s)) {
      if (required) throw new ServiceError(`${what} is missing ${key}`);
      return false;
    }
    const v = s[key];
    if (v === null) return false;
    if (typeof v !== "boolean") throw new ServiceError(`${what} has a non-boolean ${key}`);
    return v;
  };
  const authEnabled = flag("authEnabled", true);
  // ACI has no token auth at all (v1-contract.md §5), whatever the payload says.
  const aadAuthEnabled = upper === "AKS" ? flag("aadAuthEnabled", true) : false;
  const state = s.state;
  if (state !== undefined && state !== null && typeof state !== "string") throw new ServiceError(`${what} has a non-string state`);
  const scoringUri = s.scoringUri;
  if (scoringUri !== undefined && scoringUri !== null && typeof scoringUri !== "string") {
    throw new ServiceError(`${what} has a non-string scoringUri`);
  }
  return {
    name,
    computeType: upper,
    authEnabled,
    aadAuthEnabled,
    // [?] state is optional in SDK 1.51; a missing one is shown as Unknown rather than guessed.
    state: typeof state === "string" && state !== "" ? state : "Unknown",
    scoringUri: typeof scoringUri === "string" && scoringUri !== "" ? scoringUri : null,
  };
}

export function toServiceInfo(s: V1Service): ServiceInfo {
  return {
    api: "v1",
    name: s.name,
    computeType: s.computeType,
    authMode: s.aadAuthEnabled ? "token" : s.authEnabled ? "key" : "none",
    authEnabled: s.authEnabled,
    tokenAuthEnabled: s.aadAuthEnabled,
    state: s.state,
    scoringUri: s.scoringUri,
  };
}

export function asObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ServiceError(`${what} is not a JSON object`);
  return body as Record<string, unknown>;
}

function isEpochSeconds(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}
