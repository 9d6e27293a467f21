// Persistence for the emulator: one JSON document (EmulatorState) plus blob contents.
//
// Concurrency model: Node runs handlers on one thread, so `update()` applies each change to a
// private copy of the state synchronously and swaps it in; two requests can never interleave
// inside a change, and a change that throws leaves the state untouched. `state` is therefore an
// immutable snapshot: handlers read it freely and never mutate it.
//
// Durability (FileStore): changes are written as state.json via temp file + fsync + rename (+ a
// directory fsync). Writes go through a single queue; changes that arrive while a write is in
// flight are coalesced into the next write. `update()` resolves only once a write containing the
// change is on disk, so a 2xx answer means the change survives a crash. A SIGKILL at any moment
// leaves either the previous or the new state.json, never a torn one; leftover temp files are
// removed at the next load.
import { randomBytes, randomUUID, createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  EMULATOR_AKS_COMPUTE,
  EMULATOR_REGION,
  EMULATOR_RESOURCE_GROUP,
  EMULATOR_SUBSCRIPTION_ID,
  EMULATOR_WORKSPACE,
  SEEDED_V1_SERVICES,
  SEEDED_V2_ENDPOINTS,
} from "./world.js";
import { TEMP_MARKER, writeFileAtomic } from "./fs-util.js";

export const STATE_FILE = "state.json";
export const BLOB_DIR = "blobs";
export const STATE_VERSION = 1;

export type V1ComputeType = "ACI" | "AKS";
export type V1ServiceState = "Transitioning" | "Healthy" | "Unhealthy" | "Failed";

export interface ServiceKeyPair {
  primaryKey: string;
  secondaryKey: string;
}

export interface V1ServiceRecord {
  name: string;
  /** Stable id of this incarnation (a re-created service gets a new one). */
  id: string;
  computeType: V1ComputeType;
  /** AKS compute target name; null for ACI. */
  computeName: string | null;
  description: string | null;
  kvTags: Record<string, string>;
  properties: Record<string, string>;
  /** Key auth. */
  authEnabled: boolean;
  /** Token auth (AKS only). */
  aadAuthEnabled: boolean;
  keys: ServiceKeyPair;
  state: V1ServiceState;
  /** False until the first deployment finished; scoring answers 503 before that. */
  ready: boolean;
  createdTime: string;
  updatedTime: string;
  location: string;
  /**
   * The remaining create-request fields as sent (containerResourceRequirements, autoScaler,
   * numReplicas, livenessProbeRequirements, ...), merged over defaults. Rendered into GET payloads.
   */
  settings: Record<string, unknown>;
  environmentImageRequest: unknown;
  modelIds: string[];
  /** Id of the last long-running operation on this service. */
  operationId: string | null;
  /** Short lifecycle log lines (never secrets), served by GET .../logs. */
  events: string[];
}

export type V2AuthMode = "Key" | "AMLToken" | "AADToken";

export interface V2EndpointRecord {
  name: string;
  authMode: V2AuthMode;
  /** ARM id of a Kubernetes compute; null = managed endpoint. */
  compute: string | null;
  location: string;
  description: string | null;
  tags: Record<string, string>;
  keys: ServiceKeyPair;
  /** Creating | Updating | Deleting | Succeeded | Failed | Canceled */
  provisioningState: string;
  createdAt: string;
  updatedAt: string;
}

/** A change applied to the state when an operation completes: data only, so it survives restarts. */
export type StatePatch =
  | { op: "set"; path: string[]; value: unknown }
  | { op: "delete"; path: string[] }
  /** Appends to the array at path (skipped when it is not an array). */
  | { op: "append"; path: string[]; value: unknown };

export type OperationStatus = "Running" | "Succeeded" | "Failed";

