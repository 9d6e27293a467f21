// Finds and reads the config files, then hands them to the pure resolver. The folder walk lives
// in locate.ts; this module adds the full readers: cosmiconfig for amlauth config files and the
// YAML-capable parser, both imported on first use, so --help and --version never load them.
import { basename } from "node:path";
import type { Context } from "../context.js";
import type { GlobalOptions } from "../commands/globals.js";
import { UsageError } from "../errors.js";
import { parseConfigFile } from "./schema.js";
import { findConfigLayersWith, loadConfigWith, MODULE, parseJsonFirst, type ConfigFileReaders } from "./locate.js";
import type { ConfigLayers, ResolvedConfig } from "./types.js";

export { foldersUpward, HOME_SEARCH_PLACES, PROJECT_SEARCH_PLACES, USER_DIR_SEARCH_PLACES } from "./locate.js";

type Explorer = { search(from?: string): Promise<{ config: unknown; filepath: string; isEmpty?: boolean } | null> };

export async function loadConfig(ctx: Context, flags: GlobalOptions): Promise<ResolvedConfig> {
  return loadConfigWith(ctx, flags, fullReaders());
}

/** Reads every layer that exists. Broken or invalid files are UsageErrors naming the file. */
export async function findConfigLayers(ctx: Pick<Context, "env" | "cwd" | "homedir">): Promise<ConfigLayers> {
  return findConfigLayersWith(ctx, fullReaders());
}

/**
 * cosmiconfig (and js-yaml) load only when a folder holds a candidate file: most runs have no
 * config file at all, and loading them would cost more than the rest of `keys list` together.
 */
function fullReaders(): ConfigFileReaders {
  let explorers: ((searchPlaces: string[]) => Explorer) | undefined;
  return {
    async readConfigFile(searchPlaces, dir) {
      explorers ??= await makeExplorerFactory();
      const found = await explorers(searchPlaces).search(dir);
      if (!found || found.isEmpty) return undefined;
      const label = basename(found.filepath) === "package.json" ? `${found.filepath}#${MODULE}` : found.filepath;
      return parseConfigFile(found.config, found.filepath, label);
    },
    parseStructured,
  };
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

/** Plain JSON first; js-yaml comes with config-file.ts, loaded only when a file needs it. */
async function parseStructured(text: string, fileName: string): Promise<unknown> {
  const json = parseJsonFirst(text, fileName);
  if (json) return json.value;
  const { parseStructuredText } = await import("../core/config-file.js");
  return parseStructuredText(text, fileName);
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
