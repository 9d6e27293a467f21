import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { AuthError, InterruptedError, MaybeAppliedError, NetworkError, NotFoundError, ServiceError } from "../../src/errors.js";
import { createHttpPipeline, retryAfterMs, type PipelineSettings } from "../../src/rest/http.js";
import { json, reset, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

/** A pipeline that trusts the test CA and records sleeps instead of waiting. */
function pipelineFor(extra: PipelineSettings = {}) {
  const sleeps: number[] = [];
  const pipeline = createHttpPipeline({
    ca: [server.tls.caPem],
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { pipeline, sleeps };
}

describe("retries", () => {
  it("retries a GET on 503 and honours Retry-After in seconds", async () => {
    server.script(
      (_q, res) => json(res, 503, { error: { code: "Busy", message: "busy" } }, { "retry-after": "2" }),
      (_q, res) => json(res, 200, { ok: true }),
    );
    const { pipeline, sleeps } = pipelineFor();
    const res = await pipeline.sendJson<{ ok: boolean }>({ method: "GET", url: `${server.url}/x`, auth: false });
    expect(res.body.ok).toBe(true);
    expect(sleeps).toEqual([2000]);
    pipeline.close();
  });

  it("retries a POST on 429 (never processed) and uses exponential backoff without Retry-After", async () => {
    server.script(
      (_q, res) => json(res, 429, {}),
      (_q, res) => json(res, 429, {}),
      (_q, res) => json(res, 200, { ok: 1 }),
    );
    const { pipeline, sleeps } = pipelineFor();
    const res = await pipeline.sendJson({ method: "POST", url: `${server.url}/p`, body: "{}", auth: false });
    expect(res.status).toBe(200);
    expect(sleeps).toEqual([400, 800]); // 400·2^(n-1), jitter factor 1 at random()=0.5
    pipeline.close();
  });

  it("stops when the retry budget would be exceeded and maps the last reply", async () => {
    server.script((_q, res) => json(res, 503, { error: { code: "Busy", message: "try later" } }, { "retry-after": "120" }));
    const { pipeline, sleeps } = pipelineFor({ retryBudgetMs: 5000 });
    const err = await pipeline.sendJson({ method: "GET", url: `${server.url}/x`, auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).message).toBe("try later (Busy)");
    expect((err as ServiceError).status).toBe(503);
    expect(sleeps).toEqual([]);
    pipeline.close();
  });

  it("parses Retry-After as an HTTP date", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(retryAfterMs({ "retry-after": "Tue, 01 Jan 2030 00:00:03 GMT" }, now)).toBe(3000);
    expect(retryAfterMs({ "retry-after-ms": "250" }, now)).toBe(250);
    expect(retryAfterMs({ "retry-after": "soon" }, now)).toBeUndefined();
  });

  it("times out a slow attempt, then retries and succeeds", async () => {
    server.script(
      (_q, res) => setTimeout(() => json(res, 200, { late: true }), 400),
      (_q, res) => json(res, 200, { late: false }),
    );
    const { pipeline } = pipelineFor({ timeoutMs: 100 });
    const res = await pipeline.sendJson<{ late: boolean }>({ method: "GET", url: `${server.url}/slow`, auth: false });
    expect(res.body.late).toBe(false);
    pipeline.close();
  });

  it("retries a GET after a connection reset", async () => {
    server.script(
      (req) => reset(req),
      (_q, res) => json(res, 200, { ok: true }),
    );
    const { pipeline } = pipelineFor();
    const before = server.seen.length;
    const res = await pipeline.sendJson<{ ok: boolean }>({ method: "GET", url: `${server.url}/r`, auth: false });
    expect(res.body.ok).toBe(true);
    expect(server.seen.length - before).toBe(2);
    pipeline.close();
  });

  it("throws MaybeAppliedError (and does not resend) when a POST is reset after it was sent", async () => {
    server.script((req) => reset(req));
    const { pipeline } = pipelineFor();
    const before = server.seen.length;
    const err = await pipeline.send({ method: "POST", url: `${server.url}/regen`, body: "{}", auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MaybeAppliedError);
    expect((err as Error).message).not.toContain("\n");
    expect(server.seen.length - before).toBe(1);
    pipeline.close();
  });

  it("throws MaybeAppliedError for a 503 on a non-idempotent POST, but retries one flagged idempotent", async () => {
    server.script((_q, res) => json(res, 503, {}));
    const { pipeline } = pipelineFor();
    await expect(pipeline.send({ method: "POST", url: `${server.url}/deploy`, body: "{}", auth: false })).rejects.toBeInstanceOf(
      MaybeAppliedError,
    );
    server.script(
      (_q, res) => json(res, 503, {}),
      (_q, res) => json(res, 200, { primaryKey: "a" }),
    );
    const res = await pipeline.send({ method: "POST", url: `${server.url}/listkeys`, auth: false, idempotent: true });
    expect(res.status).toBe(200);
    pipeline.close();
  });
});

describe("bearer tokens", () => {
  it("asks for the token once, refreshes once on 401, then succeeds", async () => {
    const issued: string[] = [];
    server.script(
      (_q, res) => json(res, 200, {}),
      (_q, res) => json(res, 401, { error: { code: "ExpiredAuthenticationToken", message: "The token expired." } }),
      (_q, res) => json(res, 200, { ok: true }),
    );
    const { pipeline } = pipelineFor({
      getAccessToken: async () => {
        issued.push(`token-${issued.length + 1}`);
        return issued[issued.length - 1]!;
      },
    });
    await pipeline.send({ method: "GET", url: `${server.url}/a` });
    await pipeline.sendJson({ method: "GET", url: `${server.url}/b` });
    expect(issued).toEqual(["token-1", "token-2"]);
    const auths = server.seen.slice(-3).map((s) => s.headers.authorization);
    expect(auths).toEqual(["Bearer token-1", "Bearer token-1", "Bearer token-2"]);
    pipeline.close();
  });

  it("gives AuthError naming the cause after the refreshed token is refused too", async () => {
    let calls = 0;
    server.script((_q, res) => json(res, 401, { error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." } }));
    const { pipeline } = pipelineFor({ getAccessToken: async () => `tok-${++calls}` });
    const err = await pipeline.sendJson({ method: "GET", url: `${server.url}/c` }, "workspace ws").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toMatch(/^workspace ws: The access token is invalid\. \(InvalidAuthenticationToken\) \(HTTP 401/);
    expect(calls).toBe(2);
    pipeline.close();
  });

  it("refuses to send a credential over plain http", async () => {
    const { pipeline } = pipelineFor({ getAccessToken: async () => "t" });
    await expect(pipeline.send({ method: "GET", url: "http://127.0.0.1:9/x" })).rejects.toBeInstanceOf(NetworkError);
    pipeline.close();
  });
});

describe("error mapping", () => {
  it("maps v1 and ARM error bodies and 404s to one-line typed errors", async () => {
    const { pipeline } = pipelineFor({ maxRetries: 0 });
    server.script((_q, res) => json(res, 400, { code: "BadRequest", statusCode: 400, message: "Token auth\nis not supported on ACI.", details: [] }));
    const v1 = await pipeline.sendJson({ method: "PATCH", url: `${server.url}/s`, body: "[]", auth: false, idempotent: true }).catch((e: unknown) => e);
    expect(v1).toBeInstanceOf(ServiceError);
    expect((v1 as ServiceError).message).toBe("Token auth is not supported on ACI. (BadRequest)");
    expect((v1 as ServiceError).code).toBe("BadRequest");

    server.script((_q, res) => json(res, 409, { error: { code: "Conflict", message: "busy" } }));
    const arm = await pipeline.sendJson({ method: "GET", url: `${server.url}/e`, auth: false }, "online endpoint e").catch((e: unknown) => e);
    expect((arm as Error).message).toBe("online endpoint e: busy (Conflict)");

    server.script((_q, res) => json(res, 404, { code: "NotFound", message: "nope" }));
    const missing = await pipeline.sendJson({ method: "GET", url: `${server.url}/n`, auth: false }, "web service x").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toBe("web service x not found");
    pipeline.close();
  });

  it("turns an HTML error page into one bounded line", async () => {
    server.script((_q, res) => {
      res.writeHead(502, { "content-type": "text/html; charset=utf-8" });
      res.end(`<html><body>${"Bad gateway ".repeat(500)}</body></html>`);
    });
    const { pipeline } = pipelineFor({ maxRetries: 1 });
    const err = await pipeline.sendJson({ method: "GET", url: `${server.url}/h`, auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as Error).message).toBe(`unexpected reply from ${new URL(server.url).host}: HTTP 502, text/html body`);
    pipeline.close();
  });

  it("rejects truncated JSON and bodies cut off by the connection", async () => {
    const { pipeline } = pipelineFor({ maxRetries: 1 });
    server.script((_q, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"primaryKey": "abc", "second');
    });
    const bad = await pipeline.sendJson({ method: "GET", url: `${server.url}/t`, auth: false }).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/HTTP 200, malformed or truncated JSON body$/);

    server.script((req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
      res.write('{"value": [');
      setTimeout(() => req.socket.destroy(), 10);
    });
    const cut = await pipeline.sendJson({ method: "GET", url: `${server.url}/cut`, auth: false }).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(NetworkError);
    expect((cut as Error).message).toMatch(/closed before the reply was complete/);
    expect((cut as Error).message).not.toContain("\n");
    pipeline.close();
  });

  it("refuses a huge reply", async () => {
    server.script((_q, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 12 && res.write(chunk)) sent++;
        if (sent < 12) res.once("drain", pump);
        else res.end();
      };
      pump();
    });
    const { pipeline } = pipelineFor();
    const err = await pipeline.sendJson({ method: "GET", url: `${server.url}/big`, auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as Error).message).toMatch(/is too large \(over 10 MiB\)/);
    pipeline.close();
  });

  it("explains a refused loopback port and an untrusted certificate", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { pipeline, sleeps } = pipelineFor();
    const refused = await pipeline.send({ method: "GET", url: `https://127.0.0.1:${port}/`, auth: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NetworkError);
    expect((refused as NetworkError).message).toBe(`no emulator listening at https://127.0.0.1:${port}`);
    expect((refused as NetworkError).hint).toMatch(/amlauth emulator start/);
    expect(sleeps).toHaveLength(1); // refused is retried exactly once
    pipeline.close();

    const untrusting = createHttpPipeline({ maxRetries: 0 });
    const tls = await untrusting.send({ method: "GET", url: `${server.url}/`, auth: false }).catch((e: unknown) => e);
    expect(tls).toBeInstanceOf(NetworkError);
    expect((tls as NetworkError).message).toMatch(/not trusted/);
    expect((tls as NetworkError).hint).toMatch(/--ca-file/);
    untrusting.close();
  });

  it("turns an abort into InterruptedError", async () => {
    server.script((_q, res) => setTimeout(() => json(res, 200, {}), 2000));
    const controller = new AbortController();
    const { pipeline } = pipelineFor({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await expect(pipeline.send({ method: "GET", url: `${server.url}/wait`, auth: false })).rejects.toBeInstanceOf(InterruptedError);
    expect(Date.now() - started).toBeLessThan(1500);
    pipeline.close();
  });
});

describe("--verbose trace", () => {
  it("shows method, URL, status and timing with every secret redacted", async () => {
    const key = "k3yValueThatMustNotLeak0123456789";
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ";
    const sas = "sv=2021&sig=SuperSecretSignature%3D&se=2030";
    server.script((_q, res) =>
      json(res, 200, { primaryKey: key, secondaryKey: "other-secret-value", accessToken: jwt, contentUri: `https://blob.example/c/f?${sas}` }),
    );
    const lines: string[] = [];
    const bearer = "control-plane-token-abcdef";
    const { pipeline } = pipelineFor({ trace: (l) => lines.push(l), getAccessToken: async () => bearer });
    await pipeline.sendJson({
      method: "POST",
      url: `${server.url}/services/x/regenerateKeys?sig=abcdef123&api-version=1`,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ keyType: "Primary", keyValue: key }),
      idempotent: true,
    });
    const text = lines.join("\n");
    expect(text).toMatch(/^→ POST https:\/\/127\.0\.0\.1:\d+\/services\/x\/regenerateKeys\?sig=\[REDACTED\]&api-version=1$/m);
    expect(text).toMatch(/^← 200 \(\d+ ms\)$/m);
    expect(text).toContain('"keyType":"Primary"');
    expect(text).toContain("authorization: Bearer [REDACTED]");
    for (const secret of [key, "other-secret-value", jwt, "SuperSecretSignature", "abcdef123", bearer]) {
      expect(text).not.toContain(secret);
    }
    pipeline.close();
  });
});
