import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import {
  defaultFormat,
  renderAuthHeader,
  renderCurlConfig,
  renderKeys,
  renderList,
  renderServiceInfo,
  renderTable,
  renderToken,
} from "../../src/output/format.js";
import { colorLevel, makeChalk } from "../../src/output/color.js";
import { isCI, secretMaskLines } from "../../src/output/ci.js";
import type { ServiceInfo } from "../../src/rest/types.js";

const KEYS = { primaryKey: "pk-AAAA1111", secondaryKey: "sk-BBBB2222" };
const TOKEN = { accessToken: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", tokenType: "Bearer", expiryOn: 1767268800, refreshAfter: 1767247200 };
const INFO: ServiceInfo = {
  api: "v1",
  name: "demo-aks",
  computeType: "AKS",
  authMode: "token",
  authEnabled: false,
  tokenAuthEnabled: true,
  state: "Healthy",
  scoringUri: "https://127.0.0.1:1/api/v1/service/demo-aks/score",
};

describe("defaultFormat", () => {
  it("is table on a terminal, tsv in a pipe, raw for a single secret in a pipe", async () => {
    expect(defaultFormat({ stdoutIsTTY: true })).toBe("table");
    expect(defaultFormat({ stdoutIsTTY: true }, { singleSecret: true })).toBe("table");
    expect(defaultFormat({ stdoutIsTTY: false })).toBe("tsv");
    expect(defaultFormat({ stdoutIsTTY: false }, { singleSecret: true })).toBe("raw");
  });
});

describe("keys", () => {
  it("json has exactly primaryKey and secondaryKey", async () => {
    expect(JSON.parse(renderKeys(KEYS, "json"))).toEqual(KEYS);
    expect(Object.keys(JSON.parse(renderKeys(KEYS, "json")))).toEqual(["primaryKey", "secondaryKey"]);
    expect(JSON.parse(renderKeys(KEYS, "json", { only: "secondary" }))).toEqual({ secondaryKey: "sk-BBBB2222" });
  });
  it("tsv is name<TAB>value, primary first", async () => {
    expect(renderKeys(KEYS, "tsv")).toBe("primary\tpk-AAAA1111\nsecondary\tsk-BBBB2222\n");
  });
  it("raw is one key per line; with --primary just that key", async () => {
    expect(renderKeys(KEYS, "raw")).toBe("pk-AAAA1111\nsk-BBBB2222\n");
    expect(renderKeys(KEYS, "raw", { only: "primary" })).toBe("pk-AAAA1111\n");
  });
  it("env uses AMLAUTH_PRIMARY_KEY / AMLAUTH_SECONDARY_KEY", async () => {
    expect(renderKeys(KEYS, "env")).toBe("AMLAUTH_PRIMARY_KEY=pk-AAAA1111\nAMLAUTH_SECONDARY_KEY=sk-BBBB2222\n");
    expect(() => renderKeys({ primaryKey: "a\nb", secondaryKey: "c" }, "env")).toThrow(UsageError);
  });
  it("table is aligned with a header and no trailing spaces", async () => {
    expect(renderKeys(KEYS, "table")).toBe("KEY        VALUE\nprimary    pk-AAAA1111\nsecondary  sk-BBBB2222\n");
  });
  it("a colored header keeps the alignment", async () => {
    const colored = renderTable(["a", "b"], [["xyz", "1"]], { chalk: await makeChalk(1) });
    expect(colored).toContain("\u001b[1m");
    expect(colored.replace(/\u001b\[\d+m/g, "")).toBe("A    B\nxyz  1\n");
  });
});

describe("token", () => {
  it("json has the four fields with ISO-8601 UTC times", async () => {
    expect(JSON.parse(renderToken(TOKEN, "json"))).toEqual({
      accessToken: TOKEN.accessToken,
      tokenType: "Bearer",
      expiryOn: "2026-01-01T12:00:00.000Z",
      refreshAfter: "2026-01-01T06:00:00.000Z",
    });
  });
  it("raw is the JWT and a newline, nothing else", async () => {
    expect(renderToken(TOKEN, "raw")).toBe(`${TOKEN.accessToken}\n`);
  });
  it("tsv and env", async () => {
    expect(renderToken(TOKEN, "tsv").split("\n")[2]).toBe("expiryOn\t2026-01-01T12:00:00.000Z");
    expect(renderToken(TOKEN, "env")).toContain(`AMLAUTH_TOKEN=${TOKEN.accessToken}\n`);
    expect(renderToken(TOKEN, "env")).toContain("AMLAUTH_TOKEN_REFRESH_AFTER=2026-01-01T06:00:00.000Z\n");
  });
});

describe("service info", () => {
  it("json has exactly the seven documented fields", async () => {
    const json = JSON.parse(renderServiceInfo(INFO, "json"));
    expect(Object.keys(json)).toEqual(["name", "computeType", "authMode", "authEnabled", "tokenAuthEnabled", "state", "scoringUri"]);
    expect(json.tokenAuthEnabled).toBe(true);
  });
  it("raw is the scoring URI; null prints an empty line", async () => {
    expect(renderServiceInfo(INFO, "raw")).toBe(`${INFO.scoringUri}\n`);
    expect(renderServiceInfo({ ...INFO, scoringUri: null }, "raw")).toBe("\n");
    expect(JSON.parse(renderServiceInfo({ ...INFO, scoringUri: null }, "json")).scoringUri).toBeNull();
  });
  it("env and table", async () => {
    const env = renderServiceInfo(INFO, "env");
    expect(env).toContain("AMLAUTH_SERVICE_NAME=demo-aks\n");
    expect(env).toContain("AMLAUTH_TOKEN_AUTH_ENABLED=true\n");
    expect(env).toContain(`AMLAUTH_SCORING_URI=${INFO.scoringUri}\n`);
    expect(renderServiceInfo(INFO, "table").split("\n")[0]).toBe("FIELD             VALUE");
  });
});

describe("lists", () => {
  const rows = [
    ["demo-aci", "ACI", "key"],
    ["demo-aks", "AKS", "token\twith tab"],
  ];
  it("renders each format", async () => {
    expect(renderList(["name", "compute", "auth"], rows, "tsv")).toBe("demo-aci\tACI\tkey\ndemo-aks\tAKS\ttoken\\twith tab\n");
    expect(renderList(["name", "compute", "auth"], rows, "raw")).toBe("demo-aci\ndemo-aks\n");
    expect(JSON.parse(renderList(["name", "compute", "auth"], rows, "json"))[0]).toEqual({ name: "demo-aci", compute: "ACI", auth: "key" });
    expect(renderList(["name", "compute", "auth"], rows, "table").split("\n")[0]).toBe("NAME      COMPUTE  AUTH");
    expect(renderList(["name"], [], "tsv")).toBe("");
    expect(() => renderList(["name"], rows, "env")).toThrow(UsageError);
  });
});

describe("curl-ready output", () => {
  it("--header prints an Authorization header line", async () => {
    expect(renderAuthHeader("abc.def")).toBe("Authorization: Bearer abc.def\n");
  });
  it("--curl-config escapes quotes and backslashes", async () => {
    expect(renderCurlConfig("abc")).toBe('header = "Authorization: Bearer abc"\n');
    expect(renderCurlConfig('a"b\\c')).toBe('header = "Authorization: Bearer a\\"b\\\\c"\n');
  });
  it("refuses a secret with a line break (header injection)", async () => {
    expect(() => renderAuthHeader("abc\r\nX-Evil: 1")).toThrow(UsageError);
    expect(() => renderCurlConfig("abc\nurl = http://evil")).toThrow(UsageError);
  });
});

describe("colorLevel", () => {
  const tty = { stdoutIsTTY: true, stderrIsTTY: true };
  const pipe = { stdoutIsTTY: false, stderrIsTTY: false };
  it.each([
    ["--no-color beats everything", tty, { FORCE_COLOR: "3" }, { color: false }, 0],
    ["NO_COLOR turns it off", tty, { NO_COLOR: "1" }, {}, 0],
    ["empty NO_COLOR is ignored", tty, { NO_COLOR: "" }, {}, 1],
    ["NO_COLOR beats FORCE_COLOR", tty, { NO_COLOR: "1", FORCE_COLOR: "1" }, {}, 0],
    ["FORCE_COLOR=0 turns it off", tty, { FORCE_COLOR: "0" }, {}, 0],
    ["FORCE_COLOR=false turns it off", tty, { FORCE_COLOR: "false" }, {}, 0],
    ["FORCE_COLOR turns it on in a pipe", pipe, { FORCE_COLOR: "1" }, {}, 1],
    ["FORCE_COLOR=3 is truecolor", pipe, { FORCE_COLOR: "3" }, {}, 3],
    ["CLICOLOR_FORCE turns it on in a pipe", pipe, { CLICOLOR_FORCE: "1" }, {}, 1],
    ["CLICOLOR_FORCE=0 does not", pipe, { CLICOLOR_FORCE: "0" }, {}, 0],
    ["a pipe has no color", pipe, {}, {}, 0],
    ["TERM=dumb has no color", tty, { TERM: "dumb" }, {}, 0],
    ["256-color terminal", tty, { TERM: "xterm-256color" }, {}, 2],
    ["truecolor terminal", tty, { COLORTERM: "truecolor" }, {}, 3],
  ] as const)("%s", (_label, ttys, env, flags, level) => {
    expect(colorLevel({ ...ttys, env: { ...env } }, flags)).toBe(level);
  });
  it("looks at the stream the text goes to", async () => {
    const ctx = { stdoutIsTTY: false, stderrIsTTY: true, env: {} };
    expect(colorLevel(ctx, {}, "stderr")).toBe(1);
    expect(colorLevel(ctx, {}, "stdout")).toBe(0);
  });
  it("makeChalk honours the level", async () => {
    expect((await makeChalk(0)).red("x")).toBe("x");
    expect((await makeChalk(1)).red("x")).toBe("\u001b[31mx\u001b[39m");
  });
});

describe("CI masking", () => {
  it("emits nothing outside CI runners", async () => {
    expect(secretMaskLines({ env: {} }, ["secret-value"])).toEqual([]);
    expect(secretMaskLines({ env: { GITHUB_ACTIONS: "false" } }, ["secret-value"])).toEqual([]);
  });
  it("GitHub Actions: ::add-mask:: per secret, escaped", async () => {
    expect(secretMaskLines({ env: { GITHUB_ACTIONS: "true" } }, ["abc%def", "abc%def", "", "line1\nline2"])).toEqual([
      "::add-mask::abc%25def\n",
      "::add-mask::line1\n",
      "::add-mask::line2\n",
    ]);
  });
  it("Azure Pipelines: ##vso[task.setsecret]", async () => {
    expect(secretMaskLines({ env: { TF_BUILD: "True" } }, ["k1%"])).toEqual(["##vso[task.setsecret]k1%AZP25\n"]);
  });
  it("detects CI", async () => {
    expect(isCI({})).toBe(false);
    expect(isCI({ CI: "false" })).toBe(false);
    expect(isCI({ CI: "true" })).toBe(true);
    expect(isCI({ GITHUB_ACTIONS: "true" })).toBe(true);
    expect(isCI({ TF_BUILD: "True" })).toBe(true);
  });
});