/** One long-running operation, shared by v1 (MMS) and v2 (ARM) routes. */
export interface OperationRecord {
  id: string;
  api: "v1" | "v2";
  /** e.g. "Deploy", "Update", "Delete", "RegenerateKeys" (v1); v2 routes use their own names. */
  operationType: string;
  /** Service or endpoint name. */
  target: string;
  status: OperationStatus;
  createdAt: string;
  /** Epoch ms at which the operation completes (applying onComplete). */
  completeAt: number;
  endedAt: string | null;
  error: { code: string; message: string } | null;
  onComplete: StatePatch[];
}

export interface ArtifactRecord {
  origin: string;
  container: string;
  path: string;
  createdTime: string;
  /** Set once the blob was uploaded. */
  blob: { size: number; md5: string; etag: string; lastModified: string } | null;
}

export interface EmulatorState {
  version: number;
  v1Services: Record<string, V1ServiceRecord>;
  v2Endpoints: Record<string, V2EndpointRecord>;
  operations: Record<string, OperationRecord>;
  /** Keyed by "origin/container/path". */
  artifacts: Record<string, ArtifactRecord>;
}

export interface EmulatorStore {
  readonly kind: "file" | "memory";
  /** The current state: an immutable snapshot. Never mutate it; use update(). */
  readonly state: Readonly<EmulatorState>;
  /**
   * Applies `change` to a private copy of the state and swaps it in synchronously (no other change
   * can interleave; a throwing change leaves the state untouched), then resolves with its result
   * once the change is durable.
   */
  update<T>(change: (draft: EmulatorState) => T): Promise<T>;
  putBlob(key: string, content: Buffer): Promise<void>;
  getBlob(key: string): Promise<Buffer | null>;
  /** Resolves once every accepted change is durable. */
  flush(): Promise<void>;
  /** Replaces everything with `fresh` (blobs included). */
  reset(fresh: EmulatorState): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Seeding

const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A 32-character alphanumeric service key (the format of real v1 keys is a guess [?]). */
export function generateServiceKey(): string {
  // Rejection sampling keeps the distribution uniform over the 62 symbols.
  let out = "";
  while (out.length < 32) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && out.length < 32) out += KEY_ALPHABET[byte % 62];
    }
  }
  return out;
}

export function generateKeyPair(): ServiceKeyPair {
  return { primaryKey: generateServiceKey(), secondaryKey: generateServiceKey() };
}

export function emptyState(): EmulatorState {
  return { version: STATE_VERSION, v1Services: {}, v2Endpoints: {}, operations: {}, artifacts: {} };
}

export const AKS_COMPUTE_ARM_ID =
  `/subscriptions/${EMULATOR_SUBSCRIPTION_ID}/resourceGroups/${EMULATOR_RESOURCE_GROUP}` +
  `/providers/Microsoft.MachineLearningServices/workspaces/${EMULATOR_WORKSPACE}/computes/${EMULATOR_AKS_COMPUTE}`;

/** Default settings a GET payload needs for each compute type (v1-contract.md §3.1). */
export function defaultV1Settings(computeType: V1ComputeType): Record<string, unknown> {
  if (computeType === "ACI") {
    return {
      containerResourceRequirements: { cpu: 0.1, memoryInGB: 0.5 },
      appInsightsEnabled: false,
      sslEnabled: false,
      sslCertificate: null,
      sslKey: null,
      cname: null,
      publicIp: null,
      publicFqdn: null,
      encryptionProperties: null,
      vnetConfiguration: null,
      dnsNameLabel: null,
    };
  }
  return {
    containerResourceRequirements: { cpu: 0.1, cpuLimit: null, memoryInGB: 0.5, memoryInGBLimit: null, gpu: null },
    appInsightsEnabled: false,
    autoScaler: { autoscaleEnabled: true, minReplicas: 1, maxReplicas: 10, refreshPeriodInSeconds: 1, targetUtilization: 70 },
    dataCollection: { eventHubEnabled: false, storageEnabled: false },
    maxConcurrentRequestsPerContainer: 1,
    maxQueueWaitMs: 500,
    numReplicas: null,
    scoringTimeoutMs: 60000,
    namespace: `azureml-${EMULATOR_WORKSPACE}`,
    livenessProbeRequirements: { periodSeconds: 10, initialDelaySeconds: 310, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 3 },
  };
}

