// What a v1 deploy uploads before POST /services (v1-deploy.md §3, §4.2):
//  - history host: POST /artifact/v2.0/{workspace}/artifacts/batch/metadata/{origin}/{container}
//    answers the exact BatchArtifactContentInformationDto shape with a contentUri on this emulator;
//  - the contentUri: a blob endpoint (/blob/{origin}/{container}/{path}) taking PUT/HEAD/GET,
//    authorised by a SAS-like signature in the query (no bearer), 409 on If-None-Match:* overwrite;
//  - experimentation host: GET of the seeded environment.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { RequestContext, RouteResult } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { ARM_WORKSPACE_PATH } from "../deps.js";
import { httpErrors } from "../errors.js";
import { environmentPayload, SEEDED_ENVIRONMENT } from "../seed-assets.js";
import { jsonObject } from "./common.js";

const SAS_LIFETIME_MS = 60 * 60 * 1000;
const MAX_BLOB_BYTES = 64 * 1024 * 1024;
const MAX_PATHS_PER_CALL = 100;
const NAME_SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const STORAGE_VERSION = "2021-08-06";

export function artifactKey(origin: string, container: string, path: string): string {
  return `${origin}/${container}/${path}`;
}

function checkArtifactPath(path: unknown): string {
  if (
    typeof path !== "string" ||
    path.length === 0 ||
    path.length > 512 ||
    path.startsWith("/") ||
    path.endsWith("/") ||
    path.includes("\\") ||
    /[\u0000-\u001f\u007f]/.test(path) ||
    path.split("/").some((s) => s === "" || s === "." || s === "..")
  ) {
    throw httpErrors.badRequest(
      'Each "paths" entry needs a relative "path" (1 to 512 characters, "/"-separated, no "." or ".." segments).',
      "InvalidArtifactPath",
    );
  }
  return path;
}

