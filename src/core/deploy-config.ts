// Typed deployment specs built from flags and the az-compatible --dc / --ic files.
// Pure: no I/O here (file reading happens in the command; this module gets parsed objects).

/** v1 deployment (ACI/AKS). Field names follow the Model Management wire names where they exist. */
export interface V1DeploySpec {
  api: "v1";
  name: string;
  computeType: "ACI" | "AKS";
  /** AKS compute target name (computeName on the wire). */
  computeTarget?: string;
  /** "name:version" ids. */
  models: string[];
  entryScript: string;
  /** Absolute or cwd-relative; uploaded as a .tar.gz with unpack:true. */
  sourceDir?: string;
  /** "name" or "name:version"; absent = no environment (server default). */
  environment?: { name: string; version?: string };
  /** Inline environment object from an --ic file (sent as-is). */
  inlineEnvironment?: Record<string, unknown>;
  cpu?: number;
  memoryGb?: number;
  /** Final, rule-checked flags. authEnabled/aadAuthEnabled are always resolved (defaults applied). */
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  keys?: { primaryKey?: string; secondaryKey?: string };
  /** Pass-through extras from --dc (autoScaler, numReplicas, location, ...), already validated for type. */
  extra: Record<string, unknown>;
  description?: string;
  overwrite?: boolean;
}

/** v2 online endpoint create/update (deployments under it are out of scope). */
export interface V2DeploySpec {
  api: "v2";
  name: string;
  authMode: "key" | "aml_token" | "aad_token";
  /** ARM id of a Kubernetes compute; absent = managed endpoint. */
  compute?: string;
  description?: string;
  location?: string;
}

// ---------------------------------------------------------------------------------------------
// Builders: flags + parsed --dc / --ic files → one validated spec.

import { UsageError } from "../errors.js";
import { didYouMean, isPlainObject, quoteInput } from "./text.js";
import {
  assertV2ModeAllowed,
  normalizeV2AuthMode,
  parseV1AuthMode,
  resolveV1DeployAuth,
  v1ModeToFlags,
  type RuleSource,
  type V1AuthRequest,
} from "./rules.js";

/** The CLI flags of `amlauth deploy` for v1 (numbers may still be strings from the parser). */
export interface V1DeployFlags {
  computeType?: string;
  computeTarget?: string;
  models?: string[];
  entryScript?: string;
  sourceDir?: string;
  /** "NAME" or "NAME:VERSION". */
  environment?: string;
  cpu?: number | string;
  memoryGb?: number | string;
  /** key | token | none (aml_token = token). */
  auth?: string;
  description?: string;
  overwrite?: boolean;
}

export interface V1DeployInput {
  name?: string;
  flags: V1DeployFlags;
  /** Parsed --dc file (parseStructuredText), if one was given. */
  dc?: unknown;
  /** Parsed --ic file, if one was given. */
  ic?: unknown;
  /** Paths as the user typed them, used in messages. */
  dcPath?: string;
  icPath?: string;
  /** Optional existence check ("file" or "dir"), relative paths against the caller's cwd. */
  exists?: (path: string, kind: "file" | "dir") => boolean;
}

/** v1 service names (v1-contract.md §3.3): lowercase, 3–32, starts with a letter. */
export const V1_SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** v2 endpoint names: letters, digits, hyphens, 3–32, starts with a letter. */
export const V2_ENDPOINT_NAME = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:([1-9][0-9]{0,8})$/;
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const COMPUTE_NAME = /^[A-Za-z][A-Za-z0-9-]{1,31}$/;
const K8S_NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PY_KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except finally for from " +
    "global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "),
);
// ACI's standard per-container-group ceiling; AKS is bounded by the node size, so only sanity there.
const LIMITS = { ACI: { cpu: 4, memoryGb: 16 }, AKS: { cpu: 64, memoryGb: 512 } } as const;