export function seededState(now: number, opts: { empty: boolean }): EmulatorState {
  const state = emptyState();
  if (opts.empty) return state;
  const iso = new Date(now).toISOString();
  for (const seed of SEEDED_V1_SERVICES) {
    state.v1Services[seed.name] = {
      name: seed.name,
      id: randomUUID(),
      computeType: seed.computeType,
      computeName: seed.computeType === "AKS" ? EMULATOR_AKS_COMPUTE : null,
      description: `Seeded ${seed.computeType} service of the amlauth emulator`,
      kvTags: {},
      properties: { hasInferenceSchema: "False", hasHttps: "True" },
      authEnabled: seed.authEnabled,
      aadAuthEnabled: seed.aadAuthEnabled,
      keys: generateKeyPair(),
      state: "Healthy",
      ready: true,
      createdTime: iso,
      updatedTime: iso,
      location: EMULATOR_REGION,
      settings: defaultV1Settings(seed.computeType),
      environmentImageRequest: null,
      modelIds: ["demo-model:1"],
      operationId: null,
      events: [`${iso} service ${seed.name} (${seed.computeType}) seeded; state Healthy`],
    };
  }
  for (const seed of SEEDED_V2_ENDPOINTS) {
    state.v2Endpoints[seed.name] = {
      name: seed.name,
      authMode: seed.authMode,
      compute: seed.kubernetes ? AKS_COMPUTE_ARM_ID : null,
      location: EMULATOR_REGION,
      description: `Seeded ${seed.kubernetes ? "Kubernetes" : "managed"} online endpoint of the amlauth emulator`,
      tags: {},
      keys: generateKeyPair(),
      provisioningState: "Succeeded",
      createdAt: iso,
      updatedAt: iso,
    };
  }
  return state;
}

/** Fills sections a state file from an older build may lack; rejects anything that is not a state. */
export function normalizeLoadedState(value: unknown): EmulatorState {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
  const raw = value as Record<string, unknown>;
  if (typeof raw["version"] !== "number" || raw["version"] > STATE_VERSION) {
    throw new Error(`unsupported state version ${String(raw["version"])}`);
  }
  const section = (name: keyof EmulatorState): Record<string, never> => {
    const v = raw[name];
    if (v === undefined) return {};
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`"${name}" is not an object`);
    return v as Record<string, never>;
  };
  return {
    version: STATE_VERSION,
    v1Services: section("v1Services"),
    v2Endpoints: section("v2Endpoints"),
    operations: section("operations"),
    artifacts: section("artifacts"),
  };
}

// ---------------------------------------------------------------------------------------------
// Implementations

abstract class StoreBase implements EmulatorStore {
  abstract readonly kind: "file" | "memory";
  protected current: EmulatorState;
  protected closed = false;

  constructor(initial: EmulatorState) {
    this.current = initial;
  }

  get state(): Readonly<EmulatorState> {
    return this.current;
  }

  async update<T>(change: (draft: EmulatorState) => T): Promise<T> {
    if (this.closed) throw new Error("the emulator store is closed");
    const draft = structuredClone(this.current);
    const result = change(draft);
    this.current = draft;
    await this.persist();
    return result;
  }

  protected abstract persist(): Promise<void>;
  abstract putBlob(key: string, content: Buffer): Promise<void>;
  abstract getBlob(key: string): Promise<Buffer | null>;
  abstract flush(): Promise<void>;
  abstract reset(fresh: EmulatorState): Promise<void>;
  abstract close(): Promise<void>;
}

export class MemoryStore extends StoreBase {
  readonly kind = "memory" as const;
  private blobs = new Map<string, Buffer>();

  protected async persist(): Promise<void> {}

  async putBlob(key: string, content: Buffer): Promise<void> {
    this.blobs.set(key, Buffer.from(content));
  }

