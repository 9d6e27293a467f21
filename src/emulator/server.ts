// EmulatorServer: TLS, routing, control-plane auth, fault injection, body limits, the request log.
// Route modules only read/write the store and throw factory errors; everything else is here.
//
// Scoring calls are the hot path (issue 6: throughput close to a bare Node HTTPS server). Routes
// built with directRoute() are answered ahead of the generic router: an exact prefix/suffix match
// on the raw URL, the two headers it needs read from rawHeaders, the body collected without a
// promise, and the answer written synchronously. Whatever is unusual about a request (a pending
// fault, a percent-encoded name) sends it down the generic path, which answers alike.
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual, createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { RequestContext, RouteResult } from "./types.js";
import type { Caller, EmulatorRoute, RouteDeps } from "./deps.js";
import { DEFAULT_MAX_BODY_BYTES } from "./deps.js";
import { EmulatorHttpError, httpErrors, isEmulatorHttpError, renderError } from "./errors.js";
import type { ErrorShape } from "./errors.js";
import type { Fault, FaultRegistry } from "./faults.js";
import { EMULATOR_STATIC_TOKEN } from "./world.js";
import { escapeRegex } from "./routes/common.js";

export const EmulatorServerStatus = {
  Closed: "Closed",
  Starting: "Starting",
  Running: "Running",
  Closing: "Closing",
} as const;
export type EmulatorServerStatus = (typeof EmulatorServerStatus)[keyof typeof EmulatorServerStatus];

export interface RequestLogEntry {
  /** Increasing sequence number (GET /_emulator/requests?since=N). */
  seq: number;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  ms: number;
}

export interface EmulatorServerOptions {
  host: string;
  port: number;
  /** When the port is taken, fall back to an ephemeral one instead of failing (CLI default port). */
  portFallback?: boolean;
  tls: { key: string; cert: string };
  routes: (deps: RouteDeps) => EmulatorRoute[];
  deps: RouteDeps;
  setCaller: (req: IncomingMessage, caller: Caller) => void;
  faults: FaultRegistry;
  log?: (line: string) => void;
  /** Slow or stuck clients: time to receive all headers / the whole request / TLS handshake. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  handshakeTimeoutMs?: number;
}

/** Prefix of admin routes: no bearer, no faults, not in the request log. */
export const ADMIN_PREFIX = "/_emulator/";
const REQUEST_LOG_LIMIT = 10_000;
/** Lines of directly answered requests reach `log` in batches: one write per batch, not per call. */
const LOG_FLUSH_MS = 50;
const LOG_FLUSH_LINES = 2_000;
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** What a direct route answers: a status and a JSON document (UTF-8). */
export interface DirectAnswer {
  status: number;
  json: Buffer;
}

/** Answers one call of a direct route, or throws an EmulatorHttpError (rendered in the route's errorShape). */
export type DirectHandler = (name: string, authorization: string | undefined, body: Buffer, baseUrl: string) => DirectAnswer;

/** A POST route on `${prefix}{name}${suffix}` that the server may answer without the generic router. */
export interface DirectRoute extends EmulatorRoute {
  direct: { prefix: string; suffix: string; answer: DirectHandler };
}

/**
 * A POST route for `${prefix}{name}${suffix}` ({name}: one path segment), answered by `answer`
 * on both the direct and the generic path, so the two cannot drift apart. It must not overlap any
 * other route (the direct path never consults them).
 */
export function directRoute(init: {
  prefix: string;
  suffix: string;
  errorShape?: ErrorShape;
  maxBodyBytes?: number;
  answer: DirectHandler;
}): DirectRoute {
  const { prefix, suffix, answer } = init;
  if (!prefix.startsWith("/") || !prefix.endsWith("/") || !suffix.startsWith("/")) throw new Error(`bad direct route ${prefix}{name}${suffix}`);
  return {
    method: "POST",
    pattern: new RegExp(`^${escapeRegex(prefix)}(?<name>[^/]+)${escapeRegex(suffix)}$`),
    auth: "scoring",
    ...(init.errorShape !== undefined ? { errorShape: init.errorShape } : {}),
    ...(init.maxBodyBytes !== undefined ? { maxBodyBytes: init.maxBodyBytes } : {}),
    handle(ctx) {
      const header = ctx.headers["authorization"];
      const done = answer(ctx.params["name"] ?? "", Array.isArray(header) ? header[0] : header, ctx.body, ctx.baseUrl);
      return { status: done.status, headers: { "content-type": JSON_CONTENT_TYPE }, body: done.json };
    },
    direct: { prefix, suffix, answer },
  };
}

/** A header name against its lower-case and usual spelling first: lower-casing allocates. */
function sameName(name: string, lower: string, usual: string): boolean {
  return name === lower || name === usual || name.toLowerCase() === lower;
}

function isDirectRoute(route: EmulatorRoute): route is DirectRoute {
  return (route as Partial<DirectRoute>).direct !== undefined && route.method === "POST";
}

/**
 * The request log: the last REQUEST_LOG_LIMIT requests in preallocated slots, so recording one
 * allocates nothing. Each slot keeps method and path side by side, and status and ms side by side
 * (two cache lines per request, not four). Entries are built only when read.
 */
class RequestLogRing {
  /** [method, path] per slot. */
  private readonly names = new Array<string>(2 * REQUEST_LOG_LIMIT).fill("");
  /** [status, ms] per slot. */
  private readonly numbers = new Uint32Array(2 * REQUEST_LOG_LIMIT);
  /** Sequence number of the newest entry (0: none yet). */
  last = 0;
  /** Sequence number of the oldest entry still kept. */
  first = 1;
  /** The path of the newest entry: a repeated path is stored as this (older) string. */
  private lastPath = "";

