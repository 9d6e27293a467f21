// The emulator's ONE error factory (Azurite's StorageErrorFactory, smaller).
//
// Handlers throw an EmulatorHttpError built here, without caring about wire shapes. The server
// renders it in the shape of the API the matched route belongs to, so each client library parses
// our errors exactly as it would parse the real service's:
//   mms      v1 Model Management  {code, statusCode, message, details: []}
//   arm      ARM / v2 / admin      {error: {code, message}}
//   entra    Entra token endpoint  {error, error_description, error_codes, timestamp, trace_id, correlation_id}
//   storage  blob endpoint         <Error><Code/><Message/></Error> + x-ms-error-code
//   scoring  scoring endpoints     {error: {code, message}}  (the real body is unknown [?], see scoring-auth.ts)
//
// Messages never contain secrets: no key, token, client secret or request body is ever echoed.
import { randomUUID } from "node:crypto";
import type { RouteResult } from "./types.js";

export type ErrorShape = "mms" | "arm" | "entra" | "storage" | "scoring";

export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export class EmulatorHttpError extends Error {
  readonly status: number;
  /** Service error code (ARM/MMS `code`, Entra `error`, storage `Code`). */
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly details: ErrorDetail[];
  /** Entra AADSTS numbers for `error_codes`. */
  readonly entraCodes: number[];
  constructor(
    status: number,
    code: string,
    message: string,
    opts: { headers?: Record<string, string>; details?: ErrorDetail[]; entraCodes?: number[] } = {},
  ) {
    super(message);
    this.name = "EmulatorHttpError";
    this.status = status;
    this.code = code;
    this.headers = opts.headers ?? {};
    this.details = opts.details ?? [];
    this.entraCodes = opts.entraCodes ?? [];
  }
}

export function isEmulatorHttpError(err: unknown): err is EmulatorHttpError {
  return err instanceof EmulatorHttpError;
}

/** One function per error the emulator answers. Every handler error goes through these. */
export const httpErrors = {
  badRequest(message: string, code = "BadRequest", details?: ErrorDetail[]): EmulatorHttpError {
    return new EmulatorHttpError(400, code, message, details ? { details } : {});
  },
  /** A server-side auth rule (ACI/AKS/v2) was broken. `rule` becomes the detail code. */
  ruleViolation(rule: string, message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, "BadRequest", message, { details: [{ code: rule, message }] });
  },
  invalidJson(): EmulatorHttpError {
    // Never include the parser's message: V8 quotes part of the body, which may hold a key.
    return new EmulatorHttpError(400, "BadRequest", "The request body is not valid JSON.");
  },
  missingApiVersion(): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  },
  unauthorized(code: string, message: string, wwwAuthenticate: string): EmulatorHttpError {
    return new EmulatorHttpError(401, code, message, { headers: { "www-authenticate": wwwAuthenticate } });
  },
  forbidden(message: string, code = "Forbidden"): EmulatorHttpError {
    return new EmulatorHttpError(403, code, message);
  },
  notFound(message: string, code = "NotFound"): EmulatorHttpError {
    return new EmulatorHttpError(404, code, message);
  },
  /** ARM's wording for a missing resource. */
  resourceNotFound(resourceType: string, name: string, resourceGroup: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "ResourceNotFound",
      `The Resource '${resourceType}/${name}' under resource group '${resourceGroup}' was not found.`,
    );
  },
  methodNotAllowed(method: string, allowed: string[]): EmulatorHttpError {
    return new EmulatorHttpError(405, "MethodNotAllowed", `The ${method} method is not supported on this path.`, {
      headers: { allow: allowed.join(", ") },
    });
  },
  conflict(message: string, code = "Conflict"): EmulatorHttpError {
    return new EmulatorHttpError(409, code, message);
  },
  payloadTooLarge(limitBytes: number): EmulatorHttpError {
    return new EmulatorHttpError(413, "RequestEntityTooLarge", `The request body exceeds the limit of ${limitBytes} bytes.`, {
      headers: { connection: "close" },
    });
  },
  unsupportedMediaType(message: string): EmulatorHttpError {
    return new EmulatorHttpError(415, "UnsupportedMediaType", message);
  },
  tooManyRequests(retryAfterSeconds: number): EmulatorHttpError {
    return new EmulatorHttpError(429, "TooManyRequests", "Too many requests (injected fault); retry later.", {
      headers: { "retry-after": String(retryAfterSeconds) },
    });
  },
  serviceUnavailable(message: string, retryAfterSeconds?: number): EmulatorHttpError {
    return new EmulatorHttpError(
      503,
      "ServiceUnavailable",
      message,
      retryAfterSeconds === undefined ? {} : { headers: { "retry-after": String(retryAfterSeconds) } },
    );
  },
  internal(): EmulatorHttpError {
    return new EmulatorHttpError(500, "InternalServerError", "The emulator hit an internal error; see its log.");
  },
  /** Entra-style error: `code` is the OAuth error (invalid_client, ...), `aadsts` the AADSTS number. */
  entra(status: number, code: string, message: string, aadsts: number): EmulatorHttpError {
    return new EmulatorHttpError(status, code, `AADSTS${aadsts}: ${message}`, { entraCodes: [aadsts] });
  },
  /** Azure Storage style error (blob endpoint). */
  storage(status: number, code: string, message: string): EmulatorHttpError {
    return new EmulatorHttpError(status, code, message);
  },
};

export type HttpErrorFactory = typeof httpErrors;

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders an error in the wire shape of the API that answers. */
export function renderError(err: EmulatorHttpError, shape: ErrorShape, requestId: string = randomUUID()): RouteResult {
  const headers: Record<string, string> = { ...err.headers, "x-ms-request-id": requestId };
  switch (shape) {
    case "mms":
      return {
        status: err.status,
        headers,
        body: { code: err.code, statusCode: err.status, message: err.message, details: err.details },
      };
    case "entra":
      return {
        status: err.status,
        headers,
        body: {
          error: err.code,
          error_description: err.message,
          error_codes: err.entraCodes,
          timestamp: new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"),
          trace_id: requestId,
          correlation_id: requestId,
        },
      };
    case "storage":
      return {
        status: err.status,
        headers: { ...headers, "x-ms-error-code": err.code, "content-type": "application/xml" },
        body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(
          err.message,
        )}\nRequestId:${requestId}</Message></Error>`,
      };
    case "arm":
    case "scoring": {
      const error: Record<string, unknown> = { code: err.code, message: err.message };
      if (err.details.length > 0) error["details"] = err.details;
      return { status: err.status, headers, body: { error } };
    }
  }
}
