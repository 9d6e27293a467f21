// v1 scoring endpoints: AKS-style /api/v1/service/{name}/score and ACI-style /aci/{name}/score.
// Each enforces the service's CURRENT mode (read from the in-memory state on every call, so a
// regenerated key or a mode change takes effect at once): key (primary or secondary), token (an AML
// token from this emulator's /token, bound to this service), or none. Success answers a JSON echo
// {service, input}; no model runs. Hot path (issue 6): direct routes (server.ts), no file I/O, no
// key import, a ScoringGate per service snapshot that remembers accepted credentials, and the
// input echoed as the JSON bytes it arrived as (validated, never parsed into objects).
import { isUtf8 } from "node:buffer";
import type { RequestContext } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { httpErrors } from "../errors.js";
import { ScoringGate } from "../scoring-auth.js";
import type { ScoringAuthRule } from "../scoring-auth.js";
import type { V1ComputeType, V1ServiceRecord } from "../store.js";
import { directRoute } from "../server.js";
import type { DirectAnswer } from "../server.js";
import { scoringUriFor } from "./mms.js";

/** Request body limit of v1 scoring calls. */
export const V1_SCORING_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** What scoring one snapshot of a service needs, built once per snapshot. */
interface ServiceScorer {
  /** The flags the gate was built from (a snapshot never changes; checked anyway, it is cheap). */
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  gate: ScoringGate;
  /** `{"service":<name>,"input":` — the echo up to the input. */
  echoHead: Buffer;
}

export function scoringRoutes(deps: RouteDeps): EmulatorRoute[] {
  const describeAudience = (aud: unknown): string | null => {
    const parsed = deps.tokens.parseServiceAudience(aud);
    if (parsed === null) return null;
    return parsed.api === "v1" ? `service '${parsed.name}'` : `online endpoint '${parsed.name}'`;
  };

  const findDeployed = (name: string, computeType: V1ComputeType, baseUrl: string): V1ServiceRecord => {
    const record = deps.store.state.v1Services[name];
    if (record === undefined || record.computeType !== computeType) {
      const hint = record !== undefined ? ` '${name}' is an ${record.computeType} service; its scoring URI is ${scoringUriFor(baseUrl, record)}.` : "";
      throw httpErrors.notFound(`No ${computeType} service named '${name.slice(0, 100)}' is deployed here.${hint}`, "ServiceNotFound");
    }
    return record;
  };

  const ruleFor = (record: V1ServiceRecord): ScoringAuthRule => {
    if (record.aadAuthEnabled) {
      return {
        mode: "token",
        verifier: deps.tokens.verifier,
        issuer: deps.tokens.amlTokenIssuer(),
        audience: deps.tokens.serviceAudience("v1", record.name),
        keys: record.keys,
        describeAudience,
      };
    }
    return record.authEnabled ? { mode: "key", keys: record.keys } : { mode: "none" };
  };

  // Keyed by the record object: the store swaps in new records on every change.
  const scorers = new WeakMap<V1ServiceRecord, ServiceScorer>();
  const scorerFor = (record: V1ServiceRecord): ServiceScorer => {
    let scorer = scorers.get(record);
    if (scorer === undefined || scorer.authEnabled !== record.authEnabled || scorer.aadAuthEnabled !== record.aadAuthEnabled) {
      scorer = {
        authEnabled: record.authEnabled,
        aadAuthEnabled: record.aadAuthEnabled,
        gate: new ScoringGate(ruleFor(record), deps.now),
        echoHead: Buffer.from(`{"service":${JSON.stringify(record.name)},"input":`),
      };
      scorers.set(record, scorer);
    }
    return scorer;
  };

  const score =
    (computeType: V1ComputeType) =>
    (name: string, authorization: string | undefined, body: Buffer, baseUrl: string): DirectAnswer => {
      const record = findDeployed(name, computeType, baseUrl);
      const scorer = scorerFor(record);
      const denied = scorer.gate.check(authorization);
      if (denied !== null) throw denied;
      if (!record.ready || record.state === "Failed") {
        throw httpErrors.serviceUnavailable(`Service '${record.name}' is not ready yet (state ${record.state}); retry shortly.`, 1);
      }
      const echo = jsonEcho(scorer.echoHead, body);
      if (echo === null) throw httpErrors.badRequest("The scoring input is not valid JSON.");
      return { status: 200, json: echo };
    };

  const swagger = (computeType: V1ComputeType) => (ctx: RequestContext) => {
    const record = findDeployed(ctx.params["name"] ?? "", computeType, ctx.baseUrl);
    return {
      status: 200,
      body: {
        swagger: "2.0",
        info: { title: record.name, description: "amlauth emulator echo service", version: "1.0" },
        schemes: ["https"],
        consumes: ["application/json"],
        produces: ["application/json"],
        paths: { [new URL(scoringUriFor(ctx.baseUrl, record)).pathname]: { post: { responses: { "200": { description: "echo" } } } } },
      },
    };
  };

  const limits = { errorShape: "scoring", maxBodyBytes: V1_SCORING_MAX_BODY_BYTES } as const;
  return [
    directRoute({ prefix: "/api/v1/service/", suffix: "/score", ...limits, answer: score("AKS") }),
    directRoute({ prefix: "/aci/", suffix: "/score", ...limits, answer: score("ACI") }),
    { method: "GET", pattern: /^\/api\/v1\/service\/(?<name>[^/]+)\/swagger\.json$/, auth: "none", errorShape: "scoring", handle: swagger("AKS") },
    { method: "GET", pattern: /^\/aci\/(?<name>[^/]+)\/swagger\.json$/, auth: "none", errorShape: "scoring", handle: swagger("ACI") },
  ];
}

