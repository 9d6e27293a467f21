// Persistence: restarts keep state, concurrent writers lose nothing, SIGKILL mid-write never
// leaves an unloadable store.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { freshDataDirs, MMS, startTestEmulator, tempDir } from "./helpers.js";
import { FileStore, normalizeLoadedState } from "../../src/emulator/store.js";

const freshDir = freshDataDirs();

describe("restarts", () => {
  it("keep services, keys, certificates and token validity", async () => {
    const dataDir = await freshDir();
    const first = await startTestEmulator({ dataDir });
    const ca = first.ca;
    expect((await first.arm("POST", `${MMS}/services`, {
      body: { name: "kept-aks", computeType: "AKS", computeName: "aks-compute", authEnabled: false, aadAuthEnabled: true, environmentImageRequest: { modelIds: [] } },
    })).status).toBe(202);
    expect((await first.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, { body: { keyType: "Secondary", keyValue: "kept-secondary-key" } })).status).toBe(202);
    const keys = (await first.arm("POST", `${MMS}/services/demo-aci/listkeys`)).json;
    const token = (await first.arm("POST", `${MMS}/services/kept-aks/token`)).json.accessToken;
    await first.dispose();

    const second = await startTestEmulator({ dataDir });
    try {
      expect(second.ca).toBe(ca); // certificates reused, not regenerated
      expect((await second.arm("GET", `${MMS}/services/kept-aks`)).json).toMatchObject({ name: "kept-aks", aadAuthEnabled: true, state: "Healthy" });
      expect((await second.arm("POST", `${MMS}/services/demo-aci/listkeys`)).json).toEqual(keys);
      expect(keys.secondaryKey).toBe("kept-secondary-key");
      // Same signing key: a token minted before the restart still scores.
      expect((await second.call("POST", "/api/v1/service/kept-aks/score", { body: {}, bearer: token })).status).toBe(200);
      const files = await readdir(dataDir);
      expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
    } finally {
      await second.dispose();
    }
  });
});

describe("long-running operations", () => {
  it("complete on their own timer, without any read, and the result is persisted", async () => {
    const dataDir = await freshDir();
    const emu = await startTestEmulator({ dataDir, deployDelayMs: 60 });
    try {
      for (const name of ["timer-a", "timer-b", "timer-c"]) {
        const r = await emu.arm("POST", `${MMS}/services`, { body: { name, computeType: "ACI", environmentImageRequest: { modelIds: [] } } });
        expect(r.status).toBe(202);
      }
      // Only the file on disk is read: no route gets a chance to settle the operations.
      const deadline = Date.now() + 3000;
      let states: string[] = [];
      while (Date.now() < deadline) {
        const onDisk = JSON.parse(await readFile(join(dataDir, "state.json"), "utf8"));
        states = ["timer-a", "timer-b", "timer-c"].map((n) => onDisk.v1Services[n]?.state);
        if (states.every((s) => s === "Healthy")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(states).toEqual(["Healthy", "Healthy", "Healthy"]);
    } finally {
      await emu.dispose();
    }
  });
});

describe("concurrency", () => {
  it("50 concurrent regenerations leave keys equal to listkeys, also after a restart", async () => {
    const dataDir = await freshDir();
    const emu = await startTestEmulator({ dataDir });
    const sent = { Primary: new Set<string>(), Secondary: new Set<string>() };
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const keyType = i % 2 === 0 ? "Primary" : "Secondary";
        const keyValue = `concurrent-${keyType}-${i}`;
        sent[keyType].add(keyValue);
        return emu.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, { body: { keyType, keyValue } });
      }),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(50).fill(202));
    const listed = (await emu.arm("POST", `${MMS}/services/demo-aci/listkeys`)).json;
    expect(sent.Primary.has(listed.primaryKey)).toBe(true);
    expect(sent.Secondary.has(listed.secondaryKey)).toBe(true);
    // The last applied value of each key is the one on disk (every 202 was durable).
    const onDisk = JSON.parse(await readFile(join(dataDir, "state.json"), "utf8"));
    expect(onDisk.v1Services["demo-aci"].keys).toEqual(listed);
    await emu.dispose();
    const again = await startTestEmulator({ dataDir });
    try {
      expect((await again.arm("POST", `${MMS}/services/demo-aci/listkeys`)).json).toEqual(listed);
    } finally {
      await again.dispose();
    }
  });

  it("50 concurrent writers lose no update", async () => {
    const dataDir = await freshDir();
    const emu = await startTestEmulator({ dataDir });
    const names = Array.from({ length: 50 }, (_, i) => `writer-${String(i).padStart(2, "0")}`);
    const replies = await Promise.all(
      names.map((name, i) =>
        emu.arm("POST", `${MMS}/services`, {
          body: { name, computeType: "ACI", authEnabled: true, kvTags: { i: String(i) }, environmentImageRequest: { modelIds: [] } },
        }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(50).fill(202));
    await emu.dispose();
    const onDisk = normalizeLoadedState(JSON.parse(await readFile(join(dataDir, "state.json"), "utf8")));
    for (const [i, name] of names.entries()) expect(onDisk.v1Services[name]?.kvTags).toEqual({ i: String(i) });
  });
});

