// The one place where configuration precedence is decided. Pure: the layers were read by load.ts.
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { UsageError } from "../errors.js";
import { didYouMean, quoteInput } from "../core/text.js";
import type { GlobalOptions } from "../commands/globals.js";
import { CLOUDS, checkEnvValue, checkValue, cloudName, type CloudName } from "./schema.js";
import type { ConfigKey, ConfigLayers, ConfigSource, ConfigValues, LoadedConfigFile, ResolvedConfig } from "./types.js";

export const DEFAULTS = {
  armEndpoint: CLOUDS.public.armEndpoint,
  authorityHost: CLOUDS.public.authorityHost,
  emulator: false,
  // Per attempt; long-running operations poll with many short requests.
  timeoutSeconds: 60,
  // The v1 SDK's own retry count (AZUREML_DEFAULT_RETRIES).
  retries: 3,
} as const;

/**
 * Environment variables per key, first set one wins. The AZURE_* fallbacks are what the Azure
 * tools already read (az's AZURE_DEFAULTS_*, @azure/identity's AZURE_AUTHORITY_HOST).
 */
export const ENV_VARS: Partial<Record<ConfigKey, readonly string[]>> = {
  subscription: ["AMLAUTH_SUBSCRIPTION", "AZURE_SUBSCRIPTION_ID"],
  resourceGroup: ["AMLAUTH_RESOURCE_GROUP", "AZURE_DEFAULTS_GROUP"],
  workspace: ["AMLAUTH_WORKSPACE", "AZURE_DEFAULTS_WORKSPACE"],
  service: ["AMLAUTH_SERVICE"],
  api: ["AMLAUTH_API"],
  credential: ["AMLAUTH_CREDENTIAL"],
  tenantId: ["AMLAUTH_TENANT_ID"],
  armEndpoint: ["AMLAUTH_ARM_ENDPOINT"],
  authorityHost: ["AMLAUTH_AUTHORITY_HOST", "AZURE_AUTHORITY_HOST"],
  caFile: ["AMLAUTH_CA_FILE"],
  emulator: ["AMLAUTH_EMULATOR"],
  output: ["AMLAUTH_OUTPUT"],
  cacheDir: ["AMLAUTH_CACHE_DIR"],
  timeoutSeconds: ["AMLAUTH_TIMEOUT_SECONDS"],
  retries: ["AMLAUTH_RETRIES"],
};

/** GlobalOptions that carry a config key, and the flag name for messages. */
const FLAGS: ReadonlyArray<[ConfigKey, keyof GlobalOptions, string]> = [
  ["subscription", "subscription", "--subscription"],
  ["resourceGroup", "resourceGroup", "--resource-group"],
  ["workspace", "workspace", "--workspace"],
  ["api", "api", "--api"],
  ["credential", "credential", "--credential"],
  ["armEndpoint", "armEndpoint", "--arm-endpoint"],
  ["authorityHost", "authorityHost", "--authority-host"],
  ["caFile", "caFile", "--ca-file"],
  ["emulator", "emulator", "--emulator"],
  ["output", "output", "--output"],
];

const PATH_KEYS: ReadonlySet<ConfigKey> = new Set(["caFile", "cacheDir"]);

/** Where the token/state cache lives when no cacheDir is configured. */
export function defaultCacheDir(env: Record<string, string | undefined>, homedir: string): string {
  if (env["XDG_CACHE_HOME"]) return join(env["XDG_CACHE_HOME"], "amlauth");
  if (env["LOCALAPPDATA"]) return join(env["LOCALAPPDATA"], "amlauth", "cache");
  return join(homedir, ".cache", "amlauth");
}

/** `~/x` → homedir/x; relative → against `base` (a file's folder, or the cwd). */
function resolveUserPath(value: string, base: string, homedir: string): string {
  if (value === "~") return homedir;
  if (value.startsWith("~/")) return join(homedir, value.slice(2));
  return isAbsolute(value) ? value : resolvePath(base, value);
}

