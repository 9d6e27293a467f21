// v1 deploy (v1-deploy.md): read the entry script / source directory, upload them through the
// artifact service with a driver wrapper written for amlauth, check the models, fetch the
// environment, POST /services and follow the operation. Loaded only by `deploy`.
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import type { V1DeploySpec } from "../core/deploy-config.js";
import { MaybeAppliedError, NotFoundError, ServiceError, UsageError } from "../errors.js";
import type { WorkspaceHosts } from "./cache.js";
import { requireHost } from "./discovery.js";
import { errorFromResponse } from "./http.js";
import type { HttpPipeline } from "./http-types.js";
import type { WaitOptions } from "./types.js";
import { asObject, type V1Service, type V1Workspace } from "./v1.js";

export interface V1DeployDeps {
  pipeline: HttpPipeline;
  workspace: V1Workspace;
  hosts: () => Promise<WorkspaceHosts>;
  /** {mms}/modelmanagement/v1.0/subscriptions/.../workspaces/{ws} */
  mmsBase: () => Promise<string>;
  readService: (name: string, signal?: AbortSignal) => Promise<V1Service>;
  findService: (name: string) => Promise<V1Service | null>;
  waitForOperation: (name: string, what: string, operationRef: string, opts: WaitOptions) => Promise<void>;
  waitForServiceState: (name: string, what: string, opts: WaitOptions) => Promise<V1Service>;
  cwd?: string;
}

/** A file ready to upload: its artifact path (= asset id) and bytes. */
export interface UploadFile {
  path: string;
  bytes: Buffer;
  mimeType: string;
  unpack?: boolean;
}

export interface ImageAsset {
  id: string;
  mimeType: string;
  url: string;
  unpack?: boolean;
}

const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
const BLOB_API_VERSION = "2021-08-06";
const PYTHON_KEYWORDS = new Set(
  "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield".split(
    " ",
  ),
);

export async function deployV1(deps: V1DeployDeps, spec: V1DeploySpec, opts: WaitOptions): Promise<V1Service> {
  const name = spec.name;
  const signal = opts.signal;
  const sig = signal ? { signal } : {};
  // Everything local first: a bad path or spec fails before any network call.
  if (spec.computeType === "AKS" && !spec.computeTarget) {
    throw new UsageError("an AKS deployment needs --compute-target (computeTargetName in --dc)");
  }
  if (spec.models.length === 0) throw new UsageError("a deployment needs at least one --model NAME:VERSION");
  const files = prepareUploads(spec, deps.cwd ?? ".");

  const existing = await deps.findService(name);
  if (existing && !spec.overwrite) {
    throw new UsageError(`web service ${name} already exists in workspace ${deps.workspace.workspace}`, {
      hint: "pass --overwrite to replace it, or use `amlauth auth set` to change only its auth",
    });
  }
  const mmsBase = await deps.mmsBase();
  const hosts = await deps.hosts();
  const [modelIds, environment] = await Promise.all([
    Promise.all(spec.models.map((id) => resolveModelId(deps.pipeline, mmsBase, id, deps.workspace.workspace, signal))),
    loadEnvironment(deps, hosts, spec, signal),
  ]);

  const historyHost = requireHost(hosts, "history", deps.workspace.workspace);
  const assets: ImageAsset[] = [];
  for (const file of [files.driver, files.code]) {
    assets.push(await uploadArtifact(deps.pipeline, historyHost, deps.workspace, file, signal));
  }

  const body = buildCreateBody(spec, {
    driverProgram: assets[0]!.id,
    assets,
    modelIds,
    ...(environment ? { environment: withEntryVariables(environment, files.entryVariables) } : {}),
  });
  const post = () =>
    deps.pipeline.sendJson<unknown>(
      {
        method: "POST",
        url: `${mmsBase}/services`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        idempotent: false,
        ...sig,
      },
      `deployment of ${name}`,
    );
  const what = `the deployment of ${name}`;
  let reply: { headers: Record<string, string> };
  try {
    reply = await post();
  } catch (err) {
    if (!(err instanceof MaybeAppliedError)) throw err;
    // Did the create land? A service that did not exist and now does, or an existing one that
    // went from settled to Transitioning, means yes: follow it instead of sending it again.
    // (An overwrite that already finished looks unapplied; resending it is harmless, the body
    // is absolute.)
    const current = await deps.findService(name);
    const landed = current !== null && (existing === null || (existing.state !== "Transitioning" && current.state === "Transitioning"));
    if (landed) {
      return opts.wait ? await deps.waitForServiceState(name, what, opts) : current;
    }
    reply = await post();
  }
  const operation = reply.headers["operation-location"];
  if (!opts.wait) return deps.readService(name, signal);
  if (!operation) return deps.waitForServiceState(name, what, opts);
  await deps.waitForOperation(name, what, operation, opts);
  return deps.readService(name, signal);
}

