// v2 online endpoints: ARM onlineEndpoints (api-version 2022-10-01 shapes), their long-running
// operation status/result URLs, and a scoring URI per endpoint that enforces the endpoint's mode.
//
// LRO headers follow what the real SDK poller (core-lro) follows (v2-sdk.md §2 "Emulator recipe"):
//   PUT            201 + Azure-AsyncOperation, body with provisioningState Creating/Updating
//   PATCH, DELETE  202 + Location
//   regenerateKeys 202 + Azure-AsyncOperation + Location (final-state-via: location)
// Status URLs answer {status: InProgress|Succeeded|Failed}; result URLs answer 202 until done.
import type { RequestContext, RouteResult } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { ARM_WORKSPACE_PATH } from "../deps.js";
import { httpErrors } from "../errors.js";
import type { EmulatorState, OperationRecord, StatePatch, V2AuthMode, V2EndpointRecord } from "../store.js";
import { generateKeyPair, isoNow } from "../store.js";
import { jsonObject, requireApiVersion } from "./common.js";
import { ScoringGate } from "../scoring-auth.js";
import type { ScoringAuthRule } from "../scoring-auth.js";
import { directRoute } from "../server.js";
import type { DirectAnswer } from "../server.js";
import { jsonEcho } from "./scoring.js";

const ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
const PAGE_SIZE = 50;
const WIRE_MODES: readonly V2AuthMode[] = ["Key", "AMLToken", "AADToken"];
/** Online endpoint names: a letter, then letters, digits or '-'; 3 to 32 characters (ARM's rule). */
const ENDPOINT_NAME = /^[A-Za-z][A-Za-z0-9-]{2,31}$/;
const MAX_KEY_LENGTH = 256;

const ENDPOINTS = `${ARM_WORKSPACE_PATH}/onlineEndpoints`;
const OPERATIONS = "/subscriptions/(?<sub>[^/]+)/providers/Microsoft\\.MachineLearningServices/locations/(?<region>[^/]+)";

type OperationType = "CreateOrUpdate" | "Update" | "Delete" | "RegenerateKeys";

