import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { resolveConfig, describeConfig, defaultCacheDir, ENV_VARS } from "../../src/config/resolve.js";
import { CONFIG_KEYS, parseAzuremlConfig, parseConfigFile, findSecret } from "../../src/config/schema.js";
import { parseStructuredText } from "../../src/core/config-file.js";
import { foldersUpward, loadConfig } from "../../src/config/load.js";
import type { ConfigLayers, LoadedConfigFile } from "../../src/config/types.js";
import type { GlobalOptions } from "../../src/commands/globals.js";
import { makeTestContext } from "./helpers.js";

const HOME = "/home/tester";
const CWD = "/home/tester/proj";
const PATHS = { cwd: CWD, homedir: HOME };
const SUB_A = "aaaaaaaa-0000-0000-0000-000000000001";
const SUB_B = "bbbbbbbb-0000-0000-0000-000000000002";

const file = (path: string, content: Record<string, unknown>): LoadedConfigFile => parseConfigFile(content, path);
const resolve = (layers: ConfigLayers = {}, env: Record<string, string> = {}, flags: GlobalOptions = {}) => resolveConfig(layers, env, flags, PATHS);

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a UsageError");
}

describe("resolveConfig: defaults", () => {
  it("fills the built-in defaults", () => {
    const cfg = resolve();
    expect(cfg).toMatchObject({
      armEndpoint: "https://management.azure.com",
      authorityHost: "https://login.microsoftonline.com",
      emulator: false,
      timeoutSeconds: 60,
      retries: 3,
      cacheDir: "/home/tester/.cache/amlauth",
      files: [],
    });
    expect(cfg.subscription).toBeUndefined();
    expect(cfg.api).toBeUndefined();
    expect(cfg.sources.armEndpoint).toEqual({ kind: "default", detail: "default" });
  });

  it("puts the cache under XDG_CACHE_HOME when set", () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/xdg/cache" }, HOME)).toBe("/xdg/cache/amlauth");
    expect(resolve({}, { XDG_CACHE_HOME: "/xdg/cache" }).cacheDir).toBe("/xdg/cache/amlauth");
  });
});

describe("resolveConfig: precedence ladder", () => {
  // Every layer sets the workspace; removing the top one each time must expose the next.
  const user = file("/home/tester/.config/amlauth/config.yaml", { workspace: "ws-user", profiles: { p: { workspace: "ws-profile" } } });
  const azureml = { path: "/home/tester/proj/.azureml/config.json", workspace: "ws-azureml" };
  const project = file("/home/tester/proj/.amlauthrc", { workspace: "ws-project" });
  const env = { AMLAUTH_WORKSPACE: "ws-env" };
  const flags: GlobalOptions = { workspace: "ws-flag" };

  const cases: Array<[string, ConfigLayers, Record<string, string>, GlobalOptions, string, string]> = [
    ["flag", { user, azureml, project }, env, { ...flags, profile: "p" }, "ws-flag", "flag"],
    ["env", { user, azureml, project }, env, { profile: "p" }, "ws-env", "env"],
    ["profile", { user, azureml, project }, {}, { profile: "p" }, "ws-profile", "profile"],
    ["project", { user, azureml, project }, {}, {}, "ws-project", "project"],
    ["azureml", { user, azureml }, {}, {}, "ws-azureml", "azureml"],
    ["user", { user }, {}, {}, "ws-user", "user"],
    ["nothing", {}, {}, {}, "", "none"],
  ];
  it.each(cases)("%s wins", (_name, layers, envVars, flagValues, workspace, kind) => {
    const cfg = resolve(layers, envVars, flagValues);
    expect(cfg.workspace ?? "").toBe(workspace);
    expect(cfg.sources.workspace?.kind ?? "none").toBe(kind);
  });

  it("layers only override the keys they set", () => {
    const cfg = resolve(
      {
        user: file("/home/tester/.amlauthrc", { subscription: SUB_A, resourceGroup: "rg-user", retries: 5 }),
        azureml: { path: "/p/config.json", resourceGroup: "rg-azureml" },
        project: file("/home/tester/proj/.amlauthrc.json", { workspace: "ws-project" }),
      },
      { AMLAUTH_RESOURCE_GROUP: "rg-env" },
    );
    expect(cfg).toMatchObject({ subscription: SUB_A, resourceGroup: "rg-env", workspace: "ws-project", retries: 5 });
    expect(cfg.files).toEqual(["/home/tester/.amlauthrc", "/p/config.json", "/home/tester/proj/.amlauthrc.json"]);
    expect(describeConfig(cfg)).toContain("resourceGroup = rg-env (env AMLAUTH_RESOURCE_GROUP)");
    expect(describeConfig(cfg)).toContain(`subscription = ${SUB_A} (user file /home/tester/.amlauthrc)`);
  });
});

