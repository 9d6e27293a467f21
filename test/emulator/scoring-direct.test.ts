// Issue 6: the direct scoring path (server.ts directRoute, ScoringGate, the JSON echo) must answer
// exactly like the generic path did: same auth verdicts, faults, body limits, request log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request as httpsRequest } from "node:https";
import { MMS, httpsCall, startTestEmulator, WS_PATH } from "./helpers.js";
import type { Reply, TestEmulator } from "./helpers.js";
import { jsonEcho, jsonValueBounds } from "../../src/emulator/routes/scoring.js";
import { ScoringGate } from "../../src/emulator/scoring-auth.js";
import type { ServiceKeyPair } from "../../src/emulator/store.js";

let emu: TestEmulator;
const logLines: string[] = [];
const ACI = "/aci/demo-aci/score";
const AKS = "/api/v1/service/demo-aks/score";

beforeAll(async () => {
  emu = await startTestEmulator({ log: (line) => logLines.push(line) });
});
afterAll(async () => {
  await emu?.dispose();
});

async function keys(name: string): Promise<ServiceKeyPair> {
  return (await emu.arm("POST", `${MMS}/services/${name}/listkeys`)).json;
}

function post(path: string, authorization: string | undefined, body: string): Promise<Reply> {
  return emu.call("POST", path, { raw: true, body, headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) } });
}

const lastSeq = () => emu.requestLog().at(-1)?.seq ?? 0;

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the JSON echo", () => {
  const samples = [
    "{}", "[]", '""', "0", "-0", "1.5e10", "-1E-2", "1e+5", "1.0e+00", "true", "false", "null",
    ' \t\n{"a" : [1, 2, {"b":null}] }\r\n', '[1,[2,{"x":[3,{}]}],"s"]', '{"":""}', '"\\u0041\\n\\/"', '"\\ud800"',
    "01", "1.", ".5", "1e", "1e-", "-", "-01", "0x10", "NaN", "Infinity", "tru", "nul", "truefalse", "1 2", "", "  ",
    '{"a":1,}', "[1,]", "[,1]", '{"a"}', '{"a":}', "{a:1}", "{'a':1}", '"\\u00zz"', '"\\x"', '"a\nb"', '"a\tb"',
    "[1 2]", '{"a":1 "b":2}', "[[[[]]]", "[]]", '{"a":[}', "\ufeff{}", '["\\"]', '["\\\\"]',
  ];

  it("accepts exactly what JSON.parse accepts", () => {
    for (const text of samples) {
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect(jsonValueBounds(Buffer.from(text)) !== null, JSON.stringify(text)).toBe(parses);
    }
  });

  it("agrees with JSON.parse on mutated documents (deterministic fuzz)", () => {
    const alphabet = '{}[]":,.-+eE0123456789 \\tu\nabnrfl/';
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const docs = ['{"a":[1,2,{"b":null}],"c":"x\\n"}', '[1.5e3,-0,true,false,"\\u0041"]', '{"data":[[1,2,3,4],[5,6,7,8]]}'];
    for (let k = 0; k < 20_000; k++) {
      let text = docs[k % docs.length]!;
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * (text.length + 1));
        const ch = alphabet[Math.floor(random() * alphabet.length)]!;
        const op = random();
        text = op < 0.4 ? text.slice(0, at) + ch + text.slice(at) : op < 0.7 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
      }
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      if ((jsonValueBounds(Buffer.from(text)) !== null) !== parses) expect.fail(`disagrees with JSON.parse on ${JSON.stringify(text)}`);
    }
  });

  it("echoes the value as sent without the blanks around it, at any nesting depth, as valid UTF-8", () => {
    const head = Buffer.from('{"input":');
    const echo = (body: Buffer | string) => jsonEcho(head, Buffer.isBuffer(body) ? body : Buffer.from(body))?.toString("utf8") ?? null;
    expect(echo(' \n{"a": [1.50, 2e3]}\t ')).toBe('{"input":{"a": [1.50, 2e3]}}');
    expect(echo("")).toBe('{"input":null}');
    expect(echo("[1,")).toBeNull();
    expect(echo('["é", "\\u00e9", "日本"]')).toBe('{"input":["é", "\\u00e9", "日本"]}');
    // Bytes that are not UTF-8 inside a string: accepted like JSON.parse(body.toString()) does,
    // and echoed as the decoder reads them.
    const invalid = Buffer.concat([Buffer.from('["a'), Buffer.from([0xff, 0xe2]), Buffer.from('"]')]);
    expect(() => JSON.parse(invalid.toString("utf8"))).not.toThrow();
    expect(echo(invalid)).toBe('{"input":["a\ufffd\ufffd"]}');
    expect(echo(Buffer.from([0x5b, 0xff, 0x5d]))).toBeNull(); // outside a string
    expect(echo(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("{}")]))).toBeNull(); // a BOM, as JSON.parse
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(echo(deep)).toBe(`{"input":${deep}}`);
  });

  it("answers the echo over HTTPS, and 400 in the scoring shape for bad JSON", async () => {
    const k = await keys("demo-aci");
    const r = await post(ACI, `Bearer ${k.primaryKey}`, ' {"data": [[1, 2.50]]} ');
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(r.text).toBe('{"service":"demo-aci","input":{"data": [[1, 2.50]]}}');
    expect((await post(ACI, `Bearer ${k.primaryKey}`, "")).json).toEqual({ service: "demo-aci", input: null });
    const bad = await post(ACI, `Bearer ${k.primaryKey}`, '{"data": [1,');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toEqual({ code: "BadRequest", message: "The scoring input is not valid JSON." });
  });
});

