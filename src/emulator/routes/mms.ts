// v1 Model Management (MMS) under
//   /modelmanagement/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}
// Paths, verbs, casing (listkeys lower-case, regenerateKeys camelCase), bodies and status codes follow
// v1-contract.md §3 and v1-deploy.md; errors are {code, statusCode, message, details}.
//
// Server-side rules (the seed doc's): key auth defaults on for AKS and off for ACI; token auth
// (aadAuthEnabled) defaults off, exists on AKS only, and never together with key auth.
// Long-running changes (create, update) complete after options.deployDelayMs; until then the
// service is Transitioning and the new settings are not in force yet (they land on completion).
import { randomUUID } from "node:crypto";
import type { RequestContext, RouteResult } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { ARM_WORKSPACE_PATH, MAX_APPENDED_ITEMS } from "../deps.js";
import { EmulatorHttpError, httpErrors } from "../errors.js";
import type {
  EmulatorState,
  OperationRecord,
  StatePatch,
  V1ComputeType,
  V1ServiceRecord,
} from "../store.js";
import { defaultV1Settings, generateServiceKey } from "../store.js";
import { EMULATOR_MODEL } from "../world.js";
import { modelPayload, SEEDED_MODEL } from "../seed-assets.js";
import { jsonObject, mediaType } from "./common.js";

export const MMS_PREFIX = `/modelmanagement/v1\\.0${ARM_WORKSPACE_PATH}`;
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_SERVICES = 500;

/** Fields a create request may carry into `settings`, per compute type (v1-contract.md §3.3). */
const SETTINGS_FIELDS: Record<V1ComputeType, readonly string[]> = {
  ACI: [
    "containerResourceRequirements",
    "appInsightsEnabled",
    "sslEnabled",
    "sslCertificate",
    "sslKey",
    "cname",
    "dnsNameLabel",
    "dataCollection",
    "encryptionProperties",
    "vnetConfiguration",
  ],
  AKS: [
    "containerResourceRequirements",
    "appInsightsEnabled",
    "autoScaler",
    "dataCollection",
    "maxConcurrentRequestsPerContainer",
    "maxQueueWaitMs",
    "numReplicas",
    "scoringTimeoutMs",
    "namespace",
    "livenessProbeRequirements",
    "storageInitEnabled",
  ],
};
/** Settings whose value is an object merged over the defaults (so required sub-keys stay present). */
const OBJECT_SETTINGS = new Set([
  "containerResourceRequirements",
  "autoScaler",
  "dataCollection",
  "livenessProbeRequirements",
  "encryptionProperties",
  "vnetConfiguration",
]);

// ---------------------------------------------------------------------------------------------
// Payloads

export function scoringUriFor(baseUrl: string, record: Pick<V1ServiceRecord, "name" | "computeType">): string {
  return record.computeType === "AKS"
    ? `${baseUrl}/api/v1/service/${record.name}/score`
    : `${baseUrl}/aci/${record.name}/score`;
}

/** The GET payload: every key the v1 SDK requires (v1-contract.md §3.1), nulls allowed. */
export function v1ServicePayload(record: V1ServiceRecord, baseUrl: string, state: EmulatorState): Record<string, unknown> {
  const scoringUri = scoringUriFor(baseUrl, record);
  const op = record.operationId === null ? undefined : state.operations[record.operationId];
  const payload: Record<string, unknown> = {
    id: record.name,
    name: record.name,
    description: record.description,
    kvTags: record.kvTags,
    properties: record.properties,
    computeType: record.computeType,
    createdTime: record.createdTime,
    updatedTime: record.updatedTime,
    state: record.state,
    error: op?.error ? { code: op.error.code, statusCode: 400, message: op.error.message, details: [] } : null,
    createdBy: { userName: "amlauth emulator", userObjectId: null, userTenantId: null },
    imageId: null,
    imageDigest: null,
    imageDetails: null,
    scoringUri,
    swaggerUri: scoringUri.replace(/\/score$/, "/swagger.json"),
    location: record.location,
    modelIds: record.modelIds,
    environmentImageRequest: record.environmentImageRequest,
    operationId: record.operationId,
    ...defaultV1Settings(record.computeType),
    ...record.settings,
    authEnabled: record.authEnabled,
  };
  if (record.computeType === "AKS") {
    payload["aadAuthEnabled"] = record.aadAuthEnabled;
    payload["computeName"] = record.computeName;
    payload["deploymentStatus"] = null;
    payload["isDefault"] = null;
    payload["trafficPercentile"] = null;
    payload["type"] = null;
  }
  return payload;
}

function operationPayload(op: OperationRecord, workspacePath: string): Record<string, unknown> {
  const cancelled = op.status === "Failed" && op.error?.code === "Cancelled";
  const state = cancelled ? "Cancelled" : op.status;
  return {
    id: op.id,
    operationType: op.operationType,
    state,
    createdTime: op.createdAt,
    endTime: op.endedAt,
    error: op.error === null ? null : { code: op.error.code, statusCode: 400, message: op.error.message, details: [] },
    resourceLocation: `${workspacePath}/services/${op.target}`,
    operationLog: null,
    parentRequestId: null,
    operationDetails: { subOperationType: op.operationType === "Deploy" ? "DeployService" : op.operationType, subOperationState: state },
  };
}

