// Issue 7, part 1 (Ctrl-C): SIGINT to the spawned CLI while it waits leaves the service consistent
// and prints, on one line, how to check or resume. Updates in this world take 1.5 s on the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startWorld, type TestWorld } from "../e2e/helpers.js";
import { failureProblems, injectFaults, lastSeq, pendingFaults, requestsSince, runInProcess, spawnCli, waitFor } from "./helpers.js";
import { operationCount, service } from "./world-state.js";

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld({ deployDelayMs: 1500 });
  writeFileSync(join(world.home, "score.py"), "def init():\n    pass\n\ndef run(data):\n    return data\n");
});
afterAll(async () => {
  await world.close();
});

/** Resolves once the CLI polls an operation, i.e. it is inside its wait. */
async function untilPolling(since: number): Promise<void> {
  await waitFor(async () => {
    const { requests } = await requestsSince(world, since);
    return requests.some((r) => r.method === "GET" && r.path.includes("/operations/")) ? true : undefined;
  }, "the CLI to poll its operation");
}

/** Polls `amlauth auth show NAME` (the check the CLI's own message suggests) until `done` holds. */
async function untilSettled(name: string, done: (info: { state: string; authMode: string }) => boolean) {
  return waitFor(async () => {
    const r = await runInProcess(world, ["auth", "show", name, "-o", "json"]);
    if (r.code !== 0) return undefined;
    const info = JSON.parse(r.stdout) as { state: string; authMode: string };
    return done(info) ? info : undefined;
  }, `${name} to settle`);
}