export function v2Routes(deps: RouteDeps): EmulatorRoute[] {
  const ws = deps.workspace;

  // --- helpers ------------------------------------------------------------------------------

  /** ARM names are case-insensitive: find the stored record whatever the casing of the path. */
  const findRecord = (state: Readonly<EmulatorState>, name: string): V2EndpointRecord | undefined => {
    const exact = state.v2Endpoints[name];
    if (exact) return exact;
    const lower = name.toLowerCase();
    return Object.values(state.v2Endpoints).find((ep) => ep.name.toLowerCase() === lower);
  };

  const notFound = (name: string) => httpErrors.resourceNotFound(ENDPOINT_TYPE, name, ws.resourceGroup);

  const requireRecord = (ctx: RequestContext): V2EndpointRecord => {
    requireApiVersion(ctx);
    ws.assert(ctx.params);
    const name = ctx.params["name"] ?? "";
    const record = findRecord(deps.store.state, name);
    if (!record) throw notFound(name);
    return record;
  };

  const endpointId = (name: string) => `${ws.armId()}/onlineEndpoints/${name}`;
  const scoringBase = (name: string) => `${deps.baseUrl()}/v2/${encodeURIComponent(name)}`;

  const payload = (ep: V2EndpointRecord): Record<string, unknown> => {
    const properties: Record<string, unknown> = {
      authMode: ep.authMode,
      description: ep.description,
      properties: {},
      scoringUri: `${scoringBase(ep.name)}/score`,
      swaggerUri: `${scoringBase(ep.name)}/swagger.json`,
      provisioningState: ep.provisioningState,
      publicNetworkAccess: "Enabled",
      traffic: {},
    };
    // Kubernetes endpoints are the ones with a compute (how azure-ai-ml tells them apart).
    if (ep.compute !== null) properties["compute"] = ep.compute;
    return {
      id: endpointId(ep.name),
      name: ep.name,
      type: ENDPOINT_TYPE,
      location: ep.location,
      tags: ep.tags,
      kind: ep.compute === null ? "Managed" : "Kubernetes",
      systemData: {
        createdAt: ep.createdAt,
        createdBy: "amlauth emulator",
        createdByType: "Application",
        lastModifiedAt: ep.updatedAt,
        lastModifiedBy: "amlauth emulator",
        lastModifiedByType: "Application",
      },
      properties,
    };
  };

  const operationUrls = (op: OperationRecord) => {
    const base = `${deps.baseUrl()}/subscriptions/${ws.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${ws.region}`;
    const query = "?api-version=2022-10-01";
    return {
      status: `${base}/mfeOperationsStatus/${op.id}${query}`,
      result: `${base}/mfeOperationResults/${op.id}${query}`,
    };
  };

  /** Retry-After for a running operation: whole seconds still to go, none when under a second. */
  const retryAfter = (op: OperationRecord): Record<string, string> => {
    const seconds = Math.floor((op.completeAt - deps.now()) / 1000);
    return op.status === "Running" && seconds >= 1 ? { "retry-after": String(seconds) } : {};
  };

  const begin = (draft: EmulatorState, name: string, operationType: OperationType, onComplete: StatePatch[]) =>
    deps.operations.begin(draft, { api: "v2", operationType, target: name, onComplete });

  // --- validation ---------------------------------------------------------------------------

  const parseAuthMode = (value: unknown): V2AuthMode => {
    if (typeof value !== "string") {
      throw httpErrors.badRequest("properties.authMode is required: one of Key, AMLToken, AADToken.", "InvalidAuthMode");
    }
    const mode = WIRE_MODES.find((m) => m.toLowerCase() === value.toLowerCase());
    if (!mode) {
      throw httpErrors.badRequest(
        `properties.authMode '${value.slice(0, 40)}' is not valid: use one of Key, AMLToken, AADToken.`,
        "InvalidAuthMode",
      );
    }
    return mode;
  };

  const parseCompute = (value: unknown): string | null => {
    if (value === undefined || value === null) return null;
    if (typeof value !== "string" || value.trim() === "") {
      throw httpErrors.badRequest("properties.compute must be the ARM id of a Kubernetes compute.", "InvalidCompute");
    }
    const known = ws.computeArmId(ws.aksCompute);
    if (value.replace(/\/+$/, "").toLowerCase() !== known.toLowerCase()) {
      throw httpErrors.badRequest(
        `Compute '${value.slice(0, 300)}' was not found; this workspace has one Kubernetes compute: ${known}`,
        "ComputeNotFound",
      );
    }
    return known;
  };

  const parseTags = (value: unknown): Record<string, string> => {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
      throw httpErrors.badRequest("tags must be an object of string values.", "InvalidTags");
    }
    return { ...(value as Record<string, string>) };
  };

  /** Create-only keys from a PUT body (never returned). Absent ones are generated. */
  const parseInitialKeys = (value: unknown) => {
    const generated = generateKeyPair();
    if (value === undefined || value === null) return generated;
    if (typeof value !== "object" || Array.isArray(value)) throw httpErrors.badRequest("properties.keys must be an object.", "InvalidKeys");
    const keys = value as Record<string, unknown>;
    return {
      primaryKey: keys["primaryKey"] === undefined || keys["primaryKey"] === null ? generated.primaryKey : checkKeyValue(keys["primaryKey"], "primaryKey"),
      secondaryKey:
        keys["secondaryKey"] === undefined || keys["secondaryKey"] === null ? generated.secondaryKey : checkKeyValue(keys["secondaryKey"], "secondaryKey"),
    };
  };

  // --- handlers -----------------------------------------------------------------------------

  const list = (ctx: RequestContext): RouteResult => {
    requireApiVersion(ctx);
    ws.assert(ctx.params);
    const nameFilter = ctx.query.get("name")?.toLowerCase();
    const computeFilter = ctx.query.get("computeType")?.toLowerCase();
    const all = Object.values(deps.store.state.v2Endpoints)
      .filter((ep) => nameFilter === undefined || ep.name.toLowerCase() === nameFilter)
      .filter((ep) => computeFilter === undefined || (ep.compute === null ? "managed" : "kubernetes") === computeFilter)
      .sort((a, b) => a.name.localeCompare(b.name));
    const skip = Number(ctx.query.get("$skipToken") ?? "0");
    const start = Number.isInteger(skip) && skip > 0 ? skip : 0;
    const page = all.slice(start, start + PAGE_SIZE);
    const body: Record<string, unknown> = { value: page.map(payload) };
    if (start + PAGE_SIZE < all.length) {
      const next = new URL(`${deps.baseUrl()}${ctx.path}`);
      next.searchParams.set("api-version", ctx.query.get("api-version") ?? "2022-10-01");
      for (const keep of ["name", "computeType"]) {
        const v = ctx.query.get(keep);
        if (v !== null) next.searchParams.set(keep, v);
      }
      next.searchParams.set("$skipToken", String(start + PAGE_SIZE));
      body["nextLink"] = next.href;
    }
    return { status: 200, body };
  };

  const put = async (ctx: RequestContext): Promise<RouteResult> => {
    requireApiVersion(ctx);
    ws.assert(ctx.params);
    const requested = ctx.params["name"] ?? "";
    const body = jsonObject(ctx, "an online endpoint");
    const props = body["properties"];
    if (props === null || typeof props !== "object" || Array.isArray(props)) {
      throw httpErrors.badRequest("properties is required (with at least authMode).", "InvalidRequestContent");
    }
    const properties = props as Record<string, unknown>;
    const authMode = parseAuthMode(properties["authMode"]);
    const compute = parseCompute(properties["compute"]);
    if (authMode === "AADToken" && compute !== null) {
      throw httpErrors.ruleViolation(
        "v2-aad-on-kubernetes",
        "AADToken auth mode is only supported on managed online endpoints; Kubernetes endpoints (with properties.compute) support Key and AMLToken.",
      );
    }
    const location = body["location"];
    if (typeof location !== "string" || location.trim() === "") {
      throw httpErrors.badRequest("location is required.", "LocationRequired");
    }
    const description = properties["description"];
    if (description !== undefined && description !== null && typeof description !== "string") {
      throw httpErrors.badRequest("properties.description must be a string.", "InvalidRequestContent");
    }
    const tags = parseTags(body["tags"]);

    const result = await deps.store.update((draft) => {
      const existing = findRecord(draft, requested);
      const at = isoNow(deps.now());
      if (existing) {
        if (existing.provisioningState === "Deleting") throw httpErrors.conflict(`Online endpoint '${existing.name}' is being deleted.`);
        if ((existing.compute ?? null) !== compute) {
          throw httpErrors.badRequest(
            `The compute of online endpoint '${existing.name}' cannot be changed; delete and re-create it instead.`,
            "ImmutableProperty",
          );
        }
        if (existing.location.toLowerCase() !== location.toLowerCase()) {
          throw httpErrors.badRequest(`The location of online endpoint '${existing.name}' cannot be changed.`, "ImmutableProperty");
        }
      } else if (!ENDPOINT_NAME.test(requested)) {
        throw httpErrors.badRequest(
          `Online endpoint name '${requested.slice(0, 64)}' is not valid: 3-32 characters, a letter first, then letters, digits or '-'.`,
          "InvalidEndpointName",
        );
      }
      const record: V2EndpointRecord = {
        name: existing?.name ?? requested,
        authMode,
        compute,
        location: existing?.location ?? location,
        description: typeof description === "string" ? description : existing?.description ?? null,
        tags,
        // keys in a PUT body only count when the endpoint is created.
        keys: existing?.keys ?? parseInitialKeys(properties["keys"]),
        provisioningState: existing ? "Updating" : "Creating",
        createdAt: existing?.createdAt ?? at,
        updatedAt: at,
      };
      draft.v2Endpoints[record.name] = record;
      const op = begin(draft, record.name, "CreateOrUpdate", [
        { op: "set", path: ["v2Endpoints", record.name, "provisioningState"], value: "Succeeded" },
      ]);
      return { created: !existing, op, record: draft.v2Endpoints[record.name]! };
    });
    const urls = operationUrls(result.op);
    return {
      status: result.created ? 201 : 200,
      headers: { "azure-asyncoperation": urls.status, "x-ms-async-operation-timeout": "PT1H", ...retryAfter(result.op) },
      body: payload(result.record),
    };
  };

  const patch = async (ctx: RequestContext): Promise<RouteResult> => {
    requireRecord(ctx);
    const body = jsonObject(ctx, "tags and/or identity");
    const extra = Object.keys(body).filter((k) => k !== "tags" && k !== "identity");
    if (extra.length > 0) {
      throw httpErrors.badRequest(
        `PATCH on an online endpoint only updates tags and identity (got: ${extra.slice(0, 5).join(", ")}); use PUT to change properties.`,
        "InvalidRequestContent",
      );
    }
    if (body["identity"] !== undefined) {
      // The emulator has no managed identities; accepting the field and dropping it would be a lie.
      throw httpErrors.badRequest("The emulator does not model managed identities; PATCH tags only.", "NotSupportedByEmulator");
    }
    const tags = body["tags"] === undefined ? undefined : parseTags(body["tags"]);
    const name = ctx.params["name"] ?? "";
    const op = await deps.store.update((draft) => {
      const record = findRecord(draft, name);
      if (!record) throw notFound(name);
      record.updatedAt = isoNow(deps.now());
      const onComplete: StatePatch[] = [];
      if (tags !== undefined) onComplete.push({ op: "set", path: ["v2Endpoints", record.name, "tags"], value: tags });
      return begin(draft, record.name, "Update", onComplete);
    });
    const urls = operationUrls(op);
    return { status: 202, headers: { location: urls.result, ...retryAfter(op) } };
  };

  const remove = async (ctx: RequestContext): Promise<RouteResult> => {
    requireApiVersion(ctx);
    ws.assert(ctx.params);
    const name = ctx.params["name"] ?? "";
    const op = await deps.store.update((draft) => {
      const record = findRecord(draft, name);
      if (!record) return null;
      record.provisioningState = "Deleting";
      return begin(draft, record.name, "Delete", [{ op: "delete", path: ["v2Endpoints", record.name] }]);
    });
    // ARM answers 204 for a DELETE of something that does not exist.
    if (op === null) return { status: 204 };
    const urls = operationUrls(op);
    return { status: 202, headers: { location: urls.result, ...retryAfter(op) } };
  };

  const listKeys = (ctx: RequestContext): RouteResult => {
    // Keys exist whatever the mode (they work again after switching back to Key), so they are
    // listed for every endpoint; whether Azure refuses this for token endpoints is unknown [?].
    const record = requireRecord(ctx);
    return { status: 200, body: { primaryKey: record.keys.primaryKey, secondaryKey: record.keys.secondaryKey } };
  };

  const regenerateKeys = async (ctx: RequestContext): Promise<RouteResult> => {
    requireRecord(ctx);
    const body = jsonObject(ctx, "{keyType, keyValue?}");
    const keyType = typeof body["keyType"] === "string" ? body["keyType"].toLowerCase() : "";
    if (keyType !== "primary" && keyType !== "secondary") {
      throw httpErrors.badRequest("keyType is required: Primary or Secondary.", "InvalidKeyType");
    }
    const keyValue = body["keyValue"] === undefined || body["keyValue"] === null ? undefined : checkKeyValue(body["keyValue"], "keyValue");
    const name = ctx.params["name"] ?? "";
    const op = await deps.store.update((draft) => {
      const record = findRecord(draft, name);
      if (!record) throw notFound(name);
      const field = keyType === "primary" ? "primaryKey" : "secondaryKey";
      const fresh = keyValue ?? generateKeyPair()[field];
      // The new key takes effect when the operation completes; until then the old one works.
      return begin(draft, record.name, "RegenerateKeys", [{ op: "set", path: ["v2Endpoints", record.name, "keys", field], value: fresh }]);
    });
    const urls = operationUrls(op);
    return { status: 202, headers: { "azure-asyncoperation": urls.status, location: urls.result, ...retryAfter(op) } };
  };

  const token = (ctx: RequestContext): RouteResult => {
    const record = requireRecord(ctx);
    if (record.authMode !== "AMLToken") {
      throw httpErrors.badRequest(
        `Online endpoint '${record.name}' uses ${record.authMode} auth; tokens from this API are only for endpoints using AMLToken auth.` +
          (record.authMode === "AADToken" ? " Use an Entra token for https://ml.azure.com instead." : " Use its keys instead."),
        "AuthModeMismatch",
      );
    }
    const subject = deps.callerOf(ctx)?.subject ?? "unknown";
    const minted = deps.tokens.mintServiceToken("v2", record.name, subject);
    return {
      status: 200,
      body: {
        accessToken: minted.accessToken,
        tokenType: minted.tokenType,
        expiryTimeUtc: minted.expiryOn,
        refreshAfterTimeUtc: minted.refreshAfter,
      },
    };
  };

  const findOperation = async (ctx: RequestContext): Promise<OperationRecord> => {
    requireApiVersion(ctx);
    if ((ctx.params["sub"] ?? "").toLowerCase() !== ws.subscriptionId.toLowerCase()) {
      throw httpErrors.notFound(`The subscription '${ctx.params["sub"] ?? ""}' could not be found.`, "SubscriptionNotFound");
    }
    const op = await deps.operations.get(ctx.params["id"] ?? "");
    if (!op || op.api !== "v2") throw httpErrors.notFound(`Operation '${(ctx.params["id"] ?? "").slice(0, 64)}' was not found.`, "OperationNotFound");
    return op;
  };

  const operationStatus = async (ctx: RequestContext): Promise<RouteResult> => {
    const op = await findOperation(ctx);
    const status = op.status === "Running" ? "InProgress" : op.status;
    const body: Record<string, unknown> = { id: operationUrls(op).status.split("?")[0]!.slice(deps.baseUrl().length), name: op.id, status, startTime: op.createdAt };
    if (op.endedAt !== null) body["endTime"] = op.endedAt;
    if (op.error !== null) body["error"] = op.error;
    return { status: 200, headers: retryAfter(op), body };
  };

  const operationResult = async (ctx: RequestContext): Promise<RouteResult> => {
    const op = await findOperation(ctx);
    if (op.status === "Running") return { status: 202, headers: { location: operationUrls(op).result, ...retryAfter(op) } };
    if (op.status === "Failed") {
      const error = op.error ?? { code: "OperationFailed", message: "The operation failed." };
      return { status: 400, body: { error } };
    }
    // An update's final result is the resource (PATCH is final-state-via location); others have none.
    const record = op.operationType === "Update" ? findRecord(deps.store.state, op.target) : undefined;
    return record ? { status: 200, body: payload(record) } : { status: 204 };
  };

  // --- scoring --------------------------------------------------------------------------------
  // Hot path (issue 6): POST /v2/{name}/score is a direct route (server.ts); each endpoint
  // snapshot gets one ScoringGate, which remembers the credentials it accepted.

  const describeAudience = (aud: unknown): string | null => {
    const parsed = deps.tokens.parseServiceAudience(aud);
    if (parsed) return parsed.api === "v2" ? `online endpoint '${parsed.name}'` : `v1 service '${parsed.name}'`;
    return typeof aud === "string" && aud !== "" ? `audience '${aud.slice(0, 100)}'` : null;
  };

  const scoringRule = (record: V2EndpointRecord): ScoringAuthRule => {
    if (record.authMode === "Key") return { mode: "key", keys: record.keys };
    return record.authMode === "AMLToken"
      ? {
          mode: "token",
          verifier: deps.tokens.verifier,
          issuer: deps.tokens.amlTokenIssuer(),
          audience: deps.tokens.serviceAudience("v2", record.name),
          keys: record.keys,
          describeAudience,
        }
      : {
          // aad_token: an Entra access token for the Azure ML data plane from our token endpoint.
          mode: "token",
          verifier: deps.tokens.verifier,
          issuer: deps.tokens.entraIssuer(),
          audience: deps.tokens.dataPlaneAudience,
          keys: record.keys,
          describeAudience,
        };
  };

  // Keyed by the record object: the store swaps in new records on every change.
  const scorers = new WeakMap<V2EndpointRecord, { authMode: V2AuthMode; gate: ScoringGate; echoHead: Buffer }>();
  const scorerFor = (record: V2EndpointRecord) => {
    let scorer = scorers.get(record);
    if (scorer === undefined || scorer.authMode !== record.authMode) {
      scorer = {
        authMode: record.authMode,
        gate: new ScoringGate(scoringRule(record), deps.now),
        echoHead: Buffer.from(`{"endpoint":${JSON.stringify(record.name)},"api":"v2","authMode":${JSON.stringify(record.authMode)},"input":`),
      };
      scorers.set(record, scorer);
    }
    return scorer;
  };

  /** The endpoint, once the caller passed its auth check; throws the 404/401 otherwise. */
  const scoringRecord = (name: string, authorization: string | undefined) => {
    const record = findRecord(deps.store.state, name);
    if (!record || record.provisioningState === "Deleting") {
      throw httpErrors.notFound(`No online endpoint '${name.slice(0, 64)}' in this emulator.`, "EndpointNotFound");
    }
    const scorer = scorerFor(record);
    const denied = scorer.gate.check(authorization);
    if (denied) throw denied;
    return { record, scorer };
  };

  const score = (name: string, authorization: string | undefined, body: Buffer): DirectAnswer => {
    const { scorer } = scoringRecord(name, authorization);
    // No model runs in the emulator: echo what was received (as sent) and who answered.
    const echo = jsonEcho(scorer.echoHead, body);
    if (echo === null) throw httpErrors.badRequest("The scoring input must be JSON.", "InvalidInput");
    return { status: 200, json: echo };
  };

  const swagger = (ctx: RequestContext): RouteResult => {
    const header = ctx.headers["authorization"];
    const { record } = scoringRecord(ctx.params["name"] ?? "", Array.isArray(header) ? header[0] : header);
    return {
      status: 200,
      body: {
        openapi: "3.0.1",
        info: { title: `${record.name} (amlauth emulator)`, version: "1.0" },
        paths: { "/score": { post: { requestBody: { content: { "application/json": {} } }, responses: { "200": { description: "echo of the input" } } } } },
      },
    };
  };

  const endpointPath = (suffix = "") => new RegExp(`^${ENDPOINTS}/(?<name>[^/]+)${suffix}$`);
  return [
    {
      method: "GET",
      pattern: new RegExp(`^${ENDPOINTS}$`),
      auth: "arm",
      handle: async (ctx) => {
        await deps.operations.settleDue();
        return list(ctx);
      },
    },
    {
      method: "GET",
      pattern: endpointPath(),
      auth: "arm",
      // Settle due operations first (as the v1 reads do), so a GET after an update's delay always
      // sees the finished state even if the operation timer has not fired yet.
      handle: async (ctx) => {
        await deps.operations.settleDue();
        return { status: 200, body: payload(requireRecord(ctx)) };
      },
    },
    { method: "PUT", pattern: endpointPath(), auth: "arm", handle: put },
    { method: "PATCH", pattern: endpointPath(), auth: "arm", handle: patch },
    { method: "DELETE", pattern: endpointPath(), auth: "arm", handle: remove },
    // Case-sensitive like the SDK's paths: listKeys (camelCase) on v2, listkeys on v1.
    { method: "POST", pattern: endpointPath("/listKeys"), auth: "arm", handle: listKeys },
    { method: "POST", pattern: endpointPath("/regenerateKeys"), auth: "arm", handle: regenerateKeys },
    { method: "POST", pattern: endpointPath("/token"), auth: "arm", handle: token },
    { method: "GET", pattern: new RegExp(`^${OPERATIONS}/mfeOperationsStatus/(?<id>[^/]+)$`), auth: "arm", handle: operationStatus },
    { method: "GET", pattern: new RegExp(`^${OPERATIONS}/mfeOperationResults/(?<id>[^/]+)$`), auth: "arm", handle: operationResult },
    directRoute({ prefix: "/v2/", suffix: "/score", errorShape: "scoring", answer: score }),
    { method: "GET", pattern: /^\/v2\/(?<name>[^/]+)\/swagger\.json$/, auth: "scoring", errorShape: "scoring", handle: swagger },
  ];
}

function checkKeyValue(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_KEY_LENGTH || /\s/.test(value)) {
    // Never echo the value: it is a secret.
    throw httpErrors.badRequest(`${field} must be a non-empty string of at most ${MAX_KEY_LENGTH} characters without spaces.`, "InvalidKeyValue");
  }
  return value;
}
