// Which API does NAME belong to? An explicit --api (or config) wins; otherwise NAME is looked up
// as a v1 web service and as a v2 online endpoint in parallel, and the answer is cached per
// workspace so later commands skip the lookup.
import { NotFoundError, UsageError } from "../errors.js";
import type { AmlauthCache } from "./cache.js";
import { armUrl, workspaceArmPath, type WorkspaceTarget } from "./discovery.js";
import { errorFromResponse } from "./http.js";
import type { HttpPipeline } from "./http-types.js";
import type { ApiKind } from "./types.js";

/** The ARM api-version of @azure/arm-machinelearning 2.1.1's onlineEndpoints. */
export const ONLINE_ENDPOINTS_API_VERSION = "2022-10-01";

export interface ResolveDeps {
  /** --api or config. */
  explicit?: ApiKind | undefined;
  cache?: Pick<AmlauthCache, "getKind" | "putKind"> | undefined;
  /** true = exists, false = does not; throws when the lookup itself failed. */
  findV1: (name: string) => Promise<boolean>;
  findV2: (name: string) => Promise<boolean>;
  workspace: { workspace: string; resourceGroup: string };
}

export async function resolveApi(name: string, deps: ResolveDeps): Promise<ApiKind> {
  if (deps.explicit) return deps.explicit;
  const cached = deps.cache?.getKind(name);
  if (cached) return cached;

  const [v1, v2] = await Promise.allSettled([deps.findV1(name), deps.findV2(name)]);
  const found = (r: PromiseSettledResult<boolean>) => r.status === "fulfilled" && r.value;
  if (found(v1) && found(v2)) {
    throw new UsageError(
      `${name} exists as both a v1 web service and a v2 online endpoint; pass --api v1 or --api v2 (or set api in your profile)`,
    );
  }
  // A failed lookup on one side leaves the name ambiguous, and guessing could touch the wrong
  // service's keys: report the failure (the user can skip the lookup with --api).
  if (v1.status === "rejected") throw v1.reason;
  if (v2.status === "rejected") throw v2.reason;
  const api: ApiKind | undefined = found(v1) ? "v1" : found(v2) ? "v2" : undefined;
  if (!api) {
    throw new NotFoundError(
      `no v1 web service or v2 online endpoint named ${name} in workspace ${deps.workspace.workspace} (resource group ${deps.workspace.resourceGroup})`,
    );
  }
  deps.cache?.putKind(name, api);
  return api;
}

/**
 * A plain ARM GET of the online endpoint through our pipeline (not the SDK, which would cost its
 * load time on every first lookup). A 404 about the workspace itself is an error, not "absent".
 */
export async function v2EndpointExists(pipeline: HttpPipeline, target: WorkspaceTarget, name: string, signal?: AbortSignal): Promise<boolean> {
  const url = armUrl(
    target.armEndpoint,
    `${workspaceArmPath(target)}/onlineEndpoints/${encodeURIComponent(name)}`,
    ONLINE_ENDPOINTS_API_VERSION,
  );
  const res = await pipeline.send({ method: "GET", url, ...(signal ? { signal } : {}) });
  if (res.status === 404) {
    const code = armErrorCode(res.bodyText);
    if (code && /^(ParentResourceNotFound|ResourceGroupNotFound|SubscriptionNotFound|WorkspaceNotFound)$/i.test(code)) {
      throw new NotFoundError(
        `workspace ${target.workspace} not found (resource group ${target.resourceGroup}, subscription ${target.subscription})`,
      );
    }
    return false;
  }
  if (res.status >= 200 && res.status < 300) return true;
  throw errorFromResponse(res, new URL(url).host, `online endpoint ${name}`);
}

function armErrorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown } };
    return typeof body.error?.code === "string" ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}