type FieldKind = "bool" | "posNumber" | "posInt" | "nonNegInt" | "percent" | "string";
interface FieldSpec {
  kind: FieldKind | { object: Record<string, FieldSpec> };
  /** Compute types that accept it; both when absent. */
  only?: "ACI" | "AKS";
  /** Recognised but refused (legacy or out of scope); the text says what to do instead. */
  unsupported?: string;
}

const f = (kind: FieldSpec["kind"], only?: "ACI" | "AKS", unsupported?: string): FieldSpec => {
  const spec: FieldSpec = { kind };
  if (only !== undefined) spec.only = only;
  if (unsupported !== undefined) spec.unsupported = unsupported;
  return spec;
};
const TLS_UNSUPPORTED = "TLS settings are not supported by amlauth deploy; configure TLS on the service afterwards";

/** az `--dc` keys (v1-deploy.md §6.3). */
const DC_FIELDS: Record<string, FieldSpec> = {
  computeType: f("string"),
  containerResourceRequirements: f({
    object: {
      cpu: f("posNumber"),
      memoryInGB: f("posNumber"),
      cpuLimit: f("posNumber", "AKS"),
      memoryInGBLimit: f("posNumber", "AKS"),
    },
  }),
  gpuCores: f("nonNegInt", "AKS"),
  authEnabled: f("bool"),
  tokenAuthEnabled: f("bool"),
  keys: f({ object: { primaryKey: f("string"), secondaryKey: f("string") } }),
  appInsightsEnabled: f("bool"),
  location: f("string", "ACI"),
  sslEnabled: f("bool", "ACI", TLS_UNSUPPORTED),
  sslCertificate: f("string", "ACI", TLS_UNSUPPORTED),
  sslKey: f("string", "ACI", TLS_UNSUPPORTED),
  cname: f("string", "ACI", TLS_UNSUPPORTED),
  dnsNameLabel: f("string", "ACI"),
  vaultBaseUrl: f("string", "ACI"),
  keyName: f("string", "ACI"),
  keyVersion: f("string", "ACI"),
  vnetName: f("string", "ACI"),
  subnetName: f("string", "ACI"),
  autoScaler: f(
    {
      object: {
        autoscaleEnabled: f("bool"),
        minReplicas: f("posInt"),
        maxReplicas: f("posInt"),
        refreshPeriodInSeconds: f("posInt"),
        targetUtilization: f("percent"),
      },
    },
    "AKS",
  ),
  dataCollection: f({ object: { storageEnabled: f("bool"), eventHubEnabled: f("bool") } }, "AKS"),
  scoringTimeoutMs: f("posInt", "AKS"),
  maxConcurrentRequestsPerContainer: f("posInt", "AKS"),
  maxQueueWaitMs: f("posInt", "AKS"),
  numReplicas: f("posInt", "AKS"),
  livenessProbeRequirements: f(
    {
      object: {
        periodSeconds: f("posInt"),
        initialDelaySeconds: f("nonNegInt"),
        timeoutSeconds: f("posInt"),
        successThreshold: f("posInt"),
        failureThreshold: f("posInt"),
      },
    },
    "AKS",
  ),
  namespace: f("string", "AKS"),
  computeTargetName: f("string", "AKS"),
};

const LEGACY_IC = "legacy image-based deploy settings are not supported; put an `environment` object in the file or use --environment NAME[:VERSION]";
/** az `--ic` keys (v1-deploy.md §6.2). */
const IC_FIELDS: Record<string, FieldSpec> = {
  entryScript: f("string"),
  sourceDirectory: f("string"),
  environment: f({ object: {} }),
  runtime: f("string", undefined, LEGACY_IC),
  condaFile: f("string", undefined, LEGACY_IC),
  extraDockerfileSteps: f("string", undefined, LEGACY_IC),
  enableGpu: f("bool", undefined, LEGACY_IC),
  baseImage: f("string", undefined, LEGACY_IC),
  baseImageRegistry: f("string", undefined, LEGACY_IC),
  cudaVersion: f("string", undefined, LEGACY_IC),
};

