// RS256 JSON Web Tokens on node:crypto only.
//
// Verification follows RFC 8725: the algorithm is pinned to RS256 (so `none` and HS256-with-the-
// public-key confusion fail), `kid` must name OUR key (it is compared, never used to look anything
// up), `exp` is required, `nbf`/`iat` are checked, `iss` and `aud` must match exactly, and `crit`
// headers are refused. The signer and verifier share one clock, so no leeway is applied.
// Verified tokens are cached until they expire (issue 6: the scoring hot path does no RSA work for
// a token it has already checked).
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomUUID, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./fs-util.js";

export const SIGNING_KEY_FILE = "signing-key.pem";

export type JwtClaims = Record<string, unknown> & {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
};

export interface Jwk {
  kty: "RSA";
  use: "sig";
  alg: "RS256";
  kid: string;
  n: string;
  e: string;
}

/** Why a token was refused. Stable codes: tests, scoring 401 bodies and `auth check` rely on them. */
export type JwtFailure =
  | "MalformedToken"
  | "UnsupportedAlgorithm"
  | "UnknownKeyId"
  | "UnsupportedCriticalHeader"
  | "InvalidSignature"
  | "MissingClaim"
  | "ExpiredToken"
  | "TokenNotYetValid"
  | "IssuedInFuture"
  | "WrongIssuer"
  | "WrongAudience";

export type JwtVerifyResult =
  | { ok: true; claims: JwtClaims }
  | { ok: false; code: JwtFailure; message: string; claims?: JwtClaims };

export interface JwtExpectations {
  issuer: string;
  /** Accepted audiences; the token's `aud` (string or array) must contain one of them. */
  audiences: readonly string[];
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeJsonSegment(segment: string): Record<string, unknown> | null {
  if (!B64URL.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** RFC 7638 thumbprint: a stable kid for a key. */
function jwkThumbprint(n: string, e: string): string {
  return createHash("sha256").update(`{"e":"${e}","kty":"RSA","n":"${n}"}`).digest("base64url");
}

export class JwtSigner {
  readonly kid: string;
  readonly jwk: Jwk;
  readonly publicKeyPem: string;
  private readonly privateKey: KeyObject;

  constructor(privateKeyPem: string) {
    this.privateKey = createPrivateKey(privateKeyPem);
    if (this.privateKey.asymmetricKeyType !== "rsa") throw new Error("the emulator signing key must be an RSA key");
    const publicKey = createPublicKey(this.privateKey);
    this.publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const jwk = publicKey.export({ format: "jwk" });
    const n = String(jwk.n);
    const e = String(jwk.e);
    this.kid = jwkThumbprint(n, e);
    this.jwk = { kty: "RSA", use: "sig", alg: "RS256", kid: this.kid, n, e };
  }

  get publicKey(): KeyObject {
    return createPublicKey(this.privateKey);
  }

  /** Signs claims as-is (callers set iss/aud/exp...). Adds a jti unless present. */
  sign(claims: JwtClaims, header: Record<string, unknown> = {}): string {
    const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: this.kid, ...header }));
    const body = b64url(JSON.stringify({ jti: randomUUID(), ...claims }));
    const signature = sign("sha256", Buffer.from(`${head}.${body}`), this.privateKey);
    return `${head}.${body}.${b64url(signature)}`;
  }

  /** Derives a purpose-bound secret (e.g. the blob SAS HMAC key) without another key file. */
  deriveSecret(purpose: string): Buffer {
    const der = this.privateKey.export({ type: "pkcs8", format: "der" });
    return createHash("sha256").update(`amlauth-emulator:${purpose}:`).update(der).digest();
  }
}

interface CachedToken {
  claims: JwtClaims;
  exp: number;
}

/** Upper bound of the verified-token cache; a full cache drops expired entries, then the oldest. */
const CACHE_LIMIT = 4096;

export class JwtVerifier {
  private readonly cache = new Map<string, CachedToken>();
  private readonly publicKey: KeyObject;

  constructor(
    private readonly signer: Pick<JwtSigner, "kid" | "publicKey">,
    private readonly nowMs: () => number,
  ) {
    this.publicKey = signer.publicKey;
  }

  /** Decodes without verifying; for diagnostics only (e.g. naming the audience a token was for). */
  static peekClaims(token: string): JwtClaims | null {
    const parts = token.split(".");
    if (parts.length !== 3 || parts[1] === undefined) return null;
    return decodeJsonSegment(parts[1]) as JwtClaims | null;
  }

  static looksLikeJwt(token: string): boolean {
    const parts = token.split(".");
    return parts.length === 3 && parts.every((p) => p.length > 0 && B64URL.test(p));
  }

