// Finds and reads the config files, then hands them to the pure resolver.
// cosmiconfig is imported on first use, so --help and --version never load it.
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, parse as parsePath, resolve as resolvePath } from "node:path";
import type { Context } from "../context.js";
import type { GlobalOptions } from "../commands/globals.js";
import { UsageError } from "../errors.js";
import { isPlainObject } from "../core/text.js";
import { parseAzuremlConfig, parseConfigFile } from "./schema.js";
import { resolveConfig } from "./resolve.js";
import type { AzuremlConfig, ConfigLayers, LoadedConfigFile, ResolvedConfig } from "./types.js";

const MODULE = "amlauth";

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

type Explorer = { search(from?: string): Promise<{ config: unknown; filepath: string; isEmpty?: boolean } | null> };

export async function loadConfig(ctx: Context, flags: GlobalOptions): Promise<ResolvedConfig> {
  const layers = await findConfigLayers(ctx);
  return resolveConfig(layers, ctx.env, flags, { cwd: ctx.cwd, homedir: ctx.homedir });
}

/** Reads every layer that exists. Broken or invalid files are UsageErrors naming the file. */
export async function findConfigLayers(ctx: Pick<Context, "env" | "cwd" | "homedir">): Promise<ConfigLayers> {
  // cosmiconfig (and js-yaml) load only when a folder holds a candidate file: most runs have no
  // config file at all, and loading them would cost more than the rest of `keys list` together.
  let explorers: ((searchPlaces: string[]) => Explorer) | undefined;
  const explorer = async (searchPlaces: string[]): Promise<Explorer> => {
    explorers ??= await makeExplorerFactory();
    return explorers(searchPlaces);
  };

  const home = resolvePath(ctx.homedir);
  const layers: ConfigLayers = {};

  const userDir = ctx.env["XDG_CONFIG_HOME"] ? join(ctx.env["XDG_CONFIG_HOME"], MODULE) : join(home, ".config", MODULE);
  const user = (await searchIn(explorer, USER_DIR_SEARCH_PLACES, userDir)) ?? (await searchIn(explorer, HOME_SEARCH_PLACES, home));
  if (user) layers.user = user;

  for (const dir of foldersUpward(ctx.cwd, home, false)) {
    const project = await searchIn(explorer, PROJECT_SEARCH_PLACES, dir);
    if (project) {
      layers.project = project;
      break;
    }
  }

  for (const dir of foldersUpward(ctx.cwd, home, true)) {
    const azureml = await readAzuremlConfig(dir);
    if (azureml) {
      layers.azureml = azureml;
      break;
    }
  }
  return layers;
}

async function makeExplorerFactory(): Promise<(searchPlaces: string[]) => Explorer> {
  // cosmiconfig is CommonJS: bundled as ESM, its exports may sit on `default`.
  const mod = (await import("cosmiconfig")) as typeof import("cosmiconfig") & { default?: typeof import("cosmiconfig") };
  const { cosmiconfig, defaultLoaders } = mod.default ?? mod;
  const structured = (filepath: string, content: string): Promise<unknown> => parseStructured(content, filepath);
  // JS configs go through cosmiconfig's own loaders (dynamic import), only when such a file exists.
  const loaders = {
    ".json": structured,
    ".yaml": structured,
    ".yml": structured,
    noExt: structured,
    ".js": wrapJsLoader(defaultLoaders[".js"]),
    ".mjs": wrapJsLoader(defaultLoaders[".mjs"]),
    ".cjs": wrapJsLoader(defaultLoaders[".cjs"]),
  };
  // searchStrategy "none": we walk the folders ourselves, because cosmiconfig's "global" strategy
  // reads the home folder and XDG paths from the real process, not from ctx.
  return (searchPlaces) => cosmiconfig(MODULE, { searchPlaces, loaders, searchStrategy: "none", cache: false, packageProp: MODULE });
}

/** js-yaml comes with config-file.ts; load it only when a file is actually parsed. */
async function parseStructured(text: string, fileName: string): Promise<unknown> {
  if (fileName.toLowerCase().endsWith(".json")) {
    try {
      return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
    } catch {
      // fall through: the full parser explains where and why
    }
  }
  const { parseStructuredText } = await import("../core/config-file.js");
  return parseStructuredText(text, fileName);
}

/** Whether `dir` holds any file cosmiconfig would consider (package.json only with an `amlauth` key). */
function hasCandidate(searchPlaces: string[], dir: string): boolean {
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

async function searchIn(
  explorer: (searchPlaces: string[]) => Promise<Explorer>,
  searchPlaces: string[],
  dir: string,
): Promise<LoadedConfigFile | undefined> {
  if (!hasCandidate(searchPlaces, dir)) return undefined;
  const found = await (await explorer(searchPlaces)).search(dir);
  if (!found || found.isEmpty) return undefined;
  const label = basename(found.filepath) === "package.json" ? `${found.filepath}#${MODULE}` : found.filepath;
  return parseConfigFile(found.config, found.filepath, label);
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

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
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
async function readAzuremlConfig(dir: string): Promise<AzuremlConfig | undefined> {
  const sdkPath = join(dir, ".azureml", "config.json");
  const sdkText = await readText(sdkPath);
  if (sdkText !== undefined) {
    const parsed = await parseStructured(sdkText, sdkPath);
    const config = parseAzuremlConfig(parsed, sdkPath);
    if (!config) throw new UsageError(`azureml config ${sdkPath} has none of subscription_id, resource_group, workspace_name`);
    return config;
  }
  const barePath = join(dir, "config.json");
  const bareText = await readText(barePath);
  if (bareText === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = await parseStructured(bareText, barePath);
  } catch {
    return undefined;
  }
  return isPlainObject(parsed) ? parseAzuremlConfig(parsed, barePath) : undefined;
}

type AnyLoader = (filepath: string, content: string) => unknown;
function wrapJsLoader(loader: AnyLoader | undefined): AnyLoader {
  return async (filepath, content) => {
    if (!loader) throw new UsageError(`${filepath}: JavaScript config files are not supported here`);
    try {
      return await loader(filepath, content);
    } catch (err) {
      const first = String(err instanceof Error ? err.message : err).split("\n")[0]?.slice(0, 200) ?? "";
      throw new UsageError(`${filepath}: the config module failed to load: ${first}`);
    }
  };
}
