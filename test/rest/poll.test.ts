import { describe, expect, it } from "vitest";
import { InterruptedError, ServiceError } from "../../src/errors.js";
import type { HttpPipeline, HttpRequest } from "../../src/rest/http-types.js";
import { operationIdFrom, pollUntil, pollV1Operation } from "../../src/rest/poll.js";

const base = { describe: "the deployment of svc", resumeHint: "check with `amlauth auth show svc`" };

function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe("pollUntil", () => {
  it("starts fast, backs off to 5 s, honours a server delay and reports each new label once", async () => {
    const clock = fakeClock();
    const labels: string[] = [];
    let calls = 0;
    await pollUntil(
      async () => {
        calls += 1;
        if (calls === 4) return { done: false, label: "Running", retryAfterMs: 1500 };
        return { done: calls === 9, label: calls < 3 ? "NotStarted" : calls < 9 ? "Running" : "Succeeded" };
      },
      { ...base, ...clock, onProgress: (l) => labels.push(l) },
    );
    expect(clock.sleeps).toEqual([250, 500, 1000, 1500, 4000, 5000, 5000, 5000]);
    expect(labels).toEqual(["NotStarted", "Running", "Succeeded"]);
  });

  it("gives up after the bound with a hint on how to check", async () => {
    const clock = fakeClock();
    const err = await pollUntil(async () => ({ done: false }), { ...base, ...clock, maxWaitMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).message).toBe("gave up waiting for the deployment of svc after 0 min");
    expect((err as ServiceError).hint).toMatch(/amlauth auth show svc/);
    expect(clock.now()).toBeLessThanOrEqual(20_000);
  });

  it("turns Ctrl-C into InterruptedError that says the operation continues", async () => {
    const controller = new AbortController();
    let calls = 0;
    const err = await pollUntil(
      async () => {
        if (++calls === 2) controller.abort();
        return { done: false };
      },
      { ...base, signal: controller.signal, initialDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).hint).toBe("the operation continues on the server; check with `amlauth auth show svc`");
  });
});

describe("pollV1Operation", () => {
  function pipelineAnswering(bodies: unknown[]): HttpPipeline & { urls: string[] } {
    const urls: string[] = [];
    return {
      urls,
      async send() {
        throw new Error("not used");
      },
      async sendJson<T>(req: HttpRequest) {
        urls.push(req.url);
        return { status: 200, headers: {}, body: bodies[Math.min(urls.length - 1, bodies.length - 1)] as T };
      },
      close() {},
    };
  }

  it("follows the operation to Succeeded with sub-operation labels", async () => {
    const p = pipelineAnswering([
      { id: "op1", state: "Running", operationDetails: { subOperationType: "BuildImage" } },
      { id: "op1", state: "Succeeded" },
    ]);
    const labels: string[] = [];
    const status = await pollV1Operation(p, "https://mms/ops/op1", { ...base, ...fakeClock(), onProgress: (l) => labels.push(l) });
    expect(status.state).toBe("Succeeded");
    expect(labels).toEqual(["Running: BuildImage", "Succeeded"]);
  });

  it("reports a failed operation in one line with its code and first detail", async () => {
    const p = pipelineAnswering([
      {
        state: "Failed",
        error: { code: "AciDeploymentFailed", statusCode: 400, message: "Aci Deployment failed\nwith exception", details: [{ code: "CrashLoopBackOff", message: "container crashed" }] },
      },
    ]);
    const err = await pollV1Operation(p, "https://mms/ops/x", { ...base, ...fakeClock() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as Error).message).toBe(
      "the deployment of svc ended Failed: Aci Deployment failed with exception (AciDeploymentFailed); container crashed",
    );
    expect((err as ServiceError).code).toBe("AciDeploymentFailed");
  });

  it("rejects a status without state", async () => {
    const p = pipelineAnswering([{ id: "x" }]);
    await expect(pollV1Operation(p, "https://mms/ops/x", { ...base, ...fakeClock() })).rejects.toThrow("has no state");
  });

  it("takes the operation id from the last path segment of Operation-Location", () => {
    expect(operationIdFrom("https://h/modelmanagement/v1.0/x/operations/abc-123?api-version=1")).toBe("abc-123");
    expect(operationIdFrom("/operations/op%2F1")).toBe("op/1");
    expect(operationIdFrom("")).toBeUndefined();
  });
});
