// Issue 7, part 2: the bad-input corpus. Every case in test/corpus/*.json runs the CLI in process
// (main(argv, ctx)) and must end with the documented exit code and, on failure, exactly one line
// on stderr ("amlauth: …", no stack frame, bounded length), nothing on stdout, within a time
// bound, without leaking the case's secrets, and without a partial change: no request at all for
// usage errors (exit 2 means "nothing was sent"), no changing request unless the case allows it,
// and nothing written to the token cache. Cases marked knownBug state the right behaviour for a
// reported bug and run as expected failures until it is fixed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, startWorld, type TestWorld } from "../e2e/helpers.js";
import { failureProblems, requestsSince, lastSeq, runInProcess, STACK_FRAME } from "../robustness/helpers.js";
import { MUTATING_ROUTES, RG, STATIC_TOKEN, startBadServer, SUB, WS, type BadReply, type BadServer, type RouteName } from "./bad-server.js";

type FileContent = string | { json: unknown } | { repeat: string; times: number } | { dir: true };

interface CorpusCase {
  name: string;
  args: string[];
  /** Documented exit code: 0 ok, 1 failure, 2 usage/rule, 3 not found, 4 auth. */
  code: number;
  /** Regex (case-insensitive) the stderr line must match. */
  stderr?: string;
  /** Regex stdout must match (exit-0 cases). */
  stdout?: string;
  env?: Record<string, string>;
  stdin?: string;
  /** Files in the case's own working directory; "$XDG_CONFIG_HOME/..." goes to its user config dir. */
  files?: Record<string, FileContent>;
  /** bad-server cases: the one request answered badly ("{{url}}" = the server's address). */
  reply?: BadReply & { route: RouteName };
  /** Requests that may reach the server; default 0 for exit 2 (null = not checked). */
  requests?: number | null;
  /** Changing requests allowed (default 0). */
  mutations?: number;
  /** Strings that must not appear on stderr (values the case planted). */
  secrets?: string[];
  /** false: the reply is help text (missing subcommand), not one line. */
  oneLine?: boolean;
  maxMs?: number;
  /**
   * Run through the built bin in a child process: for inputs that could block the event loop (a
   * regression there would freeze an in-process run beyond any timer; a child can be killed).
   */
  spawn?: boolean;
  /**
   * A reported bug (file, function, what is wrong): the case states the right behaviour and is
   * expected to fail until the bug is fixed; vitest then reports it, and this field goes.
   */
  knownBug?: string;
}

interface CorpusFile {
  description: string;
  /** emulator: the in-process emulator world; bad-server: bad-server.ts, reached with --arm-endpoint. */
  target: "emulator" | "bad-server";
  cases: CorpusCase[];
}

const HERE = dirname(fileURLToPath(import.meta.url));
const FAMILIES = ["flags", "env", "config-files", "deploy-files", "server-replies"] as const;
const corpus = Object.fromEntries(
  FAMILIES.map((f) => [f, JSON.parse(readFileSync(join(HERE, `${f}.json`), "utf8")) as CorpusFile]),
) as Record<(typeof FAMILIES)[number], CorpusFile>;
const total = FAMILIES.reduce((n, f) => n + corpus[f].cases.length, 0);
const DEFAULT_MAX_MS = 5_000;
const MAX_LINE = 600;
const JWT = /eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/;
const SCORE_PY = "def init():\n    pass\n\ndef run(data):\n    return data\n";

let world: TestWorld;
let bad: BadServer;
let casesRoot: string;

beforeAll(async () => {
  [world, bad] = await Promise.all([startWorld(), startBadServer()]);
  casesRoot = join(world.home, "cases");
  mkdirSync(casesRoot);
});
afterAll(async () => {
  await Promise.all([world.close(), bad.close()]);
});

function materialize(caseDir: string, files: Record<string, FileContent>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = name.startsWith("$XDG_CONFIG_HOME/") ? join(caseDir, ".xdg-config", name.slice("$XDG_CONFIG_HOME/".length)) : join(caseDir, name);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof content === "string") writeFileSync(path, content);
    else if ("json" in content) writeFileSync(path, JSON.stringify(content.json));
    else if ("repeat" in content) writeFileSync(path, content.repeat.repeat(content.times));
    else mkdirSync(path, { recursive: true });
  }
}

/** Method+path of a request that changes something on the emulator. */
function isMutation(method: string, path: string): boolean {
  if (method === "GET" || method === "HEAD") return false;
  return !/\/(listkeys|listKeys|token|score)$/.test(path) && !/\/oauth2\/v2\.0\/token$/.test(path);
}

function walkFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walkFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

async function runSpawned(args: string[], env: Record<string, string | undefined>, cwd: string, stdin: string | undefined) {
  const started = Date.now();
  const r = await runCli(args, { env, cwd, timeoutMs: 10_000, ...(stdin !== undefined ? { input: stdin } : {}) });
  return { ...r, ms: Date.now() - started };
}

