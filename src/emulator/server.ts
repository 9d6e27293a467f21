// EmulatorServer: TLS, routing, control-plane auth, fault injection, body limits, the request log.
// Route modules only read/write the store and throw factory errors; everything else is here.
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

export class EmulatorServer {
  private status: EmulatorServerStatus = EmulatorServerStatus.Closed;
  private server: Server | null = null;
  private routes: EmulatorRoute[] = [];
  private url = "";
  private seq = 0;
  private readonly requestLog: RequestLogEntry[] = [];
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
    const recent = this.requestLog.length > REQUEST_LOG_LIMIT ? this.requestLog.slice(-REQUEST_LOG_LIMIT) : this.requestLog;
    return recent.filter((r) => r.seq > since);
  }

  lastSeq(): number {
    return this.seq;
  }

  clearRequests(): void {
    this.requestLog.length = 0;
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
        (req, res) => {
          this.handle(req, res).catch(() => {
            if (!res.headersSent) res.writeHead(500).end();
            else res.destroy();
          });
        },
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
    this.status = EmulatorServerStatus.Closed;
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
      fault = isAdmin ? null : this.opts.faults.take(method, path);
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
        this.opts.log?.(`internal error on ${method} ${rawPath}: ${err instanceof Error ? err.message : String(err)}`);
        result = renderError(httpErrors.internal(), errorShape);
      }
      if (err instanceof EmulatorHttpError && err.status === 413) req.resume();
    }

    const status = res.destroyed ? 0 : result!.status;
    if (!res.destroyed && !res.writableEnded) send(res, result!, method === "HEAD");
    const ms = Math.round(performance.now() - started);
    if (!isAdmin) {
      this.seq += 1;
      this.requestLog.push({ seq: this.seq, method, path: rawPath, status, ms });
      // Trim in batches: O(1) amortised per request, never more than 2x the limit in memory.
      if (this.requestLog.length >= 2 * REQUEST_LOG_LIMIT) this.requestLog.splice(0, this.requestLog.length - REQUEST_LOG_LIMIT);
    }
    this.opts.log?.(`${method} ${rawPath} ${status === 0 ? "reset" : status} ${ms}ms`);
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