// ---------------------------------------------------------------------------------------------
// The echo: the input is validated as JSON on its bytes and echoed as those bytes, which costs a
// fraction of parsing it into objects and serialising them again (issue 6), and echoes exactly
// what was sent (number spellings and inner blanks included). Shared with the v2 scoring route.

/**
 * `${head}${input}}` as bytes, where input is the JSON value in `body` without the blanks around
 * it ("null" for an empty body); null when `body` is not JSON as JSON.parse(body.toString())
 * defines it (ECMA-404). Iterative, so any nesting depth within the body limit is fine.
 */
export function jsonEcho(head: Buffer, body: Buffer): Buffer | null {
  if (body.length === 0) return Buffer.concat([head, NULL_INPUT]);
  const bounds = jsonValueBounds(body);
  if (bounds === null) return null;
  const [start, end, nonAscii] = bounds;
  // Bytes that are not UTF-8 (only possible inside strings) are echoed the way a decoder reads
  // them (U+FFFD), so the answer stays valid UTF-8.
  if (nonAscii && !isUtf8(body)) return Buffer.from(`${head.toString("utf8")}${body.toString("utf8").trim()}}`);
  const echo = Buffer.allocUnsafe(head.length + (end - start) + 1);
  echo.set(head, 0);
  echo.set(start === 0 && end === body.length ? body : body.subarray(start, end), head.length);
  echo[echo.length - 1] = 0x7d; // }
  return echo;
}

const NULL_INPUT = Buffer.from("null}");

const IN_ARRAY = 1;
const IN_OBJECT = 2;
/** The container stack of jsonValueBounds, reused across calls (it runs start to end synchronously). */
let openContainers = new Uint8Array(64);
const MAX_KEPT_DEPTH = 4096;

/**
 * [start, end) of the one JSON value in `bytes` (UTF-8) without the blanks around it, and whether
 * any byte is not ASCII; null when not JSON. Non-ASCII bytes can only be valid inside strings,
 * where a decoder turns each of them into some character, so the verdict is the one JSON.parse
 * gives on the decoded text.
 */