async function runCase(family: (typeof FAMILIES)[number], c: CorpusCase): Promise<void> {
  const target = corpus[family].target;
  const caseDir = mkdtempSync(join(casesRoot, `${family}-`));
  materialize(caseDir, { "score.py": SCORE_PY, "src/score.py": SCORE_PY, ...(c.files ?? {}) });
  const cacheDir = join(caseDir, ".cache");
  const env: Record<string, string | undefined> = {
    ...world.env,
    XDG_CONFIG_HOME: join(caseDir, ".xdg-config"),
    AMLAUTH_CACHE_DIR: cacheDir,
  };
  let args = c.args;
  if (target === "bad-server") {
    bad.reset();
    // "{{url}}" in a reply stands for the server's own address (its port is chosen at start).
    if (c.reply) bad.override(c.reply.route, JSON.parse(JSON.stringify(c.reply).replaceAll("{{url}}", bad.url)) as BadReply);
    Object.assign(env, { AMLAUTH_EMULATOR: undefined, AMLAUTH_ACCESS_TOKEN: STATIC_TOKEN, AMLAUTH_RETRIES: "0" });
    args = ["--arm-endpoint", bad.url, "--ca-file", bad.caFile, "--subscription", SUB, "-g", RG, "-w", WS, ...c.args];
  }
  // "{{emulatorUrl}}" / "{{emulatorCa}}" let a case reach the emulator as a plain Azure endpoint.
  for (const [k, v] of Object.entries(c.env ?? {})) {
    env[k] = v.replaceAll("{{emulatorUrl}}", world.emulator.url).replaceAll("{{emulatorCa}}", world.emulator.caFile);
  }
  const since = target === "emulator" ? await lastSeq(world) : 0;

  const r = c.spawn ? await runSpawned(args, env, caseDir, c.stdin) : await runInProcess(world, args, { env, cwd: caseDir, ...(c.stdin !== undefined ? { input: c.stdin } : {}), timeoutMs: 20_000 });
  const label = `${c.name}\n  stderr: ${r.stderr.slice(0, 800)}`;

  expect(r.code, label).toBe(c.code);
  expect(r.ms, label).toBeLessThan(c.maxMs ?? DEFAULT_MAX_MS);
  if (c.code !== 0) {
    if (c.oneLine === false) {
      expect(STACK_FRAME.test(r.stderr), label).toBe(false);
      expect(r.stderr, label).toMatch(/Usage: amlauth/);
    } else {
      expect(failureProblems(r, c.code), label).toEqual([]);
      expect(r.stderr.trim().length, label).toBeLessThanOrEqual(MAX_LINE);
    }
  } else {
    expect(STACK_FRAME.test(r.stderr), label).toBe(false);
    if (c.stdout) expect(r.stdout, label).toMatch(new RegExp(c.stdout));
  }
  if (c.stderr) expect(r.stderr, label).toMatch(new RegExp(c.stderr, "i"));
  expect(JWT.test(r.stderr), `${label}\n  a JWT on stderr`).toBe(false);
  for (const secret of c.secrets ?? []) expect(r.stderr.includes(secret), `${label}\n  planted secret echoed`).toBe(false);

  // No partial change.
  const allowedRequests = c.requests === undefined ? (c.code === 2 ? 0 : null) : c.requests;
  if (target === "emulator") {
    const { requests } = await requestsSince(world, since);
    if (allowedRequests !== null) expect(requests.map((q) => `${q.method} ${q.path}`), label).toHaveLength(allowedRequests);
    expect(requests.filter((q) => isMutation(q.method, q.path)).length, label).toBeLessThanOrEqual(c.mutations ?? 0);
  } else {
    if (allowedRequests !== null) expect(bad.seen, label).toHaveLength(allowedRequests);
    if (c.reply) expect(bad.seen.some((s) => s.route === c.reply!.route), `${label}\n  the bad reply was never requested`).toBe(true);
    expect(bad.seen.filter((s) => s.route !== "unknown" && MUTATING_ROUTES.has(s.route)).length, label).toBeLessThanOrEqual(c.mutations ?? 0);
  }
  if (c.code === 2 && allowedRequests === 0) expect(walkFiles(cacheDir), `${label}\n  a usage error wrote to the cache`).toEqual([]);
}

describe(`bad-input corpus: ${total} cases (${FAMILIES.map((f) => `${f} ${corpus[f].cases.length}`).join(", ")})`, () => {
  it("holds at least 200 cases with unique names", () => {
    expect(total).toBeGreaterThanOrEqual(200);
    for (const f of FAMILIES) {
      const names = corpus[f].cases.map((c) => c.name);
      expect(new Set(names).size, f).toBe(names.length);
    }
  });
  for (const family of FAMILIES) {
    describe(`${family} (${corpus[family].cases.length}): ${corpus[family].description}`, () => {
      const cases = corpus[family].cases;
      const good = cases.filter((c) => c.knownBug === undefined);
      const known = cases.filter((c) => c.knownBug !== undefined);
      it.each(good.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
        await runCase(family, c);
      });
      if (known.length > 0) {
        it.fails.each(known.map((c) => [c.name, c.knownBug, c] as const))("KNOWN BUG %s (%s)", async (_name, _bug, c) => {
          await runCase(family, c);
        });
      }
    });
  }
});