/**
 * Precedence, lowest first — each layer overrides only the keys it sets:
 *   1. built-in defaults (DEFAULTS, defaultCacheDir)
 *   2. user file         ($XDG_CONFIG_HOME/amlauth/config.*, ~/.config/amlauth/config.*, ~/.amlauthrc*)
 *   3. azureml config    (.azureml/config.json or config.json: subscription, resource group, workspace)
 *   4. project file      (.amlauthrc*, amlauth.config.*, package.json#amlauth, nearest to the cwd)
 *   5. selected profile  (name from --profile, else AMLAUTH_PROFILE, else the project file's
 *                         defaultProfile, else the user file's). Both files may define it; the
 *                         project's definition is applied on top of the user's, key by key.
 *   6. environment       (ENV_VARS; empty variables count as unset)
 *   7. flags             (GlobalOptions that were given)
 * Relative paths in a file are relative to that file's folder; from env or flags, to the cwd.
 * A cloud name (public/china/usgov) for armEndpoint or authorityHost also sets the other one,
 * unless that one was set explicitly at any layer.
 */
export function resolveConfig(
  layers: ConfigLayers,
  env: Record<string, string | undefined>,
  flags: GlobalOptions,
  paths: { cwd: string; homedir: string },
): ResolvedConfig {
  const values: Record<string, unknown> = {};
  const sources: ResolvedConfig["sources"] = {};
  const clouds: Partial<Record<"armEndpoint" | "authorityHost", CloudName>> = {};

  const set = (key: ConfigKey, value: unknown, source: ConfigSource, pathBase: string): void => {
    if (value === undefined) return;
    let final = value;
    if (PATH_KEYS.has(key)) final = resolveUserPath(value as string, pathBase, paths.homedir);
    if (key === "armEndpoint" || key === "authorityHost") {
      const cloud = cloudName(value as string);
      if (cloud === undefined) delete clouds[key];
      else {
        clouds[key] = cloud;
        final = CLOUDS[cloud][key];
      }
    }
    values[key] = final;
    sources[key] = source;
  };
  const applyValues = (from: ConfigValues, source: ConfigSource, pathBase: string): void => {
    for (const [key, value] of Object.entries(from) as Array<[ConfigKey, unknown]>) set(key, value, source, pathBase);
  };
  const fileSource = (kind: "user" | "project", file: LoadedConfigFile): ConfigSource => ({
    kind,
    detail: `${kind} file ${file.label}`,
  });

  // 1. defaults
  const fromDefault: ConfigSource = { kind: "default", detail: "default" };
  for (const [key, value] of Object.entries(DEFAULTS) as Array<[ConfigKey, unknown]>) set(key, value, fromDefault, paths.cwd);
  set("cacheDir", defaultCacheDir(env, paths.homedir), fromDefault, paths.cwd);

  // 2.–4. files
  const files: string[] = [];
  if (layers.user) {
    applyValues(layers.user.content, fileSource("user", layers.user), dirname(layers.user.path));
    files.push(layers.user.path);
  }
  if (layers.azureml) {
    const { subscription, resourceGroup, workspace, path } = layers.azureml;
    const src: ConfigSource = { kind: "azureml", detail: `azureml config ${path}` };
    applyValues({ subscription, resourceGroup, workspace }, src, dirname(path));
    files.push(path);
  }
  if (layers.project) {
    applyValues(layers.project.content, fileSource("project", layers.project), dirname(layers.project.path));
    files.push(layers.project.path);
  }

  // 5. profile
  const selected = selectProfile(layers, env, flags);
  let profile: string | undefined;
  if (selected) {
    const definitions = [layers.user, layers.project].filter(
      (file): file is LoadedConfigFile => file?.content.profiles?.[selected.name] !== undefined,
    );
    if (definitions.length === 0) {
      const known = [...new Set([layers.user, layers.project].flatMap((file) => Object.keys(file?.content.profiles ?? {})))];
      const defined = known.length > 0 ? `; defined profiles: ${known.join(", ")}` : "; no config file defines any profile";
      throw new UsageError(`unknown profile ${quoteInput(selected.name)} (from ${selected.from})${didYouMean(selected.name, known)}${defined}`);
    }
    for (const file of definitions) {
      applyValues(file.content.profiles?.[selected.name] ?? {}, { kind: "profile", detail: `profile ${selected.name} (${file.label})` }, dirname(file.path));
    }
    profile = selected.name;
    sources.profile = { kind: selected.kind, detail: selected.from };
  }

  // 6. environment
  for (const [key, names] of Object.entries(ENV_VARS) as Array<[ConfigKey, readonly string[]]>) {
    const variable = names.find((name) => (env[name] ?? "").trim() !== "");
    if (variable === undefined) continue;
    const value = checkEnvValue(key, env[variable] as string, variable);
    set(key, value, { kind: "env", detail: `env ${variable}` }, paths.cwd);
  }

  // 7. flags
  for (const [key, option, flag] of FLAGS) {
    const raw = flags[option];
    if (raw === undefined) continue;
    const value = checkValue(key, raw, flag);
    set(key, value, { kind: "flag", detail: `flag ${flag}` }, paths.cwd);
  }

  // A cloud name chosen for one endpoint brings its partner unless that was set explicitly.
  for (const [key, other] of [
    ["armEndpoint", "authorityHost"],
    ["authorityHost", "armEndpoint"],
  ] as const) {
    const cloud = clouds[key];
    if (cloud !== undefined && sources[other]?.kind === "default") {
      values[other] = CLOUDS[cloud][other];
      sources[other] = { kind: sources[key]?.kind ?? "default", detail: `${sources[key]?.detail ?? "default"} (cloud ${cloud})` };
    }
  }

  const resolved: ResolvedConfig = {
    armEndpoint: values["armEndpoint"] as string,
    authorityHost: values["authorityHost"] as string,
    emulator: values["emulator"] as boolean,
    cacheDir: values["cacheDir"] as string,
    timeoutSeconds: values["timeoutSeconds"] as number,
    retries: values["retries"] as number,
    sources,
    files,
  };
  for (const key of ["subscription", "resourceGroup", "workspace", "service", "api", "credential", "tenantId", "caFile", "output"] as const) {
    if (values[key] !== undefined) (resolved as unknown as Record<string, unknown>)[key] = values[key];
  }
  if (profile !== undefined) resolved.profile = profile;
  return resolved;
}