/**
 * Checks a parsed file against its field table: unknown keys (with the closest known key), wrong
 * types, settings of the other compute type, refused settings. `null` values count as absent, as
 * the SDK treats them (`"sourceDirectory": null` is a documented idiom). Returns the object with the
 * nulls removed. Values are never quoted in messages: --dc files hold keys.
 */
function checkFields(
  value: unknown,
  fields: Record<string, FieldSpec>,
  file: string,
  compute: "ACI" | "AKS" | undefined,
  prefix = "",
): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new UsageError(`${file}: ${prefix === "" ? "the file must hold an object (key: value pairs)" : `${prefix} must be an object`}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    const spec = fields[key];
    if (spec === undefined) {
      throw new UsageError(`${file}: unknown key ${quoteInput(path, 80)}${didYouMean(key, Object.keys(fields))}`);
    }
    if (raw === null || raw === undefined) continue;
    if (spec.unsupported !== undefined) throw new UsageError(`${file}: ${path}: ${spec.unsupported}`);
    if (spec.only !== undefined && compute !== undefined && spec.only !== compute) {
      throw new UsageError(`${file}: ${path} applies only to ${spec.only} services, not ${compute}`);
    }
    if (typeof spec.kind === "object") {
      // environment: any object (sent inline as-is); others: checked field by field.
      out[key] = Object.keys(spec.kind.object).length === 0
        ? checkObjectOnly(raw, file, path)
        : checkFields(raw, spec.kind.object, file, compute, path);
      continue;
    }
    out[key] = checkScalar(raw, spec.kind, file, path);
  }
  return out;
}

function checkObjectOnly(raw: unknown, file: string, path: string): Record<string, unknown> {
  if (!isPlainObject(raw)) throw new UsageError(`${file}: ${path} must be an object`);
  return raw;
}

function checkScalar(raw: unknown, kind: FieldKind, file: string, path: string): unknown {
  const bad = (what: string): never => {
    throw new UsageError(`${file}: ${path} must be ${what}`);
  };
  switch (kind) {
    case "bool":
      return typeof raw === "boolean" ? raw : bad("true or false");
    case "string":
      return typeof raw === "string" && raw.trim() !== "" ? raw : bad("a non-empty string");
    case "posNumber":
      return typeof raw === "number" && Number.isFinite(raw) && raw > 0 ? raw : bad("a number greater than 0");
    case "posInt":
      return Number.isSafeInteger(raw) && (raw as number) > 0 ? raw : bad("a whole number greater than 0");
    case "nonNegInt":
      return Number.isSafeInteger(raw) && (raw as number) >= 0 ? raw : bad("a whole number (0 or more)");
    case "percent":
      return Number.isSafeInteger(raw) && (raw as number) >= 1 && (raw as number) <= 100 ? raw : bad("a whole number from 1 to 100");
  }
}

function parseComputeType(raw: string, where: string): "ACI" | "AKS" {
  const value = raw.trim().toUpperCase();
  if (value === "ACI" || value === "AKS") return value;
  if (value === "AKSENDPOINT" || value === "LOCAL" || value === "IOT") {
    throw new UsageError(`${where}: compute type ${quoteInput(raw)} is not supported by amlauth; use ACI or AKS`);
  }
  throw new UsageError(`${where}: unknown deployment type ${quoteInput(raw)}; use ACI or AKS`);
}

function parsePositiveNumber(raw: number | string, flag: string): number {
  const n = typeof raw === "number" ? raw : raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a number greater than 0 (got ${quoteInput(String(raw))})`);
  return n;
}