// ---------------------------------------------------------------------------------------------
// Local files

interface PreparedUploads {
  driver: UploadFile;
  code: UploadFile;
  entryVariables: Record<string, string>;
}

/** Checks the entry script like SDK v1 does and builds the two uploads (driver + script or tarball). */
export function prepareUploads(spec: V1DeploySpec, cwd: string): PreparedUploads {
  const entry = spec.entryScript;
  if (!entry) throw new UsageError("an entry script is required (--entry-script or entryScript in --ic)");
  const sourceDir = spec.sourceDir ? resolve(cwd, spec.sourceDir) : undefined;
  if (sourceDir) {
    let isDir = false;
    try {
      isDir = statSync(sourceDir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new UsageError(`source directory ${spec.sourceDir} does not exist or is not a directory`);
  }
  const entryPath = sourceDir ? resolve(sourceDir, entry) : resolve(cwd, entry);
  if (sourceDir && (relative(sourceDir, entryPath).startsWith("..") || isAbsolute(relative(sourceDir, entryPath)))) {
    throw new UsageError(`entry script ${entry} is outside the source directory ${spec.sourceDir}`);
  }
  let entryIsFile = false;
  try {
    entryIsFile = statSync(entryPath).isFile();
  } catch {
    // reported below
  }
  if (!entryIsFile) {
    throw new UsageError(`entry script ${entry} not found${sourceDir ? ` in ${spec.sourceDir}` : ""}`);
  }
  const scriptName = basename(entryPath);
  if (!scriptName.endsWith(".py")) throw new UsageError(`entry script ${entry} must be a Python file (.py)`);
  const moduleName = scriptName.slice(0, -3);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(moduleName) || PYTHON_KEYWORDS.has(moduleName)) {
    throw new UsageError(`invalid name "${scriptName}" for the entry script: its base name must be a Python identifier`);
  }

  const container = hex8();
  const driverPath = `amlauth_main_${container}.py`;
  if (sourceDir) {
    const root = basename(sourceDir);
    const entryRelative = relative(sourceDir, entryPath).split(sep).join("/");
    const tarball = createTarGz(sourceDir);
    return {
      driver: { path: driverPath, bytes: Buffer.from(driverWrapper(root, entryRelative), "utf8"), mimeType: "application/x-python" },
      code: { path: `${hex8()}.tar.gz`, bytes: tarball, mimeType: "application/octet-stream", unpack: true },
      entryVariables: { AZUREML_SOURCE_DIRECTORY: root, AZUREML_ENTRY_SCRIPT: `${root}/${entryRelative}` },
    };
  }
  const bytes = readFileSync(entryPath);
  return {
    driver: { path: driverPath, bytes: Buffer.from(driverWrapper(null, scriptName), "utf8"), mimeType: "application/x-python" },
    code: { path: scriptName, bytes, mimeType: "application/octet-stream" },
    entryVariables: { AZUREML_ENTRY_SCRIPT: scriptName },
  };
}

/**
 * amlauth's own driver program: loads the user's entry script and exposes init()/run(). The
 * input parameter of the user's run() is its first one other than request_headers, which is
 * passed only when the user's run() accepts it.
 */
export function driverWrapper(sourceRoot: string | null, entryRelative: string): string {
  const py = (v: string | null) => (v === null ? "None" : JSON.stringify(v));
  return `# Generated by amlauth: loads the entry script and forwards init() and run() to it.
import importlib.util
import inspect
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCE_ROOT = ${py(sourceRoot)}
_ENTRY_SCRIPT = ${py(entryRelative)}

_app_dir = os.path.join(_HERE, _SOURCE_ROOT) if _SOURCE_ROOT else _HERE
if _app_dir not in sys.path:
    sys.path.append(_app_dir)

_spec = importlib.util.spec_from_file_location("service_driver", os.path.join(_app_dir, _ENTRY_SCRIPT))
_user = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_user)

_input_name = None
_pass_headers = False


def init():
    global _input_name, _pass_headers
    params = list(inspect.signature(_user.run).parameters)
    _pass_headers = "request_headers" in params
    others = [p for p in params if p != "request_headers"]
    _input_name = others[0] if others else None
    if hasattr(_user, "init"):
        _user.init()


def run(http_body, request_headers=None):
    kwargs = {}
    if _input_name is not None:
        kwargs[_input_name] = http_body
    if _pass_headers:
        kwargs["request_headers"] = request_headers
    return _user.run(**kwargs)
`;
}

// ---------------------------------------------------------------------------------------------
// A minimal ustar writer (with pax headers for long names), gzip-compressed with node:zlib.

export interface TarEntry {
  /** Path inside the archive, "/"-separated, no leading slash. */
  name: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  mtimeSeconds: number;
  data?: Buffer;
  linkTarget?: string;
}

/** A .tar.gz of `dir` whose single root folder is basename(dir), like SDK v1's upload. */
export function createTarGz(dir: string): Buffer {
  const root = basename(resolve(dir));
  const entries: TarEntry[] = [];
  let total = 0;
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    const mtimeSeconds = Math.floor(st.mtimeMs / 1000);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) {
      entries.push({ name: rel, type: "symlink", mode, mtimeSeconds, linkTarget: readlinkSync(abs) });
    } else if (st.isDirectory()) {
      entries.push({ name: `${rel}/`, type: "dir", mode, mtimeSeconds });
      for (const child of readdirSync(abs).sort()) walk(join(abs, child), `${rel}/${child}`);
    } else if (st.isFile()) {
      total += st.size;
      if (total > MAX_UPLOAD_BYTES) {
        throw new UsageError(`source directory ${dir} is larger than ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB`, {
          hint: "deploy a smaller directory (models belong in the model registry, not the source directory)",
        });
      }
      entries.push({ name: rel, type: "file", mode, mtimeSeconds, data: readFileSync(abs) });
    }
    // Sockets, FIFOs and devices have no place in an app directory: skipped.
  };
  walk(resolve(dir), root);
  return gzipSync(tarArchive(entries));
}