  add(method: string, path: string, status: number, ms: number): void {
    const seq = ++this.last;
    const slot = 2 * (seq % REQUEST_LOG_LIMIT);
    // Keeping the previous string for an equal path spares the GC a fresh string referenced
    // from this long-lived array on every call of a hot endpoint.
    if (path === this.lastPath) path = this.lastPath;
    else this.lastPath = path;
    this.names[slot] = method;
    this.names[slot + 1] = path;
    this.numbers[slot] = status;
    this.numbers[slot + 1] = ms;
    if (seq - this.first >= REQUEST_LOG_LIMIT) this.first = seq - REQUEST_LOG_LIMIT + 1;
  }

  /** The kept entries with seq > since. */
  since(since: number): RequestLogEntry[] {
    const entries: RequestLogEntry[] = [];
    for (let seq = Math.max(Math.floor(since) + 1, this.first); seq <= this.last; seq++) entries.push(this.entry(seq));
    return entries;
  }

  /** The entry `seq` (callers keep first <= seq <= last). */
  entry(seq: number): RequestLogEntry {
    const slot = 2 * (seq % REQUEST_LOG_LIMIT);
    return { seq, method: this.names[slot]!, path: this.names[slot + 1]!, status: this.numbers[slot]!, ms: this.numbers[slot + 1]! };
  }

  /** The `log` line of entry `seq`: METHOD path status ms (status 0 = the connection was reset). */
  line(seq: number): string {
    const slot = 2 * (seq % REQUEST_LOG_LIMIT);
    const status = this.numbers[slot]!;
    return `${this.names[slot]!} ${this.names[slot + 1]!} ${status === 0 ? "reset" : status} ${this.numbers[slot + 1]!}ms`;
  }

  clear(): void {
    this.first = this.last + 1;
    this.names.fill("");
    this.lastPath = "";
  }
}

export class EmulatorServer {
  private status: EmulatorServerStatus = EmulatorServerStatus.Closed;
  private server: Server | null = null;
  private routes: EmulatorRoute[] = [];
  private directRoutes: DirectRoute[] = [];
  private url = "";
  private readonly requestLog = new RequestLogRing();
  /** The request log is written to `log` up to this sequence number. */
  private loggedThrough = 0;
  private logTimer: NodeJS.Timeout | null = null;
  private readonly staticTokenDigest = createHash("sha256").update(EMULATOR_STATIC_TOKEN).digest();

  constructor(private readonly opts: EmulatorServerOptions) {}

  getStatus(): EmulatorServerStatus {
    return this.status;
  }

