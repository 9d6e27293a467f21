// Validation of configuration values, wherever they come from (file, environment, flag), and of
// whole config files. Pure. Messages are one line, name the file / variable / flag, and never
// repeat a value that could be a secret.
import { UsageError } from "../errors.js";
import { didYouMean, isPlainObject, quoteInput } from "../core/text.js";
import type { OutputFormat } from "../commands/globals.js";
import type { AzuremlConfig, ConfigFileContent, ConfigKey, ConfigValues, LoadedConfigFile } from "./types.js";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["raw", "json", "tsv", "table", "env"];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Azure naming rules, loosely: enough to keep path separators and query characters out of URLs.
const RESOURCE_GROUP = /^[\p{L}\p{N}_().-]{1,90}$/u;
const WORKSPACE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const SERVICE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const CREDENTIAL = /^[a-z][a-z0-9-]{0,40}$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

import { CLOUDS, cloudName, type CloudName } from "../core/clouds.js";
export { CLOUDS, cloudName, type CloudName };

type Kind = "string" | "boolean" | "number";
interface KeySpec {
  kind: Kind;
  /** Returns the normalised value or an error phrase ("must be …"). */
  check(value: string | boolean | number): { ok: unknown } | { error: string };
}

const ok = (value: unknown) => ({ ok: value });
const err = (error: string) => ({ error });

function pattern(re: RegExp, what: string): KeySpec["check"] {
  return (v) => (typeof v === "string" && re.test(v) ? ok(v) : err(what));
}

function endpoint(v: string | boolean | number): { ok: unknown } | { error: string } {
  if (typeof v !== "string") return err("must be a cloud name (public, china, usgov) or an https URL");
  if (cloudName(v) !== undefined) return ok(v.trim().toLowerCase());
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return err("must be a cloud name (public, china, usgov) or an https URL");
  }
  if (url.protocol !== "https:") return err("must be an https URL (or a cloud name: public, china, usgov)");
  if (url.username || url.password || url.search || url.hash) return err("must be a plain https URL without credentials, query or fragment");
  return ok(url.href.replace(/\/+$/, ""));
}

export const KEY_SPECS: Record<ConfigKey, KeySpec> = {
  subscription: { kind: "string", check: pattern(GUID, "must be a subscription id (a GUID like 00000000-0000-0000-0000-000000000000)") },
  resourceGroup: { kind: "string", check: (v) => (typeof v === "string" && RESOURCE_GROUP.test(v) && !v.endsWith(".") ? ok(v) : err("must be a resource group name (letters, digits, _ ( ) . -)")) },
  workspace: { kind: "string", check: pattern(WORKSPACE, "must be a workspace name (letters, digits, _ and -)") },
  service: { kind: "string", check: pattern(SERVICE, "must be a service or endpoint name (letters, digits and -, starting with a letter)") },
  api: { kind: "string", check: (v) => (v === "v1" || v === "v2" ? ok(v) : err("must be v1 or v2")) },
  credential: {
    kind: "string",
    check: (v) => (typeof v === "string" && CREDENTIAL.test(v.toLowerCase()) ? ok(v.toLowerCase()) : err("must be a credential kind like default, cli, env or managed-identity")),
  },
  tenantId: { kind: "string", check: pattern(TENANT, "must be a tenant id (GUID) or domain") },
  armEndpoint: { kind: "string", check: endpoint },
  authorityHost: { kind: "string", check: endpoint },
  caFile: { kind: "string", check: (v) => (typeof v === "string" && v.trim() !== "" ? ok(v) : err("must be a file path")) },
  emulator: { kind: "boolean", check: (v) => (typeof v === "boolean" ? ok(v) : err("must be true or false")) },
  output: {
    kind: "string",
    check: (v) => (typeof v === "string" && (OUTPUT_FORMATS as readonly string[]).includes(v) ? ok(v) : err(`must be one of ${OUTPUT_FORMATS.join(", ")}`)),
  },
  cacheDir: { kind: "string", check: (v) => (typeof v === "string" && v.trim() !== "" ? ok(v) : err("must be a directory path")) },
  timeoutSeconds: {
    kind: "number",
    check: (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 3600 ? ok(v) : err("must be a number of seconds from 1 to 3600")),
  },
  retries: {
    kind: "number",
    check: (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 10 ? ok(v) : err("must be a whole number from 0 to 10")),
  },
};
export const CONFIG_KEYS = Object.keys(KEY_SPECS) as ConfigKey[];
const FILE_KEYS = [...CONFIG_KEYS, "profiles", "defaultProfile"];