export function tarArchive(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const linkTarget = entry.linkTarget ?? "";
    const split = splitUstarName(entry.name);
    const needsPax = split === undefined || Buffer.byteLength(linkTarget) > 100;
    if (needsPax) {
      const records: string[] = [paxRecord("path", entry.name)];
      if (Buffer.byteLength(linkTarget) > 100) records.push(paxRecord("linkpath", linkTarget));
      const pax = Buffer.from(records.join(""), "utf8");
      blocks.push(tarHeader({ name: "PaxHeader", prefix: "" }, "x", 0o644, pax.length, entry.mtimeSeconds, ""), pad512(pax));
    }
    const names = split ?? { name: truncateUtf8(entry.name, 100), prefix: "" };
    const data = entry.type === "file" ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const typeflag = entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2";
    blocks.push(tarHeader(names, typeflag, entry.mode, data.length, entry.mtimeSeconds, truncateUtf8(linkTarget, 100)));
    if (data.length > 0) blocks.push(pad512(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function tarHeader(names: { name: string; prefix: string }, typeflag: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(names.name, 0, 100, "utf8");
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, Math.max(0, mtime));
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(typeflag, 156, 1, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write(names.prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}

function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, "0")}\0`, offset, width, "ascii");
}

/** name ≤ 100 bytes and prefix ≤ 155 bytes split at a "/", or undefined when it cannot fit. */
function splitUstarName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  const trailing = path.endsWith("/") ? 1 : 0;
  for (let i = path.length - 1 - trailing; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") return { name, prefix };
  }
  return undefined;
}

/** "LEN key=value\n" where LEN counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  for (;;) {
    const candidate = String(len).length + Buffer.byteLength(body);
    if (candidate === len) return `${len}${body}`;
    len = candidate;
  }
}

function pad512(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Uploads (v1-deploy.md §3)

/** Batch-metadata POST on the history host, then the blob PUT to the returned contentUri. */
export async function uploadArtifact(
  pipeline: HttpPipeline,
  historyHost: string,
  ws: V1Workspace,
  file: UploadFile,
  signal?: AbortSignal,
): Promise<ImageAsset> {
  const sig = signal ? { signal } : {};
  const createEmpty = async () => {
    // A fresh container per attempt: a retried create can never collide with the first one.
    const container = hex8();
    const url =
      `${historyHost.replace(/\/+$/, "")}/artifact/v2.0/subscriptions/${encodeURIComponent(ws.subscription)}` +
      `/resourceGroups/${encodeURIComponent(ws.resourceGroup)}/providers/Microsoft.MachineLearningServices` +
      `/workspaces/${encodeURIComponent(ws.workspace)}/artifacts/batch/metadata/LocalUpload/${container}`;
    return pipeline.sendJson<unknown>(
      {
        method: "POST",
        url,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ paths: [{ path: file.path }] }),
        idempotent: false,
        ...sig,
      },
      `artifact upload of ${file.path}`,
    );
  };
  let reply: { status: number; body: unknown };
  try {
    reply = await createEmpty();
  } catch (err) {
    if (!(err instanceof MaybeAppliedError)) throw err;
    reply = await createEmpty();
  }
  if (reply.status !== 200 && reply.status !== 201) {
    throw new ServiceError(`artifact upload of ${file.path}: unexpected HTTP ${reply.status}`);
  }
  const body = asObject(reply.body, `the artifact reply for ${file.path}`);
  const errors = body.errors;
  if (errors && typeof errors === "object" && Object.keys(errors).length > 0) {
    const first = Object.values(errors as Record<string, unknown>)[0] as { error?: { code?: unknown; message?: unknown } } | undefined;
    const code = typeof first?.error?.code === "string" ? first.error.code : "ArtifactError";
    const message = typeof first?.error?.message === "string" ? first.error.message : "the artifact service refused the upload";
    throw new ServiceError(`artifact upload of ${file.path}: ${code}: ${message}`.replace(/\s+/g, " ").slice(0, 300));
  }
  const artifact = lookup(body.artifacts, file.path);
  const content = lookup(body.artifactContentInformation, file.path);
  const artifactId = artifact?.artifactId;
  const contentUri = content?.contentUri;
  if (typeof artifactId !== "string" || artifactId === "" || typeof contentUri !== "string" || !/^https?:\/\//i.test(contentUri)) {
    throw new ServiceError(`the artifact reply for ${file.path} is missing artifactId or contentUri`);
  }
  await putBlob(pipeline, contentUri, file, signal);
  const id = typeof artifact?.path === "string" && artifact.path !== "" ? artifact.path : file.path;
  return { id, mimeType: file.mimeType, url: `aml://artifact/${artifactId}`, ...(file.unpack ? { unpack: true } : {}) };
}

async function putBlob(pipeline: HttpPipeline, contentUri: string, file: UploadFile, signal?: AbortSignal): Promise<void> {
  const md5 = createHash("md5").update(file.bytes).digest("base64");
  const res = await pipeline.send({
    method: "PUT",
    url: contentUri,
    headers: {
      "x-ms-blob-type": "BlockBlob",
      "if-none-match": "*",
      "x-ms-version": BLOB_API_VERSION,
      "content-type": "application/octet-stream",
      "content-md5": md5,
    },
    body: file.bytes,
    // The SAS in the URL is the credential; never send the ARM token to storage.
    auth: false,
    ...(signal ? { signal } : {}),
  });
  if (res.status === 200 || res.status === 201) return;
  if (res.status === 409) {
    // If-None-Match:* refused a second write: a retried PUT whose first attempt landed. Same bytes → fine.
    const head = await pipeline.send({ method: "HEAD", url: contentUri, headers: { "x-ms-version": BLOB_API_VERSION }, auth: false, ...(signal ? { signal } : {}) });
    const sameLength = head.headers["content-length"] === String(file.bytes.length);
    const sameHash = head.headers["content-md5"] === undefined || head.headers["content-md5"] === md5;
    if (head.status === 200 && sameLength && sameHash) return;
    throw new ServiceError(`upload of ${file.path}: a different blob already exists at its location`);
  }
  throw errorFromResponse(res, safeHost(contentUri), `upload of ${file.path}`);
}

// ---------------------------------------------------------------------------------------------
// Models and environments

async function resolveModelId(pipeline: HttpPipeline, mmsBase: string, id: string, workspace: string, signal?: AbortSignal): Promise<string> {
  const sig = signal ? { signal } : {};
  const colon = id.lastIndexOf(":");
  if (colon > 0 && colon < id.length - 1) {
    // The colon is percent-encoded on the wire (v1-deploy.md §4.1).
    const res = await pipeline.send({ method: "GET", url: `${mmsBase}/models/${encodeURIComponent(id)}`, ...sig });
    if (res.status === 404) throw new NotFoundError(`model ${id} not found in workspace ${workspace}`);
    if (res.status >= 400) throw errorFromResponse(res, safeHost(mmsBase), `model ${id}`);
    const model = parseJsonObject(res.bodyText);
    if (!model) throw new ServiceError(`the reply for model ${id} is not a JSON object`);
    return typeof model.id === "string" && model.id !== "" ? model.id : id;
  }
  const name = colon === id.length - 1 ? id.slice(0, -1) : id;
  // No version: the latest, as SDK v1 asks for it (server orders by creation, newest first).
  const { body } = await pipeline.sendJson<unknown>(
    { method: "GET", url: `${mmsBase}/models?name=${encodeURIComponent(name)}&count=1`, ...sig },
    `model ${name}`,
  );
  const value = asObject(body, `the model list for ${name}`).value;
  const first = Array.isArray(value) ? (value[0] as Record<string, unknown> | undefined) : undefined;
  if (!first) throw new NotFoundError(`model ${name} not found in workspace ${workspace}`);
  if (typeof first.id !== "string" || first.id === "") throw new ServiceError(`the model list for ${name} has an entry without id`);
  return first.id;
}

async function loadEnvironment(
  deps: V1DeployDeps,
  hosts: WorkspaceHosts,
  spec: V1DeploySpec,
  signal?: AbortSignal,
): Promise<Record<string, unknown> | undefined> {
  if (spec.inlineEnvironment) return structuredClone(spec.inlineEnvironment);
  if (!spec.environment) return undefined;
  const { name, version } = spec.environment;
  const host = requireHost(hosts, "experimentation", deps.workspace.workspace);
  const ws = deps.workspace;
  const url =
    `${host.replace(/\/+$/, "")}/environment/v1.0/subscriptions/${encodeURIComponent(ws.subscription)}` +
    `/resourceGroups/${encodeURIComponent(ws.resourceGroup)}/providers/Microsoft.MachineLearningServices` +
    `/workspaces/${encodeURIComponent(ws.workspace)}/environments/${encodeURIComponent(name)}` +
    (version ? `/versions/${encodeURIComponent(version)}` : "");
  const label = version ? `${name}:${version}` : name;
  const res = await deps.pipeline.send({ method: "GET", url, ...(signal ? { signal } : {}) });
  if (res.status === 404) throw new NotFoundError(`environment ${label} not found in workspace ${ws.workspace}`);
  if (res.status >= 400) throw errorFromResponse(res, safeHost(url), `environment ${label}`);
  const env = parseJsonObject(res.bodyText);
  if (!env) throw new ServiceError(`the reply for environment ${label} is not a JSON object`);
  if (typeof env.name !== "string") throw new ServiceError(`the reply for environment ${label} has no name`);
  return env;
}

/** SDK v1 adds these two variables to the inline environment so the image finds the script. */
function withEntryVariables(environment: Record<string, unknown>, vars: Record<string, string>): Record<string, unknown> {
  const existing = environment.environmentVariables;
  const merged = existing && typeof existing === "object" && !Array.isArray(existing) ? { ...(existing as Record<string, unknown>) } : {};
  return { ...environment, environmentVariables: { ...merged, ...vars } };
}

// ---------------------------------------------------------------------------------------------
// The create body (v1-contract.md §3.3, v1-deploy.md §2 and §5)

export interface EnvironmentImageRequest {
  driverProgram: string;
  assets: ImageAsset[];
  modelIds: string[];
  environment?: Record<string, unknown>;
}

export function buildCreateBody(spec: V1DeploySpec, imageRequest: EnvironmentImageRequest): Record<string, unknown> {
  const extra = { ...spec.extra };
  const extraResources =
    extra.containerResourceRequirements && typeof extra.containerResourceRequirements === "object"
      ? (extra.containerResourceRequirements as Record<string, unknown>)
      : {};
  delete extra.containerResourceRequirements;
  // SDK/DOC-CLI defaults: 0.1 cores, 0.5 GB.
  const cpu = spec.cpu ?? (typeof extraResources.cpu === "number" ? extraResources.cpu : 0.1);
  const memoryInGB = spec.memoryGb ?? (typeof extraResources.memoryInGB === "number" ? extraResources.memoryInGB : 0.5);
  const common = {
    name: spec.name,
    description: spec.description ?? null,
    kvTags: null,
    properties: {},
  };
  const typeSpecific: Record<string, unknown> =
    spec.computeType === "ACI"
      ? {
          location: null,
          containerResourceRequirements: { ...extraResources, cpu, memoryInGB },
        }
      : {
          computeName: spec.computeTarget ?? null,
          numReplicas: null,
          namespace: null,
          scoringTimeoutMs: null,
          maxConcurrentRequestsPerContainer: null,
          maxQueueWaitMs: null,
          containerResourceRequirements: { cpuLimit: null, memoryInGBLimit: null, gpu: null, ...extraResources, cpu, memoryInGB },
          livenessProbeRequirements: { periodSeconds: null, initialDelaySeconds: null, timeoutSeconds: null, failureThreshold: null, successThreshold: null },
        };
  if (spec.computeType === "AKS" && !spec.computeTarget) {
    throw new UsageError("an AKS deployment needs --compute-target (computeTargetName in --dc)");
  }
  return {
    ...common,
    ...typeSpecific,
    // --dc extras (autoScaler, numReplicas, location, ...) refine the defaults above...
    ...extra,
    // ...but never the identity, auth or image of the service.
    name: spec.name,
    computeType: spec.computeType,
    ...(spec.computeType === "AKS" ? { computeName: spec.computeTarget } : {}),
    keys: { primaryKey: spec.keys?.primaryKey ?? null, secondaryKey: spec.keys?.secondaryKey ?? null },
    authEnabled: spec.authEnabled,
    aadAuthEnabled: spec.aadAuthEnabled,
    environmentImageRequest: imageRequest,
    ...(spec.overwrite ? { overwrite: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

function lookup(map: unknown, key: string): Record<string, unknown> | undefined {
  if (!map || typeof map !== "object" || Array.isArray(map)) return undefined;
  const record = map as Record<string, unknown>;
  const direct = record[key] ?? Object.values(record)[0];
  return direct && typeof direct === "object" ? (direct as Record<string, unknown>) : undefined;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function safeHost(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return "the server";
  }
}

function hex8(): string {
  return randomBytes(4).toString("hex");
}
