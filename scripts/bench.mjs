#!/usr/bin/env node
// `npm run bench` (issue 6): start-up and round-trip times of the built CLI against `node -e 0`,
// and the emulator's scoring throughput against a bare Node HTTPS server. It is a report: the
// exit code is 0 even when a target fails, and 1 only when the benchmark itself broke.
//
// Every CLI run gets the same throwaway HOME/XDG tree and an environment built from scratch, so a
// real user's config, cache or AMLAUTH_* variables never change a number. That also drops
// NODE_EXTRA_CA_CERTS and NODE_OPTIONS: on Node 20 NODE_EXTRA_CA_CERTS makes every node process
// parse the whole CA store at start-up (about +30 ms here, for `node -e 0` too), which would pull
// every ratio towards 1. `--keep-env NODE_EXTRA_CA_CERTS` measures with it.
// Keys and tokens the benchmark handles stay in memory: never printed, logged or put in argv.
//
// Options: --runs N (timed rounds, default 30), --warmup N (3), --load-seconds S (5),
// --load-rounds N (2), --connections N (10), --only startup|throughput, --keep-env NAME
// (repeatable: pass that variable through to every measured process), --quick (a smoke run).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, request as httpsRequest } from "node:https";
import { cpus, tmpdir, totalmem, loadavg, release } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
// What `amlauth` runs once installed: the package's own bin entry.
const BIN = join(ROOT, typeof PACKAGE.bin === "string" ? PACKAGE.bin : PACKAGE.bin.amlauth);
const RESULTS_DIR = join(ROOT, "bench-results");

// ---------------------------------------------------------------------------------------------
// options

function parseOptions(argv) {
  const opts = { runs: 30, warmup: 3, loadSeconds: 5, loadRounds: 2, connections: 10, only: null, keepEnv: [] };
  const numeric = { "--runs": "runs", "--warmup": "warmup", "--load-seconds": "loadSeconds", "--load-rounds": "loadRounds", "--connections": "connections" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") {
      Object.assign(opts, { runs: 5, warmup: 1, loadSeconds: 1, loadRounds: 1 });
    } else if (arg === "--only") {
      opts.only = argv[++i];
      if (opts.only !== "startup" && opts.only !== "throughput") fail("--only takes startup or throughput");
    } else if (arg === "--keep-env") {
      const name = argv[++i];
      if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail("--keep-env needs a variable name");
      opts.keepEnv.push(name);
    } else if (arg in numeric) {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < (arg === "--warmup" ? 0 : 1)) fail(`${arg} needs a positive whole number`);
      opts[numeric[arg]] = value;
    } else {
      fail(`unknown option ${arg} (known: --runs, --warmup, --load-seconds, --load-rounds, --connections, --only, --keep-env, --quick)`);
    }
  }
  // A load run longer than this would push the whole benchmark past its 3-minute budget.
  if (opts.loadSeconds > 30) fail("--load-seconds is at most 30");
  return opts;
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** The benchmark itself broke (not a slow result): exit 1 with this message. */
class BenchError extends Error {}

// ---------------------------------------------------------------------------------------------
// statistics

function quantile(samples, q) {
  // Nearest-rank: a value that was actually measured, no interpolation.
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}
const median = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (n, digits = 1) => (n === null || n === undefined ? null : Number(n.toFixed(digits)));
const summary = (samples) => ({ median: round(median(samples), 2), p90: round(quantile(samples, 0.9), 2), min: round(Math.min(...samples), 2), n: samples.length });

// ---------------------------------------------------------------------------------------------
// the run