  verify(token: string, expect: JwtExpectations): JwtVerifyResult {
    const nowSec = Math.floor(this.nowMs() / 1000);
    let claims: JwtClaims;
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      claims = cached.claims;
    } else {
      const checked = this.checkSignature(token);
      if (!checked.ok) return checked;
      claims = checked.claims;
    }
    const timing = checkTimes(claims, nowSec);
    if (timing !== null) {
      if (cached !== undefined && timing.code === "ExpiredToken") this.cache.delete(token);
      return { ...timing, claims };
    }
    if (cached === undefined) this.remember(token, claims);
    if (claims.iss !== expect.issuer) {
      return { ok: false, code: "WrongIssuer", message: "The token was not issued by this emulator's token service.", claims };
    }
    const audiences = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.some((a) => typeof a === "string" && expect.audiences.includes(a))) {
      return { ok: false, code: "WrongAudience", message: "The token was issued for a different audience.", claims };
    }
    return { ok: true, claims };
  }

  private checkSignature(token: string): JwtVerifyResult {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, code: "MalformedToken", message: "The token is not a compact JWS (three dot-separated parts)." };
    const [headSeg, bodySeg, sigSeg] = parts as [string, string, string];
    const header = decodeJsonSegment(headSeg);
    const claims = decodeJsonSegment(bodySeg);
    if (header === null || claims === null || !B64URL.test(sigSeg) || sigSeg.length === 0) {
      return { ok: false, code: "MalformedToken", message: "The token's header or payload is not base64url-encoded JSON." };
    }
    // Pinned: we only ever sign RS256. Anything else (none, HS256, RS512, PS256...) is refused
    // before any key material is touched, which closes the HS256-with-public-key confusion.
    if (header["alg"] !== "RS256") {
      return { ok: false, code: "UnsupportedAlgorithm", message: "The token's algorithm is not accepted (only RS256 is)." };
    }
    if (header["kid"] !== this.signer.kid) {
      return { ok: false, code: "UnknownKeyId", message: "The token was not signed with this emulator's key (unknown kid)." };
    }
    if (header["crit"] !== undefined) {
      return { ok: false, code: "UnsupportedCriticalHeader", message: "The token carries critical header parameters this emulator does not support." };
    }
    const signature = Buffer.from(sigSeg, "base64url");
    const valid = verify("sha256", Buffer.from(`${headSeg}.${bodySeg}`), this.publicKey, signature);
    if (!valid) return { ok: false, code: "InvalidSignature", message: "The token's signature is invalid." };
    return { ok: true, claims: claims as JwtClaims };
  }

  private remember(token: string, claims: JwtClaims): void {
    if (this.cache.size >= CACHE_LIMIT) {
      const nowSec = Math.floor(this.nowMs() / 1000);
      for (const [key, entry] of this.cache) if (entry.exp <= nowSec) this.cache.delete(key);
      if (this.cache.size >= CACHE_LIMIT) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
    }
    this.cache.set(token, { claims, exp: claims.exp as number });
  }
}

function checkTimes(claims: JwtClaims, nowSec: number): { ok: false; code: JwtFailure; message: string } | null {
  const { exp, nbf, iat } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return { ok: false, code: "MissingClaim", message: "The token has no valid 'exp' claim." };
  }
  if (nowSec >= exp) {
    const when = Math.abs(exp) < 8.64e12 ? ` at ${new Date(exp * 1000).toISOString()}` : "";
    return { ok: false, code: "ExpiredToken", message: `The token expired${when}.` };
  }
  if (nbf !== undefined && (typeof nbf !== "number" || nowSec < nbf)) {
    return { ok: false, code: "TokenNotYetValid", message: "The token is not valid yet (nbf is in the future)." };
  }
  if (iat !== undefined && (typeof iat !== "number" || iat > nowSec)) {
    return { ok: false, code: "IssuedInFuture", message: "The token's 'iat' is in the future." };
  }
  return null;
}

/** A new RSA-2048 private key (PKCS#1 PEM), generated off the main thread. */
export function generateRsaPrivateKeyPem(): Promise<string> {
  return new Promise((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength: 2048 }, (err, _publicKey, privateKey) => {
      if (err) reject(err);
      else resolve(privateKey.export({ type: "pkcs1", format: "pem" }).toString());
    });
  });
}

/** Loads the signing key from dataDir, creating it (0600) on first start. */
export async function loadOrCreateSigningKey(dataDir: string | undefined): Promise<JwtSigner> {
  if (dataDir === undefined) return new JwtSigner(await generateRsaPrivateKeyPem());
  const file = join(dataDir, SIGNING_KEY_FILE);
  try {
    return new JwtSigner(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`cannot read the emulator signing key ${file}; delete it to create a new one`, { cause: err });
    }
  }
  const pem = await generateRsaPrivateKeyPem();
  await writeFileAtomic(file, pem, 0o600);
  return new JwtSigner(pem);
}