function selectProfile(
  layers: ConfigLayers,
  env: Record<string, string | undefined>,
  flags: GlobalOptions,
): { name: string; from: string; kind: ConfigSource["kind"] } | undefined {
  if (flags.profile !== undefined) {
    if (flags.profile.trim() === "") throw new UsageError("--profile must not be empty");
    return { name: flags.profile, from: "flag --profile", kind: "flag" };
  }
  const fromEnv = env["AMLAUTH_PROFILE"]?.trim();
  if (fromEnv) return { name: fromEnv, from: "env AMLAUTH_PROFILE", kind: "env" };
  for (const [file, kind] of [
    [layers.project, "project"],
    [layers.user, "user"],
  ] as const) {
    const name = file?.content.defaultProfile;
    if (file && name !== undefined) return { name, from: `defaultProfile in ${file.label}`, kind };
  }
  return undefined;
}

/** `--verbose` lines: "workspace = amlauth-ws (env AMLAUTH_WORKSPACE)". Values here are never secrets. */
export function describeConfig(config: ResolvedConfig): string[] {
  const lines: string[] = config.files.length > 0 ? config.files.map((f) => `config file: ${f}`) : ["config file: none found"];
  for (const [key, source] of Object.entries(config.sources)) {
    const value = (config as unknown as Record<string, unknown>)[key];
    if (value === undefined || source === undefined) continue;
    lines.push(`${key} = ${String(value)} (${source.detail})`);
  }
  return lines;
}