export function artifactRoutes(deps: RouteDeps): EmulatorRoute[] {
  const sasKey = deps.tokens.signer.deriveSecret("blob-sas");
  const signature = (permissions: string, expiry: string, key: string) =>
    createHmac("sha256", sasKey).update(`${permissions}\n${expiry}\n/${key}`).digest("base64url");

  const contentUri = (origin: string, container: string, path: string): string => {
    const expiry = new Date(deps.now() + SAS_LIFETIME_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
    const permissions = "rcw";
    const key = artifactKey(origin, container, path);
    const encodedPath = [origin, container, ...path.split("/")].map(encodeURIComponent).join("/");
    const query = new URLSearchParams({ sv: STORAGE_VERSION, sr: "b", sp: permissions, se: expiry, sig: signature(permissions, expiry, key) });
    return `${deps.baseUrl()}/blob/${encodedPath}?${query.toString()}`;
  };

  /** Checks the SAS for this blob and the permission the method needs; 403 like Azure Storage. */
  const authorizeBlob = (ctx: RequestContext, key: string, needed: "r" | "w"): void => {
    const sig = ctx.query.get("sig");
    const expiry = ctx.query.get("se");
    const permissions = ctx.query.get("sp");
    const denied = (detail: string) =>
      httpErrors.storage(
        403,
        "AuthenticationFailed",
        `Server failed to authenticate the request. ${detail} Use the contentUri returned by the artifact batch/metadata call.`,
      );
    if (sig === null || expiry === null || permissions === null) throw denied("The SAS (sig, se, sp) is missing.");
    const expected = Buffer.from(signature(permissions, expiry, key));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw denied("The SAS signature does not match.");
    const expiresAt = Date.parse(expiry);
    if (!Number.isFinite(expiresAt) || deps.now() >= expiresAt) throw denied("The SAS has expired.");
    if (needed === "r" ? !permissions.includes("r") : !/[cw]/.test(permissions)) {
      throw httpErrors.storage(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    }
  };

  const blobKey = (ctx: RequestContext) => artifactKey(ctx.params["origin"] ?? "", ctx.params["container"] ?? "", ctx.params["path"] ?? "");

  const blobHeaders = (blob: { size: number; md5: string; etag: string; lastModified: string }): Record<string, string> => ({
    "content-length": String(blob.size),
    "content-type": "application/octet-stream",
    "content-md5": blob.md5,
    etag: blob.etag,
    "last-modified": new Date(blob.lastModified).toUTCString(),
    "x-ms-blob-type": "BlockBlob",
    "x-ms-version": STORAGE_VERSION,
  });

  const readBlob = async (ctx: RequestContext, headOnly: boolean): Promise<RouteResult> => {
    const key = blobKey(ctx);
    authorizeBlob(ctx, key, "r");
    const blob = deps.store.state.artifacts[key]?.blob;
    if (blob == null) throw httpErrors.storage(404, "BlobNotFound", "The specified blob does not exist.");
    if (headOnly) return { status: 200, headers: blobHeaders(blob) };
    const content = await deps.store.getBlob(key);
    if (content === null) throw httpErrors.storage(404, "BlobNotFound", "The specified blob does not exist.");
    return { status: 200, headers: blobHeaders(blob), body: content };
  };

  /** Blobs being written right now: a concurrent If-None-Match:* upload must see them as existing. */
  const uploading = new Set<string>();

  const blobPattern = /^\/blob\/(?<origin>[^/]+)\/(?<container>[^/]+)\/(?<path>.+)$/;
  return [
    {
      method: "POST",
      pattern: new RegExp(`^/artifact/v2\\.0${ARM_WORKSPACE_PATH}/artifacts/batch/metadata/(?<origin>[^/]+)/(?<container>[^/]+)$`),
      auth: "arm",
      handle: async (ctx) => {
        deps.workspace.assert(ctx.params);
        const origin = ctx.params["origin"] ?? "";
        const container = ctx.params["container"] ?? "";
        if (!NAME_SEGMENT.test(origin) || !NAME_SEGMENT.test(container)) {
          throw httpErrors.badRequest("Origin and container names may hold letters, digits, '.', '_' and '-' (1 to 128 characters).");
        }
        // The SDK sends Content-Type: application/json-patch+json here (sic); any JSON is accepted.
        const body = jsonObject(ctx, '{"paths": [{"path": "..."}]}');
        const entries = body["paths"];
        if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_PATHS_PER_CALL) {
          throw httpErrors.badRequest(`"paths" must be an array of 1 to ${MAX_PATHS_PER_CALL} {"path": ...} objects.`);
        }
        const paths = entries.map((entry) => checkArtifactPath((entry as Record<string, unknown> | null)?.["path"]));
        const records = await deps.store.update((draft) => {
          const createdTime = new Date(deps.now()).toISOString();
          return paths.map((path) => {
            const key = artifactKey(origin, container, path);
            draft.artifacts[key] ??= { origin, container, path, createdTime, blob: null };
            return draft.artifacts[key]!;
          });
        });
        const artifacts: Record<string, unknown> = {};
        const artifactContentInformation: Record<string, unknown> = {};
        for (const record of records) {
          const artifactId = artifactKey(origin, container, record.path);
          artifacts[record.path] = {
            artifactId,
            origin,
            container,
            path: record.path,
            etag: `"${createHash("sha256").update(artifactId + record.createdTime).digest("hex").slice(0, 16)}"`,
            createdTime: record.createdTime,
            dataPath: null,
          };
          artifactContentInformation[record.path] = {
            contentUri: contentUri(origin, container, record.path),
            origin,
            container,
            path: record.path,
          };
        }
        return { status: 200, body: { artifacts, artifactContentInformation, errors: {} } };
      },
    },
    {
      method: "PUT",
      pattern: blobPattern,
      auth: "none",
      errorShape: "storage",
      maxBodyBytes: MAX_BLOB_BYTES,
      handle: async (ctx) => {
        const key = blobKey(ctx);
        authorizeBlob(ctx, key, "w");
        const record = deps.store.state.artifacts[key];
        if (record === undefined) throw httpErrors.storage(404, "BlobNotFound", "No artifact was created for this blob.");
        const blobType = ctx.headers["x-ms-blob-type"];
        if (blobType !== "BlockBlob") {
          throw httpErrors.storage(
            400,
            blobType === undefined ? "MissingRequiredHeader" : "InvalidHeaderValue",
            "An HTTP header that's mandatory for this request is not specified or invalid: x-ms-blob-type must be BlockBlob.",
          );
        }
        const md5 = createHash("md5").update(ctx.body).digest("base64");
        const sentMd5 = ctx.headers["content-md5"];
        if (typeof sentMd5 === "string" && sentMd5 !== md5) {
          throw httpErrors.storage(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.");
        }
        const ifNoneMatch = ctx.headers["if-none-match"];
        if (ifNoneMatch === "*" && (record.blob !== null || uploading.has(key))) {
          throw httpErrors.storage(409, "BlobAlreadyExists", "The specified blob already exists.");
        }
        const lastModified = new Date(deps.now()).toISOString();
        const etag = `"0x${createHash("sha256").update(md5 + lastModified).digest("hex").slice(0, 15).toUpperCase()}"`;
        const blob = { size: ctx.body.length, md5, etag, lastModified };
        uploading.add(key);
        try {
          await deps.store.putBlob(key, ctx.body);
          await deps.store.update((draft) => {
            const current = draft.artifacts[key];
            if (current !== undefined) current.blob = blob;
          });
        } finally {
          uploading.delete(key);
        }
        return {
          status: 201,
          headers: {
            etag: blob.etag,
            "last-modified": new Date(lastModified).toUTCString(),
            "content-md5": md5,
            "x-ms-request-server-encrypted": "true",
            "x-ms-version": STORAGE_VERSION,
          },
        };
      },
    },
    { method: "HEAD", pattern: blobPattern, auth: "none", errorShape: "storage", handle: (ctx) => readBlob(ctx, true) },
    { method: "GET", pattern: blobPattern, auth: "none", errorShape: "storage", handle: (ctx) => readBlob(ctx, false) },
    {
      method: "GET",
      pattern: new RegExp(`^/environment/v1\\.0${ARM_WORKSPACE_PATH}/environments/(?<name>[^/]+)(?:/versions/(?<version>[^/]+))?$`),
      auth: "arm",
      handle: (ctx) => {
        deps.workspace.assert(ctx.params);
        const name = ctx.params["name"];
        const version = ctx.params["version"];
        if (name !== SEEDED_ENVIRONMENT.name || (version !== undefined && version !== SEEDED_ENVIRONMENT.version)) {
          throw httpErrors.notFound(
            `Environment '${(name ?? "").slice(0, 100)}${version === undefined ? "" : `:${version.slice(0, 50)}`}' was not found in workspace '${deps.workspace.name}'.`,
            "EnvironmentNotFound",
          );
        }
        return { status: 200, body: environmentPayload() };
      },
    },
  ];
}