describe("resolveConfig: profiles", () => {
  const user = file("/home/tester/.amlauthrc", {
    defaultProfile: "dev",
    profiles: { dev: { workspace: "ws-dev-user", resourceGroup: "rg-dev-user" }, prod: { workspace: "ws-prod" } },
  });
  const project = file("/home/tester/proj/.amlauthrc", { profiles: { dev: { workspace: "ws-dev-project" }, ci: { emulator: true } } });

  it("applies the project's definition of a profile on top of the user's", () => {
    const cfg = resolve({ user, project });
    expect(cfg.profile).toBe("dev");
    expect(cfg.workspace).toBe("ws-dev-project");
    expect(cfg.resourceGroup).toBe("rg-dev-user");
    expect(cfg.sources.profile).toEqual({ kind: "user", detail: "defaultProfile in /home/tester/.amlauthrc" });
  });

  it("selects by flag, then AMLAUTH_PROFILE, then project defaultProfile, then user defaultProfile", () => {
    const projectDefault = file("/home/tester/proj/.amlauthrc", { defaultProfile: "ci", profiles: { ci: { emulator: true } } });
    expect(resolve({ user, project: projectDefault }, { AMLAUTH_PROFILE: "prod" }, { profile: "dev" }).profile).toBe("dev");
    expect(resolve({ user, project: projectDefault }, { AMLAUTH_PROFILE: "prod" }).profile).toBe("prod");
    expect(resolve({ user, project: projectDefault }).profile).toBe("ci");
    expect(resolve({ user, project: projectDefault }).emulator).toBe(true);
    expect(resolve({ user }).profile).toBe("dev");
    expect(resolve({}).profile).toBeUndefined();
  });

  it("refuses an unknown profile, suggesting the closest", () => {
    expect(usageMessage(() => resolve({ user, project }, {}, { profile: "prd" }))).toBe(
      'unknown profile "prd" (from flag --profile) (did you mean "prod"?); defined profiles: dev, prod, ci',
    );
    expect(usageMessage(() => resolve({}, { AMLAUTH_PROFILE: "x" }))).toBe(
      'unknown profile "x" (from env AMLAUTH_PROFILE); no config file defines any profile',
    );
    const broken = file("/p/.amlauthrc", { defaultProfile: "gone" });
    expect(usageMessage(() => resolve({ project: broken }))).toMatch(/unknown profile "gone" \(from defaultProfile in \/p\/.amlauthrc\)/);
  });
});

