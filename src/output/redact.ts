// Redaction for anything that may end up on a terminal or in a log: --verbose HTTP traces and
// error messages. Each function errs on the side of hiding: a hidden id costs a re-run with
// different flags, a leaked key costs a rotation.

export const REDACTED = "[REDACTED]";

/** Three base64url segments, header and payload starting with `{"` (eyJ). Signature may be empty (alg none). */
const JWT = /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

/** JSON field names whose values are secrets (request and response bodies). */
export const SECRET_JSON_FIELDS = [
  "primaryKey",
  "secondaryKey",
  "accessToken",
  "keyValue",
  "client_secret",
  "clientSecret",
  "client_assertion",
  "access_token",
  "refresh_token",
  "id_token",
  "password",
  "token",
  "secret",
] as const;
const SECRET_FIELD_SET = new Set<string>(SECRET_JSON_FIELDS.map((f) => f.toLowerCase()));
const isSecretField = (name: string): boolean => SECRET_FIELD_SET.has(name.toLowerCase());

/**
 * Query / form parameters that carry credentials: SAS signature, OAuth code, client secret and
 * assertion, tokens, passwords. (`code` is only a secret here; in ARM JSON it is an error code.)
 */
const SECRET_PARAMS = ["sig", "code", "client_secret", "client_assertion", "assertion", "access_token", "refresh_token", "id_token", "token", "password"];
const SECRET_QUERY = new RegExp(`([?&](?:${SECRET_PARAMS.join("|")})=)[^&#\\s"']*`, "gi");

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces every occurrence of each known secret, also in its URL-encoded and JSON-escaped forms.
 * Secrets shorter than 6 characters are skipped: replacing them would garble unrelated text and
 * nothing that short is a real key or token.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret.length < 6) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return text;
  // Longest first, so a secret that contains another is replaced whole.
  const pattern = new RegExp([...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"), "g");
  return text.replace(pattern, REDACTED);
}

export function redactJwts(text: string): string {
  return text.replace(JWT, REDACTED);
}

/** Masks credential query parameters (sig=, code=, client_secret=, …); the rest is kept as written. */
export function redactUrl(url: string): string {
  return redactJwts(url.replace(SECRET_QUERY, `$1${REDACTED}`));
}

const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "api-key",
  "x-api-key",
  "ocp-apim-subscription-key",
  "cookie",
  "set-cookie",
  "x-ms-authorization-auxiliary",
  "x-functions-key",
]);

function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADERS.has(n) || /^x-ms-.*(key|token|secret|signature)$/.test(n);
}

/**
 * A copy of `headers` with credential values masked. `Authorization` keeps its scheme
 * ("Bearer [REDACTED]") so a trace still shows which kind of credential was sent; URL-valued
 * headers (Location, Operation-Location, Azure-AsyncOperation) get redactUrl.
 */
export function redactHeaders<T extends string | string[] | number | undefined>(headers: Record<string, T>): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) {
      out[name] = value;
      continue;
    }
    if (isSecretHeader(name)) {
      const first = Array.isArray(value) ? value[0] : String(value);
      const scheme = /^(Bearer|Basic|SharedKey|SharedAccessSignature)\s/i.exec(first ?? "");
      out[name] = scheme ? `${scheme[1]} ${REDACTED}` : REDACTED;
      continue;
    }
    if (typeof value === "string") {
      out[name] = /^https?:\/\//i.test(value) ? redactUrl(value) : redactJwts(value);
    } else {
      out[name] = value;
    }
  }
  return out;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 50) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretField(k) && v !== null && v !== undefined && v !== "" ? REDACTED : redactValue(v, depth + 1);
    }
    return out;
  }
  if (typeof value === "string") return /^https?:\/\//i.test(value) ? redactUrl(value) : redactJwts(value);
  return value;
}

/**
 * A request/response body with secret fields masked. JSON bodies are parsed and re-serialized
 * compactly; bodies that are not JSON (truncated, HTML, form-encoded OAuth requests) are masked
 * by pattern: `"field": "…"` pairs, `field=…` form pairs and JWTs.
 */
export function redactJsonBody(text: string): string {
  try {
    return JSON.stringify(redactValue(JSON.parse(text), 0));
  } catch {
    return redactByPattern(text);
  }
}

function redactByPattern(text: string): string {
  const names = SECRET_JSON_FIELDS.map(escapeRegExp).join("|");
  const params = SECRET_PARAMS.join("|");
  return redactJwts(
    text
      // "primaryKey": "abc"  (also a value cut off by truncation: no closing quote)
      .replace(new RegExp(`("(?:${names})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*("|$)`, "gi"), `$1"${REDACTED}"`)
      // "token": 123 / non-string scalars
      .replace(new RegExp(`("(?:${names})"\\s*:\\s*)(?![\\s"{\\[]|null)[^,}\\]\\s]+`, "gi"), `$1"${REDACTED}"`)
      // client_secret=abc&…  (form bodies and query strings)
      .replace(new RegExp(`(^|[?&\\s])((?:${params})=)[^&\\s]*`, "gi"), `$1$2${REDACTED}`),
  );
}

/**
 * Everything at once, for free text such as an error message or a stack: known secrets, JWTs,
 * credential query parameters, bearer values and secret JSON/form fields.
 */
export function redactAll(text: string, secrets: readonly string[] = []): string {
  const bySecret = redactSecrets(text, secrets);
  return redactByPattern(bySecret.replace(SECRET_QUERY, `$1${REDACTED}`)).replace(
    /\b(Bearer|Basic)\s+(?!\[REDACTED\])[^\s,;"']+/gi,
    `$1 ${REDACTED}`,
  );
}
