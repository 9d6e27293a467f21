// Small helpers shared by the route modules.
import type { RequestContext } from "../types.js";
import { httpErrors } from "../errors.js";

/** ARM requires ?api-version= on every call; any value is accepted (the emulator has one model). */
export function requireApiVersion(ctx: RequestContext): string {
  const version = ctx.query.get("api-version");
  if (version === null || version.trim() === "") throw httpErrors.missingApiVersion();
  return version;
}

/** A JSON object body, or a 400 that says what was expected. */
export function jsonObject(ctx: RequestContext, what: string): Record<string, unknown> {
  const value = ctx.json();
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw httpErrors.badRequest(`The request body must be a JSON object (${what}).`);
  }
  return value as Record<string, unknown>;
}

/** The media type of a request (lower-case, without parameters). */
export function mediaType(ctx: RequestContext): string {
  const raw = ctx.headers["content-type"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return (value ?? "").split(";")[0]!.trim().toLowerCase();
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Fixed creation time of the seeded workspace-level resources (deterministic payloads). */
export const SEEDED_AT = "2026-01-01T00:00:00.000Z";