describe("resolveConfig: environment and flags", () => {
  it("reads every AMLAUTH_ variable", () => {
    const cfg = resolve(
      {},
      {
        AMLAUTH_SUBSCRIPTION: SUB_A,
        AMLAUTH_RESOURCE_GROUP: "rg",
        AMLAUTH_WORKSPACE: "ws",
        AMLAUTH_SERVICE: "demo-aks",
        AMLAUTH_API: "v2",
        AMLAUTH_CREDENTIAL: "CLI",
        AMLAUTH_TENANT_ID: "contoso.onmicrosoft.com",
        AMLAUTH_ARM_ENDPOINT: "https://127.0.0.1:8443/",
        AMLAUTH_AUTHORITY_HOST: "https://127.0.0.1:8443/auth",
        AMLAUTH_CA_FILE: "certs/ca.pem",
        AMLAUTH_EMULATOR: "1",
        AMLAUTH_OUTPUT: "json",
        AMLAUTH_CACHE_DIR: "~/cache",
        AMLAUTH_TIMEOUT_SECONDS: "2.5",
        AMLAUTH_RETRIES: "0",
      },
    );
    expect(cfg).toMatchObject({
      subscription: SUB_A,
      resourceGroup: "rg",
      workspace: "ws",
      service: "demo-aks",
      api: "v2",
      credential: "cli",
      tenantId: "contoso.onmicrosoft.com",
      armEndpoint: "https://127.0.0.1:8443",
      authorityHost: "https://127.0.0.1:8443/auth",
      caFile: "/home/tester/proj/certs/ca.pem",
      emulator: true,
      output: "json",
      cacheDir: "/home/tester/cache",
      timeoutSeconds: 2.5,
      retries: 0,
    });
  });

  it("falls back to the AZURE_ variables, and AMLAUTH_ wins over them", () => {
    expect(resolve({}, { AZURE_SUBSCRIPTION_ID: SUB_B }).subscription).toBe(SUB_B);
    expect(resolve({}, { AZURE_SUBSCRIPTION_ID: SUB_B, AMLAUTH_SUBSCRIPTION: SUB_A }).subscription).toBe(SUB_A);
    expect(resolve({}, { AZURE_AUTHORITY_HOST: "https://login.microsoftonline.us" }).authorityHost).toBe("https://login.microsoftonline.us");
    expect(resolve({}, { AZURE_DEFAULTS_GROUP: "rg-az" }).resourceGroup).toBe("rg-az");
  });

  it("ignores empty variables", () => {
    const cfg = resolve({ project: file("/p/.amlauthrc", { workspace: "ws-file" }) }, { AMLAUTH_WORKSPACE: "", AMLAUTH_EMULATOR: " " });
    expect(cfg.workspace).toBe("ws-file");
    expect(cfg.emulator).toBe(false);
  });

  it.each([
    [{ AMLAUTH_EMULATOR: "maybe" }, 'environment variable AMLAUTH_EMULATOR must be 1 or 0 (true/false) (got "maybe")'],
    [{ AMLAUTH_API: "v3" }, 'environment variable AMLAUTH_API must be v1 or v2 (got "v3")'],
    [{ AMLAUTH_RETRIES: "many" }, 'environment variable AMLAUTH_RETRIES must be a number (got "many")'],
    [{ AMLAUTH_RETRIES: "11" }, 'environment variable AMLAUTH_RETRIES must be a whole number from 0 to 10 (got "11")'],
    [{ AMLAUTH_SUBSCRIPTION: "my-sub" }, 'environment variable AMLAUTH_SUBSCRIPTION must be a subscription id (a GUID like 00000000-0000-0000-0000-000000000000) (got "my-sub")'],
    [{ AMLAUTH_WORKSPACE: "ws/../x" }, 'environment variable AMLAUTH_WORKSPACE must be a workspace name (letters, digits, _ and -) (got "ws/../x")'],
    [{ AMLAUTH_ARM_ENDPOINT: "http://127.0.0.1:80" }, "environment variable AMLAUTH_ARM_ENDPOINT must be an https URL (or a cloud name: public, china, usgov) (got \"http://127.0.0.1:80\")"],
    [{ AMLAUTH_OUTPUT: "xml" }, 'environment variable AMLAUTH_OUTPUT must be one of raw, json, tsv, table, env (got "xml")'],
  ])("refuses bad environment values %#", (env, message) => {
    expect(usageMessage(() => resolve({}, env))).toBe(message);
  });

  it("does not echo long values that could be secrets", () => {
    const message = usageMessage(() => resolve({}, { AMLAUTH_SUBSCRIPTION: "k".repeat(32) }));
    expect(message).not.toContain("kkkk");
  });

  it("flags win and are validated", () => {
    const cfg = resolve({}, { AMLAUTH_API: "v1" }, { api: "v2", emulator: true, output: "tsv", caFile: "/abs/ca.pem", credential: "env" });
    expect(cfg).toMatchObject({ api: "v2", emulator: true, output: "tsv", caFile: "/abs/ca.pem", credential: "env" });
    expect(cfg.sources.api).toEqual({ kind: "flag", detail: "flag --api" });
    expect(usageMessage(() => resolve({}, {}, { subscription: "nope" }))).toMatch(/^--subscription must be a subscription id/);
    expect(usageMessage(() => resolve({}, {}, { workspace: "" }))).toBe("--workspace must not be empty");
    expect(usageMessage(() => resolve({}, {}, { profile: " " }))).toBe("--profile must not be empty");
  });
});