/** Python's rule for the entry script's module name (SDK validate_configuration). */
function checkEntryScript(entryScript: string, sourceDir: string | undefined): void {
  const base = entryScript.split(/[\\/]/).pop() ?? "";
  const stem = base.endsWith(".py") ? base.slice(0, -3) : "";
  if (!base.endsWith(".py") || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(stem) || PY_KEYWORDS.has(stem)) {
    throw new UsageError(
      `invalid entry script name ${quoteInput(base)}: it must end in .py and its name must be a Python identifier (like score.py)`,
    );
  }
  if (sourceDir !== undefined) {
    if (/^([\\/]|[A-Za-z]:)/.test(entryScript) || entryScript.split(/[\\/]/).includes("..")) {
      throw new UsageError("the entry script must be a path inside the source directory (relative, without ..)");
    }
  }
}

function parseEnvironmentRef(raw: string): { name: string; version?: string } {
  const [name = "", version, extra] = raw.trim().split(":");
  if (!ASSET_NAME.test(name) || extra !== undefined || (version !== undefined && !/^[1-9][0-9]{0,8}$/.test(version))) {
    throw new UsageError(`--environment must be NAME or NAME:VERSION with a whole-number version (got ${quoteInput(raw)})`);
  }
  return version === undefined ? { name } : { name, version };
}

