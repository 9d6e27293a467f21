// A small purpose-built HTTPS server that plays ARM + discovery + Model Management + scoring well
// enough for amlauth to reach the request under test, and then answers that one request badly:
// non-JSON, truncated, wrong types, huge, HTML error pages, missing fields, wrong content-type,
// resets, silence. Loopback, port 0, certificates from the emulator's certs module.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTlsMaterial } from "../../src/emulator/certs.js";

export const SUB = "00000000-0000-0000-0000-00000000abcd";
export const RG = "corpus-rg";
export const WS = "corpus-ws";
export const STATIC_TOKEN = "corpus-static-arm-token-0123456789";

/** Routes amlauth calls; a case overrides the answer of exactly one of them. */
export type RouteName =
  | "workspace"
  | "discovery"
  | "service"
  | "listkeys"
  | "token"
  | "regenerate"
  | "patch"
  | "operation"
  | "score"
  | "v2-endpoint"
  | "v2-listkeys"
  | "v2-token";

/** Routes that change something on the server. */
export const MUTATING_ROUTES: ReadonlySet<RouteName> = new Set(["regenerate", "patch"]);

export interface BadReply {
  /** plain: status/headers/body as given. reset: close the socket. truncate: promise more bytes than sent.
   *  huge: a valid-looking JSON body of `bytes`. silent: never answer. */
  kind?: "plain" | "reset" | "truncate" | "huge" | "silent";
  status?: number;
  contentType?: string | null;
  headers?: Record<string, string>;
  /** Body text; or `json` (encoded as given). */
  body?: string;
  json?: unknown;
  bytes?: number;
}

export interface Seen {
  method: string;
  path: string;
  route: RouteName | "unknown";
}

export interface BadServer {
  url: string;
  caFile: string;
  seen: Seen[];
  /** Answer `route` with `reply` from now on (until reset()). */
  override(route: RouteName, reply: BadReply): void;
  reset(): void;
  close(): Promise<void>;
}

const FAKE_JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
  Buffer.from(JSON.stringify({ aud: "corpus", exp: 4102444800 })).toString("base64url") +
  ".c2lnbmF0dXJl";

