// ## Emulator admin routes (loopback only)
//
// Under `/_emulator/`; they need no bearer token but refuse any client that is not on a loopback
// address (127.0.0.0/8, ::1) with 403. They are not subject to fault injection and do not appear
// in the request log. Replace URL and CA below with what `amlauth emulator start` printed:
//
//     E=https://127.0.0.1:7443; CA=~/.local/state/amlauth/emulator/ca.pem
//
// `GET /_emulator/health`
//     `{"status":"ok","url","pid","dataDir","inMemory","startedAt"}`; used by `emulator status`.
//
// `POST /_emulator/faults`  (body: one fault object or an array of them) → 201 `{"faults":[...]}`
//     Makes the next `count` requests whose method and decoded path match answer with a fault:
//
//         { "match": { "method": "POST", "pathRegex": "/regenerateKeys$" },   // method optional
//           "action": "429" | "503" | "reset" | "delay",
//           "retryAfterSeconds": 1,   // 429 (default 1) and 503 (default: no header)
//           "delayMs": 2000,          // delay (default 1000): wait, then answer normally
//           "count": 2,               // how many matching requests get the fault
//           "afterApply": false }     // true: run the real handler first (the change IS applied
//                                     // and durable), then answer the fault instead of its result
//
//     "reset" closes the connection without an answer. Faults apply in the order they were
//     added; the first whose match fits is used, and it is dropped once its count is spent.
//         curl --cacert $CA -X POST $E/_emulator/faults -H 'content-type: application/json' \
//           -d '{"match":{"pathRegex":"/listkeys$"},"action":"429","retryAfterSeconds":1,"count":2}'
//
// `GET /_emulator/faults` → `{"faults":[{id, match, action, retryAfterSeconds, delayMs, remaining, afterApply}]}`
// `DELETE /_emulator/faults` → `{"cleared": N}`
//
// `faults.json` in the data directory (same objects, as an array or `{"faults":[...]}`) is loaded
//     at start, so faults can be set up before the first request.
//
// `GET /_emulator/requests[?since=SEQ]` → `{"requests":[{seq, method, path, status, ms}], "lastSeq"}`
//     Every non-admin request (path without query string; status 0 = connection reset), newest
//     last, at most the last 10 000. Tests use it to prove that a command made no request.
// `DELETE /_emulator/requests` → clears that log.
//
// `POST /_emulator/reset` → reseeds the state; only for an `--in-memory` emulator (409 otherwise:
//     stop it and run `amlauth emulator reset`).
import type { RequestContext } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { httpErrors } from "../errors.js";
import type { FaultRegistry } from "../faults.js";
import type { RequestLogEntry } from "../server.js";

export interface AdminHooks {
  faults: FaultRegistry;
  requests(since: number): RequestLogEntry[];
  /** Sequence number of the newest request ever logged (0 when none). */
  lastSeq(): number;
  clearRequests(): void;
  health(): Record<string, unknown>;
  /** Reseeds an in-memory store; false when the store is file-backed. */
  reset(): Promise<boolean>;
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4.startsWith("127.") || address === "::1";
}

export function adminRoutes(deps: RouteDeps, hooks: AdminHooks): EmulatorRoute[] {
  void deps;
  const loopbackOnly =
    (handler: (ctx: RequestContext) => ReturnType<EmulatorRoute["handle"]>) => (ctx: RequestContext) => {
      if (!isLoopback(ctx.req.socket.remoteAddress)) {
        throw httpErrors.forbidden("The emulator's admin routes answer loopback clients only.");
      }
      return handler(ctx);
    };
  const route = (method: string, path: string, handler: (ctx: RequestContext) => ReturnType<EmulatorRoute["handle"]>): EmulatorRoute => ({
    method,
    pattern: new RegExp(`^/_emulator/${path}$`),
    auth: "none",
    errorShape: "arm",
    maxBodyBytes: 256 * 1024,
    handle: loopbackOnly(handler),
  });
  return [
    route("GET", "health", () => ({ status: 200, body: hooks.health() })),
    route("GET", "faults", () => ({ status: 200, body: { faults: hooks.faults.list() } })),
    route("POST", "faults", (ctx) => {
      const body = ctx.json();
      const specs = Array.isArray(body) ? body : [body];
      if (specs.length === 0) throw httpErrors.badRequest("Send one fault object or a non-empty array of them.");
      return { status: 201, body: { faults: specs.map((spec) => hooks.faults.add(spec)) } };
    }),
    route("DELETE", "faults", () => ({ status: 200, body: { cleared: hooks.faults.clear() } })),
    route("GET", "requests", (ctx) => {
      const since = Number(ctx.query.get("since") ?? "0");
      const requests = hooks.requests(Number.isFinite(since) ? since : 0);
      return { status: 200, body: { requests, lastSeq: hooks.lastSeq() } };
    }),
    route("DELETE", "requests", () => {
      hooks.clearRequests();
      return { status: 200, body: {} };
    }),
    route("POST", "reset", async () => {
      if (!(await hooks.reset())) {
        throw httpErrors.conflict(
          "Only an in-memory emulator can be reset while running; stop it and run `amlauth emulator reset`.",
        );
      }
      return { status: 200, body: { reset: true } };
    }),
  ];
}