  async getBlob(key: string): Promise<Buffer | null> {
    return this.blobs.get(key) ?? null;
  }

  async flush(): Promise<void> {}

  async reset(fresh: EmulatorState): Promise<void> {
    this.current = fresh;
    this.blobs = new Map();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export class FileStore extends StoreBase {
  readonly kind = "file" as const;
  private readonly file: string;
  private readonly blobDir: string;
  /** The write in progress, if any. */
  private writing: Promise<void> | null = null;
  /** Changes accepted after `writing` started; one more write covers them all. */
  private pending: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;

  private constructor(private readonly dir: string, initial: EmulatorState) {
    super(initial);
    this.file = join(dir, STATE_FILE);
    this.blobDir = join(dir, BLOB_DIR);
  }

  /**
   * Opens the store in `dir`, loading state.json or creating it from `seed()` when absent.
   * A state file that cannot be parsed is an error (it would mean data loss to replace it silently).
   */
  static async open(dir: string, seed: () => EmulatorState): Promise<FileStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await removeTempFiles(dir);
    const file = join(dir, STATE_FILE);
    let text: string | null = null;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text === null) {
      const store = new FileStore(dir, seed());
      await store.persist();
      return store;
    }
    let state: EmulatorState;
    try {
      state = normalizeLoadedState(JSON.parse(text));
    } catch (err) {
      throw new Error(
        `the emulator state file ${file} cannot be loaded (${(err as Error).message}); ` +
          "run `amlauth emulator reset` to start from a fresh state",
        { cause: err },
      );
    }
    return new FileStore(dir, state);
  }

  protected persist(): Promise<void> {
    if (this.writing === null) {
      this.writing = this.writeNow();
      return this.writing;
    }
    if (this.pending === null) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.pending = { promise, resolve, reject };
    }
    return this.pending.promise;
  }

  private async writeNow(): Promise<void> {
    try {
      await writeFileAtomic(this.file, JSON.stringify(this.current), 0o600);
    } finally {
      // Hand over to the coalesced follow-up write, if changes arrived meanwhile.
      const next = this.pending;
      this.pending = null;
      if (next === null) {
        this.writing = null;
      } else {
        this.writing = this.writeNow();
        this.writing.then(next.resolve, next.reject);
      }
    }
  }

  private blobPath(key: string): string {
    return join(this.blobDir, createHash("sha256").update(key).digest("hex"));
  }

  async putBlob(key: string, content: Buffer): Promise<void> {
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.blobPath(key), content, 0o600);
  }

  async getBlob(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.blobPath(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async flush(): Promise<void> {
    while (this.writing !== null) await this.writing.catch(() => undefined);
  }

  async reset(fresh: EmulatorState): Promise<void> {
    await this.flush();
    await rm(this.blobDir, { recursive: true, force: true });
    this.current = fresh;
    await this.persist();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

async function removeTempFiles(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.startsWith(STATE_FILE + TEMP_MARKER)).map((n) => rm(join(dir, n), { force: true })),
  );
  const blobNames = await readdir(join(dir, BLOB_DIR)).catch(() => [] as string[]);
  await Promise.all(
    blobNames.filter((n) => n.includes(TEMP_MARKER)).map((n) => rm(join(dir, BLOB_DIR, n), { force: true })),
  );
}

/** Deletes persisted state (state.json and blobs) in `dir`; certs and keys stay. For `emulator reset`. */
export async function wipeStoredState(dir: string): Promise<boolean> {
  let existed = true;
  try {
    await readFile(join(dir, STATE_FILE));
  } catch {
    existed = false;
  }
  await rm(join(dir, STATE_FILE), { force: true });
  await rm(join(dir, BLOB_DIR), { recursive: true, force: true });
  await removeTempFiles(dir);
  return existed;
}

// Re-exported for routes that want a consistent way to stamp records.
export function isoNow(now: number): string {
  return new Date(now).toISOString();
}
