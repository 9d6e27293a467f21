// The shared HTTP pipeline contract (implementation: src/rest/http.ts).
// Both adapters go through one pipeline so retries, timeouts, CA trust and
// redacted tracing behave the same for v1 and v2.

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Per-attempt timeout; defaults to the pipeline's. */
  timeoutMs?: number;
  /**
   * Safe to send again after a network fault or 5xx. Defaults to true for GET/HEAD/PUT/DELETE,
   * false for POST/PATCH. A non-idempotent request is only retried on 429 (never processed);
   * any other failure after it was sent throws MaybeAppliedError so the caller can reconcile.
   */
  idempotent?: boolean;
  /** Attach the control-plane bearer token (default true). Scoring and discovery set false/own header. */
  auth?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  bodyText: string;
  request: HttpRequest;
}

export interface HttpPipeline {
  send(req: HttpRequest): Promise<HttpResponse>;
  /** Send and parse a JSON body; maps 401/403 → AuthError, 404 → NotFoundError, other >=400 → ServiceError. */
  sendJson<T>(req: HttpRequest, describe?: string): Promise<{ status: number; headers: Record<string, string>; body: T }>;
  /** Close keep-alive sockets so the process can exit. */
  close(): void;
}

export interface PipelineOptions {
  /** Extra PEM CA certificates to trust in addition to Node's bundle (emulator CA, --ca-file). */
  ca?: string[];
  /** Returns "Bearer <token>" material for the control plane; called lazily, once per pipeline unless a 401 asks again. */
  getAccessToken?: (scope: string) => Promise<string>;
  /** The ARM / control-plane scope, e.g. https://management.azure.com/.default */
  scope?: string;
  maxRetries?: number;
  timeoutMs?: number;
  /** Upper bound on total time spent sleeping between retries. */
  retryBudgetMs?: number;
  /** --verbose trace sink (stderr). Secrets are redacted before this is called. */
  trace?: (line: string) => void;
  userAgent?: string;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}