// ---------------------------------------------------------------------------------------------
// Validation shared by POST /services, PATCH and the validate endpoints

interface CreateSpec {
  name: string;
  computeType: V1ComputeType;
  computeName: string | null;
  description: string | null;
  kvTags: Record<string, string>;
  properties: Record<string, string>;
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  keys: { primaryKey: string | null; secondaryKey: string | null };
  settings: Record<string, unknown>;
  environmentImageRequest: unknown;
  modelIds: string[];
  location: string | null;
  overwrite: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw httpErrors.badRequest(`"${field}" must be an object of string values.`);
  }
  return { ...(value as Record<string, string>) };
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw httpErrors.badRequest(`"${field}" must be true or false.`);
  return value;
}

/** Key values chosen by the caller end up in an Authorization header: visible ASCII, no spaces. */
const KEY_VALUE = /^[\x21-\x7e]{1,256}$/;

function optionalKey(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || !KEY_VALUE.test(value)) {
    // Never echo the value: it is a secret.
    throw httpErrors.badRequest(`"${field}" must be 1 to 256 visible ASCII characters without spaces.`);
  }
  return value;
}

/** The auth rules. Throws a 400 naming the rule. `keyAuthDefaulted` words the AKS default case. */
function checkAuthRules(
  computeType: V1ComputeType,
  authEnabled: boolean,
  aadAuthEnabled: boolean,
  context: { service?: string; keyAuthDefaulted?: boolean; update?: boolean } = {},
): void {
  if (computeType === "ACI" && aadAuthEnabled) {
    throw httpErrors.ruleViolation(
      "TokenAuthNotSupportedOnACI",
      "Token authentication is not supported on ACI services (aadAuthEnabled must be false). " +
        "Use key authentication (authEnabled: true) on ACI, or deploy to AKS for token authentication.",
    );
  }
  if (authEnabled && aadAuthEnabled) {
    const message = context.keyAuthDefaulted
      ? "Key and token authentication cannot both be enabled: key authentication is on by default on AKS, " +
        "so send authEnabled: false together with aadAuthEnabled: true."
      : context.update
        ? `Key and token authentication cannot both be enabled on service '${context.service}': ` +
          "to switch to token auth send /authEnabled false together with /aadAuthEnabled true (and the reverse to switch back)."
        : "Key and token authentication cannot both be enabled; set authEnabled or aadAuthEnabled to false.";
    throw httpErrors.ruleViolation("KeyAndTokenAuthExclusive", message);
  }
}

function checkModelIds(body: Record<string, unknown>): string[] {
  const request = body["environmentImageRequest"];
  if (!isPlainObject(request)) return [];
  const ids = request["modelIds"] ?? [];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
    throw httpErrors.badRequest('"environmentImageRequest.modelIds" must be an array of "name:version" strings.');
  }
  for (const id of ids as string[]) {
    if (id !== EMULATOR_MODEL) {
      throw httpErrors.badRequest(`Model '${id.slice(0, 200)}' was not found in the workspace (the emulator has ${EMULATOR_MODEL}).`, "ModelNotFound");
    }
  }
  return [...(ids as string[])];
}

/** Assets that point at aml://artifact/... must have been uploaded (metadata call + blob PUT). */
function checkAssets(body: Record<string, unknown>, state: EmulatorState): void {
  const request = body["environmentImageRequest"];
  if (!isPlainObject(request)) return;
  const assets = request["assets"];
  if (assets === undefined || assets === null) return;
  if (!Array.isArray(assets)) throw httpErrors.badRequest('"environmentImageRequest.assets" must be an array.');
  const ids: string[] = [];
  for (const asset of assets) {
    if (!isPlainObject(asset) || typeof asset["url"] !== "string" || typeof asset["id"] !== "string") {
      throw httpErrors.badRequest('Each "environmentImageRequest.assets" entry needs string "id" and "url".');
    }
    ids.push(asset["id"]);
    const url = asset["url"];
    if (url.startsWith("aml://artifact/")) {
      const artifactId = url.slice("aml://artifact/".length);
      if (state.artifacts[artifactId]?.blob == null) {
        throw httpErrors.badRequest(
          `Asset '${asset["id"].slice(0, 200)}' (${url.slice(0, 300)}) was never uploaded: create it with the artifact batch/metadata call and PUT its content to the contentUri first.`,
          "AssetNotFound",
        );
      }
    }
  }
  const driver = request["driverProgram"];
  if (typeof driver === "string" && ids.length > 0 && !ids.includes(driver)) {
    throw httpErrors.badRequest(`"driverProgram" '${driver.slice(0, 200)}' is not the id of one of the assets.`);
  }
}

