import { describe, expect, it } from "vitest";
import { REDACTED, redactAll, redactHeaders, redactJsonBody, redactJwts, redactSecrets, redactUrl } from "../../src/output/redact.js";

// A syntactically real JWT (header {"alg":"RS256","typ":"JWT"}), and an unsigned one.
const JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlLWJ5dGVz";
const UNSIGNED_JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
const KEY = "Xk9+vQ2/wZ8=primaryKeyValue";

describe("redactSecrets", () => {
  it("replaces every occurrence, including URL-encoded and JSON-escaped forms", () => {
    const text = `key=${KEY} again ${KEY} url=${encodeURIComponent(KEY)} json=${JSON.stringify('a"' + KEY).slice(1, -1)}`;
    const out = redactSecrets(text, [KEY]);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain(encodeURIComponent(KEY));
    expect(out.match(/\[REDACTED\]/g)).toHaveLength(4);
  });
  it("replaces the longest secret first", () => {
    expect(redactSecrets("abcdef123456", ["abcdef", "abcdef123456"])).toBe(REDACTED);
  });
  it("treats regex characters literally and skips too-short values", () => {
    expect(redactSecrets("a.b*c+d(e) and axbxcxd", ["a.b*c+d(e)"])).toBe(`${REDACTED} and axbxcxd`);
    expect(redactSecrets("on and on", ["on", ""])).toBe("on and on");
  });
});

describe("redactJwts", () => {
  it("masks signed and unsigned JWTs anywhere in text", () => {
    expect(redactJwts(`token: ${JWT}.`)).toBe(`token: ${REDACTED}.`);
    expect(redactJwts(`x ${UNSIGNED_JWT} y`)).toBe(`x ${REDACTED} y`);
  });
  it("leaves ordinary dotted text alone", () => {
    expect(redactJwts("api.v1.service and eyJ-not-a-token")).toBe("api.v1.service and eyJ-not-a-token");
  });
});

describe("redactUrl", () => {
  it.each([
    ["https://acct.blob.core.windows.net/c/b?sv=2021&sig=abc%2Fdef&se=2026", "https://acct.blob.core.windows.net/c/b?sv=2021&sig=[REDACTED]&se=2026"],
    ["https://login.test/cb?code=0.AAA-secret&state=s", "https://login.test/cb?code=[REDACTED]&state=s"],
    ["https://login.test/t?client_secret=xyz#frag", "https://login.test/t?client_secret=[REDACTED]#frag"],
    ["https://h/p?SIG=UPPER", "https://h/p?SIG=[REDACTED]"],
    ["https://h/p?api-version=2022-10-01", "https://h/p?api-version=2022-10-01"],
    ["/relative?access_token=abc&x=1", "/relative?access_token=[REDACTED]&x=1"],
  ])("%s", (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});

describe("redactHeaders", () => {
  it("masks credential headers, keeping the scheme, in any case", () => {
    const out = redactHeaders({
      Authorization: `Bearer ${JWT}`,
      "api-key": "k1",
      "X-MS-Functions-Key": "k2",
      "x-ms-client-request-id": "req-1",
      "Set-Cookie": ["a=1", "b=2"],
      cookie: "sess=1",
      "content-type": "application/json",
      "Operation-Location": "https://h/op/1?sig=abc",
      "proxy-authorization": "Basic dXNlcjpwdw==",
      "x-custom": `has ${JWT}`,
    });
    expect(out).toEqual({
      Authorization: `Bearer ${REDACTED}`,
      "api-key": REDACTED,
      "X-MS-Functions-Key": REDACTED,
      "x-ms-client-request-id": "req-1",
      "Set-Cookie": REDACTED,
      cookie: REDACTED,
      "content-type": "application/json",
      "Operation-Location": `https://h/op/1?sig=${REDACTED}`,
      "proxy-authorization": `Basic ${REDACTED}`,
      "x-custom": `has ${REDACTED}`,
    });
  });
  it("does not change the input object", () => {
    const headers = { authorization: "Bearer abc" };
    redactHeaders(headers);
    expect(headers.authorization).toBe("Bearer abc");
  });
});

describe("redactJsonBody", () => {
  it("masks every secret field at any depth, keeping the rest", () => {
    const body = JSON.stringify({
      primaryKey: "p1",
      secondaryKey: "s1",
      nested: { accessToken: JWT, tokenType: "Bearer", list: [{ keyValue: "kv" }, { password: 123 }] },
      access_token: "at",
      refresh_token: "rt",
      id_token: "it",
      client_secret: "cs",
      token: "t",
      keyType: "Primary",
      error: { code: "NotFound", message: "no such service" },
      empty: { token: null },
    });
    expect(JSON.parse(redactJsonBody(body))).toEqual({
      primaryKey: REDACTED,
      secondaryKey: REDACTED,
      nested: { accessToken: REDACTED, tokenType: "Bearer", list: [{ keyValue: REDACTED }, { password: REDACTED }] },
      access_token: REDACTED,
      refresh_token: REDACTED,
      id_token: REDACTED,
      client_secret: REDACTED,
      token: REDACTED,
      keyType: "Primary",
      error: { code: "NotFound", message: "no such service" },
      empty: { token: null },
    });
  });
  it("masks JWTs and credential URLs inside other string values", () => {
    const out = redactJsonBody(JSON.stringify({ message: `bad token ${JWT}`, contentUri: "https://a.blob/x?sig=zzz" }));
    expect(JSON.parse(out)).toEqual({ message: `bad token ${REDACTED}`, contentUri: `https://a.blob/x?sig=${REDACTED}` });
  });
  it("masks truncated JSON by pattern", () => {
    const out = redactJsonBody('{"primaryKey": "abc\\"def", "secondaryKey": "cut-off-val');
    expect(out).toBe(`{"primaryKey": "${REDACTED}", "secondaryKey": "${REDACTED}"`);
  });
  it("masks form-encoded OAuth bodies", () => {
    const out = redactJsonBody("grant_type=client_credentials&client_id=abc&client_secret=s3cr3t&client_assertion=eyJx.eyJy.z&scope=x");
    expect(out).toBe(`grant_type=client_credentials&client_id=abc&client_secret=${REDACTED}&client_assertion=${REDACTED}&scope=x`);
  });
  it("masks HTML and other text bodies by pattern", () => {
    expect(redactJsonBody(`<html>token ${JWT}</html>`)).toBe(`<html>token ${REDACTED}</html>`);
    expect(redactJsonBody("plain text")).toBe("plain text");
  });
});

describe("redactAll", () => {
  it("cleans a free-text error message of every kind of secret", () => {
    const message =
      `request failed: Authorization: Bearer opaque-token-123 url https://h/x?sig=s1&a=1 ` +
      `body {"primaryKey":"pk-value","ok":1} key ${KEY} jwt ${JWT}`;
    const out = redactAll(message, [KEY]);
    for (const leaked of ["opaque-token-123", "s1&", "pk-value", KEY, JWT]) expect(out).not.toContain(leaked);
    expect(out).toContain("Bearer [REDACTED]");
    expect(out).toContain('"ok":1');
    expect(out).toContain("a=1");
  });
});