describe("resolveConfig: clouds and paths", () => {
  it("maps a cloud name to its ARM endpoint and authority host pair", () => {
    const china = resolve({}, {}, { armEndpoint: "china" });
    expect([china.armEndpoint, china.authorityHost]).toEqual(["https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"]);
    expect(china.sources.authorityHost?.detail).toBe("flag --arm-endpoint (cloud china)");
    const usgov = resolve({}, { AMLAUTH_AUTHORITY_HOST: "AzureUSGovernment" });
    expect([usgov.armEndpoint, usgov.authorityHost]).toEqual(["https://management.usgovcloudapi.net", "https://login.microsoftonline.us"]);
  });

  it("keeps an explicitly set partner", () => {
    const cfg = resolve({}, { AMLAUTH_AUTHORITY_HOST: "https://login.example.test" }, { armEndpoint: "china" });
    expect([cfg.armEndpoint, cfg.authorityHost]).toEqual(["https://management.chinacloudapi.cn", "https://login.example.test"]);
  });

  it.each(["http://management.example", "ftp://x", "https://user:pw@host", "https://host/?q=1", "mars"])("refuses endpoint %j", (value) => {
    expect(usageMessage(() => resolve({}, {}, { armEndpoint: value }))).toMatch(/^--arm-endpoint must be/);
  });

  it("resolves relative paths against the defining file's folder, or the cwd for env/flags", () => {
    const project = file("/work/repo/.amlauthrc.yaml", { caFile: "certs/ca.pem", cacheDir: "~/.amlauth-cache" });
    expect(resolve({ project })).toMatchObject({ caFile: "/work/repo/certs/ca.pem", cacheDir: "/home/tester/.amlauth-cache" });
    expect(resolve({ project }, {}, { caFile: "./mine.pem" }).caFile).toBe("/home/tester/proj/mine.pem");
  });
});

