// Bounded polling of long-running operations. Starts fast (the emulator and small changes finish
// in well under a second) and backs off to the SDK's 5 s; a Retry-After from the server wins.
import { NotFoundError, InterruptedError, ServiceError } from "../errors.js";
import { redactAll as redactText } from "../output/redact.js";
import { abortableSleep, retryAfterMs } from "./http.js";
import type { HttpPipeline } from "./http-types.js";

export interface PollTiming {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this long (default 45 min: AKS image builds can take a while). */
  maxWaitMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface PollStep {
  done: boolean;
  /** Short progress label for the spinner. */
  label?: string;
  /** Server-requested pause before the next check. */
  retryAfterMs?: number;
}

export interface PollLoopOptions extends PollTiming {
  /** "the deployment of demo-aci": used in timeout and interrupt messages. */
  describe: string;
  /** Said when the wait is interrupted or gives up, e.g. "check with `amlauth auth show NAME`". */
  resumeHint: string;
  signal?: AbortSignal;
  onProgress?: (label: string) => void;
}

const DEFAULT_INITIAL_DELAY_MS = 250;
const DEFAULT_MAX_DELAY_MS = 5_000;
const DEFAULT_MAX_WAIT_MS = 45 * 60_000;
const MAX_SERVER_DELAY_MS = 60_000;

/** Calls `check` until it reports done; bounded in time, abortable, with backoff. */
export async function pollUntil(check: () => Promise<PollStep>, opts: PollLoopOptions): Promise<void> {
  const sleep = opts.sleep ?? abortableSleep;
  const now = opts.now ?? Date.now;
  const maxDelay = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const maxWait = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const deadline = now() + maxWait;
  let delay = opts.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  let lastLabel: string | undefined;
  const interrupted = () =>
    new InterruptedError(`interrupted while waiting for ${opts.describe}`, {
      hint: `the operation continues on the server; ${opts.resumeHint}`,
    });

  for (;;) {
    if (opts.signal?.aborted) throw interrupted();
    let step: PollStep;
    try {
      step = await check();
    } catch (err) {
      if (err instanceof InterruptedError || opts.signal?.aborted) throw interrupted();
      throw err;
    }
    if (step.label && step.label !== lastLabel) {
      lastLabel = step.label;
      opts.onProgress?.(step.label);
    }
    if (step.done) return;
    const wait = step.retryAfterMs !== undefined ? Math.min(Math.max(step.retryAfterMs, 0), MAX_SERVER_DELAY_MS) : delay;
    if (now() + wait > deadline) {
      throw new ServiceError(`gave up waiting for ${opts.describe} after ${Math.round(maxWait / 60_000)} min`, {
        hint: `it may still finish on the server; ${opts.resumeHint}`,
      });
    }
    try {
      await sleep(wait, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted || err instanceof InterruptedError) throw interrupted();
      throw err;
    }
    delay = Math.min(maxDelay, delay * 2);
  }
}

/** MMS AsyncOperationStatus (v1-contract.md §3.4), validated. */
export interface V1OperationStatus {
  id: string | undefined;
  state: string;
  operationType: string | undefined;
}

const V1_TERMINAL_FAILURES = new Set(["failed", "cancelled", "canceled", "timedout"]);

/** Polls `GET {base}/operations/{id}` until Succeeded; a failed end becomes a one-line ServiceError. */
export async function pollV1Operation(
  pipeline: HttpPipeline,
  operationUrl: string,
  opts: PollLoopOptions,
): Promise<V1OperationStatus> {
  let final: V1OperationStatus | undefined;
  await pollUntil(async () => {
    let res: { body: unknown; headers: Record<string, string> };
    try {
      res = await pipeline.sendJson<unknown>(
        { method: "GET", url: operationUrl, ...(opts.signal ? { signal: opts.signal } : {}) },
        `operation for ${opts.describe}`,
      );
    } catch (err) {
      // The service exists (it accepted the change); a vanished operation is a service fault, not exit 3.
      if (err instanceof NotFoundError) {
        throw new ServiceError(`the service lost track of the operation for ${opts.describe} (HTTP 404)`, {
          status: 404,
          hint: opts.resumeHint,
        });
      }
      throw err;
    }
    const body = res.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ServiceError(`the operation status for ${opts.describe} is not a JSON object`);
    }
    const record = body as Record<string, unknown>;
    if (typeof record.state !== "string" || record.state === "") {
      throw new ServiceError(`the operation status for ${opts.describe} has no state`);
    }
    const state = record.state;
    const status: V1OperationStatus = {
      id: typeof record.id === "string" ? record.id : undefined,
      state,
      operationType: typeof record.operationType === "string" ? record.operationType : undefined,
    };
    const lower = state.toLowerCase();
    if (lower === "succeeded") {
      final = status;
      return { done: true, label: state };
    }
    if (V1_TERMINAL_FAILURES.has(lower)) {
      throw new ServiceError(`${opts.describe} ended ${state}${operationErrorText(record.error)}`, {
        ...(errorCode(record.error) ? { code: errorCode(record.error)! } : {}),
        hint: opts.resumeHint,
      });
    }
    const details = record.operationDetails as Record<string, unknown> | undefined;
    const sub = details && typeof details.subOperationType === "string" ? details.subOperationType : undefined;
    const retry = retryAfterMs(res.headers, (opts.now ?? Date.now)());
    return { done: false, label: sub ? `${state}: ${sub}` : state, ...(retry !== undefined ? { retryAfterMs: retry } : {}) };
  }, opts);
  return final!;
}

/** The operation id is the last path segment of Operation-Location (what SDK v1 uses). */
export function operationIdFrom(operationLocation: string): string | undefined {
  let path = operationLocation;
  try {
    path = new URL(operationLocation).pathname;
  } catch {
    path = operationLocation.split("?")[0] ?? "";
  }
  const id = path.split("/").filter((s) => s !== "").pop();
  return id ? decodeURIComponent(id) : undefined;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as Record<string, unknown>).code;
  return typeof code === "string" && code !== "" ? code : undefined;
}

/** ": message (code); detail" in one bounded line. */
function operationErrorText(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const e = error as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof e.message === "string" && e.message.trim() !== "") parts.push(e.message);
  const code = errorCode(e);
  let text = parts.join("");
  if (code) text = text ? `${text} (${code})` : code;
  const first = Array.isArray(e.details) ? (e.details[0] as Record<string, unknown> | undefined) : undefined;
  if (first && typeof first.message === "string" && first.message.trim() !== "") text += `; ${first.message}`;
  const flat = redactText(text).replace(/\s+/g, " ").trim();
  if (flat === "") return "";
  return `: ${flat.length > 300 ? `${flat.slice(0, 299)}…` : flat}`;
}