/** Checks one typed value (from a file or a flag). `where` starts the message: "config file X: workspace". */
export function checkValue(key: ConfigKey, value: unknown, where: string): unknown {
  const spec = KEY_SPECS[key];
  const typeOk =
    (spec.kind === "string" && typeof value === "string") ||
    (spec.kind === "boolean" && typeof value === "boolean") ||
    (spec.kind === "number" && typeof value === "number");
  if (!typeOk) {
    throw new UsageError(`${where} must be ${spec.kind === "string" ? "a string" : spec.kind === "boolean" ? "true or false" : "a number"}`);
  }
  if (spec.kind === "string" && (value as string).trim() === "") throw new UsageError(`${where} must not be empty`);
  const result = spec.check(value as string | boolean | number);
  if ("error" in result) throw new UsageError(`${where} ${result.error}${describeGot(value)}`);
  return result.ok;
}

/** Parses an environment string for `key` and checks it. */
export function checkEnvValue(key: ConfigKey, raw: string, variable: string): unknown {
  const where = `environment variable ${variable}`;
  const spec = KEY_SPECS[key];
  if (spec.kind === "boolean") {
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    throw new UsageError(`${where} must be 1 or 0 (true/false)${describeGot(raw)}`);
  }
  if (spec.kind === "number") {
    const n = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`${where} must be a number${describeGot(raw)}`);
    return checkValue(key, n, where);
  }
  return checkValue(key, raw.trim(), where);
}

// Config values are identifiers, not secrets, but a secret pasted into the wrong variable should
// still not be echoed: only short, non-token values are quoted back.
function describeGot(value: unknown): string {
  const text = String(value);
  return text.length <= 20 && !looksLikeJwt(text) ? ` (got ${quoteInput(text)})` : "";
}

// ---------------------------------------------------------------------------------------------
// Secrets: a config file is checked into repos and shared; it must never hold credentials.

const SECRET_NAMES = new Set([
  "key",
  "primarykey",
  "secondarykey",
  "apikey",
  "keyvalue",
  "token",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "secret",
  "clientsecret",
  "password",
  "passwd",
  "pwd",
  "connectionstring",
  "sastoken",
  "privatekey",
]);

export function looksLikeJwt(value: string): boolean {
  return /^\s*eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\s*$/.test(value);
}

function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_\s]/g, "");
  return SECRET_NAMES.has(n) || /(secret|password|token|apikey|privatekey)$/.test(n);
}

/**
 * The path of the first secret-looking entry ("clientSecret", "profiles.ci.token"), or undefined.
 * YAML aliases make one node appear many times (`b: [*a, *a, …]` nested ten deep is 10^10 paths),
 * so each object or array is visited once: linear in the file, whatever it references.
 */
export function findSecret(value: unknown, path = "", depth = 0, seen: Set<object> = new Set()): string | undefined {
  if (depth > 20) return undefined;
  if (typeof value === "string") return looksLikeJwt(value) ? `a token in ${path === "" ? "the file" : path}` : undefined;
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findSecret(value[i], `${path}[${i}]`, depth + 1, seen);
      if (found) return found;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const here = path === "" ? k : `${path}.${k}`;
      if (isSecretName(k) && v !== null && v !== undefined && v !== "") return here;
      const found = findSecret(v, here, depth + 1, seen);
      if (found) return found;
    }
  }
  return undefined;
}

