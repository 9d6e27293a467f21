// The README's emulator curl walkthrough must work exactly as printed (issue 2 acceptance).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, startWorld, type TestWorld } from "./helpers.js";

function readmeBlock(marker: string): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(`<!-- readme-test: ${marker} -->`);
  if (at < 0) throw new Error(`README has no block marked ${marker}`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match?.[1]) throw new Error(`no sh block after marker ${marker}`);
  return match[1];
}

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

describe("README emulator walkthrough", () => {
  it("runs as printed: sign-in, workspace, listkeys, regenerateKeys, token, both scoring URIs", async () => {
    const script = readmeBlock("emulator-curl");
    // Async: the emulator runs in this process and must keep answering while bash runs.
    const { stdout: out } = await promisify(execFile)("bash", ["--norc", "--noprofile", "-c", `set -euo pipefail\n${script}`], {
      env: { ...world.env },
      cwd: world.home,
      timeout: 30_000,
    });
    expect(out).toMatch(/"https:\/\/127\.0\.0\.1:\d+\/discovery"/);
    expect(out).toMatch(/"primaryKey"/);
    expect(out).toMatch(/"Succeeded"|"Running"/);
    expect(out).toContain('"service":"demo-aci"');
    expect(out).toContain('"service":"demo-aks"');
  });
});