function mergeSettings(computeType: V1ComputeType, body: Record<string, unknown>, base: Record<string, unknown>): Record<string, unknown> {
  const settings: Record<string, unknown> = { ...base };
  for (const field of SETTINGS_FIELDS[computeType]) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (OBJECT_SETTINGS.has(field)) {
      if (!isPlainObject(value)) throw httpErrors.badRequest(`"${field}" must be an object.`);
      const current = isPlainObject(settings[field]) ? (settings[field] as Record<string, unknown>) : {};
      const merged: Record<string, unknown> = { ...current };
      for (const [k, v] of Object.entries(value)) if (v !== null) merged[k] = v;
      settings[field] = merged;
    } else {
      settings[field] = value;
    }
  }
  const crr = settings["containerResourceRequirements"];
  if (isPlainObject(crr)) {
    for (const k of ["cpu", "memoryInGB", "cpuLimit", "memoryInGBLimit", "gpu"]) {
      const v = crr[k];
      if (v !== undefined && v !== null && (typeof v !== "number" || !(v >= 0))) {
        throw httpErrors.badRequest(`"containerResourceRequirements.${k}" must be a non-negative number.`);
      }
    }
  }
  // Autoscale is on unless a fixed replica count was given (az ml deploy-config defaults).
  if (computeType === "AKS" && typeof body["numReplicas"] === "number" && body["autoScaler"] == null && isPlainObject(settings["autoScaler"])) {
    settings["autoScaler"] = { ...(settings["autoScaler"] as Record<string, unknown>), autoscaleEnabled: false };
  }
  return settings;
}

function parseCreate(body: Record<string, unknown>, deps: RouteDeps, state: EmulatorState): CreateSpec {
  const name = body["name"];
  if (typeof name !== "string" || name.length < 3 || name.length > 32 || !SERVICE_NAME.test(name)) {
    throw httpErrors.badRequest(
      '"name" must be 3 to 32 characters: lower-case letters, digits and dashes, starting with a letter and not ending with a dash.',
      "InvalidServiceName",
    );
  }
  const rawType = body["computeType"];
  const computeType = typeof rawType === "string" ? (rawType.toUpperCase() as V1ComputeType) : undefined;
  if (computeType !== "ACI" && computeType !== "AKS") {
    throw httpErrors.badRequest('"computeType" must be "ACI" or "AKS" (the emulator does not emulate other targets).');
  }
  const authEnabledIn = optionalBoolean(body["authEnabled"], "authEnabled");
  const aadIn = optionalBoolean(body["aadAuthEnabled"], "aadAuthEnabled");
  const authEnabled = authEnabledIn ?? computeType === "AKS";
  const aadAuthEnabled = aadIn ?? false;
  checkAuthRules(computeType, authEnabled, aadAuthEnabled, { keyAuthDefaulted: authEnabledIn === undefined });

  let computeName: string | null = null;
  if (computeType === "AKS") {
    const compute = body["computeName"];
    if (typeof compute !== "string" || compute === "") {
      throw httpErrors.badRequest('"computeName" (the AKS compute target) is required for AKS services.');
    }
    if (compute.toLowerCase() !== deps.workspace.aksCompute) {
      throw httpErrors.badRequest(
        `Compute target '${compute.slice(0, 100)}' was not found in the workspace (the emulator has '${deps.workspace.aksCompute}').`,
        "ComputeNotFound",
      );
    }
    computeName = deps.workspace.aksCompute;
  }
  const description = body["description"];
  if (description !== undefined && description !== null && typeof description !== "string") {
    throw httpErrors.badRequest('"description" must be a string or null.');
  }
  const keysIn = body["keys"];
  if (keysIn !== undefined && keysIn !== null && !isPlainObject(keysIn)) {
    throw httpErrors.badRequest('"keys" must be {"primaryKey": ..., "secondaryKey": ...}.');
  }
  const keys = {
    primaryKey: optionalKey(isPlainObject(keysIn) ? keysIn["primaryKey"] : null, "keys.primaryKey"),
    secondaryKey: optionalKey(isPlainObject(keysIn) ? keysIn["secondaryKey"] : null, "keys.secondaryKey"),
  };
  const request = body["environmentImageRequest"];
  if (!isPlainObject(request)) {
    throw httpErrors.badRequest('"environmentImageRequest" is required: the models, driver program and assets to deploy.');
  }
  const modelIds = checkModelIds(body);
  checkAssets(body, state);
  const location = body["location"];
  const overwrite = optionalBoolean(body["overwrite"], "overwrite") ?? false;
  return {
    name,
    computeType,
    computeName,
    description: typeof description === "string" ? description : null,
    kvTags: stringMap(body["kvTags"], "kvTags"),
    properties: stringMap(body["properties"], "properties"),
    authEnabled,
    aadAuthEnabled,
    keys,
    settings: mergeSettings(computeType, body, defaultV1Settings(computeType)),
    environmentImageRequest: request,
    modelIds,
    location: typeof location === "string" && location !== "" ? location : null,
    overwrite,
  };
}

