// Entry of the emulator bundle (dist/emulator-entry.js). The CLI loads it lazily:
//   const { startEmulator } = await import("../emulator/index.js");
// Tests call startEmulator({ port: 0, dataDir, deployDelayMs: 0 }) and get { url, caFile, close() }.
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionInfo, EmulatorOptions, RunningEmulator } from "./types.js";
import { ensureTlsMaterial } from "./certs.js";
import { createRouteDeps } from "./deps.js";
import type { EmulatorRoute, ResolvedEmulatorOptions } from "./deps.js";
import { FaultRegistry } from "./faults.js";
import { JwtVerifier, loadOrCreateSigningKey } from "./jwt.js";
import { EmulatorServer } from "./server.js";
import type { RequestLogEntry } from "./server.js";
import { FileStore, MemoryStore, seededState } from "./store.js";
import type { EmulatorStore } from "./store.js";
import { removeConnectionFile, writeConnectionFile } from "./connection.js";
import { adminRoutes } from "./routes/admin.js";
import { armRoutes } from "./routes/arm.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { discoveryRoutes } from "./routes/discovery.js";
import { entraRoutes } from "./routes/entra.js";
import { mmsRoutes } from "./routes/mms.js";
import { scoringRoutes } from "./routes/scoring.js";
import { v2Routes } from "./routes/v2.js";
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_RESOURCE_GROUP,
  EMULATOR_SUBSCRIPTION_ID,
  EMULATOR_TENANT_ID,
  EMULATOR_WORKSPACE,
} from "./world.js";

export * from "./world.js";
export type { ConnectionInfo, EmulatorOptions, RunningEmulator } from "./types.js";
export {
  CONNECTION_FILE,
  DEFAULT_EMULATOR_PORT,
  EMULATOR_DIR_ENV,
  defaultEmulatorDataDir,
  readConnectionFile,
  resolveEmulatorDataDir,
} from "./connection.js";
export { wipeStoredState, STATE_FILE } from "./store.js";
export { FAULTS_FILE } from "./faults.js";

/** Options tests and the CLI may add on top of the EmulatorOptions contract. */
export interface EmulatorStartOptions extends EmulatorOptions {
  /** Clock (epoch ms) for token times and operations; default Date.now. */
  now?: () => number;
  /** Process id written to connection.json (the CLI passes ctx.pid); default 0 = in-process. */
  pid?: number;
  /** Use a free port when `port` is taken (the CLI's default port). */
  portFallback?: boolean;
  /** Lifetime of Entra access tokens, seconds (default 3600). */
  entraTokenLifetimeSeconds?: number;
  /** Slow-client limits (defaults 10 s headers, 30 s whole request). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface StartedEmulator extends RunningEmulator {
  /** Where certs, keys and (unless in-memory) state live. */
  dataDir: string;
  inMemory: boolean;
  /** What connection.json holds (also when it was not written). */
  connection: ConnectionInfo;
  /** The request log with sequence numbers and timings. */
  requestLog(since?: number): RequestLogEntry[];
}

