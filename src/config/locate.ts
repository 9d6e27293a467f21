// Where config files are looked for, and the walk that turns the folders into layers. Node
// builtins only: how a found amlauth config file is read (cosmiconfig, YAML) is the caller's
// choice (ConfigFileReaders), so the start-up fast path (src/fast-path.ts) can walk exactly the
// same folders in exactly the same order without loading any parser.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, parse as parsePath, resolve as resolvePath } from "node:path";
import type { Context } from "../context.js";
import type { GlobalOptions } from "../commands/globals.js";
import { UsageError } from "../errors.js";
import { isPlainObject } from "../core/text.js";
import { parseAzuremlConfig } from "./schema.js";
import { resolveConfig } from "./resolve.js";
import type { AzuremlConfig, ConfigLayers, LoadedConfigFile, ResolvedConfig } from "./types.js";

export const MODULE = "amlauth";

/** Project files, in the order looked for inside each folder. */
export const PROJECT_SEARCH_PLACES = [
  "package.json",
  `.${MODULE}rc`,
  `.${MODULE}rc.json`,
  `.${MODULE}rc.yaml`,
  `.${MODULE}rc.yml`,
  `${MODULE}.config.json`,
  `${MODULE}.config.yaml`,
  `${MODULE}.config.yml`,
  `${MODULE}.config.js`,
  `${MODULE}.config.mjs`,
  `${MODULE}.config.cjs`,
];
/** User files in the config folder ($XDG_CONFIG_HOME/amlauth or ~/.config/amlauth). */
export const USER_DIR_SEARCH_PLACES = ["config", "config.json", "config.yaml", "config.yml"];
/** User files directly in the home folder. */
export const HOME_SEARCH_PLACES = [`.${MODULE}rc`, `.${MODULE}rc.json`, `.${MODULE}rc.yaml`, `.${MODULE}rc.yml`];

/** How the files the walk finds are read. */
export interface ConfigFileReaders {
  /** The amlauth config file among `searchPlaces` in `dir`; only called when a candidate exists there. */
  readConfigFile(searchPlaces: string[], dir: string): Promise<LoadedConfigFile | undefined>;
  /** A JSON (or YAML) file's text → its value; throws when the file is broken. */
  parseStructured(text: string, fileName: string): Promise<unknown>;
}

/**
 * Thrown by readers that cannot read a file without the full loader (cosmiconfig, YAML): the
 * caller must not guess, but run the full loader instead.
 */
export class ConfigLoaderNeeded extends Error {
  constructor(readonly path: string) {
    super(`${path} needs the full config loader`);
  }
}

/**
 * Readers that load nothing: any amlauth config file, and an azureml config that is not plain
 * JSON, throw ConfigLoaderNeeded. Everything they do return is what the full readers return.
 */
export const LOADER_FREE_READERS: ConfigFileReaders = {
  readConfigFile(_searchPlaces, dir) {
    return Promise.reject(new ConfigLoaderNeeded(dir));
  },
  parseStructured(text, fileName) {
    const parsed = parseJsonFirst(text, fileName);
    return parsed ? Promise.resolve(parsed.value) : Promise.reject(new ConfigLoaderNeeded(fileName));
  },
};

/**
 * A `.json` file that is plain JSON (a BOM allowed), parsed without the full parser; undefined
 * when it is not (the full parser then explains where and why, or reads it as YAML).
 */
export function parseJsonFirst(text: string, fileName: string): { value: unknown } | undefined {
  if (!fileName.toLowerCase().endsWith(".json")) return undefined;
  try {
    return { value: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown };
  } catch {
    return undefined;
  }
}

/** Reads every layer with `readers`, then resolves them with the environment and flags. */
export async function loadConfigWith(ctx: Pick<Context, "env" | "cwd" | "homedir">, flags: GlobalOptions, readers: ConfigFileReaders): Promise<ResolvedConfig> {
  const layers = await findConfigLayersWith(ctx, readers);
  return resolveConfig(layers, ctx.env, flags, { cwd: ctx.cwd, homedir: ctx.homedir });
}