function runningOperation(state: EmulatorState, record: V1ServiceRecord): OperationRecord | undefined {
  const op = record.operationId === null ? undefined : state.operations[record.operationId];
  return op?.status === "Running" ? op : undefined;
}

function assertNotBusy(state: EmulatorState, record: V1ServiceRecord): void {
  const op = runningOperation(state, record);
  if (op !== undefined) {
    throw httpErrors.conflict(
      `Service '${record.name}' is still in state ${record.state} (operation ${op.id} is running); wait for it to finish and retry.`,
    );
  }
}

interface PatchOp {
  op: "add" | "replace" | "remove";
  path: string[];
  value?: unknown;
}

function parsePatch(ctx: RequestContext): PatchOp[] {
  if (mediaType(ctx) !== "application/json-patch+json") {
    throw httpErrors.unsupportedMediaType(
      "PATCH needs 'Content-Type: application/json-patch+json' with a JSON Patch array, e.g. " +
        '[{"op":"replace","path":"/authEnabled","value":true}].',
    );
  }
  return validatePatchList(ctx.json());
}

function validatePatchList(value: unknown): PatchOp[] {
  if (!Array.isArray(value)) throw httpErrors.badRequest("The PATCH body must be a JSON Patch array.");
  if (value.length === 0) throw httpErrors.badRequest("No parameters provided to update.");
  return value.map((entry, i) => {
    if (!isPlainObject(entry)) throw httpErrors.badRequest(`JSON Patch operation #${i + 1} must be an object.`);
    const op = entry["op"];
    if (op !== "add" && op !== "replace" && op !== "remove") {
      throw httpErrors.badRequest(`JSON Patch operation #${i + 1}: op must be "add", "replace" or "remove".`);
    }
    const path = entry["path"];
    if (typeof path !== "string" || !path.startsWith("/") || path.length < 2) {
      throw httpErrors.badRequest(`JSON Patch operation #${i + 1}: "path" must be a JSON Pointer such as "/authEnabled".`);
    }
    if (op !== "remove" && !("value" in entry)) {
      throw httpErrors.badRequest(`JSON Patch operation #${i + 1}: "${op}" needs a "value".`);
    }
    const segments = path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    return { op, path: segments, value: entry["value"] };
  });
}

/** The editable view of a service that JSON Patch paths address. */
interface EditableService {
  description: string | null;
  kvTags: Record<string, string>;
  properties: Record<string, string>;
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  environmentImageRequest: unknown;
  settings: Record<string, unknown>;
}

function applyPatch(record: V1ServiceRecord, ops: PatchOp[]): EditableService {
  const doc: Record<string, unknown> = {
    description: record.description,
    kvTags: structuredClone(record.kvTags),
    properties: structuredClone(record.properties),
    authEnabled: record.authEnabled,
    aadAuthEnabled: record.aadAuthEnabled,
    environmentImageRequest: structuredClone(record.environmentImageRequest),
    ...structuredClone({ ...defaultV1Settings(record.computeType), ...record.settings }),
  };
  const editable = new Set([
    "description",
    "kvTags",
    "properties",
    "authEnabled",
    "aadAuthEnabled",
    "environmentImageRequest",
    ...SETTINGS_FIELDS[record.computeType],
  ]);
  for (const op of ops) {
    const [head, ...rest] = op.path;
    if (head === undefined || !editable.has(head)) {
      const pointer = "/" + op.path.join("/");
      throw httpErrors.badRequest(
        head === "aadAuthEnabled"
          ? "Token authentication (/aadAuthEnabled) does not exist on ACI services."
          : `The path '${pointer.slice(0, 200)}' cannot be changed with PATCH (keys change through regenerateKeys).`,
      );
    }
    let parent: Record<string, unknown> | unknown[] = doc;
    const keys = [head, ...rest];
    for (const key of keys.slice(0, -1)) {
      const next: unknown = Array.isArray(parent) ? parent[Number(key)] : parent[key];
      if (next === null || typeof next !== "object") {
        throw httpErrors.badRequest(`The path '/${op.path.join("/").slice(0, 200)}' does not exist.`);
      }
      parent = next as Record<string, unknown> | unknown[];
    }
    const last = keys[keys.length - 1]!;
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) {
        throw httpErrors.badRequest(`The array index in '/${op.path.join("/").slice(0, 200)}' is out of range.`);
      }
      if (op.op === "remove") parent.splice(index, 1);
      else if (op.op === "add") parent.splice(index, 0, structuredClone(op.value));
      else parent[index] = structuredClone(op.value);
    } else if (op.op === "remove") {
      if (!(last in parent)) throw httpErrors.badRequest(`The path '/${op.path.join("/").slice(0, 200)}' does not exist.`);
      delete parent[last];
    } else {
      parent[last] = structuredClone(op.value);
    }
  }
  if (typeof doc["authEnabled"] !== "boolean") throw httpErrors.badRequest('"/authEnabled" must be true or false.');
  if (typeof doc["aadAuthEnabled"] !== "boolean") throw httpErrors.badRequest('"/aadAuthEnabled" must be true or false.');
  const description = doc["description"];
  if (description !== null && description !== undefined && typeof description !== "string") {
    throw httpErrors.badRequest('"/description" must be a string or null.');
  }
  const settings: Record<string, unknown> = {};
  for (const field of SETTINGS_FIELDS[record.computeType]) if (field in doc) settings[field] = doc[field];
  for (const field of OBJECT_SETTINGS) {
    if (field in settings && settings[field] !== null && !isPlainObject(settings[field])) {
      throw httpErrors.badRequest(`"/${field}" must be an object.`);
    }
  }
  return {
    description: typeof description === "string" ? description : null,
    kvTags: stringMap(doc["kvTags"], "kvTags"),
    properties: stringMap(doc["properties"], "properties"),
    authEnabled: doc["authEnabled"],
    aadAuthEnabled: doc["aadAuthEnabled"],
    environmentImageRequest: doc["environmentImageRequest"],
    settings,
  };
}

