// Finds a workspace's Model Management (and artifact/environment) hosts the way SDK v1 does:
// ARM workspace GET → properties.discoveryUrl → discovery document (fetched without auth).
import { NotFoundError, ServiceError } from "../errors.js";
import type { AmlauthCache, WorkspaceHosts } from "./cache.js";
import type { HttpPipeline } from "./http-types.js";

export type { WorkspaceHosts } from "./cache.js";

export interface WorkspaceTarget {
  armEndpoint: string;
  subscription: string;
  resourceGroup: string;
  workspace: string;
}

/** SDK 1.51 reads the workspace with this version (v1-deploy.md corrections). */
export const WORKSPACE_API_VERSION = "2022-05-01";

/** The workspace has no Model Management host: it cannot hold v1 web services. */
export class NoModelManagementHostError extends ServiceError {}

export function workspaceArmPath(t: Omit<WorkspaceTarget, "armEndpoint">): string {
  return (
    `/subscriptions/${encodeURIComponent(t.subscription)}/resourceGroups/${encodeURIComponent(t.resourceGroup)}` +
    `/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(t.workspace)}`
  );
}

export function armUrl(armEndpoint: string, path: string, apiVersion: string): string {
  return `${armEndpoint.replace(/\/+$/, "")}${path}?api-version=${apiVersion}`;
}

export function describeWorkspace(t: Omit<WorkspaceTarget, "armEndpoint">): string {
  return `workspace ${t.workspace} (resource group ${t.resourceGroup}, subscription ${t.subscription})`;
}

/** The hosts, from the cache when possible (no network call then). */
export async function discoverWorkspaceHosts(
  pipeline: HttpPipeline,
  target: WorkspaceTarget,
  cache?: Pick<AmlauthCache, "getDiscovery" | "putDiscovery">,
  signal?: AbortSignal,
): Promise<WorkspaceHosts> {
  const cached = cache?.getDiscovery();
  if (cached) return cached;
  const where = describeWorkspace(target);
  const sig = signal ? { signal } : {};

  const { body: workspace } = await pipeline.sendJson<unknown>(
    { method: "GET", url: armUrl(target.armEndpoint, workspaceArmPath(target), WORKSPACE_API_VERSION), ...sig },
    where,
  );
  const properties = isObject(workspace) && isObject(workspace.properties) ? workspace.properties : undefined;
  const discoveryUrl = properties?.discoveryUrl;
  if (typeof discoveryUrl !== "string" || discoveryUrl === "") {
    throw new ServiceError(`${where} has no properties.discoveryUrl; cannot find its Model Management host`);
  }
  let parsedDiscovery: URL;
  try {
    parsedDiscovery = new URL(discoveryUrl);
  } catch {
    throw new ServiceError(`${where} has an invalid discoveryUrl`);
  }

  // SDK v1 sends no auth header here; the document is public.
  let document: unknown;
  try {
    ({ body: document } = await pipeline.sendJson<unknown>(
      { method: "GET", url: parsedDiscovery.href, auth: false, ...sig },
      `discovery document of ${target.workspace}`,
    ));
  } catch (err) {
    // The workspace exists; a missing discovery document is a service fault, not "not found" (exit 3).
    if (err instanceof NotFoundError) {
      throw new ServiceError(`the discovery document of ${target.workspace} is missing (HTTP 404 from ${parsedDiscovery.host})`, { status: 404 });
    }
    throw err;
  }
  if (!isObject(document)) throw new ServiceError(`the discovery document of ${target.workspace} is not a JSON object`);
  const mms = hostValue(document.modelmanagement);
  if (!mms) {
    throw new NoModelManagementHostError(`the discovery document of ${target.workspace} has no modelmanagement host`, {
      hint: "this workspace may not support v1 web services; pass --api v2 for online endpoints",
    });
  }
  const hosts: WorkspaceHosts = { modelmanagement: mms };
  for (const key of ["history", "experimentation", "api"] as const) {
    const value = hostValue(document[key]);
    if (value) hosts[key] = value;
  }
  cache?.putDiscovery(hosts);
  return hosts;
}

/** Fails with a one-liner when deploy needs a host the discovery document did not name. */
export function requireHost(hosts: WorkspaceHosts, key: "history" | "experimentation", workspace: string): string {
  const value = hosts[key];
  if (!value) throw new ServiceError(`the discovery document of ${workspace} has no ${key} host, which deploy needs`);
  return value;
}

function hostValue(v: unknown): string | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  try {
    const url = new URL(v);
    return url.protocol === "https:" || url.protocol === "http:" ? `${url.origin}${url.pathname.replace(/\/+$/, "")}` : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
