// The ARM SDK loads only when a v2 call really goes out: creating the backend and refusing a rule
// violation must not pay its ~150 ms load time. (Own file: a fresh module graph per test file.)
import { createRequire } from "node:module";
import { expect, it } from "vitest";
import { RuleViolationError } from "../../src/errors.js";
import { createV2Backend } from "../../src/rest/v2.js";
import { ARM, FakeArm, RG, SUB, WS } from "./fake-arm.js";

const sdkLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes("arm-machinelearning"));

it("loads @azure/arm-machinelearning on the first call, not before", async () => {
  const arm = new FakeArm({ ep: {} });
  const backend = createV2Backend({
    pipeline: arm,
    getToken: async () => "arm-token",
    config: { subscription: SUB, resourceGroup: RG, workspace: WS, armEndpoint: ARM },
  });
  await expect(backend.setAuthMode("ep", { mode: "none" }, { wait: true })).rejects.toBeInstanceOf(RuleViolationError);
  expect(sdkLoaded()).toBe(false);
  await backend.get("ep");
  expect(sdkLoaded()).toBe(true);
});