/** "Primary"/"Secondary" in any case, or the swagger's integers 0/1. */
function parseKeyType(value: unknown): "Primary" | "Secondary" {
  if (value === 0 || value === "0") return "Primary";
  if (value === 1 || value === "1") return "Secondary";
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    if (lower === "primary") return "Primary";
    if (lower === "secondary") return "Secondary";
  }
  if (value === undefined || value === null) {
    throw httpErrors.badRequest('"keyType" is required: "Primary" or "Secondary".');
  }
  throw httpErrors.badRequest('Invalid "keyType"; valid values are "Primary" and "Secondary".');
}

function event(at: number, text: string): string {
  return `${new Date(at).toISOString()} ${text}`;
}

function pushEvent(record: V1ServiceRecord, line: string): void {
  record.events.push(line);
  if (record.events.length > MAX_APPENDED_ITEMS) record.events.splice(0, record.events.length - MAX_APPENDED_ITEMS);
}

// ---------------------------------------------------------------------------------------------
// Routes

export function mmsRoutes(deps: RouteDeps): EmulatorRoute[] {
  const svc = (suffix: string) => new RegExp(`^${MMS_PREFIX}/services/(?<name>[^/]+)${suffix}$`);
  const workspacePath = () => `${deps.baseUrl()}/modelmanagement/v1.0${deps.workspace.armId()}`;
  const operationLocation = (id: string) => `${workspacePath()}/operations/${id}`;

  const findService = (ctx: RequestContext): V1ServiceRecord => {
    deps.workspace.assert(ctx.params);
    const name = ctx.params["name"] ?? "";
    const record = deps.store.state.v1Services[name];
    if (record === undefined) {
      throw httpErrors.notFound(`No service named '${name.slice(0, 100)}' exists in workspace '${deps.workspace.name}'.`);
    }
    return record;
  };

  const accepted = (op: OperationRecord): RouteResult => ({
    status: 202,
    headers: { "operation-location": operationLocation(op.id) },
    body: { operationId: op.id },
  });

  /** Runs `check`, turning a factory error into the validate endpoints' 200 {error:{...}} answer. */
  const validateAnswer = (check: () => void): RouteResult => {
    try {
      check();
      return { status: 200, body: {} };
    } catch (err) {
      if (err instanceof EmulatorHttpError && err.status < 500) {
        return { status: 200, body: { error: { code: err.code, message: err.message } } };
      }
      throw err;
    }
  };

  const createServiceRecord = (spec: CreateSpec, existing: V1ServiceRecord | undefined, at: number): V1ServiceRecord => {
    const iso = new Date(at).toISOString();
    return {
      name: spec.name,
      id: existing?.id ?? randomUUID(),
      computeType: spec.computeType,
      computeName: spec.computeName,
      description: spec.description,
      kvTags: spec.kvTags,
      properties: spec.properties,
      authEnabled: spec.authEnabled,
      aadAuthEnabled: spec.aadAuthEnabled,
      keys: {
        primaryKey: spec.keys.primaryKey ?? existing?.keys.primaryKey ?? generateServiceKey(),
        secondaryKey: spec.keys.secondaryKey ?? existing?.keys.secondaryKey ?? generateServiceKey(),
      },
      state: "Transitioning",
      ready: existing?.ready ?? false,
      createdTime: existing?.createdTime ?? iso,
      updatedTime: iso,
      location: spec.location ?? deps.workspace.region,
      settings: spec.settings,
      environmentImageRequest: spec.environmentImageRequest,
      modelIds: spec.modelIds,
      operationId: null,
      events: [...(existing?.events ?? []), event(at, `deployment of ${spec.name} (${spec.computeType}) started; state Transitioning`)],
    };
  };

  return [
    // --- services collection -----------------------------------------------------------------
    {
      method: "GET",
      pattern: new RegExp(`^${MMS_PREFIX}/services$`),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        deps.workspace.assert(ctx.params);
        await deps.operations.settleDue();
        const state = deps.store.state;
        const q = ctx.query;
        const computeType = q.get("computeType")?.toUpperCase();
        const modelName = q.get("modelName");
        const modelId = q.get("modelId");
        const tagFilters = (q.get("tags") ?? "").split(",").filter((t) => t !== "");
        const propFilters = (q.get("properties") ?? "").split(",").filter((t) => t !== "");
        const matchesKv = (map: Record<string, string>, filter: string) => {
          const eq = filter.indexOf("=");
          return eq === -1 ? filter in map : map[filter.slice(0, eq)] === filter.slice(eq + 1);
        };
        const services = Object.values(state.v1Services)
          .filter((s) => computeType === undefined || s.computeType === computeType)
          .filter((s) => modelId === null || s.modelIds.includes(modelId))
          .filter((s) => modelName === null || s.modelIds.some((id) => id.split(":")[0] === modelName))
          .filter((s) => tagFilters.every((f) => matchesKv(s.kvTags, f)))
          .filter((s) => propFilters.every((f) => matchesKv(s.properties, f)))
          .sort((a, b) => b.updatedTime.localeCompare(a.updatedTime) || a.name.localeCompare(b.name));
        const count = Number(q.get("count") ?? "0");
        const skip = Number(q.get("$skipToken") ?? "0");
        let page = services;
        let nextLink: string | undefined;
        if (Number.isInteger(count) && count > 0) {
          const start = Number.isInteger(skip) && skip > 0 ? skip : 0;
          page = services.slice(start, start + count);
          if (start + count < services.length) {
            const next = new URLSearchParams(q);
            next.set("$skipToken", String(start + count));
            nextLink = `${workspacePath()}/services?${next.toString()}`;
          }
        }
        const base = deps.baseUrl();
        return {
          status: 200,
          body: { value: page.map((s) => v1ServicePayload(s, base, state)), ...(nextLink ? { nextLink } : {}) },
        };
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${MMS_PREFIX}/services$`),
      auth: "arm",
      errorShape: "mms",
      maxBodyBytes: 4 * 1024 * 1024,
      handle: async (ctx) => {
        deps.workspace.assert(ctx.params);
        await deps.operations.settleDue();
        const body = jsonObject(ctx, "a CreateServiceRequest");
        const spec = parseCreate(body, deps, deps.store.state);
        const op = await deps.store.update((draft) => {
          const existing = draft.v1Services[spec.name];
          if (existing !== undefined) {
            if (!spec.overwrite) {
              throw httpErrors.conflict(
                `A service named '${spec.name}' already exists in workspace '${deps.workspace.name}'; delete it first or deploy with overwrite.`,
              );
            }
            assertNotBusy(draft, existing);
          } else if (Object.keys(draft.v1Services).length >= MAX_SERVICES) {
            throw httpErrors.conflict(`The emulator holds at most ${MAX_SERVICES} services; delete some first.`, "QuotaExceeded");
          }
          const at = deps.now();
          const record = createServiceRecord(spec, existing, at);
          draft.v1Services[spec.name] = record;
          const path = ["v1Services", spec.name];
          const done = at + Math.max(0, deps.options.deployDelayMs);
          const onComplete: StatePatch[] = [
            { op: "set", path: [...path, "state"], value: "Healthy" },
            { op: "set", path: [...path, "ready"], value: true },
            { op: "set", path: [...path, "updatedTime"], value: new Date(done).toISOString() },
            { op: "append", path: [...path, "events"], value: event(done, `deployment of ${spec.name} succeeded; state Healthy`) },
          ];
          const started = deps.operations.begin(draft, { api: "v1", operationType: "Deploy", target: spec.name, onComplete });
          draft.v1Services[spec.name]!.operationId = started.id;
          return started;
        });
        return accepted(op);
      },
    },
    // --- validation (SDK pre-flight; v1-contract.md §3.11) -------------------------------------
    {
      method: "POST",
      pattern: new RegExp(`^${MMS_PREFIX}/services/validate/name/(?<name>[^/]+)$`),
      auth: "arm",
      errorShape: "mms",
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const name = ctx.params["name"] ?? "";
        return validateAnswer(() => {
          if (name.length < 3 || name.length > 32 || !SERVICE_NAME.test(name)) {
            throw httpErrors.badRequest(
              "Service names are 3 to 32 characters: lower-case letters, digits and dashes, starting with a letter and not ending with a dash.",
              "InvalidServiceName",
            );
          }
          if (deps.store.state.v1Services[name] !== undefined) {
            throw httpErrors.conflict(`A service named '${name}' already exists in workspace '${deps.workspace.name}'.`);
          }
        });
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${MMS_PREFIX}/services/validate/resource$`),
      auth: "arm",
      errorShape: "mms",
      maxBodyBytes: 4 * 1024 * 1024,
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const body = jsonObject(ctx, "a CreateServiceRequest");
        return validateAnswer(() => {
          parseCreate(body, deps, deps.store.state);
        });
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${MMS_PREFIX}/services/validate$`),
      auth: "arm",
      errorShape: "mms",
      maxBodyBytes: 4 * 1024 * 1024,
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const body = jsonObject(ctx, '{"type": "Create|Update|Delete", "serviceName", "createRequest", "updateRequest"}');
        const type = body["type"];
        const name = body["serviceName"];
        return validateAnswer(() => {
          const state = deps.store.state;
          if (type === "Create") {
            if (!isPlainObject(body["createRequest"])) throw httpErrors.badRequest('"createRequest" is required for type Create.');
            const spec = parseCreate(body["createRequest"], deps, state);
            const existing = state.v1Services[spec.name];
            if (existing !== undefined && !spec.overwrite) {
              throw httpErrors.conflict(`A service named '${spec.name}' already exists in workspace '${deps.workspace.name}'.`);
            }
          } else if (type === "Update" || type === "Delete") {
            const record = typeof name === "string" ? state.v1Services[name] : undefined;
            if (record === undefined) throw httpErrors.notFound(`No service named '${String(name).slice(0, 100)}' exists.`);
            if (type === "Update") {
              const result = applyPatch(record, validatePatchList(body["updateRequest"]));
              checkAuthRules(record.computeType, result.authEnabled, result.aadAuthEnabled, { service: record.name, update: true });
            }
          } else {
            throw httpErrors.badRequest('"type" must be "Create", "Update" or "Delete".');
          }
        });
      },
    },
    // --- one service ---------------------------------------------------------------------------
    {
      method: "GET",
      pattern: svc(""),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        await deps.operations.settleDue();
        const record = findService(ctx);
        return { status: 200, body: v1ServicePayload(record, deps.baseUrl(), deps.store.state) };
      },
    },
    {
      method: "PATCH",
      pattern: svc(""),
      auth: "arm",
      errorShape: "mms",
      maxBodyBytes: 4 * 1024 * 1024,
      handle: async (ctx) => {
        await deps.operations.settleDue();
        const current = findService(ctx);
        const ops = parsePatch(ctx);
        const op = await deps.store.update((draft) => {
          const record = draft.v1Services[current.name];
          if (record === undefined) throw httpErrors.notFound(`No service named '${current.name}' exists.`);
          assertNotBusy(draft, record);
          const next = applyPatch(record, ops);
          checkAuthRules(record.computeType, next.authEnabled, next.aadAuthEnabled, { service: record.name, update: true });
          const at = deps.now();
          const done = at + Math.max(0, deps.options.deployDelayMs);
          const path = ["v1Services", record.name];
          const changes: string[] = [];
          if (next.authEnabled !== record.authEnabled) changes.push(`key auth ${next.authEnabled ? "on" : "off"}`);
          if (next.aadAuthEnabled !== record.aadAuthEnabled) changes.push(`token auth ${next.aadAuthEnabled ? "on" : "off"}`);
          const onComplete: StatePatch[] = [
            { op: "set", path: [...path, "authEnabled"], value: next.authEnabled },
            { op: "set", path: [...path, "aadAuthEnabled"], value: next.aadAuthEnabled },
            { op: "set", path: [...path, "description"], value: next.description },
            { op: "set", path: [...path, "kvTags"], value: next.kvTags },
            { op: "set", path: [...path, "properties"], value: next.properties },
            { op: "set", path: [...path, "environmentImageRequest"], value: next.environmentImageRequest },
            { op: "set", path: [...path, "settings"], value: next.settings },
            { op: "set", path: [...path, "state"], value: "Healthy" },
            { op: "set", path: [...path, "updatedTime"], value: new Date(done).toISOString() },
            {
              op: "append",
              path: [...path, "events"],
              value: event(done, `update succeeded${changes.length > 0 ? ` (${changes.join(", ")})` : ""}; state Healthy`),
            },
          ];
          record.state = "Transitioning";
          pushEvent(record, event(at, "update started; state Transitioning"));
          const started = deps.operations.begin(draft, { api: "v1", operationType: "Update", target: record.name, onComplete });
          record.operationId = started.id;
          return started;
        });
        return accepted(op);
      },
    },
    {
      method: "DELETE",
      pattern: svc(""),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        deps.workspace.assert(ctx.params);
        const name = ctx.params["name"] ?? "";
        const deleted = await deps.store.update((draft) => {
          if (draft.v1Services[name] === undefined) return false;
          delete draft.v1Services[name];
          const at = new Date(deps.now()).toISOString();
          // Pending operations must not patch a later service of the same name.
          for (const op of Object.values(draft.operations)) {
            if (op.api === "v1" && op.target === name && op.status === "Running") {
              op.status = "Failed";
              op.endedAt = at;
              op.error = { code: "Cancelled", message: `Service '${name}' was deleted.` };
              op.onComplete = [];
            }
          }
          return true;
        });
        // 204 = "No service with name ... found to delete" for the SDK (v1-contract.md §3.9).
        return deleted ? { status: 200, body: {} } : { status: 204 };
      },
    },
    // --- keys and tokens ----------------------------------------------------------------------
    {
      method: "POST",
      pattern: svc("/listkeys"),
      auth: "arm",
      errorShape: "mms",
      // Keys exist whatever the auth mode, so this works even while key auth is off.
      handle: (ctx) => {
        const record = findService(ctx);
        return { status: 200, body: { primaryKey: record.keys.primaryKey, secondaryKey: record.keys.secondaryKey } };
      },
    },
    {
      method: "POST",
      pattern: svc("/regenerateKeys"),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        const current = findService(ctx);
        const body = jsonObject(ctx, '{"keyType": "Primary" | "Secondary", "keyValue": string | null}');
        const keyType = parseKeyType(body["keyType"]);
        const keyValue = optionalKey(body["keyValue"], "keyValue") ?? generateServiceKey();
        // Applied at once: the old key stops working with this answer.
        const op = await deps.store.update((draft) => {
          const record = draft.v1Services[current.name];
          if (record === undefined) throw httpErrors.notFound(`No service named '${current.name}' exists.`);
          if (keyType === "Primary") record.keys.primaryKey = keyValue;
          else record.keys.secondaryKey = keyValue;
          const at = deps.now();
          record.updatedTime = new Date(at).toISOString();
          pushEvent(record, event(at, `${keyType.toLowerCase()} key regenerated`));
          return deps.operations.begin(draft, { api: "v1", operationType: "RegenerateKeys", target: record.name, delayMs: 0 });
        });
        return accepted(op);
      },
    },
    {
      method: "POST",
      pattern: svc("/token"),
      auth: "arm",
      errorShape: "mms",
      handle: (ctx) => {
        const record = findService(ctx);
        // What real MMS answers here is unknown [?] (v1-contract.md §10.1); a 400 that says what to
        // do is what a user needs.
        if (record.computeType === "ACI") {
          throw httpErrors.ruleViolation(
            "TokenAuthNotSupportedOnACI",
            `Service '${record.name}' is an ACI service; ACI services do not support token authentication. Use its keys (listkeys) instead.`,
          );
        }
        if (!record.aadAuthEnabled) {
          throw httpErrors.ruleViolation(
            "TokenAuthNotEnabled",
            `Token authentication is not enabled on service '${record.name}'. Enable it with PATCH /aadAuthEnabled true (and /authEnabled false), or use its keys.`,
          );
        }
        const caller = deps.callerOf(ctx);
        const token = deps.tokens.mintServiceToken("v1", record.name, caller?.subject ?? "unknown");
        return {
          status: 201,
          headers: { "cache-control": "no-store" },
          body: {
            accessToken: token.accessToken,
            tokenType: token.tokenType,
            expiryOn: token.expiryOn,
            refreshAfter: token.refreshAfter,
          },
        };
      },
    },
    {
      method: "GET",
      pattern: svc("/logs"),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        await deps.operations.settleDue();
        const record = findService(ctx);
        const tail = Number(ctx.query.get("tail") ?? "5000");
        const lines = Number.isInteger(tail) && tail >= 0 ? record.events.slice(-tail || record.events.length) : record.events;
        return { status: 200, body: { content: lines.length > 0 ? lines.join("\n") + "\n" : "" } };
      },
    },
    // --- operations ---------------------------------------------------------------------------
    {
      method: "GET",
      pattern: new RegExp(`^${MMS_PREFIX}/operations/(?<id>[^/]+)$`),
      auth: "arm",
      errorShape: "mms",
      handle: async (ctx) => {
        deps.workspace.assert(ctx.params);
        const op = await deps.operations.get(ctx.params["id"] ?? "");
        if (op === undefined || op.api !== "v1") {
          throw httpErrors.notFound(`No operation with id '${(ctx.params["id"] ?? "").slice(0, 100)}' exists.`);
        }
        return { status: 200, body: operationPayload(op, deps.workspace.armId()) };
      },
    },
    // --- models -------------------------------------------------------------------------------
    {
      method: "GET",
      pattern: new RegExp(`^${MMS_PREFIX}/models$`),
      auth: "arm",
      errorShape: "mms",
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const name = ctx.query.get("name");
        const count = Number(ctx.query.get("count") ?? "0");
        let models = name === null || name === SEEDED_MODEL.name ? [modelPayload()] : [];
        if (Number.isInteger(count) && count > 0) models = models.slice(0, count);
        return { status: 200, body: { value: models } };
      },
    },
    {
      method: "GET",
      pattern: new RegExp(`^${MMS_PREFIX}/models/(?<id>[^/]+)$`),
      auth: "arm",
      errorShape: "mms",
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const id = ctx.params["id"] ?? "";
        if (id !== EMULATOR_MODEL) {
          throw httpErrors.notFound(`Model with id '${id.slice(0, 200)}' not found in workspace '${deps.workspace.name}'.`, "ModelNotFound");
        }
        return { status: 200, body: modelPayload() };
      },
    },
  ];
}
