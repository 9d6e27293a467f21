// Fault injection, the request log, and bad input: malformed JSON, huge bodies, slow headers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:tls";
import { request as httpsRequest } from "node:https";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { httpsCall, MMS, preparedDataDir, startTestEmulator, WS_PATH } from "./helpers.js";
import type { TestEmulator } from "./helpers.js";
import { isLoopback } from "../../src/emulator/routes/admin.js";

let emu: TestEmulator;
const logLines: string[] = [];
beforeAll(async () => {
  emu = await startTestEmulator({ log: (line) => logLines.push(line), headersTimeoutMs: 400, requestTimeoutMs: 2000 });
});
afterAll(async () => {
  await emu?.dispose();
});

const addFault = (spec: unknown) => emu.call("POST", "/_emulator/faults", { body: spec });
const listkeys = `${MMS}/services/demo-aci/listkeys`;

describe("fault injection", () => {
  it("serves 429 with Retry-After: 1 exactly N times, then normal answers", async () => {
    const added = await addFault({ match: { method: "POST", pathRegex: "/listkeys$" }, action: "429", retryAfterSeconds: 1, count: 3 });
    expect(added.status).toBe(201);
    expect(added.json.faults[0]).toMatchObject({ action: "429", remaining: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await emu.arm("POST", listkeys);
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers["retry-after"]).toBe("1");
        expect(r.json).toMatchObject({ code: "TooManyRequests", statusCode: 429 }); // the MMS shape
      }
    }
    expect(statuses).toEqual([429, 429, 429, 200, 200]);
    expect((await emu.call("GET", "/_emulator/faults")).json.faults).toEqual([]);
  });

  it("matches the method and path, answers 503, resets connections and delays", async () => {
    await addFault({ match: { method: "GET", pathRegex: "/listkeys$" }, action: "503", count: 1 });
    expect((await emu.arm("POST", listkeys)).status).toBe(200); // method does not match
    await addFault({ match: { pathRegex: "^/discovery$" }, action: "503", retryAfterSeconds: 2, count: 1 });
    const unavailable = await emu.call("GET", "/discovery");
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("2");
    expect((await emu.call("GET", "/discovery")).status).toBe(200);

    await addFault({ match: { pathRegex: "^/discovery$" }, action: "reset", count: 1 });
    await expect(httpsCall(`${emu.url}/discovery`, emu.ca, "GET")).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await emu.call("GET", "/discovery")).status).toBe(200);
    expect(emu.requests().some((r) => r.path === "/discovery" && r.status === 0)).toBe(true);

    await addFault({ match: { pathRegex: "^/discovery$" }, action: "delay", delayMs: 300, count: 1 });
    const started = Date.now();
    expect((await emu.call("GET", "/discovery")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await emu.call("DELETE", "/_emulator/faults");
  });

  it("afterApply: the change is applied and durable, the client sees the fault", async () => {
    await addFault({ match: { method: "POST", pathRegex: "/regenerateKeys$" }, action: "503", count: 1, afterApply: true });
    const r = await emu.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, { body: { keyType: "Primary", keyValue: "applied-behind-a-503" } });
    expect(r.status).toBe(503);
    expect((await emu.arm("POST", listkeys)).json.primaryKey).toBe("applied-behind-a-503");
    await addFault({ match: { method: "POST", pathRegex: "/regenerateKeys$" }, action: "reset", count: 1, afterApply: true });
    await expect(
      emu.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, { body: { keyType: "Primary", keyValue: "applied-behind-a-reset" } }),
    ).rejects.toThrow();
    expect((await emu.arm("POST", listkeys)).json.primaryKey).toBe("applied-behind-a-reset");
  });

  it("rejects malformed fault specs with a 400 naming the field", async () => {
    for (const [spec, field] of [
      [{ match: { pathRegex: "(" }, action: "429", count: 1 }, "pathRegex"],
      [{ match: { pathRegex: "x" }, action: "418", count: 1 }, "action"],
      [{ match: { pathRegex: "x" }, action: "429", count: 0 }, "count"],
      [{ match: {}, action: "429", count: 1 }, "pathRegex"],
      [{ match: { pathRegex: "x" }, action: "delay", delayMs: -1, count: 1 }, "delayMs"],
    ] as const) {
      const r = await addFault(spec);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe("InvalidFault");
      expect(r.json.error.message).toContain(field);
    }
  });

  it("loads faults.json from the data dir at start", async () => {
    const dataDir = await preparedDataDir();
    await writeFile(join(dataDir, "faults.json"), JSON.stringify({ faults: [{ match: { pathRegex: "^/discovery$" }, action: "429", count: 2 }] }));
    const other = await startTestEmulator({ dataDir, inMemory: true });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await other.call("GET", "/discovery")).status);
      expect(statuses).toEqual([429, 429, 200]);
    } finally {
      await other.dispose();
    }
    await writeFile(join(dataDir, "faults.json"), "[{]");
    await expect(startTestEmulator({ dataDir, inMemory: true })).rejects.toThrow(/faults\.json is not valid JSON/);
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe("request log and admin routes", () => {
  it("logs METHOD path status ms without query strings, and lists requests since a sequence number", async () => {
    const before = (await emu.call("GET", "/_emulator/requests")).json.lastSeq;
    await emu.call("GET", "/discovery?secret-looking=sig%3Dabc");
    await httpsCall(`${emu.url}/blob/LocalUpload/c1/x.txt?sig=SECRETSIG&se=2000-01-01T00:00:00Z&sp=rcw`, emu.ca, "GET");
    const since = (await emu.call("GET", `/_emulator/requests?since=${before}`)).json;
    expect(since.requests.map((r: { method: string; path: string; status: number }) => [r.method, r.path, r.status])).toEqual([
      ["GET", "/discovery", 200],
      ["GET", "/blob/LocalUpload/c1/x.txt", 403],
    ]);
    expect(logLines.some((l) => /^GET \/discovery 200 \d+ms$/.test(l))).toBe(true);
    expect(logLines.join("\n")).not.toMatch(/SECRETSIG|sig=|secret-looking/);
    // admin calls are not in the request log
    expect(since.requests.some((r: { path: string }) => r.path.startsWith("/_emulator/"))).toBe(false);
    expect((await emu.call("DELETE", "/_emulator/requests")).status).toBe(200);
    expect((await emu.call("GET", "/_emulator/requests")).json.requests).toEqual([]);
  });

  it("answers health, and refuses non-loopback peers", async () => {
    const health = await emu.call("GET", "/_emulator/health");
    expect(health.json).toMatchObject({ status: "ok", url: emu.url, inMemory: false });
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("::ffff:127.0.0.2")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    expect(isLoopback("10.0.0.5")).toBe(false);
    expect(isLoopback("::ffff:192.168.1.2")).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
    // A file-backed emulator cannot be reset while running.
    expect((await emu.call("POST", "/_emulator/reset")).status).toBe(409);
  });
});