function positiveInteger(value: number | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}`);
  return value;
}

export async function startEmulator(opts: EmulatorStartOptions = {}): Promise<StartedEmulator> {
  const now = opts.now ?? Date.now;
  const inMemory = opts.inMemory === true;
  if (opts.dataDir === undefined && !inMemory) throw new Error("startEmulator needs a dataDir unless inMemory is set");
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("port must be an integer from 0 to 65535");
  const tokenLifetimeSeconds = positiveInteger(opts.tokenLifetimeSeconds, 3600, "tokenLifetimeSeconds");
  const options: ResolvedEmulatorOptions = {
    deployDelayMs: positiveInteger(opts.deployDelayMs, 1500, "deployDelayMs", 0),
    tokenLifetimeSeconds,
    tokenRefreshSeconds: positiveInteger(opts.tokenRefreshSeconds, Math.max(1, Math.floor(tokenLifetimeSeconds / 2)), "tokenRefreshSeconds"),
    entraTokenLifetimeSeconds: positiveInteger(opts.entraTokenLifetimeSeconds, 3600, "entraTokenLifetimeSeconds"),
  };

  // Certificates need a directory even in memory mode: clients trust ca.pem by path.
  const tempDir = opts.dataDir === undefined ? await mkdtemp(join(tmpdir(), "amlauth-emulator-")) : null;
  const dataDir = opts.dataDir ?? tempDir!;
  const cleanups: (() => Promise<void>)[] = [];
  if (tempDir !== null) cleanups.push(() => rm(tempDir, { recursive: true, force: true }));
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const host = opts.host ?? "127.0.0.1";
    // Key generation runs on the thread pool, so the TLS and signing keys are made in parallel.
    const [tls, signer] = await Promise.all([ensureTlsMaterial(dataDir, host, now()), loadOrCreateSigningKey(opts.dataDir)]);
    const seed = () => seededState(now(), { empty: opts.empty === true });
    const store: EmulatorStore = inMemory ? new MemoryStore(seed()) : await FileStore.open(dataDir, seed);
    cleanups.unshift(() => store.close());
    const faults = new FaultRegistry();
    if (opts.dataDir !== undefined) await faults.loadFile(opts.dataDir);

    let server: EmulatorServer | null = null;
    const internals = createRouteDeps({
      store,
      signer,
      verifier: new JwtVerifier(signer, now),
      now,
      baseUrl: () => server?.getUrl() ?? "",
      options,
    });
    cleanups.unshift(async () => internals.close());
    const startedAt = new Date(now()).toISOString();
    const pid = opts.pid ?? 0;
    const routes = (deps: typeof internals.deps): EmulatorRoute[] => [
      // Scoring first: it is the hot path.
      ...scoringRoutes(deps),
      ...adminRoutes(deps, {
        faults,
        requests: (since) => server!.requests(since),
        lastSeq: () => server!.lastSeq(),
        clearRequests: () => server!.clearRequests(),
        health: () => ({ status: "ok", url: server!.getUrl(), pid, dataDir, inMemory, startedAt }),
        reset: async () => {
          if (store.kind !== "memory") return false;
          await store.reset(seed());
          return true;
        },
      }),
      ...entraRoutes(deps),
      ...discoveryRoutes(deps),
      ...armRoutes(deps),
      ...mmsRoutes(deps),
      ...artifactRoutes(deps),
      ...v2Routes(deps),
    ];
    server = new EmulatorServer({
      host,
      port,
      portFallback: opts.portFallback === true,
      tls: { key: tls.keyPem, cert: tls.certPem },
      routes,
      deps: internals.deps,
      setCaller: internals.setCaller,
      faults,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    const url = await server.start();
    const running = server;
    cleanups.unshift(() => running.close());
    internals.resumeOperations();

    const connection: ConnectionInfo = {
      url,
      caFile: tls.caFile,
      pid,
      dataDir,
      startedAt,
      subscriptionId: EMULATOR_SUBSCRIPTION_ID,
      resourceGroup: EMULATOR_RESOURCE_GROUP,
      workspace: EMULATOR_WORKSPACE,
      tenantId: EMULATOR_TENANT_ID,
      clientId: EMULATOR_CLIENT_ID,
    };
    if ((opts.writeConnectionFile ?? opts.dataDir !== undefined) && opts.dataDir !== undefined) {
      await writeConnectionFile(dataDir, connection);
      // Runs after the server stopped and the store flushed (cleanups run in order).
      cleanups.push(() => removeConnectionFile(dataDir, { url, pid }));
    }

    let closing: Promise<void> | null = null;
    return {
      url,
      caFile: tls.caFile,
      port: Number(new URL(url).port),
      dataDir,
      inMemory,
      connection,
      requests: () => running.requests(0).map(({ method, path, status }) => ({ method, path, status })),
      requestLog: (since = 0) => running.requests(since),
      close: () => (closing ??= runCleanups(cleanups)),
    };
  } catch (err) {
    await runCleanups(cleanups);
    throw err;
  }
}

async function runCleanups(cleanups: (() => Promise<void>)[]): Promise<void> {
  let first: unknown = null;
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== null) throw first;
}
