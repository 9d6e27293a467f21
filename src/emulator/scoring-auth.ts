// Scoring-endpoint authentication, shared by v1 services (routes/scoring.ts) and v2 endpoints
// (routes/v2.ts). Available to routes as `deps.scoring`.
//
// What a real endpoint answers on a bad credential is not documented beyond "401" [?]
// (v1-contract.md §6.3). We answer 401 + `WWW-Authenticate: Bearer ...` (RFC 6750) and a JSON body
// `{error: {code, message}}` whose code says which problem it was, because that is what a user
// debugging a pipeline needs (and what `amlauth auth check` reports). Messages never echo the
// credential.
//
// Hot path (issue 6): a ScoringGate per service snapshot remembers the credentials it already
// accepted, so a repeated key costs one set lookup and a repeated token one map lookup plus its
// time checks. Anything not remembered takes the full check below (constant-time key compare,
// pinned-algorithm JWT verification), which alone decides; only its successes are remembered.
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

type TokenRule = Extract<ScoringAuthRule, { mode: "token" }>;

/** Builds the 401 every scoring route answers. */
export function scoringUnauthorized(code: ScoringAuthFailure, message: string): EmulatorHttpError {
  const description = message.replace(/["\\]/g, "'");
  const challenge =
    code === "MissingCredential"
      ? `Bearer realm="${SCORING_REALM}"`
      : `Bearer realm="${SCORING_REALM}", error="invalid_token", error_description="${description}"`;
  return new EmulatorHttpError(401, code, message, { headers: { "www-authenticate": challenge } });
}

/** The Authorization header of a request (the first one when several were sent). */
export function authorizationHeader(headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers["authorization"];
  return Array.isArray(raw) ? raw[0] : raw;
}

export type BearerResult = { ok: true; credential: string } | { ok: false; error: EmulatorHttpError };

/** Extracts the credential of `Authorization: Bearer <credential>`. */
export function bearerCredential(headers: Record<string, string | string[] | undefined>): BearerResult {
  return parseBearer(authorizationHeader(headers));
}

/** bearerCredential for the header value itself. */
export function parseBearer(value: string | undefined): BearerResult {
  if (value === undefined || value.trim() === "") {
    return {
      ok: false,
      error: scoringUnauthorized("MissingCredential", "No credential was sent; send 'Authorization: Bearer <key-or-token>'."),
    };
  }
  // Hand-parsed: "Bearer" (any case), blanks, one credential without blanks.
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
const storedKeys = new WeakMap<ServiceKeyPair, { primary: string; secondary: string; padded: [Buffer | null, Buffer | null] }>();

/** Constant-time comparison against both keys. */
export function keyMatches(presented: string, keys: ServiceKeyPair): boolean {
  let stored = storedKeys.get(keys);
  // The material check guards against a pair changed in place (the store never does that).
  if (stored === undefined || stored.primary !== keys.primaryKey || stored.secondary !== keys.secondaryKey) {
    stored = { primary: keys.primaryKey, secondary: keys.secondaryKey, padded: [padded(keys.primaryKey), padded(keys.secondaryKey)] };
    storedKeys.set(keys, stored);
  }
  // Anything longer than 256 bytes cannot be a key; rejecting it early reveals nothing secret.
  const p = presented.length > MAX_KEY_BYTES ? null : padded(presented);
  if (p === null) return false;
  const [primary, secondary] = stored.padded;
  const primaryMatches = primary !== null && timingSafeEqual(p, primary);
  const secondaryMatches = secondary !== null && timingSafeEqual(p, secondary);
  return primaryMatches || secondaryMatches;
}

/** Verifies an AML/Entra token for a scoring call; returns null when it is good. */
export function verifyScoringToken(token: string, rule: TokenRule): { claims: JwtClaims } | EmulatorHttpError {
  const result = rule.verifier.verify(token, { issuer: rule.issuer, audiences: [rule.audience] });
  if (result.ok) return { claims: result.claims };
  if (result.code === "WrongAudience") {
    const other = rule.describeAudience?.(result.claims?.aud) ?? null;
    const message = other ? `The token was issued for ${other}, not for this one.` : result.message;
    return scoringUnauthorized("WrongAudience", message);
  }
  return scoringUnauthorized(result.code, result.message);
}

/** The full verdict on one Authorization header: who may pass, or the 401 to answer. */
export type ScoringVerdict =
  | { ok: true; credential: string | null; claims: JwtClaims | null }
  | { ok: false; error: EmulatorHttpError };

const OPEN: ScoringVerdict = { ok: true, credential: null, claims: null };

/** The whole check for one scoring request, without any memory of earlier ones. */
export function authorizeScoring(authorization: string | undefined, rule: ScoringAuthRule): ScoringVerdict {
  if (rule.mode === "none") return OPEN;
  const bearer = parseBearer(authorization);
  if (!bearer.ok) return bearer;
  const credential = bearer.credential;
  if (rule.mode === "key") {
    if (keyMatches(credential, rule.keys)) return { ok: true, credential, claims: null };
    if (JwtVerifier.looksLikeJwt(credential)) {
      return { ok: false, error: scoringUnauthorized("TokenNotAccepted", "This service uses key authentication, but a token was sent; send one of its keys.") };
    }
    return { ok: false, error: scoringUnauthorized("InvalidKey", "The key is not valid for this service (wrong key, or it was regenerated).") };
  }
  // Verify first: a cached token costs one map lookup; the "is it a key?" diagnosis only runs
  // for credentials that are not tokens at all.
  const verified = verifyScoringToken(credential, rule);
  if (!(verified instanceof EmulatorHttpError)) return { ok: true, credential, claims: verified.claims };
  if (verified.code === "MalformedToken" && !JwtVerifier.looksLikeJwt(credential)) {
    if (rule.keys !== undefined && keyMatches(credential, rule.keys)) {
      return { ok: false, error: scoringUnauthorized("KeyNotAccepted", "This service uses token authentication, but a key was sent; send a token.") };
    }
    return { ok: false, error: scoringUnauthorized("MalformedToken", "The credential is not a token (expected a JWT).") };
  }
  return { ok: false, error: verified };
}

/**
 * The whole check for one scoring request. Returns null when the request may proceed, otherwise
 * the 401 error to throw.
 */
export function checkScoringAuth(headers: Record<string, string | string[] | undefined>, rule: ScoringAuthRule): EmulatorHttpError | null {
  const verdict = authorizeScoring(authorizationHeader(headers), rule);
  return verdict.ok ? null : verdict.error;
}

/**
 * Tokens are remembered under their last characters (part of the RSA signature): hashing a
 * 1.3 KB header for a map lookup costs more than the rest of the check. Reaching the full string
 * comparison that follows needs those 43 characters (256 bits of a valid signature) already.
 */
const TOKEN_TAIL = 43;
/** Remembered tokens per gate; a full memo is simply emptied (tokens are re-verified, not refused). */
const MAX_REMEMBERED_TOKENS = 256;

interface RememberedToken {
  token: string;
  exp: number;
  nbf: number | undefined;
  iat: number | undefined;
}

/**
 * The scoring check for one service or endpoint as it is now. Build one per state snapshot of the
 * service (the store replaces a record on every change, so a regenerated key or a mode change
 * gets a new gate with an empty memory at once); a remembered key also counts only while the key
 * material is the one it was accepted against.
 *
 * The memory is a hash lookup on the presented credential: a miss says nothing about the stored
 * keys, and a credential seen for the first time still gets the constant-time comparison.
 */
export class ScoringGate {
  /** Keys accepted before: at most the two stored keys, so the set stays tiny. */
  private readonly acceptedKeys = new Set<string>();
  private readonly acceptedTokens = new Map<string, RememberedToken>();
  /** The key material the memory is valid for. */
  private readonly primaryKey: string | null;
  private readonly secondaryKey: string | null;

  constructor(
    readonly rule: ScoringAuthRule,
    private readonly nowMs: () => number,
  ) {
    const keys = rule.mode === "key" ? rule.keys : null;
    this.primaryKey = keys?.primaryKey ?? null;
    this.secondaryKey = keys?.secondaryKey ?? null;
  }

  /** null when the request may proceed, else the 401 to answer. */
  check(authorization: string | undefined): EmulatorHttpError | null {
    const rule = this.rule;
    if (rule.mode === "none") return null;
    const credential = authorization === undefined ? null : plainBearer(authorization);
    if (credential !== null && (rule.mode === "key" ? this.rememberedKey(credential, rule.keys) : this.rememberedToken(credential))) {
      return null;
    }
    const verdict = authorizeScoring(authorization, rule);
    if (!verdict.ok) return verdict.error;
    if (verdict.credential !== null) this.remember(verdict.credential, verdict.claims);
    return null;
  }

  private rememberedKey(credential: string, keys: ServiceKeyPair): boolean {
    return this.acceptedKeys.has(credential) && keys.primaryKey === this.primaryKey && keys.secondaryKey === this.secondaryKey;
  }

  private rememberedToken(credential: string): boolean {
    if (credential.length <= TOKEN_TAIL) return false;
    const tail = credential.slice(credential.length - TOKEN_TAIL);
    const entry = this.acceptedTokens.get(tail);
    if (entry === undefined || entry.token !== credential) return false;
    // The same time checks as JwtVerifier; anything now out of range goes back to full
    // verification, which answers the precise 401 (ExpiredToken...).
    const nowSec = Math.floor(this.nowMs() / 1000);
    if (nowSec >= entry.exp || (entry.nbf !== undefined && nowSec < entry.nbf) || (entry.iat !== undefined && entry.iat > nowSec)) {
      this.acceptedTokens.delete(tail);
      return false;
    }
    return true;
  }

  private remember(credential: string, claims: JwtClaims | null): void {
    if (this.rule.mode === "key") {
      this.acceptedKeys.add(credential);
      return;
    }
    // A verified token has a numeric exp, and nbf/iat absent or numeric (JwtVerifier checks).
    if (claims === null || credential.length <= TOKEN_TAIL || typeof claims.exp !== "number") return;
    if (this.acceptedTokens.size >= MAX_REMEMBERED_TOKENS) this.acceptedTokens.clear();
    this.acceptedTokens.set(credential.slice(credential.length - TOKEN_TAIL), {
      token: credential,
      exp: claims.exp,
      nbf: typeof claims.nbf === "number" ? claims.nbf : undefined,
      iat: typeof claims.iat === "number" ? claims.iat : undefined,
    });
  }
}

/**
 * The credential of a header written the usual way, "Bearer <credential>" with one space, or
 * null. Only used to look up remembered credentials: whatever it returns that was never accepted
 * goes through the full parse.
 */
function plainBearer(value: string): string | null {
  if (value.length < 8 || value.charCodeAt(6) !== 32) return null;
  if (!value.startsWith("Bearer") && value.slice(0, 6).toLowerCase() !== "bearer") return null;
  return value.slice(7);
}