describe("malformed requests get 4xx and the server keeps serving", () => {
  it("bad JSON: 400 without echoing the body", async () => {
    const r = await emu.arm("POST", `${MMS}/services/demo-aci/regenerateKeys`, {
      raw: true,
      body: '{"keyType": "Primary", "keyValue": "super-secret-value"',
      headers: { "content-type": "application/json" },
    });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: "BadRequest", statusCode: 400, message: "The request body is not valid JSON." });
    expect(r.text).not.toContain("super-secret");
    const empty = await emu.arm("POST", `${MMS}/services`, { raw: true, body: "", headers: { "content-type": "application/json" } });
    expect(empty.status).toBe(400);
    const notObject = await emu.arm("POST", `${MMS}/services`, { body: [1, 2] });
    expect(notObject.status).toBe(400);
    const badPath = await emu.arm("GET", `${MMS}/services/%E0%A4%A`);
    expect(badPath.status).toBe(400);
  });

  it("huge bodies: 413 for a declared and for a chunked body over the limit", async () => {
    const declared = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${emu.url}${MMS}/services`, {
        method: "POST",
        ca: emu.ca,
        headers: { "content-type": "application/json", "content-length": String(8 * 1024 * 1024), authorization: "Bearer amlauth-emulator-static-token" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(Buffer.alloc(64 * 1024, 0x20)); // the rest is never sent
    });
    expect(declared).toBe(413);

    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${emu.url}${MMS}/services/demo-aci/regenerateKeys`, {
        method: "POST",
        ca: emu.ca,
        headers: { "content-type": "application/json", authorization: "Bearer amlauth-emulator-static-token" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", (err) => (String(err).match(/EPIPE|ECONNRESET/) ? undefined : reject(err)));
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 2 * 1024 * 1024 + 1) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(chunked).toBe(413);
    expect((await emu.call("GET", "/discovery")).status).toBe(200);
  });

  it("slow headers (slowloris) are cut off with 408 and the server keeps serving", async () => {
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: emu.port, ca: emu.ca, servername: "localhost" }, () => {
        socket.write("GET /discovery HTTP/1.1\r\nHost: localhost\r\n");
        const drip = setInterval(() => socket.write("X-Slow: a\r\n"), 100);
        let received = "";
        socket.on("data", (d) => (received += d.toString()));
        socket.on("close", () => {
          clearInterval(drip);
          resolve(received);
        });
        setTimeout(() => {
          clearInterval(drip);
          socket.destroy();
          reject(new Error("the slow connection was not cut off within 5 s"));
        }, 5000).unref();
      });
      socket.on("error", () => undefined);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await emu.call("GET", "/discovery")).status).toBe(200);
  });

  it("garbage instead of HTTP gets 400; unknown paths get 404 in the API's shape", async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: emu.port, ca: emu.ca, servername: "localhost" }, () => {
        socket.write("\u0000\u0001 this is not HTTP \r\n\r\n");
      });
      let received = "";
      socket.on("data", (d) => (received += d.toString()));
      socket.on("close", () => resolve(received));
      socket.on("error", () => resolve(received));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    const mms = await emu.arm("GET", `${MMS}/nothing-here`);
    expect(mms.status).toBe(404);
    expect(mms.json.statusCode).toBe(404);
    const arm = await emu.arm("GET", `${WS_PATH}/nothing?api-version=1`);
    expect(arm.json.error.code).toBe("NotFound");
    const blob = await emu.call("GET", "/blob/");
    expect(blob.status).toBe(404);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => emu.arm("PATCH", `${MMS}/services/demo-aci`, { raw: true, body: `[{"op":${i}`, headers: { "content-type": "application/json-patch+json" } })));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([400]));
    expect((await emu.call("GET", "/discovery")).status).toBe(200);
  });
});
