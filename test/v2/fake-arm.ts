// An in-memory stand-in for the ARM onlineEndpoints API behind an HttpPipeline: no sockets, no TLS.
// It answers in the same shapes and LRO headers as the emulator so the real SDK poller runs.
import type { HttpPipeline, HttpRequest, HttpResponse } from "../../src/rest/http-types.js";

export const ARM = "https://arm.test";
export const SUB = "sub-1";
export const RG = "rg-1";
export const WS = "ws-1";
const BASE = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.MachineLearningServices/workspaces/${WS}`;

export interface FakeEndpoint {
  authMode: "Key" | "AMLToken" | "AADToken";
  compute?: string;
  description?: string;
  location: string;
  provisioningState: string;
  primaryKey: string;
  secondaryKey: string;
}

type Reply = { status: number; headers?: Record<string, string>; body?: unknown };
/** Return a Reply to answer instead of the fake, throw to simulate a pipeline fault, or undefined to pass. */
export type Interceptor = (req: HttpRequest, path: string) => Reply | undefined;

export class FakeArm implements HttpPipeline {
  readonly endpoints = new Map<string, FakeEndpoint>();
  readonly sent: HttpRequest[] = [];
  readonly interceptors: Interceptor[] = [];
  workspaceLocation = "fakewest";
  /** Status polls answered InProgress before Succeeded. */
  pollsBeforeDone = 1;
  tokenReply: Record<string, unknown> = { accessToken: "aml.token.value", tokenType: "Bearer", expiryTimeUtc: 2_000_000_000, refreshAfterTimeUtc: 1_999_999_000 };
  private operations = new Map<string, { remaining: number; apply: () => void; fail?: { code: string; message: string } }>();
  private nextOperation = 1;
  private nextKey = 1;

  constructor(seed: Record<string, Partial<FakeEndpoint>> = {}) {
    for (const [name, partial] of Object.entries(seed)) {
      this.endpoints.set(name, {
        authMode: "Key",
        location: this.workspaceLocation,
        provisioningState: "Succeeded",
        primaryKey: `${name}-primary-0`,
        secondaryKey: `${name}-secondary-0`,
        ...partial,
      });
    }
  }

  /** Requests whose path ends with the suffix (and method, if given). */
  count(method: string, pathSuffix: string): number {
    return this.sent.filter((r) => r.method === method && new URL(r.url).pathname.endsWith(pathSuffix)).length;
  }

  /** Make the next regeneration's operation end in Failed. */
  failNextOperation(code: string, message: string): void {
    this.pendingFailure = { code, message };
  }
  private pendingFailure: { code: string; message: string } | undefined;

  async send(req: HttpRequest): Promise<HttpResponse> {
    this.sent.push(req);
    const url = new URL(req.url);
    for (const intercept of this.interceptors) {
      const reply = intercept(req, url.pathname);
      if (reply) return this.respond(req, reply);
    }
    return this.respond(req, this.route(req, url));
  }

  async sendJson<T>(): Promise<{ status: number; headers: Record<string, string>; body: T }> {
    throw new Error("the v2 adapter must go through send(), not sendJson()");
  }

  close(): void {}

  private respond(req: HttpRequest, reply: Reply): HttpResponse {
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    let bodyText = "";
    if (reply.body !== undefined) {
      bodyText = JSON.stringify(reply.body);
      headers["content-type"] = "application/json; charset=utf-8";
    }
    return { status: reply.status, headers, bodyText, request: req };
  }

  private resource(name: string, ep: FakeEndpoint): Record<string, unknown> {
    const properties: Record<string, unknown> = {
      authMode: ep.authMode,
      scoringUri: `${ARM}/score/${name}`,
      provisioningState: ep.provisioningState,
      traffic: {},
    };
    if (ep.compute !== undefined) properties.compute = ep.compute;
    if (ep.description !== undefined) properties.description = ep.description;
    return {
      id: `${BASE}/onlineEndpoints/${name}`,
      name,
      type: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
      location: ep.location,
      properties,
    };
  }

  private startOperation(apply: () => void): string {
    const id = String(this.nextOperation++);
    const fail = this.pendingFailure;
    this.pendingFailure = undefined;
    this.operations.set(id, { remaining: this.pollsBeforeDone, apply, ...(fail ? { fail } : {}) });
    return id;
  }

  private route(req: HttpRequest, url: URL): Reply {
    const path = url.pathname;
    if (url.searchParams.get("api-version") !== "2022-10-01") return armError(400, "MissingApiVersion", "api-version missing");
    if (!req.headers?.authorization?.startsWith("Bearer ")) return armError(401, "AuthenticationFailed", "no bearer");

    const op = /^\/operations\/(\d+)(\/result)?$/.exec(path);
    if (op && req.method === "GET") {
      const state = this.operations.get(op[1]!);
      if (!state) return armError(404, "OperationNotFound", "no such operation");
      if (op[2]) return { status: 200, body: {} };
      if (state.remaining > 0) {
        state.remaining -= 1;
        return { status: 200, body: { status: "InProgress" } };
      }
      if (state.fail) return { status: 200, body: { status: "Failed", error: state.fail } };
      state.apply();
      return { status: 200, body: { status: "Succeeded" } };
    }

    if (path === BASE && req.method === "GET") {
      return { status: 200, body: { id: BASE, name: WS, location: this.workspaceLocation, properties: {} } };
    }

    const m = /^(.*)\/onlineEndpoints\/([^/]+)(?:\/(listKeys|regenerateKeys|token))?$/.exec(path);
    if (!m) return armError(404, "NoRoute", `no route ${req.method} ${path}`);
    if (m[1] !== BASE) return armError(404, "ResourceGroupNotFound", `resource group not found`);
    const name = m[2]!;
    const action = m[3];
    const ep = this.endpoints.get(name);

    if (!action && req.method === "PUT") {
      const body = JSON.parse(String(req.body)) as { location: string; properties: { authMode: FakeEndpoint["authMode"]; compute?: string; description?: string } };
      const next: FakeEndpoint = {
        authMode: body.properties.authMode,
        location: body.location,
        provisioningState: "Updating",
        primaryKey: ep?.primaryKey ?? `${name}-primary-new`,
        secondaryKey: ep?.secondaryKey ?? `${name}-secondary-new`,
      };
      if (body.properties.compute !== undefined) next.compute = body.properties.compute;
      if (body.properties.description !== undefined) next.description = body.properties.description;
      this.endpoints.set(name, next);
      const id = this.startOperation(() => {
        next.provisioningState = "Succeeded";
      });
      return {
        status: ep ? 200 : 201,
        headers: { "azure-asyncoperation": `${ARM}/operations/${id}` },
        body: this.resource(name, next),
      };
    }
    if (!ep) return armError(404, "ResourceNotFound", `endpoint ${name} not found`);
    if (!action && req.method === "GET") return { status: 200, body: this.resource(name, ep) };
    if (action === "listKeys" && req.method === "POST") return { status: 200, body: { primaryKey: ep.primaryKey, secondaryKey: ep.secondaryKey } };
    if (action === "token" && req.method === "POST") {
      if (ep.authMode !== "AMLToken") return armError(400, "BadRequest", "token is only for AMLToken endpoints");
      return { status: 200, body: this.tokenReply };
    }
    if (action === "regenerateKeys" && req.method === "POST") {
      const body = JSON.parse(String(req.body)) as { keyType: string; keyValue?: string };
      const value = body.keyValue ?? `${name}-regen-${this.nextKey++}`;
      const id = this.startOperation(() => {
        if (body.keyType === "Primary") ep.primaryKey = value;
        else ep.secondaryKey = value;
      });
      return { status: 202, headers: { location: `${ARM}/operations/${id}/result`, "azure-asyncoperation": `${ARM}/operations/${id}` } };
    }
    return armError(405, "MethodNotAllowed", `${req.method} ${path}`);
  }
}

export function armError(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}

/** An unsigned JWT with the given payload (only `exp` matters to the adapter). */
export function fakeJwt(payload: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.c2ln`;
}