export function jsonValueBounds(bytes: Uint8Array): [start: number, end: number, nonAscii: boolean] | null {
  const n = bytes.length;
  // Containers still open, innermost last: open[0..depth).
  let open = openContainers;
  let depth = 0;
  let nonAscii = false;
  // Inside an object, after `{` or `,`: a member name comes next.
  let expectName = false;
  let i = skipBlanks(bytes, 0);
  const start = i;
  for (;;) {
    if (i >= n) return null;
    const c = bytes[i]!;
    if (c === 0x22 /* " */) {
      for (i++; ; i++) {
        if (i >= n) return null;
        const b = bytes[i]!;
        if (b === 0x22 /* " */) break;
        if (b < 0x20) return null; // control characters must be escaped
        if (b >= 0x80) {
          nonAscii = true;
        } else if (b === 0x5c /* \ */) {
          const escaped = bytes[++i];
          if (escaped === 0x75 /* u */) {
            if (!isHex(bytes[i + 1]) || !isHex(bytes[i + 2]) || !isHex(bytes[i + 3]) || !isHex(bytes[i + 4])) return null;
            i += 4;
          } else if (escaped === undefined || !SIMPLE_ESCAPES.includes(escaped)) {
            return null;
          }
        }
      }
      i++;
      if (expectName) {
        i = skipBlanks(bytes, i);
        if (bytes[i] !== 0x3a /* : */) return null;
        i = skipBlanks(bytes, i + 1);
        expectName = false;
        continue; // the member's value
      }
    } else if (expectName) {
      return null;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const object = c === 0x7b;
      i = skipBlanks(bytes, i + 1);
      const empty = object ? 0x7d /* } */ : 0x5d; /* ] */
      if (bytes[i] === empty) {
        i++;
      } else {
        if (depth === open.length) {
          const grown = new Uint8Array(2 * open.length);
          grown.set(open);
          open = grown;
          // Only a modest stack is kept for later calls; a very deep document pays for its own.
          if (grown.length <= MAX_KEPT_DEPTH) openContainers = grown;
        }
        open[depth++] = object ? IN_OBJECT : IN_ARRAY;
        expectName = object;
        continue;
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      i = numberEnd(bytes, i);
      if (i < 0) return null;
    } else if (isWord(bytes, i, TRUE) || isWord(bytes, i, NULL)) {
      i += 4;
    } else if (isWord(bytes, i, FALSE)) {
      i += 5;
    } else {
      return null;
    }
    // After a value: close what ends here, then the next element (or the end of the input).
    for (;;) {
      i = skipBlanks(bytes, i);
      const container = depth === 0 ? 0 : open[depth - 1]!;
      if (container === 0) return i === n ? [start, skipBlanksBack(bytes, n), nonAscii] : null;
      const next = bytes[i];
      if (next === 0x2c /* , */) {
        i = skipBlanks(bytes, i + 1);
        expectName = container === IN_OBJECT;
        break;
      }
      const closer = container === IN_ARRAY ? 0x5d /* ] */ : 0x7d; /* } */
      if (next !== closer) return null;
      depth--;
      i++;
    }
  }
}

/** The bytes after a backslash that stand alone: " \ / b f n r t. */
const SIMPLE_ESCAPES = [0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74];
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function isWord(bytes: Uint8Array, i: number, word: readonly number[]): boolean {
  for (let k = 0; k < word.length; k++) if (bytes[i + k] !== word[k]) return false;
  return true;
}

/** JSON's four blanks: space, tab, line feed, carriage return. */
function isBlank(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipBlanks(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isBlank(bytes[i])) i++;
  return i;
}

function skipBlanksBack(bytes: Uint8Array, end: number): number {
  while (end > 0 && isBlank(bytes[end - 1])) end--;
  return end;
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function digitsEnd(bytes: Uint8Array, i: number): number {
  while (isDigit(bytes[i])) i++;
  return i;
}

/** -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? at i: the index after it, or -1. */
function numberEnd(bytes: Uint8Array, i: number): number {
  if (bytes[i] === 0x2d /* - */) i++;
  const first = bytes[i];
  if (first === 0x30) i++;
  else if (isDigit(first)) i = digitsEnd(bytes, i + 1);
  else return -1;
  if (bytes[i] === 0x2e /* . */) {
    const after = digitsEnd(bytes, i + 1);
    if (after === i + 1) return -1;
    i = after;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45 /* e E */) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d /* + - */) i++;
    const after = digitsEnd(bytes, i);
    if (after === i) return -1;
    i = after;
  }
  return i;
}
