import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // 2-core machines: keep parallelism modest so spawned CLIs and emulators don't starve.
    maxWorkers: 2,
    env: { TZ: "UTC", LC_ALL: "C", NO_COLOR: "1" },
  },
});