function classify(method: string, path: string): RouteName | "unknown" {
  if (path === "/discovery") return "discovery";
  if (/\/workspaces\/[^/]+$/.test(path) && !path.startsWith("/modelmanagement/") && method === "GET") return "workspace";
  if (/\/onlineEndpoints\/[^/]+$/.test(path)) return "v2-endpoint";
  if (/\/onlineEndpoints\/[^/]+\/listKeys$/.test(path)) return "v2-listkeys";
  if (/\/onlineEndpoints\/[^/]+\/token$/.test(path)) return "v2-token";
  if (path.startsWith("/modelmanagement/")) {
    if (/\/operations\/[^/]+$/.test(path)) return "operation";
    if (/\/services\/[^/]+\/listkeys$/.test(path)) return "listkeys";
    if (/\/services\/[^/]+\/token$/.test(path)) return "token";
    if (/\/services\/[^/]+\/regenerateKeys$/.test(path)) return "regenerate";
    if (/\/services\/[^/]+$/.test(path)) return method === "PATCH" ? "patch" : "service";
  }
  if (/^\/score\/[^/]+$/.test(path)) return "score";
  return "unknown";
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** What a healthy service would answer, so the CLI gets as far as the request under test. */
function goodReply(url: string, route: RouteName | "unknown", path: string, res: ServerResponse): void {
  const name = decodeURIComponent(/\/(?:services|onlineEndpoints)\/([^/?]+)/.exec(path)?.[1] ?? "");
  const aks = name.endsWith("aks");
  const known = name === "svc-aci" || name === "svc-aks" || name === "ep-key";
  switch (route) {
    case "workspace":
      return sendJson(res, 200, { id: path, name: WS, properties: { discoveryUrl: `${url}/discovery` } });
    case "discovery":
      return sendJson(res, 200, { modelmanagement: url, history: url, experimentation: url, api: url });
    case "service":
      if (!known) return sendJson(res, 404, { code: "NotFound", message: `No service named '${name}'.` });
      return sendJson(res, 200, {
        name,
        computeType: aks ? "AKS" : "ACI",
        authEnabled: !aks,
        aadAuthEnabled: aks,
        state: "Healthy",
        scoringUri: `${url}/score/${name}`,
      });
    case "listkeys":
      return sendJson(res, 200, { primaryKey: "corpusPrimaryKey0123456789", secondaryKey: "corpusSecondaryKey0123456789" });
    case "token":
      return sendJson(res, 200, { accessToken: FAKE_JWT, tokenType: "Bearer", expiryOn: 4102444800, refreshAfter: 4102441200 });
    case "regenerate":
    case "patch":
      res.writeHead(202, { "operation-location": `${url}/modelmanagement/v1.0/operations/op-1`, "content-length": "0" });
      return void res.end();
    case "operation":
      return sendJson(res, 200, { id: "op-1", state: "Succeeded", operationType: "Update" });
    case "score":
      return sendJson(res, 200, { scored: true });
    case "v2-endpoint":
      if (!known) return sendJson(res, 404, { error: { code: "ResourceNotFound", message: `The Resource '${name}' was not found.` } });
      return sendJson(res, 200, {
        id: path,
        name,
        location: "corpuswest",
        properties: { authMode: "Key", provisioningState: "Succeeded", scoringUri: `${url}/score/${name}` },
      });
    case "v2-listkeys":
      return sendJson(res, 200, { primaryKey: "corpusV2Primary0123456789", secondaryKey: "corpusV2Secondary0123456789" });
    case "v2-token":
      return sendJson(res, 200, { accessToken: FAKE_JWT, tokenType: "Bearer", expiryTimeUtc: 4102444800, refreshAfterTimeUtc: 4102441200 });
    default:
      return sendJson(res, 404, { error: { code: "NotFound", message: "not served by the corpus server" } });
  }
}

function badReply(reply: BadReply, res: ServerResponse, socket: Socket): void {
  const kind = reply.kind ?? "plain";
  const status = reply.status ?? 200;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if (reply.contentType !== null) headers["content-type"] = reply.contentType ?? "application/json";
  const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? "");
  switch (kind) {
    case "silent":
      return;
    case "reset":
      socket.destroy();
      return;
    case "truncate": {
      // Promise the whole body, send half of it, then hang up.
      res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
      setTimeout(() => socket.destroy(), 20);
      return;
    }
    case "huge": {
      // A key that never ends: valid JSON so far, larger than any reply amlauth accepts.
      const total = reply.bytes ?? 11 * 1024 * 1024;
      const prefix = Buffer.from('{"primaryKey":"');
      res.writeHead(status, { ...headers, "content-length": String(total) });
      res.on("error", () => undefined);
      res.write(prefix);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = prefix.length;
      const pump = () => {
        while (sent < total && !res.destroyed) {
          const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
          sent += part.length;
          if (!res.write(part)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
      return;
    }
    case "plain":
      headers["content-length"] = String(Buffer.byteLength(text));
      res.writeHead(status, headers);
      res.end(text);
  }
}

export async function startBadServer(): Promise<BadServer> {
  const tlsDir = mkdtempSync(join(tmpdir(), "amlauth-corpus-tls-"));
  const tls = await ensureTlsMaterial(tlsDir, "127.0.0.1", Date.now());
  const overrides = new Map<RouteName, BadReply>();
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  let url = "";
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const method = req.method ?? "GET";
      const route = classify(method, path);
      seen.push({ method, path, route });
      const override = route === "unknown" ? undefined : overrides.get(route);
      if (override) badReply(override, res, req.socket);
      else goodReply(url, route, path, res);
    });
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    caFile: tls.caFile,
    seen,
    override: (route, reply) => overrides.set(route, reply),
    reset: () => {
      overrides.clear();
      seen.length = 0;
      // Keep-alive sockets from the previous case must not carry a half-sent reply over.
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(tlsDir, { recursive: true, force: true });
    },
  };
}