function checkV1Name(name: string | undefined): string {
  if (name === undefined || name.trim() === "") {
    throw new UsageError("a service NAME is required (argument, or `service` in the config)");
  }
  if (name.length < 3 || name.length > 32 || !V1_SERVICE_NAME.test(name)) {
    throw new UsageError(
      `invalid service name ${quoteInput(name)}: use 3–32 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    );
  }
  return name;
}

function checkKey(raw: unknown, file: string, which: string): string {
  // Keys go on the wire and later into Authorization headers: printable ASCII, no spaces.
  if (typeof raw !== "string" || !/^[\x21-\x7e]{8,128}$/.test(raw)) {
    throw new UsageError(`${file}: keys.${which} must be 8–128 printable characters without spaces`);
  }
  return raw;
}

/**
 * One validated v1 spec from `deploy` flags and the az-compatible --dc / --ic files.
 * Precedence: flags over files (v1-deploy.md §6.1). One deliberate difference from az: an inline
 * `environment` in --ic together with --environment is an error rather than the file silently winning.
 */
export function buildV1DeploySpec(input: V1DeployInput): V1DeploySpec {
  const { flags } = input;
  const name = checkV1Name(input.name);
  const dcFile = input.dcPath ?? "--dc file";
  const icFile = input.icPath ?? "--ic file";

  // Compute type first: the --dc check needs it to tell ACI-only from AKS-only settings.
  for (const [file, value] of [
    [dcFile, input.dc],
    [icFile, input.ic],
  ] as const) {
    if (value !== undefined && !isPlainObject(value)) throw new UsageError(`${file}: the file must hold an object (key: value pairs)`);
  }
  let computeType: "ACI" | "AKS";
  const dcRawType = isPlainObject(input.dc) ? input.dc["computeType"] : undefined;
  if (typeof dcRawType === "string") parseComputeType(dcRawType, dcFile); // checked even when the flag wins
  if (flags.computeType !== undefined) {
    computeType = parseComputeType(flags.computeType, "--compute-type");
  } else if (typeof dcRawType === "string") {
    computeType = parseComputeType(dcRawType, dcFile);
  } else if (input.dc !== undefined) {
    if (dcRawType !== undefined && dcRawType !== null) throw new UsageError(`${dcFile}: computeType must be ACI or AKS`);
    throw new UsageError(`Need to specify computeType in --deploy-config-file (${dcFile}), or pass --compute-type aci|aks`);
  } else {
    throw new UsageError("specify --compute-type aci|aks (or computeType in a --dc file)");
  }

  const dc = input.dc === undefined ? {} : checkFields(input.dc, DC_FIELDS, dcFile, computeType);
  const ic = input.ic === undefined ? {} : checkFields(input.ic, IC_FIELDS, icFile, computeType);

  // Models: flags only (az has -m / -f; amlauth takes -m NAME:VERSION, repeatable).
  const models = flags.models ?? [];
  if (models.length === 0) throw new UsageError("at least one --model NAME:VERSION is required");
  const seen = new Set<string>();
  for (const model of models) {
    if (!MODEL_ID.test(model)) {
      throw new UsageError(`invalid --model ${quoteInput(model)}: use NAME:VERSION with a whole-number version (like demo-model:1)`);
    }
    if (seen.has(model)) throw new UsageError(`--model ${quoteInput(model)} is given twice`);
    seen.add(model);
  }

  // Entry script and source directory: flags over --ic.
  const entryScript = flags.entryScript ?? (ic["entryScript"] as string | undefined);
  const sourceDir = flags.sourceDir ?? (ic["sourceDirectory"] as string | undefined);
  if (entryScript === undefined || entryScript.trim() === "") {
    throw new UsageError("an entry script is required: pass --entry-script FILE or set entryScript in an --ic file");
  }
  if (sourceDir !== undefined && sourceDir.trim() === "") throw new UsageError("--source-dir must not be empty");
  checkEntryScript(entryScript, sourceDir);
  if (input.exists) {
    if (sourceDir !== undefined && !input.exists(sourceDir, "dir")) {
      throw new UsageError(`source directory ${quoteInput(sourceDir, 120)} does not exist`);
    }
    const scriptPath = sourceDir === undefined ? entryScript : `${sourceDir.replace(/[\\/]+$/, "")}/${entryScript}`;
    if (!input.exists(scriptPath, "file")) {
      throw new UsageError(`entry script ${quoteInput(scriptPath, 120)} does not exist`);
    }
  }

  // Environment: a registered one by name, or an inline object from --ic, not both.
  const inlineEnvironment = ic["environment"] as Record<string, unknown> | undefined;
  if (inlineEnvironment !== undefined && flags.environment !== undefined) {
    throw new UsageError(`both --environment and an environment object in ${icFile} were given; keep one`);
  }
  if (inlineEnvironment !== undefined && (typeof inlineEnvironment["name"] !== "string" || inlineEnvironment["name"] === "")) {
    throw new UsageError(`${icFile}: environment.name must be a non-empty string`);
  }
  const environment = flags.environment === undefined ? undefined : parseEnvironmentRef(flags.environment);

  // Compute target: AKS needs one; ACI has none.
  const computeTarget = flags.computeTarget ?? (dc["computeTargetName"] as string | undefined);
  if (computeType === "AKS") {
    if (computeTarget === undefined) {
      throw new UsageError("AKS deploys need a compute target: pass --compute-target NAME or set computeTargetName in the --dc file");
    }
    if (!COMPUTE_NAME.test(computeTarget)) {
      throw new UsageError(`invalid compute target ${quoteInput(computeTarget)}: 2–32 letters, digits and hyphens, starting with a letter`);
    }
  } else if (flags.computeTarget !== undefined) {
    throw new UsageError("--compute-target applies only to AKS deploys (ACI needs none)");
  }

  // Resources: flags over containerResourceRequirements; bounded per compute type.
  const crr = (dc["containerResourceRequirements"] ?? {}) as Record<string, number>;
  const cpu = flags.cpu !== undefined ? parsePositiveNumber(flags.cpu, "--cpu") : crr["cpu"];
  const memoryGb = flags.memoryGb !== undefined ? parsePositiveNumber(flags.memoryGb, "--memory-gb") : crr["memoryInGB"];
  const limits = LIMITS[computeType];
  if (cpu !== undefined && cpu > limits.cpu) {
    throw new UsageError(`cpu ${cpu} is more than ${computeType} allows (at most ${limits.cpu} cores)`);
  }
  if (memoryGb !== undefined && memoryGb > limits.memoryGb) {
    throw new UsageError(`memory ${memoryGb} GB is more than ${computeType} allows (at most ${limits.memoryGb} GB)`);
  }
  const cpuLimit = crr["cpuLimit"];
  const memoryLimit = crr["memoryInGBLimit"];
  if (cpuLimit !== undefined && cpu !== undefined && cpuLimit < cpu) {
    throw new UsageError(`${dcFile}: containerResourceRequirements.cpuLimit must not be below cpu (${cpu})`);
  }
  if (memoryLimit !== undefined && memoryGb !== undefined && memoryLimit < memoryGb) {
    throw new UsageError(`${dcFile}: containerResourceRequirements.memoryInGBLimit must not be below memoryInGB (${memoryGb})`);
  }

  // Auth: --auth names both flags explicitly; otherwise the file's flags; then the rules.
  let authRequest: V1AuthRequest;
  let authSource: RuleSource;
  if (flags.auth !== undefined) {
    const mode = parseV1AuthMode(flags.auth);
    authRequest = v1ModeToFlags(mode);
    authSource = "flag";
  } else {
    authRequest = {};
    if (dc["authEnabled"] !== undefined) authRequest.authEnabled = dc["authEnabled"] as boolean;
    if (dc["tokenAuthEnabled"] !== undefined) authRequest.tokenAuthEnabled = dc["tokenAuthEnabled"] as boolean;
    authSource = "file";
  }
  const auth = resolveV1DeployAuth(computeType, authRequest, authSource);

  let keys: V1DeploySpec["keys"];
  const dcKeys = dc["keys"] as Record<string, unknown> | undefined;
  if (dcKeys !== undefined && Object.keys(dcKeys).length > 0) {
    if (!auth.authEnabled) {
      throw new UsageError(`${dcFile}: keys are set but key authentication is off; remove them or use key auth (--auth key)`);
    }
    keys = {};
    if (dcKeys["primaryKey"] !== undefined) keys.primaryKey = checkKey(dcKeys["primaryKey"], dcFile, "primaryKey");
    if (dcKeys["secondaryKey"] !== undefined) keys.secondaryKey = checkKey(dcKeys["secondaryKey"], dcFile, "secondaryKey");
    if (keys.primaryKey !== undefined && keys.primaryKey === keys.secondaryKey) {
      throw new UsageError(`${dcFile}: keys.primaryKey and keys.secondaryKey must differ (rotation needs two keys)`);
    }
  }

  // Pass-through extras, in wire names (POST /services). containerResourceRequirements here only
  // carries cpuLimit/memoryInGBLimit/gpu; cpu/memoryInGB travel as spec.cpu/memoryGb.
  const extra: Record<string, unknown> = {};
  const crrExtra: Record<string, unknown> = {};
  if (cpuLimit !== undefined) crrExtra["cpuLimit"] = cpuLimit;
  if (memoryLimit !== undefined) crrExtra["memoryInGBLimit"] = memoryLimit;
  if (dc["gpuCores"] !== undefined) crrExtra["gpu"] = dc["gpuCores"];
  if (Object.keys(crrExtra).length > 0) extra["containerResourceRequirements"] = crrExtra;
  for (const key of [
    "appInsightsEnabled",
    "location",
    "dnsNameLabel",
    "autoScaler",
    "dataCollection",
    "scoringTimeoutMs",
    "maxConcurrentRequestsPerContainer",
    "maxQueueWaitMs",
    "numReplicas",
    "livenessProbeRequirements",
    "namespace",
  ]) {
    if (dc[key] !== undefined) extra[key] = dc[key];
  }
  if (typeof extra["namespace"] === "string" && !K8S_NAMESPACE.test(extra["namespace"])) {
    throw new UsageError(`${dcFile}: namespace must be a Kubernetes namespace name (lowercase letters, digits, hyphens)`);
  }
  const autoScaler = extra["autoScaler"] as Record<string, unknown> | undefined;
  if (autoScaler !== undefined) {
    const min = autoScaler["minReplicas"] as number | undefined;
    const max = autoScaler["maxReplicas"] as number | undefined;
    if (min !== undefined && max !== undefined && min > max) {
      throw new UsageError(`${dcFile}: autoScaler.minReplicas must not be above maxReplicas`);
    }
    if (autoScaler["autoscaleEnabled"] === true && extra["numReplicas"] !== undefined) {
      throw new UsageError(`${dcFile}: numReplicas cannot be set while autoScaler.autoscaleEnabled is true; keep one`);
    }
  }
  const encryption = pick(dc, ["vaultBaseUrl", "keyName", "keyVersion"]);
  if (encryption !== undefined) extra["encryptionProperties"] = encryption;
  const vnet = pick(dc, ["vnetName", "subnetName"]);
  if (vnet !== undefined) extra["vnetConfiguration"] = vnet;

  const spec: V1DeploySpec = {
    api: "v1",
    name,
    computeType,
    models: [...models],
    entryScript,
    authEnabled: auth.authEnabled,
    aadAuthEnabled: auth.aadAuthEnabled,
    extra,
  };
  if (computeType === "AKS" && computeTarget !== undefined) spec.computeTarget = computeTarget;
  if (sourceDir !== undefined) spec.sourceDir = sourceDir;
  if (environment !== undefined) spec.environment = environment;
  if (inlineEnvironment !== undefined) spec.inlineEnvironment = inlineEnvironment;
  if (cpu !== undefined) spec.cpu = cpu;
  if (memoryGb !== undefined) spec.memoryGb = memoryGb;
  if (keys !== undefined) spec.keys = keys;
  if (flags.description !== undefined) spec.description = flags.description;
  if (flags.overwrite !== undefined) spec.overwrite = flags.overwrite;
  return spec;
}

function pick(from: Record<string, unknown>, keys: string[]): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return Object.keys(out).length > 0 ? out : undefined;
}

const COMPUTE_ARM_ID =
  /^\/subscriptions\/[^/\s]+\/resourceGroups\/[^/\s]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/\s]+\/computes\/[^/\s]+$/i;

/**
 * A validated v2 endpoint spec. `compute` (the ARM id of a Kubernetes compute) makes it a
 * Kubernetes endpoint; without it the endpoint is managed. Default auth: key (as az and the SDK).
 */
export function buildV2DeploySpec(input: {
  name?: string;
  auth?: string;
  compute?: string;
  description?: string;
  location?: string;
}): V2DeploySpec {
  const name = input.name;
  if (name === undefined || name.trim() === "") {
    throw new UsageError("an endpoint NAME is required (argument, or `service` in the config)");
  }
  if (name.length < 3 || name.length > 32 || !V2_ENDPOINT_NAME.test(name)) {
    throw new UsageError(
      `invalid endpoint name ${quoteInput(name)}: use 3–32 letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    );
  }
  let compute: string | undefined;
  if (input.compute !== undefined) {
    compute = input.compute.trim();
    if (!COMPUTE_ARM_ID.test(compute)) {
      throw new UsageError(
        "--compute must be the ARM id of a Kubernetes compute: /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/WS/computes/NAME",
      );
    }
  }
  const authMode = normalizeV2AuthMode(input.auth ?? "key");
  assertV2ModeAllowed(authMode, { kubernetes: compute !== undefined, name }, "flag");
  if (input.description !== undefined && input.description.length > 512) {
    throw new UsageError("--description must be at most 512 characters");
  }
  const spec: V2DeploySpec = { api: "v2", name, authMode };
  if (compute !== undefined) spec.compute = compute;
  if (input.description !== undefined) spec.description = input.description;
  if (input.location !== undefined) {
    if (!/^[a-z0-9]+$/i.test(input.location)) throw new UsageError(`invalid location ${quoteInput(input.location)} (like westeurope)`);
    spec.location = input.location;
  }
  return spec;
}