describe("crash safety", () => {
  let storeBundle: string;
  let scratch: string;
  beforeAll(async () => {
    scratch = await freshDir();
    storeBundle = join(scratch, "store.mjs");
    await build({
      entryPoints: [join(import.meta.dirname, "../../src/emulator/store.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: storeBundle,
      logLevel: "silent",
    });
    // A writer that hammers the FileStore with ~400 KB states and reports each durable change.
    await writeFile(
      join(scratch, "writer.mjs"),
      `import { FileStore, emptyState } from ${JSON.stringify(storeBundle)};
const store = await FileStore.open(process.argv[2], () => emptyState());
const ballast = "x".repeat(2000);
for (;;) {
  const batch = [];
  for (let i = 0; i < 8; i++) {
    batch.push(store.update((d) => {
      const n = (d.v2Endpoints.counter?.n ?? 0) + 1;
      d.v2Endpoints.counter = { n };
      d.v1Services["svc" + (n % 200)] = { n, ballast };
      return n;
    }));
  }
  const done = await Promise.all(batch);
  process.stdout.write("ack " + done[done.length - 1] + "\\n");
}
`,
    );
  });

  it("a process killed with SIGKILL during a burst of writes leaves a loadable store (>= 25 kills)", async () => {
    const dataDir = await freshDir();
    let kills = 0;
    let lastAck = 0;
    // Kills that interrupted a write (a temp file was left): proves the loop tests what it claims.
    let interrupted = 0;
    for (let round = 0; round < 25 || (interrupted === 0 && round < 60); round++) {
      const child = spawn(process.execPath, [join(scratch, "writer.mjs"), dataDir], { stdio: ["ignore", "pipe", "inherit"] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        let seen = 0;
        let buffered = "";
        child.stdout!.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split("\n");
          buffered = lines.pop()!;
          for (const line of lines) {
            lastAck = Math.max(lastAck, Number(line.slice(4)));
            seen += 1;
          }
          // Kill at a varying point after writes are flowing.
          if (seen >= 1 + (round % 4)) {
            child.stdout!.removeAllListeners("data");
            setTimeout(() => {
              child.kill("SIGKILL");
              resolve();
            }, round % 3);
          }
        });
        child.once("error", reject);
        setTimeout(() => reject(new Error("writer produced no acknowledgement in 10 s")), 10_000).unref();
      });
      expect(await exited).toBe("SIGKILL");
      kills += 1;
      if ((await readdir(dataDir)).some((f) => f.includes(".tmp-"))) interrupted += 1;
      // Loadable, never reseeded, and no acknowledged change lost.
      const store = await FileStore.open(dataDir, () => {
        throw new Error("the state file vanished");
      });
      const counter = (store.state.v2Endpoints as unknown as Record<string, { n: number } | undefined>)["counter"]?.n ?? 0;
      expect(counter).toBeGreaterThanOrEqual(lastAck);
      lastAck = counter;
      await store.close();
    }
    expect(kills).toBeGreaterThanOrEqual(25);
    expect(interrupted).toBeGreaterThan(0);
    expect((await readdir(dataDir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("refuses a corrupt state file with a message that says how to recover", async () => {
    const dataDir = await freshDir();
    await writeFile(join(dataDir, "state.json"), '{"version": 1, "v1Services": ');
    await expect(FileStore.open(dataDir, () => normalizeLoadedState({ version: 1 }))).rejects.toThrow(/amlauth emulator reset/);
  });
});
