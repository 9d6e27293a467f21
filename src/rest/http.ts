// The shared HTTPS pipeline (contract: ./http-types.ts). Deliberately built on node:https only:
// it sits on the hot path of every command, so it must not pull in any Azure core module.
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { rootCertificates } from "node:tls";
import type { HttpPipeline, HttpRequest, HttpResponse, PipelineOptions } from "./http-types.js";
import {
  AuthError,
  InterruptedError,
  MaybeAppliedError,
  NetworkError,
  NotFoundError,
  ServiceError,
} from "../errors.js";
import { redactAll, redactHeaders, redactJsonBody, redactUrl } from "../output/redact.js";

/** Options this implementation understands beyond the shared contract. */
export interface PipelineSettings extends PipelineOptions {
  /** Default abort signal for every request (the session passes ctx.signal). */
  signal?: AbortSignal;
  /** Replies larger than this are refused (default 10 MiB). */
  maxBodyBytes?: number;
  /** Jitter source, injected by tests. */
  random?: () => number;
  /** Trust only `ca` (emulator mode, where every host is the emulator); see createHttpsAgent. */
  caExclusive?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_RETRY_BUDGET_MS = 60_000;
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const BACKOFF_BASE_MS = 400;
const BACKOFF_CAP_MS = 10_000;
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Faults where nothing usable came back and trying again may help. */
const RETRYABLE_FAULTS = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ECONNABORTED", "ENETUNREACH", "EHOSTUNREACH"]);
const TLS_TRUST_FAULTS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A transport failure of one attempt. `sent` = the request may have reached the server. */
class AttemptFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
  }
}