function refuseSecrets(raw: unknown, label: string): void {
  const where = findSecret(raw);
  if (where !== undefined) {
    throw new UsageError(`config file ${label} holds a secret (${where}); secrets belong in the environment or the credential chain`);
  }
}

// ---------------------------------------------------------------------------------------------
// Whole files

function checkValues(raw: Record<string, unknown>, label: string, prefix: string, allowed: readonly string[]): ConfigValues {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const path = `${prefix}${key}`;
    if (key === "$schema") continue;
    if (!allowed.includes(key)) {
      throw new UsageError(`config file ${label}: unknown key ${quoteInput(path, 80)}${didYouMean(key, allowed)}`);
    }
    if (key === "profiles" || key === "defaultProfile") continue;
    if (value === null || value === undefined) continue;
    out[key] = checkValue(key as ConfigKey, value, `config file ${label}: ${path}`);
  }
  return out as ConfigValues;
}

/** Validates a parsed amlauth config file (top-level keys, profiles, defaultProfile). */
export function parseConfigFile(raw: unknown, path: string, label = path): LoadedConfigFile {
  refuseSecrets(raw, label);
  if (!isPlainObject(raw)) throw new UsageError(`config file ${label} must hold an object (key: value pairs)`);
  const content: ConfigFileContent = checkValues(raw, label, "", FILE_KEYS);
  const profiles = raw["profiles"];
  if (profiles !== undefined && profiles !== null) {
    if (!isPlainObject(profiles)) throw new UsageError(`config file ${label}: profiles must map profile names to settings`);
    content.profiles = {};
    for (const [name, body] of Object.entries(profiles)) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
        throw new UsageError(`config file ${label}: profile name ${quoteInput(name)} must use letters, digits, _ . -`);
      }
      if (body === null || body === undefined) {
        content.profiles[name] = {};
        continue;
      }
      if (!isPlainObject(body)) throw new UsageError(`config file ${label}: profiles.${name} must be an object`);
      content.profiles[name] = checkValues(body, label, `profiles.${name}.`, CONFIG_KEYS);
    }
  }
  const defaultProfile = raw["defaultProfile"];
  if (defaultProfile !== undefined && defaultProfile !== null) {
    if (typeof defaultProfile !== "string" || defaultProfile.trim() === "") {
      throw new UsageError(`config file ${label}: defaultProfile must be a profile name`);
    }
    content.defaultProfile = defaultProfile;
  }
  return { path, label, content };
}

/**
 * An azureml SDK config (`{subscription_id, resource_group, workspace_name}`, or the older
 * `Scope` ARM id). Returns undefined when the object has none of those fields, so an unrelated
 * `config.json` is ignored. Unknown fields belong to the SDK and are ignored.
 */
export function parseAzuremlConfig(raw: unknown, path: string): AzuremlConfig | undefined {
  if (!isPlainObject(raw)) return undefined;
  let subscription = raw["subscription_id"];
  let resourceGroup = raw["resource_group"];
  let workspace = raw["workspace_name"];
  const scope = raw["Scope"] ?? raw["scope"];
  if (typeof scope === "string") {
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/?$/i.exec(scope);
    if (m) {
      subscription ??= m[1];
      resourceGroup ??= m[2];
      workspace ??= m[3];
    }
  }
  if (subscription === undefined && resourceGroup === undefined && workspace === undefined) return undefined;
  refuseSecrets(raw, path);
  const out: AzuremlConfig = { path };
  const where = (field: string) => `azureml config ${path}: ${field}`;
  if (subscription !== undefined && subscription !== null) out.subscription = checkValue("subscription", subscription, where("subscription_id")) as string;
  if (resourceGroup !== undefined && resourceGroup !== null) out.resourceGroup = checkValue("resourceGroup", resourceGroup, where("resource_group")) as string;
  if (workspace !== undefined && workspace !== null) out.workspace = checkValue("workspace", workspace, where("workspace_name")) as string;
  return out;
}
