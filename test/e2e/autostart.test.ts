// `npx amlauth --emulator keys list demo-aci` works as the first command on a fresh machine:
// with no emulator running, --emulator starts one in the background (a notice on stderr).
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./helpers.js";

const home = mkdtempSync(join(tmpdir(), "amlauth-autostart-"));
const env = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: home,
  XDG_CACHE_HOME: join(home, ".cache"),
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_STATE_HOME: join(home, ".state"),
  NO_COLOR: "1",
};
const run = (args: string[]) => runCli(args, { env, cwd: home, timeoutMs: 30_000 });

afterAll(async () => {
  await run(["emulator", "stop"]);
  rmSync(home, { recursive: true, force: true });
});

describe("--emulator on a fresh machine", () => {
  it("starts an emulator in the background, then answers", async () => {
    const r = await run(["--emulator", "keys", "list", "demo-aci", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/emulator/i);
    expect(Object.keys(JSON.parse(r.stdout) as object).sort()).toEqual(["primaryKey", "secondaryKey"]);
    expect(existsSync(join(home, ".state", "amlauth", "emulator", "connection.json"))).toBe(true);

    const status = await run(["emulator", "status"]);
    expect(status.code).toBe(0);
    // The second command reuses it quietly.
    const again = await run(["--emulator", "auth", "show", "demo-aci", "-o", "json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe("");
  });

  it("stop ends it; status then says so with exit 1", async () => {
    const stop = await run(["emulator", "stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    const status = await run(["emulator", "status"]);
    expect(status.code).toBe(1);
  });
});