  /** The URL clients use, e.g. https://127.0.0.1:43123 (valid once started). */
  getUrl(): string {
    return this.url;
  }

  /** The last (at most) 10 000 requests with seq > since. */
  requests(since = 0): RequestLogEntry[] {
    return this.requestLog.since(since);
  }

  lastSeq(): number {
    return this.requestLog.last;
  }

  clearRequests(): void {
    this.flushLog();
    this.requestLog.clear();
  }

  async start(): Promise<string> {
    if (this.status !== EmulatorServerStatus.Closed) throw new Error(`cannot start the emulator while it is ${this.status}`);
    this.status = EmulatorServerStatus.Starting;
    try {
      const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
      const server = createServer(
        {
          key: this.opts.tls.key,
          cert: this.opts.tls.cert,
          minVersion: "TLSv1.2",
          handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
          // How often Node checks headers/request timeouts; keep it well under headersTimeout.
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
        },
        this.onRequest,
      );
      server.headersTimeout = headersTimeout;
      server.requestTimeout = Math.max(headersTimeout, this.opts.requestTimeoutMs ?? 30_000);
      server.keepAliveTimeout = 5_000;
      server.on("tlsClientError", () => undefined);
      const port = await this.listen(server, this.opts.port).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE" && this.opts.portFallback) return this.listen(server, 0);
        throw err;
      });
      this.server = server;
      this.url = `https://${urlHost(this.opts.host)}:${port}`;
      this.routes = this.opts.routes(this.opts.deps);
      this.directRoutes = this.routes.filter(isDirectRoute);
      this.status = EmulatorServerStatus.Running;
      return this.url;
    } catch (err) {
      this.status = EmulatorServerStatus.Closed;
      throw err;
    }
  }

  private listen(server: Server, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once("error", onError);
      server.listen({ host: this.opts.host, port, exclusive: true }, () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    if (this.status !== EmulatorServerStatus.Running) return;
    this.status = EmulatorServerStatus.Closing;
    const server = this.server!;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // In-flight requests get a moment to finish, then every socket goes.
      setTimeout(() => server.closeAllConnections(), 200).unref();
    });
    this.server = null;
    this.flushLog();
    this.status = EmulatorServerStatus.Closed;
  }

  // -------------------------------------------------------------------------------------------

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === "POST" && this.directRoutes.length > 0) {
      const url = req.url ?? "/";
      for (const route of this.directRoutes) {
        const { prefix, suffix } = route.direct;
        if (!url.startsWith(prefix)) continue;
        const q = url.indexOf("?", prefix.length);
        const path = q === -1 ? url : url.slice(0, q);
        const nameEnd = path.length - suffix.length;
        if (nameEnd <= prefix.length || !path.endsWith(suffix)) continue;
        const name = path.slice(prefix.length, nameEnd);
        // A name to percent-decode, or not one segment: the generic path decides.
        if (name.includes("%") || name.includes("/")) continue;
        // Without '%' the raw path is the decoded one, so faults match as on the generic path.
        const fault = this.opts.faults.take("POST", path);
        if (fault !== null) this.handleGeneric(req, res, fault);
        else this.serveDirect(req, res, route, name, path);
        return;
      }
    }
    this.handleGeneric(req, res, undefined);
  };

  private handleGeneric(req: IncomingMessage, res: ServerResponse, takenFault: Fault | null | undefined): void {
    this.handle(req, res, takenFault).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  }

  /** The direct path: reads only what the route needs and answers without a promise. */
  private serveDirect(req: IncomingMessage, res: ServerResponse, route: DirectRoute, name: string, path: string): void {
    const started = performance.now();
    let authorization: string | undefined;
    let contentLength: string | undefined;
    let chunked = false;
    // rawHeaders rather than req.headers: building that object costs more than this scan. The
    // first Authorization and Content-Length count, as in req.headers.
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const header = raw[i]!;
      if (header.length === 13) {
        if (authorization === undefined && sameName(header, "authorization", "Authorization")) authorization = raw[i + 1];
      } else if (header.length === 14) {
        if (contentLength === undefined && sameName(header, "content-length", "Content-Length")) contentLength = raw[i + 1];
      } else if (header.length === 17 && header.toLowerCase() === "transfer-encoding") {
        chunked = true;
      }
    }
    const limit = route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const declared = Number(contentLength ?? 0);
    if (Number.isFinite(declared) && declared > limit) {
      this.answerDirectError(res, route, path, httpErrors.payloadTooLarge(limit), started);
      req.resume();
      return;
    }
    if (req.readableEnded || (declared === 0 && !chunked)) {
      this.answerDirect(res, route, name, path, authorization, EMPTY_BODY, started);
      return;
    }
    let body: Buffer | null = null;
    let more: Buffer[] | null = null;
    let size = 0;
    let settled = false;
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        this.answerDirectError(res, route, path, httpErrors.payloadTooLarge(limit), started);
        req.resume(); // drain the rest; `connection: close` ends the exchange
      } else if (body === null) {
        body = chunk;
      } else {
        (more ??= [body]).push(chunk);
      }
    };
    req.on("data", onData);
    req.on("end", () => {
      if (settled) return;
      settled = true;
      this.answerDirect(res, route, name, path, authorization, more !== null ? Buffer.concat(more) : (body ?? EMPTY_BODY), started);
    });
    // An aborted upload: nothing to answer, but the log says the connection went.
    req.on("error", () => {
      if (settled) return;
      settled = true;
      this.record("POST", path, 0, started, true);
    });
  }

  private answerDirect(
    res: ServerResponse,
    route: DirectRoute,
    name: string,
    path: string,
    authorization: string | undefined,
    body: Buffer,
    started: number,
  ): void {
    let answer: DirectAnswer;
    try {
      answer = route.direct.answer(name, authorization, body, this.url);
    } catch (err) {
      this.answerDirectError(res, route, path, err, started);
      return;
    }
    if (!res.destroyed && !res.writableEnded) {
      // A flat header list: no object to build, no header names to lower-case.
      res.writeHead(answer.status, ["content-type", JSON_CONTENT_TYPE, "content-length", String(answer.json.length)]);
      res.end(answer.json);
    }
    this.record("POST", path, res.destroyed ? 0 : answer.status, started, true);
  }

  private answerDirectError(res: ServerResponse, route: DirectRoute, path: string, err: unknown, started: number): void {
    const shape = route.errorShape ?? "arm";
    let result: RouteResult;
    if (isEmulatorHttpError(err)) {
      result = renderError(err, shape);
    } else {
      this.logNow(`internal error on POST ${path}: ${err instanceof Error ? err.message : String(err)}`);
      result = renderError(httpErrors.internal(), shape);
    }
    if (!res.destroyed && !res.writableEnded) send(res, result, false);
    this.record("POST", path, res.destroyed ? 0 : result.status, started, true);
  }

  /** Adds a request to the log; `batched` lines reach `log` with the next batch, others at once. */
  private record(method: string, path: string, status: number, started: number, batched: boolean): void {
    this.requestLog.add(method, path, status, Math.round(performance.now() - started));
    if (this.opts.log === undefined) {
      this.loggedThrough = this.requestLog.last;
    } else if (!batched || this.requestLog.last - this.loggedThrough >= LOG_FLUSH_LINES) {
      this.flushLog();
    } else if (this.logTimer === null) {
      this.logTimer = setTimeout(() => this.flushLog(), LOG_FLUSH_MS);
      this.logTimer.unref();
    }
  }

  /** Writes every logged request not yet written, oldest first. */
  private flushLog(): void {
    if (this.logTimer !== null) {
      clearTimeout(this.logTimer);
      this.logTimer = null;
    }
    const log = this.opts.log;
    const last = this.requestLog.last;
    if (log !== undefined) {
      for (let seq = Math.max(this.loggedThrough + 1, this.requestLog.first); seq <= last; seq++) log(this.requestLog.line(seq));
    }
    this.loggedThrough = last;
  }

  /** A line that is not a request: after the pending request lines, so the order holds. */
  private logNow(line: string): void {
    if (this.opts.log === undefined) return;
    this.flushLog();
    this.opts.log(line);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, takenFault: Fault | null | undefined): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const isAdmin = rawPath.startsWith(ADMIN_PREFIX);
    // Known once a route matched; before that (404/405/400) it is guessed from the path.
    let shape: ErrorShape | null = null;
    let fault: Fault | null = null;
    let result: RouteResult;

    try {
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw httpErrors.badRequest("The request path is not valid percent-encoding.");
      }
      fault = isAdmin ? null : takenFault !== undefined ? takenFault : this.opts.faults.take(method, path);
      if (fault !== null && !fault.afterApply) await this.applyFault(fault, req, res);
      if (!res.destroyed) {
        const { route, params, allowed } = this.match(method, path);
        if (route === null) {
          throw allowed.length > 0
            ? httpErrors.methodNotAllowed(method, allowed)
            : httpErrors.notFound(`No emulated API answers ${method} ${rawPath}.`, shapeForPath(rawPath) === "entra" ? "invalid_request" : "NotFound");
        }
        shape = route.errorShape ?? "arm";
        if (route.auth === "arm") this.authenticate(req);
        // Await only real promises: every needless await costs a microtask turn on the hot path.
        const pendingBody = readBody(req, route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
        const body = Buffer.isBuffer(pendingBody) ? pendingBody : await pendingBody;
        const ctx = new Context(req, method, path, rawUrl, q, params, body, this.url, this.opts.deps.now);
        const handled = route.handle(ctx);
        result = handled instanceof Promise ? await handled : handled;
        // afterApply: the change above is applied and durable; the client sees the fault instead.
        if (fault !== null && fault.afterApply) await this.applyFault(fault, req, res);
      }
    } catch (err) {
      const errorShape = shape ?? shapeForPath(rawPath);
      if (isEmulatorHttpError(err)) {
        result = renderError(err, errorShape);
      } else {
        this.logNow(`internal error on ${method} ${rawPath}: ${err instanceof Error ? err.message : String(err)}`);
        result = renderError(httpErrors.internal(), errorShape);
      }
      if (err instanceof EmulatorHttpError && err.status === 413) req.resume();
    }

    const status = res.destroyed ? 0 : result!.status;
    if (!res.destroyed && !res.writableEnded) send(res, result!, method === "HEAD");
    // Admin calls are written to `log` but kept out of the request log.
    if (!isAdmin) this.record(method, rawPath, status, started, false);
    else this.logNow(`${method} ${rawPath} ${status === 0 ? "reset" : status} ${Math.round(performance.now() - started)}ms`);
  }

  /** delay waits; reset destroys the connection; 429/503 throw the error to answer. */
  private async applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (fault.action) {
      case "delay":
        await sleep(fault.delayMs);
        return;
      case "reset":
        req.socket.destroy();
        res.destroy();
        return;
      case "429":
        throw httpErrors.tooManyRequests(fault.retryAfterSeconds ?? 1);
      case "503":
        throw httpErrors.serviceUnavailable(
          "The service is unavailable (injected fault); retry later.",
          fault.retryAfterSeconds ?? undefined,
        );
    }
  }

  private match(method: string, path: string): { route: EmulatorRoute | null; params: Record<string, string>; allowed: string[] } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (m === null) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET" && !this.hasRoute("HEAD", path))) {
        return { route, params: m.groups ?? {}, allowed };
      }
      allowed.push(route.method);
    }
    return { route: null, params: {}, allowed };
  }

  private hasRoute(method: string, path: string): boolean {
    return this.routes.some((r) => r.method === method && r.pattern.test(path));
  }

  /** Control-plane bearer: a JWT from our token endpoint, or the documented static token. */
  private authenticate(req: IncomingMessage): void {
    const deps = this.opts.deps;
    const challenge = (error: string, description: string) =>
      `Bearer authorization_uri="${deps.baseUrl()}/${deps.workspace.tenantId}", error="${error}", error_description="${description}"`;
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === "") {
      throw httpErrors.unauthorized(
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing; send 'Authorization: Bearer <token from the emulator's token endpoint>'.",
        challenge("invalid_token", "The authentication failed because of missing 'Authorization' header."),
      );
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) {
      throw httpErrors.unauthorized(
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.",
        challenge("invalid_token", "The authentication failed because of an invalid 'Authorization' header."),
      );
    }
    const token = m[1]!;
    if (timingSafeEqual(createHash("sha256").update(token).digest(), this.staticTokenDigest)) {
      this.opts.setCaller(req, { kind: "static-token", subject: "static-token", claims: null });
      return;
    }
    const verdict = deps.tokens.verifier.verify(token, {
      issuer: deps.tokens.entraIssuer(),
      audiences: deps.tokens.controlPlaneAudiences(),
    });
    if (verdict.ok) {
      const sub = verdict.claims.sub;
      this.opts.setCaller(req, { kind: "jwt", subject: typeof sub === "string" ? sub : "unknown", claims: verdict.claims });
      return;
    }
    const code =
      verdict.code === "ExpiredToken"
        ? "ExpiredAuthenticationToken"
        : verdict.code === "WrongAudience"
          ? "InvalidAuthenticationTokenAudience"
          : "InvalidAuthenticationToken";
    const message =
      verdict.code === "WrongAudience"
        ? `The access token has been obtained for the wrong audience; request it for scope 'https://management.azure.com/.default'.`
        : verdict.code === "WrongIssuer"
          ? "The access token was not issued by this emulator (wrong issuer); sign in again at its token endpoint."
          : `The access token is invalid: ${verdict.message}`;
    throw httpErrors.unauthorized(code, message, challenge("invalid_token", message.replace(/["\\]/g, "'")));
  }
}

function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** Error shape for requests no route claimed, guessed from the path. */
function shapeForPath(path: string): ErrorShape {
  if (path.startsWith("/modelmanagement/")) return "mms";
  if (path.startsWith("/blob/")) return "storage";
  if (path.startsWith("/api/v1/service/") || path.startsWith("/aci/")) return "scoring";
  if (/^\/[^/]+\/(oauth2|v2\.0|discovery)\//.test(path)) return "entra";
  return "arm";
}

const EMPTY_BODY = Buffer.alloc(0);

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> | Buffer {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(httpErrors.payloadTooLarge(limit));
  if (req.readableEnded || (declared === 0 && req.headers["transfer-encoding"] === undefined)) return EMPTY_BODY;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(httpErrors.payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** RequestContext as a class: a stable shape, and the query string parsed only when read. */
class Context implements RequestContext {
  private parsedQuery: URLSearchParams | null = null;
  private parsedJson: { value: unknown } | null = null;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(
    readonly req: IncomingMessage,
    readonly method: string,
    readonly path: string,
    private readonly rawUrl: string,
    private readonly queryStart: number,
    readonly params: Record<string, string>,
    readonly body: Buffer,
    readonly baseUrl: string,
    readonly now: () => number,
  ) {
    this.headers = req.headers;
  }

  get query(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.queryStart === -1 ? "" : this.rawUrl.slice(this.queryStart + 1)));
  }

  json<T>(): T {
    if (this.parsedJson === null) {
      if (this.body.length === 0) throw httpErrors.badRequest("The request body is empty; a JSON body is required.");
      try {
        this.parsedJson = { value: JSON.parse(this.body.toString("utf8")) };
      } catch {
        throw httpErrors.invalidJson();
      }
    }
    return this.parsedJson.value as T;
  }
}

function send(res: ServerResponse, result: RouteResult, headOnly: boolean): void {
  const headers: Record<string, string> = result.headers === undefined ? {} : { ...result.headers };
  // Strings go to res.end as-is: Node then writes headers and body in one go.
  let payload: Buffer | string | undefined;
  const body = result.body;
  if (body === undefined || body === null) {
    payload = undefined;
  } else if (Buffer.isBuffer(body)) {
    payload = body;
  } else if (typeof body === "string") {
    payload = body;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else {
    payload = JSON.stringify(body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  if (headers["content-length"] === undefined) {
    headers["content-length"] = String(payload === undefined ? 0 : typeof payload === "string" ? Buffer.byteLength(payload) : payload.length);
  }
  res.writeHead(result.status, headers);
  if (headOnly || payload === undefined) res.end();
  else res.end(payload);
}
