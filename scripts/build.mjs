// Bundles src/ into dist/ with esbuild. ESM + code splitting so heavy modules
// (Azure SDKs, @azure/identity, the emulator, ora) sit in chunks that load only
// when a command imports them dynamically; plus dist/fast.cjs, the `token get` fast path.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Readable, Writable } from "node:stream";
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

// The start-up fast path for `token get` cache hits (src/fast-path.ts): one small CommonJS file,
// no splitting, that bin/amlauth.cjs require()s before it would import dist/cli.js. Its inputs
// are the shared config/cache/output modules themselves; test/e2e/fast-path.test.ts checks from
// this metafile that no commander, Azure, HTTP or parser module got in.
const fast = await build({
  absWorkingDir: root,
  entryPoints: ["src/fast-path.ts"],
  outfile: "dist/fast.cjs",
  bundle: true,
  format: "cjs",
  // Less to parse on every `token get`; its errors never reach a user (they mean "fall through").
  minify: true,
  // The few fs/promises reads of the shared modules run synchronously here (see the file).
  plugins: [
    {
      name: "fast-path-fs",
      setup(b) {
        const ours = join(root, "src");
        b.onResolve({ filter: /^(node:)?fs\/promises$/ }, (args) => (args.importer.startsWith(ours) ? { path: join(ours, "fast-path-fs.ts") } : undefined));
      },
    },
  ],
  platform: "node",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
});
writeFileSync(join(root, "dist", "fast-meta.json"), JSON.stringify(fast.metafile));

// bin/amlauth.cjs answers `--version` and non-terminal `--help` from these files, written by
// running the real program, so they cannot drift from it (test/e2e/startup.test.ts compares them).
const { main } = await import(pathToFileURL(join(root, "dist", "cli.js")).href);
async function capture(args) {
  let out = "";
  const sink = new Writable({ write(chunk, _enc, done) { out += chunk; done(); } });
  const ctx = {
    stdin: Readable.from([]), stdout: sink, stderr: sink,
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
    env: {}, cwd: root, homedir: root, now: () => Date.now(),
    execPath: process.execPath, cliPath: join(root, "bin", "amlauth.cjs"), pid: process.pid,
    signal: new AbortController().signal,
  };
  const code = await main(args, ctx);
  if (code !== 0) throw new Error(`amlauth ${args.join(" ")} exited ${code} during the build`);
  return out;
}
writeFileSync(join(root, "dist", "version.txt"), await capture(["--version"]));
writeFileSync(join(root, "dist", "help.txt"), await capture(["--help"]));