export function createHttpPipeline(opts: PipelineSettings = {}): HttpPipeline {
  const httpsAgent = createHttpsAgent(opts.ca, { exclusive: Boolean(opts.caExclusive) });
  const httpAgent = new HttpAgent({ keepAlive: true });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRetries = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  const retryBudgetMs = opts.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  const random = opts.random ?? Math.random;
  const trace = opts.trace;
  const scope = opts.scope ?? "https://management.azure.com/.default";
  // One token per pipeline; a 401 clears it so the next call asks the credential again.
  let tokenPromise: Promise<string> | undefined;
  const knownSecrets: string[] = [];
  let inFlight = 0;

  async function bearer(): Promise<string> {
    if (!opts.getAccessToken) throw new AuthError("no credential is configured for this request");
    if (!tokenPromise) {
      const pending = opts.getAccessToken(scope);
      tokenPromise = pending;
      pending.catch(() => {
        if (tokenPromise === pending) tokenPromise = undefined;
      });
    }
    const token = await tokenPromise;
    if (!knownSecrets.includes(token)) knownSecrets.push(token);
    return token;
  }

  async function send(req: HttpRequest): Promise<HttpResponse> {
    const url = parseUrl(req.url);
    const signal = req.signal ?? opts.signal;
    const idempotent = req.idempotent ?? !(req.method === "POST" || req.method === "PATCH");
    const wantsAuth = req.auth !== false;
    if (wantsAuth && url.protocol !== "https:") {
      throw new NetworkError(`refusing to send a credential over plain HTTP to ${url.host}`, "insecure", {
        hint: "use an https:// endpoint",
      });
    }
    let attempt = 0;
    let sleptMs = 0;
    let refreshedAfter401 = false;
    let refusedRetried = false;
    for (;;) {
      attempt += 1;
      if (signal?.aborted) throw new InterruptedError();
      const headers: Record<string, string> = { accept: "application/json", ...lowerKeys(req.headers ?? {}) };
      if (opts.userAgent && !headers["user-agent"]) headers["user-agent"] = opts.userAgent;
      if (wantsAuth) headers["authorization"] = `Bearer ${await bearer()}`;
      const body = req.body === undefined ? undefined : typeof req.body === "string" ? Buffer.from(req.body, "utf8") : req.body;
      if (body !== undefined) headers["content-length"] = String(body.byteLength);

      const started = now();
      traceRequest(req, url, headers, body, attempt);
      let response: HttpResponse | undefined;
      let fault: AttemptFault | undefined;
      inFlight += 1;
      const overlapped = inFlight > 1;
      try {
        response = await attemptOnce(url, req, headers, body, req.timeoutMs ?? timeoutMs, signal);
      } catch (err) {
        if (signal?.aborted) throw new InterruptedError();
        fault = err instanceof AttemptFault ? err : new AttemptFault("EUNKNOWN", errorText(err), true);
      } finally {
        inFlight -= 1;
      }
      const elapsed = now() - started;
      // Parallel calls (name resolution) would leave "← 404" ambiguous: say which request it was.
      const which = overlapped || inFlight > 0 ? ` ${req.method} …/${url.pathname.split("/").slice(-2).join("/")}` : "";

      if (response) {
        if (trace) {
          trace(`← ${response.status} (${elapsed} ms)${which}`);
          if (response.bodyText !== "") trace(`  ${traceBody(response.bodyText, response.headers["content-type"], knownSecrets)}`);
        }
        if (response.status === 401 && wantsAuth && !refreshedAfter401 && opts.getAccessToken) {
          // Rejected before any processing, so resending is safe even for POST.
          refreshedAfter401 = true;
          tokenPromise = undefined;
          continue;
        }
        if (!RETRYABLE_STATUS.has(response.status)) return response;
        if (!idempotent && response.status !== 429) {
          throw new MaybeAppliedError(
            `${req.method} ${describeTarget(url)} failed with HTTP ${response.status}; the change may or may not have been applied`,
          );
        }
        const delay = retryDelay(attempt, response.headers, now(), random);
        if (attempt > maxRetries || sleptMs + delay > retryBudgetMs) return response;
        trace?.(`  retrying in ${delay} ms (HTTP ${response.status}, attempt ${attempt + 1})`);
        await sleepOrInterrupt(delay, signal);
        sleptMs += delay;
        continue;
      }

      const f = fault!;
      trace?.(`← ${f.code} (${elapsed} ms)${which}`);
      if (f.code === "EBODYTOOLARGE") {
        throw new ServiceError(`reply from ${url.host} is too large (over ${formatBytes(maxBodyBytes)})`);
      }
      let retryable = RETRYABLE_FAULTS.has(f.code) && (idempotent || !f.sent);
      if (f.code === "ECONNREFUSED") {
        // Nothing listens there; one more try covers a server that is just starting.
        retryable = retryable && !refusedRetried;
        refusedRetried = true;
      }
      const delay = retryDelay(attempt, {}, now(), random);
      if (retryable && attempt <= maxRetries && sleptMs + delay <= retryBudgetMs) {
        trace?.(`  retrying in ${delay} ms (${f.code}, attempt ${attempt + 1})`);
        await sleepOrInterrupt(delay, signal);
        sleptMs += delay;
        continue;
      }
      if (f.sent && !idempotent) {
        throw new MaybeAppliedError(
          `${req.method} ${describeTarget(url)} failed (${f.message}) after the request was sent; the change may or may not have been applied`,
          { cause: f },
        );
      }
      throw toNetworkError(f, url);
    }
  }

  async function sleepOrInterrupt(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await sleep(ms, signal);
    } catch (err) {
      if (signal?.aborted) throw new InterruptedError();
      throw err;
    }
    if (signal?.aborted) throw new InterruptedError();
  }

  function attemptOnce(
    url: URL,
    req: HttpRequest,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    attemptTimeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const isHttps = url.protocol === "https:";
      const requestFn = isHttps ? httpsRequest : httpRequest;
      let sent = false;
      let settled = false;
      let clientRequest: ClientRequest | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const fail = (code: string, message: string) => {
        finish(() => reject(new AttemptFault(code, message, sent)));
        clientRequest?.destroy();
      };
      const onAbort = () => fail("EABORTED", "aborted");
      const timer = setTimeout(() => fail("ETIMEDOUT", `no complete reply within ${Math.round(attemptTimeoutMs / 1000)} s`), attemptTimeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });

      clientRequest = requestFn(url, {
        method: req.method,
        headers,
        agent: isHttps ? httpsAgent : httpAgent,
      });
      clientRequest.on("socket", (socket) => {
        if (clientRequest?.reusedSocket) {
          sent = true;
          return;
        }
        socket.once(isHttps ? "secureConnect" : "connect", () => {
          sent = true;
        });
      });
      clientRequest.on("error", (err: NodeJS.ErrnoException) => {
        fail(err.code ?? "EUNKNOWN", errorText(err));
      });
      clientRequest.on("response", (res: IncomingMessage) => {
        sent = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            fail("EBODYTOOLARGE", "reply too large");
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on("aborted", () => fail("ECONNRESET", "the connection closed before the reply was complete"));
        res.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? "ECONNRESET", "the connection closed before the reply was complete"));
        res.on("end", () => {
          if (!res.complete) {
            fail("ECONNRESET", "the connection closed before the reply was complete");
            return;
          }
          finish(() =>
            resolve({
              status: res.statusCode ?? 0,
              headers: flattenHeaders(res.headers),
              bodyText: Buffer.concat(chunks).toString("utf8"),
              request: req,
            }),
          );
        });
      });
      clientRequest.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  function traceRequest(req: HttpRequest, url: URL, headers: Record<string, string>, body: Uint8Array | undefined, attempt: number): void {
    if (!trace) return;
    const again = attempt > 1 ? ` (attempt ${attempt})` : "";
    trace(`→ ${req.method} ${redactUrl(url.href)}${again}`);
    for (const [name, value] of Object.entries(redactHeaders(headers))) trace(`  ${name}: ${value}`);
    if (body !== undefined && body.byteLength > 0) {
      trace(`  ${traceBody(Buffer.from(body).toString("utf8"), headers["content-type"], knownSecrets)}`);
    }
  }

  async function sendJson<T>(req: HttpRequest, describe?: string): Promise<{ status: number; headers: Record<string, string>; body: T }> {
    const res = await send(req);
    const host = safeHost(req.url);
    if (res.status >= 400) throw errorFromResponse(res, host, describe, knownSecrets);
    const text = res.bodyText.trim();
    if (text === "") return { status: res.status, headers: res.headers, body: null as T };
    const parsed = tryParseJson(text);
    if (parsed === undefined) throw unexpectedReply(host, res);
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  return {
    send,
    sendJson,
    close() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}

/**
 * A keep-alive agent for the given extra CAs, using only documented TLS options.
 * - exclusive (emulator mode: every host we talk to is the emulator): trust exactly these CAs.
 *   Cheap (~1 ms) and strict: nothing else can answer for the emulator's hosts.
 * - otherwise (--ca-file for a private or proxied endpoint): Node's public roots plus ours. This
 *   re-parses ~140 root PEMs (tens of ms), paid only by users who pass --ca-file.
 * Without extra CAs the default context is used, so NODE_EXTRA_CA_CERTS keeps working as Node does it.
 */
export function createHttpsAgent(extraCa: readonly string[] | undefined, opts: { exclusive?: boolean } = {}): HttpsAgent {
  const pems = (extraCa ?? []).filter((pem) => pem.trim() !== "");
  if (pems.length === 0) return new HttpsAgent({ keepAlive: true });
  return new HttpsAgent({ keepAlive: true, ca: opts.exclusive ? pems : [...rootCertificates, ...pems] });
}

// ---------------------------------------------------------------------------------------------
// Error mapping

/** Turns an HTTP error reply into the typed, one-line error the CLI prints. */
export function errorFromResponse(res: HttpResponse, host: string, describe: string | undefined, secrets: readonly string[] = []): Error {
  const detail = errorDetail(res.bodyText, secrets);
  const what = describe ? `${describe}: ` : "";
  if (res.status === 401 || res.status === 403) {
    const cause = detail ? detail.text : res.status === 401 ? "the credential was rejected" : "access denied";
    return new AuthError(`${what}${cause} (HTTP ${res.status} from ${host})`, {
      hint:
        res.status === 401
          ? "sign in again (az login) or check --credential / AMLAUTH_ACCESS_TOKEN"
          : "the signed-in identity needs a role on the workspace (Contributor for keys and changes, Reader for tokens)",
    });
  }
  if (res.status === 404) {
    const message = describe ? `${describe} not found` : `not found: ${res.request.method} ${describeTarget(parseUrl(res.request.url))}`;
    return new NotFoundError(detail && !describe ? `${message} (${detail.text})` : message);
  }
  if (!detail) {
    if (res.bodyText.trim() !== "" && tryParseJson(res.bodyText) === undefined) return unexpectedReply(host, res, describe);
    return new ServiceError(`${what}HTTP ${res.status} from ${host}`, { status: res.status });
  }
  const retryAfter = res.status === 429 || res.status === 503 ? res.headers["retry-after"] : undefined;
  return new ServiceError(`${what}${detail.text}`, {
    status: res.status,
    ...(detail.code ? { code: detail.code } : {}),
    ...(retryAfter ? { hint: `the service asked to retry after ${retryAfter}${/^\d+$/.test(retryAfter) ? " s" : ""}` } : {}),
  });
}

/** "message (code)" from a v1 `{code,message}`, ARM `{error:{code,message}}` or OAuth error body. */
function errorDetail(bodyText: string, secrets: readonly string[]): { text: string; code?: string } | undefined {
  const body = tryParseJson(bodyText.trim());
  if (!body || typeof body !== "object" || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  let code: unknown;
  let message: unknown;
  if (record.error && typeof record.error === "object") {
    const inner = record.error as Record<string, unknown>;
    code = inner.code;
    message = inner.message;
  } else if (typeof record.error === "string") {
    code = record.error;
    message = record.error_description;
  } else {
    code = record.code;
    message = record.message ?? record.Message;
  }
  const codeText = typeof code === "string" && code !== "" ? oneLine(code, 80, secrets) : undefined;
  const messageText = typeof message === "string" && message.trim() !== "" ? oneLine(message, 300, secrets) : undefined;
  if (!messageText && !codeText) return undefined;
  const text = messageText ? (codeText ? `${messageText} (${codeText})` : messageText) : codeText!;
  return codeText ? { text, code: codeText } : { text };
}

function unexpectedReply(host: string, res: HttpResponse, describe?: string): ServiceError {
  const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim();
  const looksJson = type.includes("json") || /^[[{]/.test(res.bodyText.trim());
  const kind = looksJson ? "malformed or truncated JSON body" : `${type || "untyped"} body`;
  const what = describe ? `${describe}: ` : "";
  return new ServiceError(`${what}unexpected reply from ${host}: HTTP ${res.status}, ${kind}`, { status: res.status });
}

function toNetworkError(f: AttemptFault, url: URL): NetworkError {
  const host = url.host;
  if (f.code === "ECONNREFUSED") {
    const loopback = isLoopback(url.hostname);
    return new NetworkError(
      loopback ? `no emulator listening at ${url.origin}` : `connection refused by ${host}`,
      f.code,
      loopback ? { hint: "start it with `amlauth emulator start` or use --emulator" } : { hint: "check the endpoint and your network" },
    );
  }
  if (TLS_TRUST_FAULTS.has(f.code)) {
    return new NetworkError(`certificate of ${host} not trusted (${f.code})`, f.code, {
      hint: "pass --ca-file (or set AMLAUTH_CA_FILE / NODE_EXTRA_CA_CERTS) with the CA that issued it",
    });
  }
  if (f.code === "ENOTFOUND" || f.code === "EAI_AGAIN") {
    return new NetworkError(`cannot resolve host ${url.hostname}`, f.code, { hint: "check the endpoint and your DNS/network" });
  }
  if (f.code === "ETIMEDOUT") {
    return new NetworkError(`${host} did not answer in time (${f.message})`, f.code, { hint: "retry later, or raise the timeout" });
  }
  return new NetworkError(`network error talking to ${host}: ${oneLine(f.message, 160, [])}`, f.code);
}

// ---------------------------------------------------------------------------------------------
// Retry timing

/** Exponential backoff with ±20 % jitter, or what the server asked for (Retry-After, ms variants). */
export function retryDelay(attempt: number, headers: Record<string, string>, nowMs: number, random: () => number = Math.random): number {
  const asked = retryAfterMs(headers, nowMs);
  if (asked !== undefined) return asked;
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function retryAfterMs(headers: Record<string, string>, nowMs: number): number | undefined {
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const v = headers[name];
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v.trim())) return Math.ceil(Number(v));
  }
  const v = headers["retry-after"]?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function parseUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new NetworkError(`invalid URL: ${redactUrl(raw).slice(0, 200)}`, "EINVALIDURL");
  }
}

function safeHost(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return "the server";
  }
}