describe("direct and generic paths answer alike", () => {
  it("serves percent-encoded names and query strings, and logs the path without the query", async () => {
    const k = await keys("demo-aci");
    const encoded = await post("/aci/demo%2Daci/score", `Bearer ${k.primaryKey}`, "[1]");
    expect(encoded.status).toBe(200);
    expect(encoded.json).toEqual({ service: "demo-aci", input: [1] });
    const since = lastSeq();
    const withQuery = await post(`${ACI}?verbose=true&sig=SECRET`, `Bearer ${k.primaryKey}`, "[2]");
    expect(withQuery.status).toBe(200);
    expect(emu.requestLog(since).map((r) => [r.method, r.path, r.status])).toEqual([["POST", ACI, 200]]);
    expect((await emu.call("GET", ACI)).status).toBe(405);
    expect((await emu.call("GET", ACI)).headers["allow"]).toBe("POST");
    expect((await post("/aci//score", undefined, "")).status).toBe(404);
  });

  it("applies injected faults to scoring routes", async () => {
    const k = await keys("demo-aci");
    const add = (spec: unknown) => emu.call("POST", "/_emulator/faults", { body: spec });
    expect((await add({ match: { method: "POST", pathRegex: "^/aci/demo-aci/score$" }, action: "503", retryAfterSeconds: 2, count: 1 })).status).toBe(201);
    const unavailable = await post(ACI, `Bearer ${k.primaryKey}`, "{}");
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("2");
    expect(unavailable.json.error.code).toBe("ServiceUnavailable");
    expect((await post(ACI, `Bearer ${k.primaryKey}`, "{}")).status).toBe(200);
    await add({ match: { pathRegex: "/score$" }, action: "reset", count: 1 });
    await expect(httpsCall(`${emu.url}${ACI}`, emu.ca, "POST", { bearer: k.primaryKey, body: {} })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await post(ACI, `Bearer ${k.primaryKey}`, "{}")).status).toBe(200);
  });

  it("enforces the body limit on declared and on streamed bodies", async () => {
    const k = await keys("demo-aci");
    const oversized = (chunked: boolean) =>
      new Promise<Reply>((resolve, reject) => {
        const req = httpsRequest(`${emu.url}${ACI}`, {
          method: "POST",
          ca: emu.ca,
          agent: false,
          headers: { "content-type": "application/json", authorization: `Bearer ${k.primaryKey}`, ...(chunked ? {} : { "content-length": String(5 * 1024 * 1024) }) },
        });
        req.on("response", (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) }));
        });
        req.on("error", (err) => (/EPIPE|ECONNRESET/.test(String(err)) ? undefined : reject(err)));
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent <= 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once("drain", pump);
              return;
            }
          }
          if (chunked) req.end();
        };
        if (chunked) pump();
        else req.write(chunk);
      });
    for (const chunked of [false, true]) {
      const r = await oversized(chunked);
      expect(r.status).toBe(413);
      expect(r.json.error.code).toBe("RequestEntityTooLarge");
      expect(r.headers["connection"]).toBe("close");
    }
    expect((await post(ACI, `Bearer ${k.primaryKey}`, "{}")).status).toBe(200);
  });

  it("keeps 401 bodies and challenges, and parses every Bearer spelling the same on repeat calls", async () => {
    const k = await keys("demo-aci");
    for (let round = 0; round < 2; round++) {
      for (const header of [`Bearer ${k.primaryKey}`, `bearer ${k.primaryKey}`, `BEARER\t${k.primaryKey}`, `Bearer   ${k.secondaryKey}`]) {
        expect((await post(ACI, header, "{}")).status, header.replace(/\s.*/, "")).toBe(200);
      }
      const scheme = await post(ACI, `Bearer ${k.primaryKey}\tjunk`, "{}");
      expect(scheme.status).toBe(401);
      expect(scheme.json.error.code).toBe("InvalidAuthorizationScheme");
      expect(scheme.headers["www-authenticate"]).toBe(
        `Bearer realm="amlauth-emulator", error="invalid_token", error_description="The Authorization header must use the Bearer scheme: 'Bearer <key-or-token>'."`,
      );
      expect((await post(ACI, `Bearer ${k.primaryKey}x`, "{}")).json.error.code).toBe("InvalidKey");
      expect((await post(ACI, `Basic ${k.primaryKey}`, "{}")).json.error.code).toBe("InvalidAuthorizationScheme");
      expect((await post(ACI, undefined, "{}")).headers["www-authenticate"]).toBe('Bearer realm="amlauth-emulator"');
    }
  });

  it("records scoring calls at once and writes their log lines in order, batched", async () => {
    const k = await keys("demo-aci"); // a generic request: earlier batched lines are written now
    const since = lastSeq();
    const before = logLines.length;
    await post(ACI, `Bearer ${k.primaryKey}`, "{}");
    await post(ACI, "Bearer wrong", "{}");
    expect(emu.requestLog(since).map((r) => r.status)).toEqual([200, 401]);
    // A generic request writes the pending lines first, then its own.
    await emu.call("GET", "/discovery");
    expect(logLines.slice(before)).toEqual([
      expect.stringMatching(/^POST \/aci\/demo-aci\/score 200 \d+ms$/),
      expect.stringMatching(/^POST \/aci\/demo-aci\/score 401 \d+ms$/),
      expect.stringMatching(/^GET \/discovery 200 \d+ms$/),
    ]);
    // Without a generic request, the batch goes out on its own shortly.
    await post(ACI, `Bearer ${k.primaryKey}`, "[3]");
    await waitFor(() => (logLines.length === before + 4 ? true : undefined), "the batched log line");
    expect(logLines.join("\n")).not.toContain(k.primaryKey);
  });

  it("answers 200 to many concurrent calls, each logged once", async () => {
    const k = await keys("demo-aci");
    const token = (await emu.arm("POST", `${MMS}/services/demo-aks/token`)).json.accessToken as string;
    const since = lastSeq();
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? post(ACI, `Bearer ${k.primaryKey}`, `[${i}]`) : post(AKS, `Bearer ${token}`, `[${i}]`))),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200));
    expect(replies.map((r) => r.json.input[0])).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(emu.requestLog(since)).toHaveLength(60);
  });
});

