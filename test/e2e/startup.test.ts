// Issue 6: `--version` and `--help` load no heavy module (Azure SDKs, identity, emulator, ora,
// cosmiconfig). Proven twice: statically from the bundle's metafile, and at run time by recording
// every module the process resolves.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { BIN, REPO_ROOT } from "./helpers.js";
import { main } from "../../src/main.js";
import { makeTestContext } from "../unit/helpers.js";

interface Metafile {
  outputs: Record<string, { imports: Array<{ path: string; kind: string }>; inputs: Record<string, unknown> }>;
}
// The emulator's small connection-file helpers may load; its server, store, certs and routes may not.
const HEAVY = [/@azure\//, /node_modules\/ora\//, /node_modules\/cosmiconfig\//, /node_modules\/js-yaml\//, /src\/emulator\/(server|store|certs|jwt|deps|index|routes\/)/, /node-forge/];

function heavyInputs(meta: Metafile, output: string): string[] {
  return Object.keys(meta.outputs[output]?.inputs ?? {}).filter((i) => HEAVY.some((re) => re.test(i)));
}

describe("start-up footprint", () => {
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, "dist", "meta.json"), "utf8")) as Metafile;

  it("the entry chunk's static imports hold no heavy module", () => {
    const seen = new Set<string>();
    const queue = ["dist/cli.js"];
    while (queue.length > 0) {
      const out = queue.pop()!;
      if (seen.has(out)) continue;
      seen.add(out);
      for (const imp of meta.outputs[out]?.imports ?? []) {
        if (imp.kind === "import-statement" && meta.outputs[imp.path]) queue.push(imp.path);
      }
    }
    const heavy = [...seen].flatMap((o) => heavyInputs(meta, o));
    expect(heavy).toEqual([]);
    // And the heavy modules are in the bundle at all (lazily), so the check is not vacuous.
    const all = Object.keys(meta.outputs).flatMap((o) => heavyInputs(meta, o));
    expect(all.some((i) => i.includes("@azure/identity"))).toBe(true);
    expect(all.some((i) => i.includes("arm-machinelearning"))).toBe(true);
  });

  function loadsOf(args: string[]): { status: number | null; stdout: string; distFiles: string[]; nodeModules: string[] } {
    const dir = mkdtempSync(join(tmpdir(), "amlauth-loads-"));
    const log = join(dir, "loads.txt");
    try {
      const r = spawnSync(process.execPath, ["--import", join(REPO_ROOT, "test", "fixtures", "trace-loads.mjs"), BIN, ...args], {
        env: { PATH: process.env.PATH, HOME: dir, AMLAUTH_TRACE_LOADS: log },
        encoding: "utf8",
      });
      const loaded = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter((u) => u.startsWith("file:")) : [];
      const paths = loaded.map((u) => relative(REPO_ROOT, new URL(u).pathname));
      return {
        status: r.status,
        stdout: r.stdout,
        distFiles: paths.filter((p) => p.startsWith("dist/")),
        nodeModules: paths.filter((p) => p.includes("node_modules")),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  for (const flag of ["--version", "--help"]) {
    it(`${flag} in a pipe loads no module at all, and prints what the full program prints`, async () => {
      const r = loadsOf([flag]);
      expect(r.status).toBe(0);
      expect(r.distFiles).toEqual([]);
      expect(r.nodeModules).toEqual([]);
      // The fast path's text is the real program's output (no drift from the source).
      const ctx = makeTestContext();
      expect(await main([flag], ctx)).toBe(0);
      expect(r.stdout).toBe(ctx.stdoutText());
    });
  }

  it("a subcommand's --help loads the CLI but no heavy module", () => {
    const r = loadsOf(["keys", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("rotate");
    expect(r.distFiles).toContain("dist/cli.js");
    expect(r.distFiles.flatMap((f) => heavyInputs(meta, f))).toEqual([]);
    expect(r.nodeModules).toEqual([]);
  });
});
