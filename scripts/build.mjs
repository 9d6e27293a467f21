// Bundles src/ into dist/ with esbuild. ESM + code splitting so heavy modules
// (Azure SDKs, @azure/identity, the emulator, ora) sit in chunks that load only
// when a command imports them dynamically.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: "src/main.ts", "emulator-entry": "src/emulator/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  chunkNames: "chunks/[name]-[hash]",
  // cosmiconfig has an optional import('typescript') for .ts configs; we don't ship TS.
  external: ["typescript"],
  // CJS dependencies inside an ESM bundle still call require() for node builtins.
  banner: {
    js: "import { createRequire as __amlauthCreateRequire } from 'node:module'; const require = __amlauthCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
  // Kept so tests can prove which modules each chunk holds (e.g. that --version loads no Azure SDK).
  metafile: true,
});
writeFileSync(join(root, "dist", "meta.json"), JSON.stringify(result.metafile));