describe("config files: validation", () => {
  it("accepts every documented key", () => {
    const content: Record<string, unknown> = {
      subscription: SUB_A,
      resourceGroup: "rg-(main).1",
      workspace: "ws_1",
      service: "demo-aci",
      api: "v1",
      credential: "managed-identity",
      tenantId: "11111111-1111-1111-1111-111111111111",
      armEndpoint: "public",
      authorityHost: "https://login.microsoftonline.com/",
      caFile: "/ca.pem",
      emulator: false,
      output: "table",
      cacheDir: "/cache",
      timeoutSeconds: 30,
      retries: 2,
      defaultProfile: "a",
      profiles: { a: { workspace: "ws-a" }, "b.2": null },
    };
    const loaded = parseConfigFile(content, "/x/.amlauthrc");
    expect(loaded.content.profiles).toEqual({ a: { workspace: "ws-a" }, "b.2": {} });
    expect(loaded.content.authorityHost).toBe("https://login.microsoftonline.com");
  });

  it.each([
    [{ workspce: "x" }, 'config file F: unknown key "workspce" (did you mean "workspace"?)'],
    [{ subscription_id: SUB_A }, 'config file F: unknown key "subscription_id" (did you mean "subscription"?)'],
    [{ emulator: "yes" }, "config file F: emulator must be true or false"],
    [{ retries: 1.5 }, "config file F: retries must be a whole number from 0 to 10 (got \"1.5\")"],
    [{ timeoutSeconds: "30" }, "config file F: timeoutSeconds must be a number"],
    [{ workspace: 7 }, "config file F: workspace must be a string"],
    [{ output: "xml" }, 'config file F: output must be one of raw, json, tsv, table, env (got "xml")'],
    [{ profiles: ["a"] }, "config file F: profiles must map profile names to settings"],
    [{ profiles: { prod: "ws" } }, "config file F: profiles.prod must be an object"],
    [{ profiles: { prod: { workspce: "x" } } }, 'config file F: unknown key "profiles.prod.workspce" (did you mean "workspace"?)'],
    [{ profiles: { prod: { profiles: {} } } }, 'config file F: unknown key "profiles.prod.profiles"'],
    [{ profiles: { "bad name": {} } }, 'config file F: profile name "bad name" must use letters, digits, _ . -'],
    [{ defaultProfile: 3 }, "config file F: defaultProfile must be a profile name"],
    [["workspace"], "config file F must hold an object (key: value pairs)"],
  ])("refuses %j", (content, message) => {
    expect(usageMessage(() => parseConfigFile(content, "F"))).toBe(message);
  });

  it.each([
    [{ clientSecret: "abc" }, "clientSecret"],
    [{ profiles: { ci: { token: "abc" } } }, "profiles.ci.token"],
    [{ primaryKey: "abc" }, "primaryKey"],
    [{ azure: { client_secret: "abc" } }, "azure.client_secret"],
    [{ password: "hunter2" }, "password"],
    [{ workspace: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" }, "a token in workspace"],
  ])("refuses a file holding a secret %#, without echoing it", (content, where) => {
    const message = usageMessage(() => parseConfigFile(content, "/repo/.amlauthrc"));
    expect(message).toBe(`config file /repo/.amlauthrc holds a secret (${where}); secrets belong in the environment or the credential chain`);
    expect(message).not.toMatch(/hunter2|eyJ/);
  });

  it("does not mistake ordinary keys or empty values for secrets", () => {
    expect(findSecret({ tenantId: "t", keys: null, token: "", caFile: "x" })).toBeUndefined();
  });

  it("reads azureml configs, including the Scope form", () => {
    expect(parseAzuremlConfig({ subscription_id: SUB_A, resource_group: "rg", workspace_name: "ws", friendly: 1 }, "/c.json")).toEqual({
      path: "/c.json",
      subscription: SUB_A,
      resourceGroup: "rg",
      workspace: "ws",
    });
    expect(
      parseAzuremlConfig({ Scope: `/subscriptions/${SUB_B}/resourceGroups/rg2/providers/Microsoft.MachineLearningServices/workspaces/ws2` }, "/c.json"),
    ).toEqual({ path: "/c.json", subscription: SUB_B, resourceGroup: "rg2", workspace: "ws2" });
    expect(parseAzuremlConfig({ name: "unrelated" }, "/c.json")).toBeUndefined();
    expect(usageMessage(() => parseAzuremlConfig({ subscription_id: "x" }, "/c.json"))).toMatch(/^azureml config \/c.json: subscription_id must be a subscription id/);
  });
});

describe("loadConfig from disk", () => {
  let root: string;
  let home: string;
  let seq = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "amlauth-config-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A fresh home with a project folder; `files` maps relative paths to contents. */
  async function world(files: Record<string, string>): Promise<{ home: string; cwd: string }> {
    home = join(root, `home${seq++}`);
    const cwd = join(home, "proj", "sub");
    await mkdir(cwd, { recursive: true });
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(home, rel, ".."), { recursive: true });
      await writeFile(join(home, rel), text);
    }
    return { home, cwd };
  }
  const load = (w: { home: string; cwd: string }, env: Record<string, string> = {}, flags: GlobalOptions = {}) =>
    loadConfig(makeTestContext({ homedir: w.home, cwd: w.cwd, env }), flags);

  it("reads the user file, the azureml config and the nearest project file", async () => {
    const w = await world({
      ".config/amlauth/config.yaml": `subscription: ${SUB_A}\nworkspace: ws-user\nprofiles:\n  prod:\n    workspace: ws-prod\n`,
      "proj/.azureml/config.json": JSON.stringify({ subscription_id: SUB_B, resource_group: "rg-azml", workspace_name: "ws-azml" }),
      "proj/.amlauthrc.yaml": "workspace: ws-project\nservice: demo-aci\n",
    });
    const cfg = await load(w);
    expect(cfg).toMatchObject({ subscription: SUB_B, resourceGroup: "rg-azml", workspace: "ws-project", service: "demo-aci" });
    expect(cfg.files).toEqual([
      join(w.home, ".config/amlauth/config.yaml"),
      join(w.home, "proj/.azureml/config.json"),
      join(w.home, "proj/.amlauthrc.yaml"),
    ]);
    expect((await load(w, {}, { profile: "prod" })).workspace).toBe("ws-prod");
  });

  it("honours XDG_CONFIG_HOME, and falls back to ~/.amlauthrc", async () => {
    const w = await world({ "xdg/amlauth/config.json": '{"workspace": "ws-xdg"}', ".amlauthrc": "workspace: ws-home\n" });
    expect((await load(w, { XDG_CONFIG_HOME: join(w.home, "xdg") })).workspace).toBe("ws-xdg");
    const cfg = await load(w);
    expect(cfg.workspace).toBe("ws-home");
    expect(cfg.sources.workspace?.kind).toBe("user");
  });

  it("finds package.json#amlauth, skipping a package.json without it", async () => {
    const w = await world({
      "proj/package.json": JSON.stringify({ name: "p", amlauth: { workspace: "ws-pkg" } }),
      "proj/sub/package.json": JSON.stringify({ name: "inner" }),
    });
    const cfg = await load(w);
    expect(cfg.workspace).toBe("ws-pkg");
    expect(cfg.sources.workspace?.detail).toBe(`project file ${join(w.home, "proj/package.json")}#amlauth`);
  });

  it("skips a config file holding only comments", async () => {
    const w = await world({ "proj/sub/.amlauthrc": "# nothing yet\n", "proj/.amlauthrc.json": '{"workspace": "ws-parent"}' });
    expect((await load(w)).workspace).toBe("ws-parent");
  });

  it("loads a JavaScript config", async () => {
    const w = await world({ "proj/amlauth.config.mjs": 'export default { workspace: "ws-js", retries: 1 };\n' });
    expect(await load(w)).toMatchObject({ workspace: "ws-js", retries: 1 });
  });

  it("reports a broken file with its path and line", async () => {
    const w = await world({ "proj/.amlauthrc.yml": "workspace: ws\nprofiles: [a\n" });
    await expect(load(w)).rejects.toThrow(UsageError);
    await expect(load(w)).rejects.toThrow(new RegExp(`^${join(w.home, "proj/.amlauthrc.yml").replace(/[.]/g, "\\.")}: invalid YAML at line 3`));
  });

  it("refuses a project file holding a secret", async () => {
    const w = await world({ "proj/.amlauthrc.json": '{"workspace": "ws", "clientSecret": "s3cr3t-value"}' });
    const err = await load(w).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      `config file ${join(w.home, "proj/.amlauthrc.json")} holds a secret (clientSecret); secrets belong in the environment or the credential chain`,
    );
  });

  it("ignores an unrelated config.json but not a broken .azureml/config.json", async () => {
    const w = await world({ "proj/config.json": '{"name": "webpack things"}' });
    expect((await load(w)).files).toEqual([]);
    const broken = await world({ "proj/.azureml/config.json": "{oops" });
    await expect(load(broken)).rejects.toThrow(/\.azureml\/config\.json: invalid JSON at line 1/);
  });

  it("walks from the cwd up to (not into) the home folder", () => {
    expect(foldersUpward("/home/u/a/b", "/home/u", false)).toEqual(["/home/u/a/b", "/home/u/a"]);
    expect(foldersUpward("/home/u/a/b", "/home/u", true)).toEqual(["/home/u/a/b", "/home/u/a", "/home/u"]);
    expect(foldersUpward("/srv/app", "/home/u", false)).toEqual(["/srv/app", "/srv", "/"]);
  });
});