describe("Ctrl-C during a wait", () => {
  it("deploy: exits 130 with how to check; the deployment finishes once, on the server", async () => {
    const since = await lastSeq(world);
    const cli = await spawnCli(world, ["deploy", "i-dep", "--compute-type", "aci", "-m", "demo-model:1", "--entry-script", "score.py", "--auth", "key"]);
    await untilPolling(since);
    cli.child.kill("SIGINT");
    const r = await cli.done;
    expect(failureProblems(r, 130)).toEqual([]);
    expect(r.stderr).toMatch(/^amlauth: interrupted while waiting for the deployment of i-dep; the operation continues on the server; check with `amlauth auth show i-dep`/);

    // Consistent: the one deployment the server accepted completes; nothing was sent twice.
    expect(await untilSettled("i-dep", (i) => i.state === "Healthy")).toMatchObject({ authMode: "key" });
    expect(operationCount(world, "v1", "Deploy", "i-dep")).toBe(1);
  });

  it("auth set: exits 130 with how to check; the update completes to the requested mode", async () => {
    const since = await lastSeq(world);
    const cli = await spawnCli(world, ["auth", "set", "demo-aks", "--mode", "key"]);
    await untilPolling(since);
    cli.child.kill("SIGINT");
    const r = await cli.done;
    expect(failureProblems(r, 130)).toEqual([]);
    expect(r.stderr).toMatch(/check with `amlauth auth show demo-aks`/);
    // Read through the API: the server finishes the update on its own clock.
    await untilSettled("demo-aks", (i) => i.state === "Healthy" && i.authMode === "key");
    expect(operationCount(world, "v1", "Update", "demo-aks")).toBe(1);
  });

  it("keys rotate --wait-for-clients: exits 130 with the primary untouched, and the printed command resumes it", async () => {
    const before = service(world, "demo-aci")!.keys;
    const cli = await spawnCli(world, ["keys", "rotate", "demo-aci", "--wait-for-clients", "60", "--yes"]);
    await waitFor(() => (/secondary key of demo-aci regenerated/.test(cli.stderr()) ? true : undefined), "the rotation to reach its wait");
    cli.child.kill("SIGINT");
    const r = await cli.done;
    // The progress line before the wait is expected; the interruption itself is one line.
    const lines = r.stderr.trim().split("\n");
    expect(r.code).toBe(130);
    expect(lines.at(-1)).toMatch(/^amlauth: interrupted while waiting for clients of demo-aci.*`amlauth keys rotate demo-aci --then-primary`/);
    expect(failureProblems({ ...r, stderr: lines.at(-1)! + "\n" }, 130)).toEqual([]);

    const mid = service(world, "demo-aci")!.keys;
    expect(mid.primaryKey).toBe(before.primaryKey);
    expect(mid.secondaryKey).not.toBe(before.secondaryKey);
    const status = await runInProcess(world, ["keys", "rotate", "demo-aci", "--status", "-o", "json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ inProgress: true });

    const resumed = await runInProcess(world, ["keys", "rotate", "demo-aci", "--then-primary", "--yes"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = service(world, "demo-aci")!.keys;
    expect(after.secondaryKey).toBe(mid.secondaryKey);
    expect(after.primaryKey).not.toBe(mid.primaryKey);
  });
});

describe("after an interrupted or --no-wait change", () => {
  it("auth set does not report 'nothing to change' while an update to another mode is still running", async () => {
    const settled = await untilSettled("demo-aks", (i) => i.state === "Healthy");
    const from = settled.authMode === "token" ? "token" : "key";
    const to = from === "token" ? "key" : "token";
    const accepted = await runInProcess(world, ["auth", "set", "demo-aks", "--mode", to, "--no-wait"]);
    expect(accepted.code, accepted.stderr).toBe(0);
    // The service still shows the old mode while Transitioning; asking for it must not claim success.
    const r = await runInProcess(world, ["auth", "set", "demo-aks", "--mode", from]);
    expect(failureProblems(r, 1)).toEqual([]);
    expect(r.stderr).toMatch(/still being changed \(state Transitioning\).*amlauth auth show demo-aks/);
    expect(await untilSettled("demo-aks", (i) => i.state === "Healthy")).toMatchObject({ authMode: to });
  });
});

describe("Ctrl-C while a change is on the wire (in process: the same abort signal the bin wires)", () => {
  it("keys regen: exits 130, says the key may have changed and how to check; keys and state agree", async () => {
    const regens = operationCount(world, "v1", "RegenerateKeys", "demo-aci");
    await injectFaults(world, { match: { method: "POST", pathRegex: "/services/demo-aci/regenerateKeys$" }, action: "delay", delayMs: 3000, count: 1 });
    const controller = new AbortController();
    const running = runInProcess(world, ["keys", "regen", "demo-aci", "--secondary", "--yes"], { signal: controller.signal });
    // The fault is spent once the request reached the server: it is in flight now.
    await waitFor(async () => ((await pendingFaults(world)).length === 0 ? true : undefined), "the regenerate request to be in flight");
    controller.abort();
    const r = await running;
    expect(failureProblems(r, 130)).toEqual([]);
    expect(r.stderr).toMatch(/may or may not have been regenerated; check with `amlauth keys list demo-aci`/);

    const listed = await runInProcess(world, ["keys", "list", "demo-aci", "-o", "json"]);
    expect(JSON.parse(listed.stdout)).toEqual(service(world, "demo-aci")!.keys);
    expect(operationCount(world, "v1", "RegenerateKeys", "demo-aci") - regens).toBeLessThanOrEqual(1);
  });
});

// With an update that takes a while, as on Azure, a resend of the already-applied PATCH would meet
// 409 Conflict ("still in state Transitioning"): auth set must follow its own change instead.
it("auth set with a reset after the server applied it: exit 0 and the requested mode", async () => {
  const settled = await untilSettled("demo-aks", (i) => i.state === "Healthy");
  const want = settled.authMode === "key" ? "token" : "key";
  const updates = operationCount(world, "v1", "Update", "demo-aks");
  await injectFaults(world, { match: { method: "PATCH", pathRegex: "/services/demo-aks$" }, action: "reset", count: 1, afterApply: true });
  const r = await runInProcess(world, ["auth", "set", "demo-aks", "--mode", want, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ authMode: want, state: "Healthy" });
  expect(operationCount(world, "v1", "Update", "demo-aks")).toBe(updates + 1);
});
