// v1 scoring endpoints: AKS-style /api/v1/service/{name}/score and ACI-style /aci/{name}/score.
// Each enforces the service's CURRENT mode (read from the in-memory state on every call, so a
// regenerated key or a mode change takes effect at once): key (primary or secondary), token (an AML
// token from this emulator's /token, bound to this service), or none. Success answers a JSON echo
// {service, input}; no model runs. Hot path (issue 6): direct routes (server.ts), no file I/O, no
// key import, a ScoringGate per service snapshot that remembers accepted credentials, and the
// input echoed as the JSON text it arrived as (validated, never parsed into objects).
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
  echoHead: string;
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
        echoHead: `{"service":${JSON.stringify(record.name)},"input":`,
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
      const input = body.length === 0 ? "null" : jsonText(body);
      if (input === null) throw httpErrors.badRequest("The scoring input is not valid JSON.");
      return { status: 200, json: `${scorer.echoHead}${input}}` };
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
// The echo: validating the input as JSON text and echoing that text costs a third of parsing it
// into objects and serialising them again, and echoes exactly what was sent (number spellings and
// inner blanks included). Shared with the v2 scoring route.

/**
 * The JSON value in `body` (UTF-8, surrounding blanks dropped), or null when `body` is not JSON as
 * JSON.parse defines it (ECMA-404). Iterative, so any nesting depth within the body limit is fine.
 */
export function jsonText(body: Buffer): string | null {
  const text = body.toString("utf8");
  const bounds = jsonValueBounds(text);
  if (bounds === null) return null;
  return bounds[0] === 0 && bounds[1] === text.length ? text : text.slice(bounds[0], bounds[1]);
}

const CONTAINER_ARRAY = 1;
const CONTAINER_OBJECT = 2;

/** [start, end) of the one JSON value in `text`, without the blanks around it; null when not JSON. */
export function jsonValueBounds(text: string): [number, number] | null {
  const n = text.length;
  // Containers still open, innermost last.
  const open: number[] = [];
  let i = skipBlanks(text, 0);
  const start = i;
  for (;;) {
    // A value starts at i.
    if (i >= n) return null;
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      i = skipBlanks(text, i + 1);
      if (i < n && text.charCodeAt(i) === 0x7d /* } */) {
        i++;
      } else {
        open.push(CONTAINER_OBJECT);
        i = memberValueStart(text, i);
        if (i < 0) return null;
        continue;
      }
    } else if (c === 0x5b /* [ */) {
      i = skipBlanks(text, i + 1);
      if (i < n && text.charCodeAt(i) === 0x5d /* ] */) {
        i++;
      } else {
        open.push(CONTAINER_ARRAY);
        continue;
      }
    } else if (c === 0x22 /* " */) {
      i = stringEnd(text, i);
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      i = numberEnd(text, i);
    } else if (text.startsWith("true", i) || text.startsWith("null", i)) {
      i += 4;
    } else if (text.startsWith("false", i)) {
      i += 5;
    } else {
      return null;
    }
    if (i < 0) return null;
    // After a value: close what ends here, then the next element (or the end of the text).
    for (;;) {
      i = skipBlanks(text, i);
      const container = open.length === 0 ? 0 : open[open.length - 1]!;
      if (container === 0) return i === n ? [start, skipBlanksBack(text, n)] : null;
      if (i >= n) return null;
      const next = text.charCodeAt(i);
      if (next === 0x2c /* , */) {
        i = skipBlanks(text, i + 1);
        if (container === CONTAINER_OBJECT) {
          i = memberValueStart(text, i);
          if (i < 0) return null;
        }
        break;
      }
      const closer = container === CONTAINER_ARRAY ? 0x5d /* ] */ : 0x7d; /* } */
      if (next !== closer) return null;
      open.pop();
      i++;
    }
  }
}

/** `"name" :` at i: the index where the member's value starts (blanks skipped), or -1. */
function memberValueStart(text: string, i: number): number {
  if (i >= text.length || text.charCodeAt(i) !== 0x22 /* " */) return -1;
  i = stringEnd(text, i);
  if (i < 0) return -1;
  i = skipBlanks(text, i);
  if (i >= text.length || text.charCodeAt(i) !== 0x3a /* : */) return -1;
  return skipBlanks(text, i + 1);
}

/** JSON's four blanks: space, tab, line feed, carriage return. */
function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipBlanks(text: string, i: number): number {
  while (i < text.length && isBlank(text.charCodeAt(i))) i++;
  return i;
}

function skipBlanksBack(text: string, end: number): number {
  while (end > 0 && isBlank(text.charCodeAt(end - 1))) end--;
  return end;
}

/** The string whose opening quote is at i: the index after its closing quote, or -1. */
function stringEnd(text: string, i: number): number {
  const n = text.length;
  for (i++; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) return i + 1;
    if (c < 0x20) return -1; // control characters must be escaped
    if (c === 0x5c /* \ */) {
      i++;
      if (i >= n) return -1;
      const escaped = text.charCodeAt(i);
      if (escaped === 0x75 /* u */) {
        if (i + 4 >= n || !isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2)) || !isHex(text.charCodeAt(i + 3)) || !isHex(text.charCodeAt(i + 4))) {
          return -1;
        }
        i += 4;
      } else if (!SIMPLE_ESCAPES.includes(escaped)) {
        return -1;
      }
    }
  }
  return -1;
}

/** The characters after a backslash that stand alone: " \ / b f n r t. */
const SIMPLE_ESCAPES = [0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74];

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function digitsEnd(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i;
}

/** -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? at i: the index after it, or -1. */
function numberEnd(text: string, i: number): number {
  const n = text.length;
  if (text.charCodeAt(i) === 0x2d /* - */) i++;
  if (i >= n) return -1;
  const first = text.charCodeAt(i);
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) i = digitsEnd(text, i + 1);
  else return -1;
  if (i < n && text.charCodeAt(i) === 0x2e /* . */) {
    const after = digitsEnd(text, i + 1);
    if (after === i + 1) return -1;
    i = after;
  }
  if (i < n && (text.charCodeAt(i) === 0x65 || text.charCodeAt(i) === 0x45) /* e E */) {
    i++;
    if (i < n && (text.charCodeAt(i) === 0x2b || text.charCodeAt(i) === 0x2d) /* + - */) i++;
    const after = digitsEnd(text, i);
    if (after === i) return -1;
    i = after;
  }
  return i;
}