/** host + path, never the query (SAS signatures live there). */
function describeTarget(url: URL): string {
  return `${url.host}${url.pathname}`;
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function tryParseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function oneLine(text: string, max: number, secrets: readonly string[]): string {
  const flat = redactAll(text, secrets).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? "error";
  return String(err);
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / (1024 * 1024))} MiB` : `${Math.round(n / 1024)} KiB`;
}

// ---------------------------------------------------------------------------------------------
// Trace rendering. Redaction itself is src/output/redact.ts; this only decides what a body looks
// like in a --verbose line (JSON and forms redacted field by field, anything else summarised).

const TRACE_BODY_LIMIT = 2000;

function traceBody(text: string, contentType: string | undefined, secrets: readonly string[]): string {
  const type = (contentType ?? "").toLowerCase().split(";")[0]!.trim();
  const trimmed = text.trim();
  const structured = type.includes("json") || type === "application/x-www-form-urlencoded" || /^[[{]/.test(trimmed);
  if (!structured) return `[${Buffer.byteLength(text)} bytes${type ? `, ${type}` : ""}]`;
  const rendered = redactAll(redactJsonBody(trimmed), secrets);
  return rendered.length > TRACE_BODY_LIMIT ? `${rendered.slice(0, TRACE_BODY_LIMIT)}… (${rendered.length} chars)` : rendered;
}
