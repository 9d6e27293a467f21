// Fault injection: make matching requests answer 429 / 503, reset the connection, or wait first,
// for the next N matches. Managed through the admin routes (routes/admin.ts) or faults.json.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { httpErrors } from "./errors.js";

export const FAULTS_FILE = "faults.json";

export type FaultAction = "429" | "503" | "reset" | "delay";

export interface FaultSpec {
  match: { method?: string; pathRegex: string };
  action: FaultAction;
  /** 429/503: value of Retry-After (429 default 1; 503 sends none unless given). */
  retryAfterSeconds?: number;
  /** delay: milliseconds to wait before answering (default 1000). */
  delayMs?: number;
  /** How many matching requests get the fault. */
  count: number;
  /** Run the real handler first (the change IS applied), then answer with the fault instead. */
  afterApply?: boolean;
}

export interface Fault {
  id: string;
  match: { method: string | null; pathRegex: string };
  action: FaultAction;
  retryAfterSeconds: number | null;
  delayMs: number;
  remaining: number;
  afterApply: boolean;
}

const ACTIONS: readonly FaultAction[] = ["429", "503", "reset", "delay"];
const MAX_COUNT = 100_000;
const MAX_DELAY_MS = 600_000;

function integerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** Checks one fault description; throws a 400 naming the bad field. */
export function parseFaultSpec(input: unknown): { fault: Fault; regex: RegExp } {
  const bad = (message: string) => httpErrors.badRequest(`Invalid fault: ${message}`, "InvalidFault");
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw bad("expected a JSON object");
  const spec = input as Record<string, unknown>;
  const match = spec["match"];
  if (match === null || typeof match !== "object" || Array.isArray(match)) throw bad('"match" must be an object with "pathRegex"');
  const { method, pathRegex } = match as Record<string, unknown>;
  if (typeof pathRegex !== "string" || pathRegex.length === 0 || pathRegex.length > 1000) {
    throw bad('"match.pathRegex" must be a non-empty string (at most 1000 characters)');
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pathRegex);
  } catch {
    throw bad('"match.pathRegex" is not a valid regular expression');
  }
  if (method !== undefined && (typeof method !== "string" || !/^[A-Za-z]{1,16}$/.test(method))) {
    throw bad('"match.method" must be an HTTP method name');
  }
  const action = spec["action"];
  if (typeof action !== "string" || !ACTIONS.includes(action as FaultAction)) {
    throw bad(`"action" must be one of ${ACTIONS.map((a) => `"${a}"`).join(", ")}`);
  }
  const count = spec["count"];
  if (!integerIn(count, 1, MAX_COUNT)) throw bad(`"count" must be an integer from 1 to ${MAX_COUNT}`);
  const retryAfter = spec["retryAfterSeconds"];
  if (retryAfter !== undefined && !integerIn(retryAfter, 0, 3600)) throw bad('"retryAfterSeconds" must be an integer from 0 to 3600');
  const delayMs = spec["delayMs"];
  if (delayMs !== undefined && !integerIn(delayMs, 0, MAX_DELAY_MS)) throw bad(`"delayMs" must be an integer from 0 to ${MAX_DELAY_MS}`);
  const afterApply = spec["afterApply"];
  if (afterApply !== undefined && typeof afterApply !== "boolean") throw bad('"afterApply" must be a boolean');
  const fault: Fault = {
    id: randomUUID(),
    match: { method: typeof method === "string" ? method.toUpperCase() : null, pathRegex },
    action: action as FaultAction,
    retryAfterSeconds: typeof retryAfter === "number" ? retryAfter : action === "429" ? 1 : null,
    delayMs: typeof delayMs === "number" ? delayMs : 1000,
    remaining: count,
    afterApply: afterApply === true,
  };
  return { fault, regex };
}

export class FaultRegistry {
  private faults: { fault: Fault; regex: RegExp }[] = [];

  add(input: unknown): Fault {
    const parsed = parseFaultSpec(input);
    this.faults.push(parsed);
    return { ...parsed.fault };
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f.fault, match: { ...f.fault.match } }));
  }

  clear(): number {
    const n = this.faults.length;
    this.faults = [];
    return n;
  }

  /** The first fault matching this request, with its count taken; null when none applies. */
  take(method: string, path: string): Fault | null {
    if (this.faults.length === 0) return null;
    for (const entry of this.faults) {
      const { fault, regex } = entry;
      if (fault.match.method !== null && fault.match.method !== method) continue;
      if (!regex.test(path)) continue;
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== entry);
      return { ...fault };
    }
    return null;
  }

  /** Loads faults.json (an array of fault specs, or {"faults": [...]}) when present. */
  async loadFile(dataDir: string): Promise<number> {
    const file = join(dataDir, FAULTS_FILE);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${file} is not valid JSON`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { faults?: unknown } | null)?.faults;
    if (!Array.isArray(list)) throw new Error(`${file} must hold an array of faults or {"faults": [...]}`);
    const loaded = list.map((spec, i) => {
      try {
        return parseFaultSpec(spec);
      } catch (err) {
        throw new Error(`${file}: fault #${i + 1}: ${(err as Error).message}`);
      }
    });
    this.faults.push(...loaded);
    return loaded.length;
  }
}