describe("remembered credentials", () => {
  it("v2: a regenerated key stops working at once, the other one keeps working", async () => {
    const path = `${WS_PATH}/onlineEndpoints/demo-managed`;
    const list = async () => (await emu.arm("POST", `${path}/listKeys?api-version=2022-10-01`)).json as ServiceKeyPair;
    const before = await list();
    const score = (key: string) => post("/v2/demo-managed/score", `Bearer ${key}`, '{"x":1}');
    const ok = await score(before.primaryKey);
    expect(ok.text).toBe('{"endpoint":"demo-managed","api":"v2","authMode":"Key","input":{"x":1}}');
    const regen = await emu.arm("POST", `${path}/regenerateKeys?api-version=2022-10-01`, { body: { keyType: "Primary" } });
    expect(regen.status).toBe(202);
    const refused = await score(before.primaryKey);
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe("InvalidKey");
    expect((await score(before.secondaryKey)).status).toBe(200);
    expect((await score((await list()).primaryKey)).status).toBe(200);
  });

  it("a gate re-checks a remembered key against the current key material", () => {
    const keysNow: ServiceKeyPair = { primaryKey: "first-primary-key", secondaryKey: "first-secondary-key" };
    const gate = new ScoringGate({ mode: "key", keys: keysNow }, Date.now);
    expect(gate.check("Bearer first-primary-key")).toBeNull();
    expect(gate.check("Bearer first-primary-key")).toBeNull();
    // The store never changes a pair in place; if anything did, the memory must not outlive it.
    keysNow.primaryKey = "second-primary-key";
    expect(gate.check("Bearer first-primary-key")?.code).toBe("InvalidKey");
    expect(gate.check("Bearer second-primary-key")).toBeNull();
  });

  it("a remembered token follows the clock both ways (exp, nbf, iat)", async () => {
    let clock = Date.now();
    const timed = await startTestEmulator({ inMemory: true, dataDir: emu.dataDir, now: () => clock, tokenLifetimeSeconds: 120 });
    try {
      const token = (await timed.arm("POST", `${MMS}/services/demo-aks/token`)).json.accessToken as string;
      const call = () => timed.call("POST", AKS, { body: [1], bearer: token });
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(200); // remembered
      clock -= 60_000; // before nbf and iat
      const early = await call();
      expect(early.status).toBe(401);
      expect(early.json.error.code).toBe("TokenNotYetValid");
      clock += 60_000;
      expect((await call()).status).toBe(200);
      clock += 121_000;
      const expired = await call();
      expect(expired.status).toBe(401);
      expect(expired.json.error.code).toBe("ExpiredToken");
    } finally {
      await timed.dispose();
    }
  });
});
