// v1 scoring endpoints: AKS-style /api/v1/service/{name}/score and ACI-style /aci/{name}/score.
// Each enforces the service's CURRENT mode (read from the in-memory state on every call, so a
// regenerated key or a mode change takes effect at once): key (primary or secondary), token (an AML
// token from this emulator's /token, bound to this service), or none. Success answers a JSON echo
// {service, input}; no model runs. Hot path: no file I/O, no key import, verified tokens cached.
import type { RequestContext } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { httpErrors } from "../errors.js";
import type { ScoringAuthRule } from "../scoring-auth.js";
import type { V1ComputeType, V1ServiceRecord } from "../store.js";
import { scoringUriFor } from "./mms.js";

export function scoringRoutes(deps: RouteDeps): EmulatorRoute[] {
  const describeAudience = (aud: unknown): string | null => {
    const parsed = deps.tokens.parseServiceAudience(aud);
    if (parsed === null) return null;
    return parsed.api === "v1" ? `service '${parsed.name}'` : `online endpoint '${parsed.name}'`;
  };

  const findDeployed = (ctx: RequestContext, computeType: V1ComputeType): V1ServiceRecord => {
    const name = ctx.params["name"] ?? "";
    const record = deps.store.state.v1Services[name];
    if (record === undefined || record.computeType !== computeType) {
      const hint =
        record !== undefined ? ` '${name}' is an ${record.computeType} service; its scoring URI is ${scoringUriFor(ctx.baseUrl, record)}.` : "";
      throw httpErrors.notFound(`No ${computeType} service named '${name.slice(0, 100)}' is deployed here.${hint}`, "ServiceNotFound");
    }
    return record;
  };

  const ruleFor = (record: V1ServiceRecord): ScoringAuthRule => {
    if (record.aadAuthEnabled) {
      return {
        mode: "token",
        verifier: deps.tokens.verifier,
        issuer: deps.tokens.amlTokenIssuer(),
        audience: deps.tokens.serviceAudience("v1", record.name),
        keys: record.keys,
        describeAudience,
      };
    }
    return record.authEnabled ? { mode: "key", keys: record.keys } : { mode: "none" };
  };

  const score = (computeType: V1ComputeType) => (ctx: RequestContext) => {
    const record = findDeployed(ctx, computeType);
    const denied = deps.scoring.checkScoringAuth(ctx.headers, ruleFor(record));
    if (denied !== null) throw denied;
    if (!record.ready || record.state === "Failed") {
      throw httpErrors.serviceUnavailable(`Service '${record.name}' is not ready yet (state ${record.state}); retry shortly.`, 1);
    }
    let input: unknown = null;
    if (ctx.body.length > 0) {
      try {
        input = JSON.parse(ctx.body.toString("utf8"));
      } catch {
        throw httpErrors.badRequest("The scoring input is not valid JSON.");
      }
    }
    return { status: 200, body: { service: record.name, input } };
  };

  const swagger = (computeType: V1ComputeType) => (ctx: RequestContext) => {
    const record = findDeployed(ctx, computeType);
    return {
      status: 200,
      body: {
        swagger: "2.0",
        info: { title: record.name, description: "amlauth emulator echo service", version: "1.0" },
        schemes: ["https"],
        consumes: ["application/json"],
        produces: ["application/json"],
        paths: { [new URL(scoringUriFor(ctx.baseUrl, record)).pathname]: { post: { responses: { "200": { description: "echo" } } } } },
      },
    };
  };

  const scoringLimit = 4 * 1024 * 1024;
  return [
    { method: "POST", pattern: /^\/api\/v1\/service\/(?<name>[^/]+)\/score$/, auth: "scoring", errorShape: "scoring", maxBodyBytes: scoringLimit, handle: score("AKS") },
    { method: "POST", pattern: /^\/aci\/(?<name>[^/]+)\/score$/, auth: "scoring", errorShape: "scoring", maxBodyBytes: scoringLimit, handle: score("ACI") },
    { method: "GET", pattern: /^\/api\/v1\/service\/(?<name>[^/]+)\/swagger\.json$/, auth: "none", errorShape: "scoring", handle: swagger("AKS") },
    { method: "GET", pattern: /^\/aci\/(?<name>[^/]+)\/swagger\.json$/, auth: "none", errorShape: "scoring", handle: swagger("ACI") },
  ];
}
