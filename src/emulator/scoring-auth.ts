// Scoring-endpoint authentication, shared by v1 services (routes/scoring.ts) and v2 endpoints
// (routes/v2.ts). Available to routes as `deps.scoring`.
//
// What a real endpoint answers on a bad credential is not documented beyond "401" [?]
// (v1-contract.md §6.3). We answer 401 + `WWW-Authenticate: Bearer ...` (RFC 6750) and a JSON body
// `{error: {code, message}}` whose code says which problem it was, because that is what a user
// debugging a pipeline needs (and what `amlauth auth check` reports). Messages never echo the
// credential.
import { timingSafeEqual } from "node:crypto";
import { EmulatorHttpError } from "./errors.js";
import { JwtVerifier } from "./jwt.js";
import type { JwtClaims, JwtFailure } from "./jwt.js";
import type { ServiceKeyPair } from "./store.js";

export const SCORING_REALM = "amlauth-emulator";

/** Why a scoring request was refused (the `error.code` of the 401 body). */
export type ScoringAuthFailure =
  | "MissingCredential"
  | "InvalidAuthorizationScheme"
  | "InvalidKey"
  | "KeyNotAccepted"
  | "TokenNotAccepted"
  | JwtFailure;

export type ScoringAuthRule =
  | { mode: "none" }
  | { mode: "key"; keys: ServiceKeyPair }
  | {
      mode: "token";
      verifier: JwtVerifier;
      issuer: string;
      audience: string;
      /** The service's keys, only to tell "you sent a key to a token service" apart from garbage. */
      keys?: ServiceKeyPair;
      /** Names what a foreign audience belongs to, e.g. "service 'demo-aci'". */
      describeAudience?: (aud: unknown) => string | null;
    };

/** Builds the 401 every scoring route answers. */
export function scoringUnauthorized(code: ScoringAuthFailure, message: string): EmulatorHttpError {
  const description = message.replace(/["\\]/g, "'");
  const challenge =
    code === "MissingCredential"
      ? `Bearer realm="${SCORING_REALM}"`
      : `Bearer realm="${SCORING_REALM}", error="invalid_token", error_description="${description}"`;
  return new EmulatorHttpError(401, code, message, { headers: { "www-authenticate": challenge } });
}

/** Extracts the credential of `Authorization: Bearer <credential>`. */
export function bearerCredential(
  headers: Record<string, string | string[] | undefined>,
): { ok: true; credential: string } | { ok: false; error: EmulatorHttpError } {
  const raw = headers["authorization"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value.trim() === "") {
    return {
      ok: false,
      error: scoringUnauthorized("MissingCredential", "No credential was sent; send 'Authorization: Bearer <key-or-token>'."),
    };
  }
  // Hand-parsed (hot path): "Bearer" (any case), blanks, one credential without blanks.
  const credential = value.length > 7 && value.slice(0, 6).toLowerCase() === "bearer" ? value.slice(6).trim() : "";
  if (credential === "" || !/^[ \t]/.test(value.slice(6)) || /\s/.test(credential)) {
    return {
      ok: false,
      error: scoringUnauthorized("InvalidAuthorizationScheme", "The Authorization header must use the Bearer scheme: 'Bearer <key-or-token>'."),
    };
  }
  return { ok: true, credential };
}

/** Longest key the emulator stores (regenerateKeys/create validate 1..256 characters). */
const MAX_KEY_BYTES = 256;

/**
 * A key as a fixed-size buffer (length byte + content, zero-padded) so that comparisons take the
 * same time whatever the lengths, without hashing on every request.
 */
function padded(value: string): Buffer | null {
  const buffer = Buffer.alloc(MAX_KEY_BYTES + 1);
  const written = buffer.write(value, 1, "utf8");
  if (written !== Buffer.byteLength(value, "utf8")) return null; // longer than any stored key
  buffer[0] = written;
  return buffer;
}

/** Padded stored keys. Snapshots are immutable, so caching by the pair object is safe. */
const storedKeys = new WeakMap<ServiceKeyPair, [Buffer | null, Buffer | null]>();

/** Constant-time comparison against both keys. */
export function keyMatches(presented: string, keys: ServiceKeyPair): boolean {
  let stored = storedKeys.get(keys);
  if (stored === undefined) {
    stored = [padded(keys.primaryKey), padded(keys.secondaryKey)];
    storedKeys.set(keys, stored);
  }
  // Anything longer than 256 bytes cannot be a key; rejecting it early reveals nothing secret.
  const p = presented.length > MAX_KEY_BYTES ? null : padded(presented);
  if (p === null) return false;
  const primary = stored[0] !== null && timingSafeEqual(p, stored[0]);
  const secondary = stored[1] !== null && timingSafeEqual(p, stored[1]);
  return primary || secondary;
}

/** Verifies an AML/Entra token for a scoring call; returns null when it is good. */
export function verifyScoringToken(
  token: string,
  rule: Extract<ScoringAuthRule, { mode: "token" }>,
): { claims: JwtClaims } | EmulatorHttpError {
  const result = rule.verifier.verify(token, { issuer: rule.issuer, audiences: [rule.audience] });
  if (result.ok) return { claims: result.claims };
  if (result.code === "WrongAudience") {
    const other = rule.describeAudience?.(result.claims?.aud) ?? null;
    const message = other ? `The token was issued for ${other}, not for this one.` : result.message;
    return scoringUnauthorized("WrongAudience", message);
  }
  return scoringUnauthorized(result.code, result.message);
}

/**
 * The whole check for one scoring request. Returns null when the request may proceed, otherwise
 * the 401 error to throw.
 */
export function checkScoringAuth(
  headers: Record<string, string | string[] | undefined>,
  rule: ScoringAuthRule,
): EmulatorHttpError | null {
  if (rule.mode === "none") return null;
  const bearer = bearerCredential(headers);
  if (!bearer.ok) return bearer.error;
  const credential = bearer.credential;
  if (rule.mode === "key") {
    if (keyMatches(credential, rule.keys)) return null;
    if (JwtVerifier.looksLikeJwt(credential)) {
      return scoringUnauthorized("TokenNotAccepted", "This service uses key authentication, but a token was sent; send one of its keys.");
    }
    return scoringUnauthorized("InvalidKey", "The key is not valid for this service (wrong key, or it was regenerated).");
  }
  // Verify first: a cached token costs one map lookup; the "is it a key?" diagnosis only runs
  // for credentials that are not tokens at all.
  const verified = verifyScoringToken(credential, rule);
  if (!(verified instanceof EmulatorHttpError)) return null;
  if (verified.code === "MalformedToken" && !JwtVerifier.looksLikeJwt(credential)) {
    if (rule.keys !== undefined && keyMatches(credential, rule.keys)) {
      return scoringUnauthorized("KeyNotAccepted", "This service uses token authentication, but a key was sent; send a token.");
    }
    return scoringUnauthorized("MalformedToken", "The credential is not a token (expected a JWT).");
  }
  return verified;
}