describe(".amlauthrc.example", () => {
  it("documents every key and environment variable, and is a valid config once uncommented", async () => {
    const text = await readFile(new URL("../../.amlauthrc.example", import.meta.url), "utf8");
    const settings = text
      .split("\n")
      .filter((line) => line.startsWith("# ") || line === "#")
      .map((line) => line.slice(2))
      .join("\n");
    const loaded = parseConfigFile(parseStructuredText(settings, "example.yaml"), "example.yaml");
    for (const key of CONFIG_KEYS) expect(Object.keys(loaded.content), key).toContain(key);
    expect(Object.keys(loaded.content.profiles ?? {})).toEqual(["prod", "dev", "local"]);
    expect(loaded.content.defaultProfile).toBe("dev");
    for (const names of Object.values(ENV_VARS)) for (const name of names ?? []) expect(text, name).toContain(name);
    expect(text).toContain("AMLAUTH_PROFILE");
    // The uncommented example resolves, with its relative caFile next to the file.
    const cfg = resolveConfig({ project: { ...loaded, path: "/repo/.amlauthrc", label: "/repo/.amlauthrc" } }, {}, {}, PATHS);
    expect(cfg).toMatchObject({ profile: "dev", workspace: "dev-ml-workspace", caFile: "/repo/certs/corp-ca.pem" });
  });
});