/** Reads every layer that exists. Broken or invalid files are UsageErrors naming the file. */
export async function findConfigLayersWith(ctx: Pick<Context, "env" | "cwd" | "homedir">, readers: ConfigFileReaders): Promise<ConfigLayers> {
  const home = resolvePath(ctx.homedir);
  const layers: ConfigLayers = {};
  const searchIn = (searchPlaces: string[], dir: string): Promise<LoadedConfigFile | undefined> =>
    hasCandidate(searchPlaces, dir) ? readers.readConfigFile(searchPlaces, dir) : Promise.resolve(undefined);

  const userDir = ctx.env["XDG_CONFIG_HOME"] ? join(ctx.env["XDG_CONFIG_HOME"], MODULE) : join(home, ".config", MODULE);
  const user = (await searchIn(USER_DIR_SEARCH_PLACES, userDir)) ?? (await searchIn(HOME_SEARCH_PLACES, home));
  if (user) layers.user = user;

  for (const dir of foldersUpward(ctx.cwd, home, false)) {
    const project = await searchIn(PROJECT_SEARCH_PLACES, dir);
    if (project) {
      layers.project = project;
      break;
    }
  }

  for (const dir of foldersUpward(ctx.cwd, home, true)) {
    const azureml = await readAzuremlConfig(dir, readers);
    if (azureml) {
      layers.azureml = azureml;
      break;
    }
  }
  return layers;
}

/** Whether `dir` holds any file cosmiconfig would consider (package.json only with an `amlauth` key). */
export function hasCandidate(searchPlaces: string[], dir: string): boolean {
  return searchPlaces.some((place) => {
    const path = join(dir, place);
    if (!existsSync(path)) return false;
    if (place !== "package.json") return true;
    // A package named amlauth, or one that depends on it, mentions the word without configuring it.
    try {
      const pkg: unknown = JSON.parse(readFileSync(path, "utf8"));
      return isPlainObject(pkg) && MODULE in pkg;
    } catch {
      return true; // let cosmiconfig report the unreadable or broken file
    }
  });
}

/**
 * The cwd and its parents. Project files stop below the home folder (whose files are the user
 * layer); azureml configs may also sit in the home folder itself. Outside home, up to the root.
 */
export function foldersUpward(cwd: string, homedir: string, includeHome: boolean): string[] {
  const dirs: string[] = [];
  const root = parsePath(resolvePath(cwd)).root;
  let dir = resolvePath(cwd);
  for (let guard = 0; guard < 256; guard++) {
    if (dir === homedir) {
      if (includeHome) dirs.push(dir);
      break;
    }
    dirs.push(dir);
    if (dir === root) break;
    dir = dirname(dir);
  }
  return dirs;
}

/** Synchronous: these files are small, and most do not exist (then one access check, no throw). */
function readText(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return undefined;
    throw new UsageError(`cannot read ${path} (${code ?? "error"})`);
  }
}

/**
 * `.azureml/config.json` is the SDK's own file: it must parse. A bare `config.json` is a common
 * name, so one that is not JSON or has no workspace fields is not ours and is skipped.
 */
async function readAzuremlConfig(dir: string, readers: ConfigFileReaders): Promise<AzuremlConfig | undefined> {
  const sdkPath = join(dir, ".azureml", "config.json");
  const sdkText = readText(sdkPath);
  if (sdkText !== undefined) {
    const parsed = await readers.parseStructured(sdkText, sdkPath);
    const config = parseAzuremlConfig(parsed, sdkPath);
    if (!config) throw new UsageError(`azureml config ${sdkPath} has none of subscription_id, resource_group, workspace_name`);
    return config;
  }
  const barePath = join(dir, "config.json");
  const bareText = readText(barePath);
  if (bareText === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = await readers.parseStructured(bareText, barePath);
  } catch (err) {
    // Skipping it is the full loader's call: it may still read the file as YAML.
    if (err instanceof ConfigLoaderNeeded) throw err;
    return undefined;
  }
  return isPlainObject(parsed) ? parseAzuremlConfig(parsed, barePath) : undefined;
}
