// Contracts inside the emulator: the server (server.ts) owns TLS, routing, auth of the control
// plane, fault injection, the request log and persistence; route modules (routes/*.ts) only
// read/write the store and answer through the error factory (errors.ts).
import type { IncomingMessage } from "node:http";

export interface EmulatorOptions {
  /** 0 = ephemeral. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where CA/leaf certs, signing keys, state.json and connection.json live. Required unless inMemory. */
  dataDir?: string;
  /** Keep state in memory only (certs still go to dataDir when given, else a temp dir). */
  inMemory?: boolean;
  /** Skip the seeded services/endpoints. */
  empty?: boolean;
  /** Delay before a deploy moves Transitioning → Healthy (ms). Default 1500 for the CLI, tests pass 0. */
  deployDelayMs?: number;
  /** Lifetime of minted AML service tokens, seconds (default 3600). */
  tokenLifetimeSeconds?: number;
  /** refreshAfter = iat + this, seconds (default half the lifetime). */
  tokenRefreshSeconds?: number;
  /** Request log sink (default: none in-process; stderr from `amlauth emulator start`). */
  log?: (line: string) => void;
  /** Write connection.json into dataDir (default true when dataDir is set and not inMemory-only tests). */
  writeConnectionFile?: boolean;
}

export interface RunningEmulator {
  /** e.g. https://127.0.0.1:43123 (no trailing slash). */
  url: string;
  /** PEM file of the emulator's CA; trust it with --ca-file / NODE_EXTRA_CA_CERTS. */
  caFile: string;
  port: number;
  /** Every request seen (method, path without query, status), for tests that prove "no request made". */
  requests(): ReadonlyArray<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

/** What connection.json holds (no secrets). */
export interface ConnectionInfo {
  url: string;
  caFile: string;
  pid: number;
  dataDir: string;
  startedAt: string;
  subscriptionId: string;
  resourceGroup: string;
  workspace: string;
  tenantId: string;
  clientId: string;
}

export interface RequestContext {
  req: IncomingMessage;
  method: string;
  /** Decoded path without query. */
  path: string;
  query: URLSearchParams;
  /** Regex groups of the matched route. */
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body (already size-limited by the server). */
  body: Buffer;
  /** Parsed JSON body or throws the factory's 400. */
  json<T = unknown>(): T;
  /** Base URL of this emulator, e.g. https://127.0.0.1:43123 */
  baseUrl: string;
  now(): number;
}

export interface RouteResult {
  status: number;
  headers?: Record<string, string>;
  /** Objects are JSON-encoded; strings/buffers sent as-is. */
  body?: unknown;
}

export interface Route {
  method: string;
  /** Matched against the decoded path; named groups become params. Case-sensitive (listkeys ≠ listKeys). */
  pattern: RegExp;
  /** Which bearer the route needs: "arm" control plane token, "none", or "scoring" (route does its own check). */
  auth: "arm" | "none" | "scoring";
  handle(ctx: RequestContext): Promise<RouteResult> | RouteResult;
}