async function runBenchmark(opts) {
  const startedAt = new Date();
  const workDir = mkdtempSync(join(tmpdir(), "amlauth-bench-"));
  const home = join(workDir, "home");
  const dataDir = join(workDir, "emulator");
  const cacheHome = join(home, ".cache");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    XDG_CACHE_HOME: cacheHome,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    AMLAUTH_EMULATOR_DIR: dataDir,
    NO_COLOR: "1",
    TZ: "UTC",
    LANG: "C.UTF-8",
  };
  for (const name of opts.keepEnv) if (process.env[name] !== undefined) env[name] = process.env[name];
  const cleanups = [() => rmSync(workDir, { recursive: true, force: true })];
  const cleanUp = () => {
    while (cleanups.length > 0) {
      try {
        cleanups.pop()();
      } catch (err) {
        process.stderr.write(`bench: cleanup step failed: ${err.message}\n`);
      }
    }
  };
  const onSignal = (signal) => {
    process.stderr.write(`bench: ${signal}, stopping the emulator and cleaning up\n`);
    cleanUp();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    log(`amlauth bench: node ${process.version}, ${cpus().length} cpu(s); ${opts.runs} timed rounds after ${opts.warmup} warm-up, ${opts.loadRounds}× ${opts.loadSeconds} s loads`);
    log(`environment of measured processes: clean${opts.keepEnv.length > 0 ? ` + ${opts.keepEnv.join(", ")}` : ""}`);
    if (!existsSync(join(ROOT, "dist", "cli.js"))) throw new BenchError("dist/cli.js is missing: run `npm run build` (or `npm run bench`, which builds first)");

    const emulator = startEmulator(dataDir, env, home, cleanups);
    log(`emulator: separate process pid ${emulator.pid} at ${emulator.url}`);
    const cli = (args) => runOnce(process.execPath, [BIN, ...args], env, home);

    // Warm every cache once (discovery, kind resolution, control token, the AKS service token) and
    // check that each command does what it should, so a broken command cannot pass as a fast one.
    expectOutput(cli(["--version"]), (out) => out.trim() === PACKAGE.version, "--version prints the package version");
    expectOutput(cli(["--help"]), (out) => out.startsWith("Usage: amlauth"), "--help prints usage");
    expectOutput(cli(["--emulator", "keys", "list", "demo-aci"]), (out) => /^primary\t\S{8,}\nsecondary\t\S{8,}\n?$/.test(out), "keys list prints two keys");
    expectOutput(cli(["--emulator", "token", "get", "demo-aks"]), (out) => /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n?$/.test(out), "token get prints a JWT");
    const cacheDir = join(cacheHome, "amlauth");
    const controlTokenFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.startsWith("control-") && f.endsWith(".json")) : []);
    const otherCacheFiles = () => readdirSync(cacheDir).filter((f) => !f.startsWith("control-")).sort();
    if (controlTokenFiles().length === 0) throw new BenchError(`no control-*.json in ${cacheDir} after a keys list: the cold-credential row would not be cold`);
    const warmCacheEntries = otherCacheFiles();

    // Each timed command; `prepare` runs untimed before every run of it.
    const commands = [
      { id: "version", label: "amlauth --version", args: ["--version"] },
      { id: "help", label: "amlauth --help", args: ["--help"] },
      { id: "keys-warm", label: "keys list demo-aci (cached token)", args: ["--emulator", "keys", "list", "demo-aci"] },
      {
        id: "keys-cold",
        label: "keys list demo-aci (cold credential)",
        args: ["--emulator", "keys", "list", "demo-aci"],
        // Only the control-plane token goes: discovery and v1/v2 resolution stay cached, so the run
        // pays for exactly one sign-in against the emulator's Entra endpoint.
        prepare: () => {
          for (const f of controlTokenFiles()) unlinkSync(join(cacheDir, f));
        },
        // Proves it really signed in: a fresh control token was stored.
        verify: () => {
          if (controlTokenFiles().length === 0) throw new BenchError("a cold keys list stored no control token: did it sign in?");
        },
      },
      { id: "token-hit", label: "token get demo-aks (cache hit)", args: ["--emulator", "token", "get", "demo-aks"] },
    ].map((c) => ({ ...c, file: process.execPath, argv: [BIN, ...c.args] }));

    // Floors (reported, no target): what any ESM entry costs, and what node plus the one
    // loopback HTTPS call that `keys list` makes costs without amlauth around it.
    const emptyModule = join(workDir, "empty.mjs");
    writeFileSync(emptyModule, "");
    const floorScript = join(workDir, "https-floor.mjs");
    writeFileSync(floorScript, HTTPS_FLOOR_SCRIPT);
    const { EMULATOR_STATIC_TOKEN } = await import("../dist/emulator-entry.js");
    const listKeysUrl = `${emulator.url}/modelmanagement/v1.0/subscriptions/${emulator.subscriptionId}/resourceGroups/${emulator.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${emulator.workspace}/services/demo-aci/listkeys`;
    // The static bearer is the emulator's documented, public one; it goes by env, not argv.
    const floorEnv = { ...env, BENCH_URL: listKeysUrl, BENCH_CA_FILE: emulator.caFile, BENCH_BEARER: EMULATOR_STATIC_TOKEN };
    expectOutput(runOnce(process.execPath, [floorScript], floorEnv, home), (out) => out === "ok\n", "the HTTPS floor script gets keys from the emulator");
    commands.push(
      { id: "floor-esm", label: "floor: node empty.mjs", file: process.execPath, argv: [emptyModule] },
      { id: "floor-https", label: "floor: node + 1 HTTPS POST", file: process.execPath, argv: [floorScript], env: floorEnv },
    );

    const az = findOnPath("az", env.PATH);
    let azNote = "az is not installed here: row skipped";
    if (az) {
      // az gets the emulator's documented static bearer (not a secret) so neither side signs in,
      // its own config dir, and the emulator CA through REQUESTS_CA_BUNDLE.
      const azEnv = { ...env, AZURE_CONFIG_DIR: join(home, ".azure"), AZURE_CORE_COLLECT_TELEMETRY: "no", REQUESTS_CA_BUNDLE: emulator.caFile };
      const azArgs = ["rest", "--method", "post", "--url", listKeysUrl, "--skip-authorization-header", "--headers", `Authorization=Bearer ${EMULATOR_STATIC_TOKEN}`];
      const probe = runOnce(az, azArgs, azEnv, home, { allowFailure: true });
      if (probe.status === 0 && probe.stdout.includes("primaryKey")) {
        commands.push({ id: "az-rest", label: "az rest POST …/listkeys", file: az, argv: azArgs, env: azEnv });
        azNote = "";
      } else {
        azNote = `az is installed but \`az rest\` against the emulator failed (exit ${probe.status}): row skipped`;
      }
    }

    let timings = null;
    if (opts.only !== "throughput") {
      log(`start-up: ${commands.length} commands × ${opts.runs} runs, each paired with a \`node -e 0\` run`);
      timings = measureStartup(commands, env, home, opts);
      if (controlTokenFiles().length === 0) throw new BenchError("the control token is gone after the runs");
      const afterEntries = otherCacheFiles();
      if (warmCacheEntries.some((f) => !afterEntries.includes(f))) throw new BenchError("discovery/kind cache entries vanished during the runs");
    }

    let throughput = null;
    if (opts.only !== "startup") {
      log(`throughput: emulator scoring vs bare Node HTTPS, ${opts.loadRounds} round(s) × ${opts.loadSeconds} s per side, ${opts.connections} connections`);
      throughput = await measureThroughput(emulator, cli, dataDir, cleanups, opts);
    }

    const rows = buildRows(timings, throughput, azNote);
    const finishedAt = new Date();
    const report = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: round((finishedAt - startedAt) / 1000, 1),
      machine: machineInfo(),
      git: gitInfo(),
      settings: {
        ...opts,
        pipelining: 1,
        startupPairing: "each command run next to a node -e 0 run; the pair order alternates",
        environment: `clean: PATH, HOME, XDG_*, AMLAUTH_EMULATOR_DIR, NO_COLOR, TZ, LANG${opts.keepEnv.length > 0 ? `, kept: ${opts.keepEnv.join(", ")}` : ""}`,
        bin: PACKAGE.bin,
      },
      runs: { startupRoundsPerCommand: opts.runs, warmupRounds: opts.warmup, loadRoundsPerSide: opts.loadRounds, loadSecondsPerRun: opts.loadSeconds },
      emulator: { process: "separate (amlauth emulator start --detach)", pid: emulator.pid },
      rows,
      samples: { startup: timings, throughput: throughput?.samples ?? null },
    };
    printTable(rows);
    writeResults(report);
    const failed = rows.filter((r) => r.status === "FAIL");
    log(`\ntargets: ${rows.filter((r) => r.status === "PASS").length} met, ${failed.length} missed, ${rows.filter((r) => r.status === "SKIP").length} skipped (a report: the exit code stays 0)`);
    for (const r of failed) log(`  FAIL ${r.label}: ${r.ratio}× against ${r.target}`);
    log(`total ${report.durationSeconds} s; results in bench-results/latest.json`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: the benchmark broke: ${err instanceof BenchError ? err.message : (err?.stack ?? String(err))}\n`);
    return 1;
  } finally {
    cleanUp();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function log(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// child processes

/** Runs a command to completion; returns its wall time in ms (spawn to exit) and its output. */
function runOnce(file, argv, env, cwd, { allowFailure = false } = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", timeout: 60_000, maxBuffer: 8 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!allowFailure && (r.error || r.status !== 0)) {
    // stdout may hold keys or tokens: only stderr (which amlauth keeps secret-free) is shown.
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new BenchError(`\`${describe(file, argv)}\` failed (${why}): ${(r.stderr ?? "").trim().slice(0, 600)}`);
  }
  return { ms, status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function describe(file, argv) {
  const shown = file === process.execPath ? ["node", ...argv.map((a) => (a === BIN ? "bin/amlauth.cjs" : a))] : [file, ...argv];
  // az's argv carries the emulator's static bearer: not a secret, but no need to print it either.
  return shown.map((a) => (/^Authorization=/i.test(a) ? "Authorization=…" : a)).join(" ");
}

function expectOutput(result, check, what) {
  if (!check(result.stdout)) throw new BenchError(`sanity check failed: ${what} (got ${result.stdout.length} bytes of unexpected output; stderr: ${result.stderr.trim().slice(0, 300)})`);
}

function findOnPath(name, pathValue) {
  for (const dir of (pathValue ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

function startEmulator(dataDir, env, cwd, cleanups) {
  // A separate process, the way a user runs it, so its event loop never competes with this
  // script's. --port 0 avoids clashing with an emulator already on the default port.
  const start = runOnce(process.execPath, [BIN, "emulator", "start", "--detach", "--data-dir", dataDir, "--port", "0", "--deploy-delay-ms", "0"], env, cwd);
  const connectionFile = join(dataDir, "connection.json");
  if (!existsSync(connectionFile)) throw new BenchError(`the emulator started but wrote no connection.json (${start.stdout.trim()})`);
  const connection = JSON.parse(readFileSync(connectionFile, "utf8"));
  cleanups.push(() => {
    const stop = runOnce(process.execPath, [BIN, "emulator", "stop", "--data-dir", dataDir], env, cwd, { allowFailure: true });
    if (stop.status !== 0 && connection.pid > 0) {
      // Only the process this script started, by its id.
      try {
        process.kill(connection.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
  });
  return {
    url: connection.url,
    caFile: connection.caFile,
    pid: connection.pid,
    subscriptionId: connection.subscriptionId,
    resourceGroup: connection.resourceGroup,
    workspace: connection.workspace,
  };
}

// ---------------------------------------------------------------------------------------------
// start-up times

const BASELINE = { id: "baseline", label: "node -e 0", file: process.execPath, argv: ["-e", "0"] };

/**
 * The network floor: one POST to the emulator's listkeys, trusting its CA the way Node clients do
 * (`ca` on the request), and nothing else. Exits 1 unless the keys came back.
 */
const HTTPS_FLOOR_SCRIPT = `import { request } from "node:https";
import { readFileSync } from "node:fs";
const ca = readFileSync(process.env.BENCH_CA_FILE, "utf8");
const req = request(process.env.BENCH_URL, { method: "POST", ca, headers: { authorization: "Bearer " + process.env.BENCH_BEARER, "content-length": "0" } }, (res) => {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (d) => (text += d));
  res.on("end", () => {
    if (res.statusCode !== 200 || !JSON.parse(text).primaryKey) process.exit(1);
    process.stdout.write("ok\\n");
  });
});
req.on("error", () => process.exit(1));
req.end();
`;

/**
 * Round-robin over the commands; every command run sits next to its own `node -e 0` run and the
 * order inside the pair alternates, so drift and noise hit a command and its baseline alike.
 */
function measureStartup(commands, env, cwd, opts) {
  const samples = Object.fromEntries(commands.map((c) => [c.id, { command: [], baseline: [] }]));
  const runTimed = (cmd) => {
    cmd.prepare?.();
    const r = runOnce(cmd.file, cmd.argv, cmd.env ?? env, cwd);
    cmd.verify?.();
    return r.ms;
  };
  const total = opts.warmup + opts.runs;
  for (let roundNo = 0; roundNo < total; roundNo++) {
    const timed = roundNo >= opts.warmup;
    // Rotate the command order so no command always follows the same one.
    const order = commands.map((_, i) => commands[(i + roundNo) % commands.length]);
    order.forEach((cmd, i) => {
      const baselineFirst = (roundNo + i) % 2 === 0;
      const first = runTimed(baselineFirst ? BASELINE : cmd);
      const second = runTimed(baselineFirst ? cmd : BASELINE);
      if (!timed) return;
      samples[cmd.id].command.push(round(baselineFirst ? second : first, 3));
      samples[cmd.id].baseline.push(round(baselineFirst ? first : second, 3));
    });
    if (timed && (roundNo - opts.warmup + 1) % 10 === 0) log(`  ${roundNo - opts.warmup + 1}/${opts.runs} rounds`);
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// throughput

async function measureThroughput(emulator, cli, dataDir, cleanups, opts) {
  const { default: autocannon } = await import("autocannon").catch(() => {
    throw new BenchError("autocannon is not installed: run `npm install` (it is a devDependency)");
  });
  const ca = readFileSync(emulator.caFile, "utf8");
  const key = JSON.parse(cli(["--emulator", "keys", "list", "demo-aci", "-o", "json"]).stdout).primaryKey;
  const token = cli(["--emulator", "token", "get", "demo-aks", "-o", "raw"]).stdout.trim();
  const aciUri = JSON.parse(cli(["--emulator", "auth", "show", "demo-aci", "-o", "json"]).stdout).scoringUri;
  const aksUri = JSON.parse(cli(["--emulator", "auth", "show", "demo-aks", "-o", "json"]).stdout).scoringUri;
  if (typeof key !== "string" || typeof aciUri !== "string" || typeof aksUri !== "string" || !token) throw new BenchError("could not read demo-aci's key, demo-aks's token or their scoring URIs");
  const requestBody = JSON.stringify({ data: [[1, 2, 3, 4], [5, 6, 7, 8]] });
  const cases = [
    { id: "score-key", label: "scoring, key auth (demo-aci)", uri: aciUri, headers: { authorization: `Bearer ${key}` } },
    { id: "score-token", label: "scoring, token auth (demo-aks)", uri: aksUri, headers: { authorization: `Bearer ${token}` } },
  ];

  // Preflight with full TLS verification against the emulator CA: each case answers 200, and
  // refuses a wrong credential, so the load below measures an endpoint that really checks auth.
  const answers = {};
  for (const c of cases) {
    const ok = await httpsPost(c.uri, ca, c.headers, requestBody);
    if (ok.status !== 200) throw new BenchError(`${c.label}: the emulator answered ${ok.status}, expected 200`);
    const denied = await httpsPost(c.uri, ca, { authorization: "Bearer not-the-right-credential" }, requestBody);
    if (denied.status !== 401) throw new BenchError(`${c.label}: a wrong credential got ${denied.status}, expected 401`);
    answers[new URL(c.uri).pathname] = { status: ok.status, headers: replayableHeaders(ok.headers), body: ok.body };
  }

  const bare = await startBareServer(dataDir, answers, cleanups);
  for (const c of cases) {
    c.bareUri = `https://127.0.0.1:${bare.port}${new URL(c.uri).pathname}`;
    const r = await httpsPost(c.bareUri, ca, c.headers, requestBody);
    if (r.status !== 200 || r.body !== answers[new URL(c.uri).pathname].body) throw new BenchError("the bare server did not answer the emulator's body");
  }

  // The emulator is the separate process started above (as users run it): in-process it would
  // share one event loop with autocannon, and we would measure the two together. The bare server
  // is a separate single process too, so both sides get the same process count and the same
  // spare core, with the load generator (this process) on the other.
  const load = async (url, headers, seconds, serverPid) => {
    const cpuBefore = processCpuSeconds(serverPid);
    const result = await autocannon({
      url,
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: requestBody,
      connections: opts.connections,
      pipelining: 1,
      duration: seconds,
      // autocannon turns certificate checks off for its own connections; the preflight above
      // verified the chain against the emulator CA, and both sides serve the same certificate.
      tlsOptions: { ca },
    });
    const cpuAfter = processCpuSeconds(serverPid);
    const ok = result["2xx"];
    if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0 || ok === 0) {
      throw new BenchError(`load on ${new URL(url).pathname}: ${ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
    }
    const reqPerSec = ok / result.duration;
    const serverCpuMicrosPerRequest = cpuBefore !== null && cpuAfter !== null ? ((cpuAfter - cpuBefore) * 1e6) / ok : null;
    // (autocannon's latencies have 1 ms resolution, too coarse for sub-millisecond loopback calls.)
    return { reqPerSec: round(reqPerSec, 1), requests: ok, seconds: round(result.duration, 2), serverCpuMicrosPerRequest: round(serverCpuMicrosPerRequest, 1) };
  };

  // Warm-up: JIT and TLS session state on both servers before anything is kept.
  for (const c of cases) {
    await load(c.bareUri, c.headers, 1, bare.pid);
    await load(c.uri, c.headers, 1, emulator.pid);
  }
  const samples = Object.fromEntries(cases.map((c) => [c.id, { emulator: [], bare: [] }]));
  for (let roundNo = 0; roundNo < opts.loadRounds; roundNo++) {
    for (const [i, c] of cases.entries()) {
      const bareFirst = (roundNo + i) % 2 === 0;
      for (const side of bareFirst ? ["bare", "emulator"] : ["emulator", "bare"]) {
        const r = side === "bare" ? await load(c.bareUri, c.headers, opts.loadSeconds, bare.pid) : await load(c.uri, c.headers, opts.loadSeconds, emulator.pid);
        samples[c.id][side].push(r);
        log(`  ${c.id} ${side.padEnd(8)} ${String(Math.round(r.reqPerSec)).padStart(6)} req/s  server ${r.serverCpuMicrosPerRequest ?? "?"} µs CPU/req`);
      }
    }
  }
  return { cases, samples };
}

/** Headers the bare server repeats so both sides send the same response, minus per-connection ones. */
function replayableHeaders(headers) {
  const skip = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"]);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !skip.has(name)));
}

function httpsPost(url, ca, headers, body) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: "POST", ca, agent: false, timeout: 10_000, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new BenchError(`POST ${new URL(url).pathname} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** utime+stime of a Linux process in seconds, or null where /proc is not available. */
function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
  } catch {
    return null;
  }
}

let ticks = null;
function clockTicksPerSecond() {
  if (ticks === null) {
    const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    ticks = Number(r.stdout?.trim()) || 100;
  }
  return ticks;
}

function startBareServer(dataDir, answers, cleanups) {
  return new Promise((resolve, reject) => {
    // Same node binary, same certificate and key files, its own process (like the emulator).
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--bare-server"], {
      env: { PATH: process.env.PATH ?? "", BENCH_TLS_DIR: dataDir, BENCH_ANSWERS: JSON.stringify(answers) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    cleanups.push(() => child.kill("SIGTERM"));
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: child.pid });
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new BenchError(`the bare server exited early (code ${code})`)));
  });
}

/**
 * The comparison server: Node's https module with the emulator's own certificate and TLS settings,
 * reading each request body and answering the fixed response the emulator gave for that path.
 */
function runBareServer() {
  const dir = process.env.BENCH_TLS_DIR;
  const answers = JSON.parse(process.env.BENCH_ANSWERS ?? "{}");
  const prepared = new Map(Object.entries(answers).map(([path, a]) => [path, { status: a.status, headers: { ...a.headers, "content-length": String(Buffer.byteLength(a.body)) }, body: Buffer.from(a.body) }]));
  const notFound = { status: 404, headers: { "content-length": "0" }, body: Buffer.alloc(0) };
  const server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")), minVersion: "TLSv1.2" }, (req, res) => {
    req.on("data", () => undefined);
    req.on("end", () => {
      const answer = prepared.get(req.url.split("?")[0]) ?? notFound;
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
  });
  server.keepAliveTimeout = 5_000; // as the emulator
  server.on("tlsClientError", () => undefined);
  server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
  // Never outlive the benchmark: its end of our stdin closes when it exits, however it exits.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// rows, table, files

function buildRows(timings, throughput, azNote) {
  const rows = [];
  if (timings) rows.push(...startupRows(timings, azNote));
  if (throughput) rows.push(...throughputRows(throughput));
  return rows;
}

function startupRows(timings, azNote) {
  const rows = [];
  const startupRow = (id, label, maxRatio) => {
    const s = timings[id];
    const cmd = summary(s.command);
    const base = summary(s.baseline);
    const ratio = cmd.median / base.median;
    rows.push({
      id,
      label,
      unit: "ms",
      median: cmd.median,
      p90: cmd.p90,
      baselineLabel: "node -e 0",
      baselineMedian: base.median,
      baselineP90: base.p90,
      ratio: round(ratio, 2),
      target: `≤ ${maxRatio}×`,
      status: ratio <= maxRatio ? "PASS" : "FAIL",
      runs: cmd.n,
    });
  };
  startupRow("version", "amlauth --version", 1.15);
  startupRow("help", "amlauth --help", 1.15);
  startupRow("keys-warm", "keys list demo-aci (cached token)", 1.5);
  if (timings["az-rest"]) {
    const ours = summary(timings["keys-warm"].command);
    const az = summary(timings["az-rest"].command);
    const ratio = ours.median / az.median;
    rows.push({ id: "keys-warm-vs-az", label: "keys list vs az rest", unit: "ms", median: ours.median, p90: ours.p90, baselineLabel: "az rest", baselineMedian: az.median, baselineP90: az.p90, ratio: round(ratio, 2), target: "≤ 0.35×", status: ratio <= 0.35 ? "PASS" : "FAIL", runs: az.n });
  } else {
    rows.push({ id: "keys-warm-vs-az", label: "keys list vs az rest", unit: "ms", median: null, p90: null, baselineLabel: "az rest", baselineMedian: null, baselineP90: null, ratio: null, target: "≤ 0.35×", status: "SKIP", note: azNote, runs: 0 });
  }
  startupRow("keys-cold", "keys list demo-aci (cold credential)", 2.5);
  startupRow("token-hit", "token get demo-aks (cache hit)", 1.3);
  for (const [id, label] of [["floor-esm", "floor: node empty.mjs (ESM entry)"], ["floor-https", "floor: node + 1 HTTPS POST, no amlauth"]]) {
    const cmd = summary(timings[id].command);
    const base = summary(timings[id].baseline);
    rows.push({ id, label, unit: "ms", median: cmd.median, p90: cmd.p90, baselineLabel: "node -e 0", baselineMedian: base.median, baselineP90: base.p90, ratio: round(cmd.median / base.median, 2), target: "—", status: "INFO", runs: cmd.n });
  }
  return rows;
}

function throughputRows(throughput) {
  const rows = [];
  const minRatios = { "score-key": 0.8, "score-token": 0.7 };
  for (const c of throughput.cases) {
    const s = throughput.samples[c.id];
    const emu = s.emulator.map((r) => r.reqPerSec);
    const bare = s.bare.map((r) => r.reqPerSec);
    const ratio = median(emu) / median(bare);
    const cpu = (runs) => {
      const values = runs.map((r) => r.serverCpuMicrosPerRequest).filter((v) => v !== null);
      return values.length > 0 ? round(median(values), 1) : null;
    };
    rows.push({
      id: c.id,
      label: c.label,
      unit: "req/s",
      median: round(median(emu), 0),
      p90: null,
      baselineLabel: "bare node https",
      baselineMedian: round(median(bare), 0),
      baselineP90: null,
      ratio: round(ratio, 2),
      target: `≥ ${minRatios[c.id]}×`,
      status: ratio >= minRatios[c.id] ? "PASS" : "FAIL",
      runs: emu.length,
      // Less sensitive to machine load than req/s: how much CPU each server spends per request.
      serverCpuMicrosPerRequest: { emulator: cpu(s.emulator), bare: cpu(s.bare) },
      cpuEfficiencyRatio: cpu(s.emulator) && cpu(s.bare) ? round(cpu(s.bare) / cpu(s.emulator), 2) : null,
    });
  }
  return rows;
}

function printTable(rows) {
  const header = ["row", "median", "p90", "baseline", "base p90", "ratio", "target", "result"];
  const fmt = (v, unit) => (v === null || v === undefined ? "—" : unit === "ms" ? `${v.toFixed(1)} ms` : `${Math.round(v)} req/s`);
  const lines = rows.map((r) => [
    r.label,
    fmt(r.median, r.unit),
    fmt(r.p90, r.unit),
    r.baselineMedian === null ? r.baselineLabel : `${fmt(r.baselineMedian, r.unit)} (${r.baselineLabel})`,
    fmt(r.baselineP90, r.unit),
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.status,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  log("");
  log(render(header));
  log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) log(render(l));
  for (const r of rows) if (r.note) log(`note: ${r.label}: ${r.note}`);
  for (const r of rows) {
    if (r.serverCpuMicrosPerRequest) {
      const efficiency = r.cpuEfficiencyRatio === null ? "" : ` (CPU-efficiency ratio ${r.cpuEfficiencyRatio.toFixed(2)}×)`;
      log(`note: ${r.label}: server CPU per request ${r.serverCpuMicrosPerRequest.emulator ?? "?"} µs (emulator) vs ${r.serverCpuMicrosPerRequest.bare ?? "?"} µs (bare)${efficiency}`);
    }
  }
}

function writeResults(report) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, "latest.json"), text);
  writeFileSync(join(RESULTS_DIR, `${report.startedAt.replace(/[:.]/g, "-")}.json`), text);
}

function machineInfo() {
  const list = cpus();
  return { node: process.version, platform: process.platform, arch: process.arch, osRelease: release(), cpus: list.length, cpuModel: list[0]?.model ?? "unknown", totalMemoryGiB: round(totalmem() / 2 ** 30, 1), loadAverageAtEnd: loadavg().map((n) => round(n, 2)) };
}

function gitInfo() {
  const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (rev.status !== 0) return null;
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" });
  return { commit: rev.stdout.trim(), dirty: dirty.status === 0 ? dirty.stdout.trim().length > 0 : null };
}

// ---------------------------------------------------------------------------------------------
// entry (last, so every declaration above is initialised)

if (process.argv[2] === "--bare-server") {
  runBareServer();
} else {
  const code = await runBenchmark(parseOptions(process.argv.slice(2)));
  process.exit(code);
}
