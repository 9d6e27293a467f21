// The authentication rules of v1 web services (ACI/AKS) and v2 online endpoints.
// Pure: no I/O. Every violation throws RuleViolationError (exit 2) before any network call, with
// one fixed message per rule that says what is wrong and what to do instead, plus a hint naming the
// exact flag, file key or command for where the request came from.
import { RuleViolationError, ServiceError, UsageError } from "../errors.js";

export type V1Compute = "ACI" | "AKS";
export type V1AuthMode = "key" | "token" | "none";
export type V2AuthMode = "key" | "aml_token" | "aad_token";
export type V2WireMode = "Key" | "AMLToken" | "AADToken";

/** Requested v1 flags; undefined = not specified (the service default applies). */
export interface V1AuthRequest {
  authEnabled?: boolean;
  tokenAuthEnabled?: boolean;
}

/** Where a request came from, so the hint can name the right flag, file key or command. */
export type RuleSource = "flag" | "file" | "update";

/** The final wire flags of a v1 service: key auth and token (aadAuthEnabled) auth. */
export interface V1AuthFlags {
  authEnabled: boolean;
  aadAuthEnabled: boolean;
}

export interface V1ServiceAuthState extends V1AuthFlags {
  computeType: V1Compute;
  /** Only used to make hints copy-pasteable. */
  name?: string;
}

export interface V1AuthPatchOp {
  op: "replace";
  path: "/authEnabled" | "/aadAuthEnabled";
  value: boolean;
}

/** Rule ids (RuleViolationError.rule) and their messages. */
export const RULES = {
  "v1-token-on-aci": "ACI web services do not support token authentication; use key auth, or deploy to AKS for token auth.",
  "v1-key-and-token": "key and token authentication cannot both be on for one web service; choose one of them.",
  "v1-aad-token": "v1 web services have no aad_token mode; use token (Azure ML tokens) or key.",
  "v1-token-unavailable-aci": "ACI web services do not support token authentication; use their keys instead.",
  "v1-token-not-enabled": "token authentication is off for this web service; turn it on first, or use its keys.",
  "v2-no-none": "v2 online endpoints cannot turn authentication off (there is no `none` mode); use key, aml_token or aad_token.",
  "v2-aad-on-kubernetes": "aad_token is only supported on managed online endpoints, not on Kubernetes endpoints; use key or aml_token.",
} as const;
export type RuleId = keyof typeof RULES;

function violation(rule: RuleId, hint: string): RuleViolationError {
  return new RuleViolationError(rule, RULES[rule], { hint });
}

const nameOr = (name: string | undefined): string => name ?? "NAME";

// Kept local (not config-file.ts's quoteInput) so this module loads no YAML parser.
function quoteInput(value: string): string {
  const oneLine = value.replace(/[\u0000-\u001f\u007f]/g, "?");
  return JSON.stringify(oneLine.length > 40 ? `${oneLine.slice(0, 40)}…` : oneLine);
}

// ---------------------------------------------------------------------------------------------
// v1 (ACI / AKS)

/**
 * Final auth flags of a new v1 deployment. Defaults (v1-contract.md §5): key auth on for AKS and
 * off for ACI; token auth off. Violations: token auth on ACI; key and token both true.
 */
export function resolveV1DeployAuth(compute: V1Compute, req: V1AuthRequest, source: RuleSource): V1AuthFlags {
  if (compute === "ACI") {
    if (req.tokenAuthEnabled === true) {
      // The SDK ignores tokenAuthEnabled for ACI in a --dc file; we refuse it instead, since the
      // user clearly expects token auth and silently getting none (or key auth) is worse.
      throw violation(
        "v1-token-on-aci",
        source === "file"
          ? "In the deploy config, remove tokenAuthEnabled (set authEnabled: true for key auth) or use computeType: AKS."
          : source === "update"
            ? "Try `amlauth auth set NAME --mode key`."
            : "Use --auth key, or deploy to AKS with --compute-type aks --compute-target NAME.",
      );
    }
    return { authEnabled: req.authEnabled ?? false, aadAuthEnabled: false };
  }
  if (req.authEnabled === true && req.tokenAuthEnabled === true) {
    throw violation(
      "v1-key-and-token",
      source === "file"
        ? "In the deploy config, set authEnabled: false for token auth, or tokenAuthEnabled: false for key auth."
        : source === "update"
          ? "Use `amlauth auth set NAME --mode key` or `--mode token`."
          : "Use --auth key or --auth token.",
    );
  }
  const aadAuthEnabled = req.tokenAuthEnabled ?? false;
  // SDK quirk: tokenAuthEnabled=true with authEnabled unspecified passes the SDK's check and leaves
  // the server's AKS default (key auth on), an invalid pair whose outcome is unknown
  // (v1-contract.md §5). The user asked for token auth and the two cannot coexist, so an
  // unspecified key flag means "off" here.
  const authEnabled = req.authEnabled ?? !aadAuthEnabled;
  return { authEnabled, aadAuthEnabled };
}

/** Both flags, explicit, for a v1 mode. */
export function v1ModeToFlags(mode: V1AuthMode): { authEnabled: boolean; tokenAuthEnabled: boolean } {
  return { authEnabled: mode === "key", tokenAuthEnabled: mode === "token" };
}

/**
 * The mode a service is in. Both flags on cannot be created through amlauth; if a service reports
 * it anyway we call it "token", because clients then send the token (the SDK sets that header last).
 */
export function v1FlagsToMode(authEnabled: boolean, aadAuthEnabled: boolean): V1AuthMode {
  if (aadAuthEnabled) return "token";
  return authEnabled ? "key" : "none";
}

/**
 * The JSON Patch that moves a service from its current auth state to `target` (a mode, or
 * az-style flags where undefined keeps the current value).
 * - Never passes through key+token: "off" ops come before "on" ops, and on AKS both ops are sent
 *   whenever anything changes, so the server never has to infer the other flag.
 * - Never emits /aadAuthEnabled for ACI (the SDK never sends it there; the service's reaction is
 *   unknown, v1-deploy.md Corrections).
 * - Asking for token auth while key auth is on (or the reverse) without naming the other flag turns
 *   the other one off, as in resolveV1DeployAuth; the SDK errors instead (v1-contract.md §5).
 */
export function planV1AuthUpdate(
  current: V1ServiceAuthState,
  target: V1AuthMode | V1AuthRequest,
): { patch: V1AuthPatchOp[]; changed: boolean; next: V1AuthFlags } {
  const req = typeof target === "string" ? v1ModeToFlags(target) : target;
  const name = nameOr(current.name);
  if (current.computeType === "ACI" && req.tokenAuthEnabled === true) {
    throw violation("v1-token-on-aci", `Try \`amlauth auth set ${name} --mode key\` (or --mode none).`);
  }
  if (req.authEnabled === true && req.tokenAuthEnabled === true) {
    throw violation("v1-key-and-token", `Use \`amlauth auth set ${name} --mode key\` or \`--mode token\`.`);
  }
  let next: V1AuthFlags;
  if (current.computeType === "ACI") {
    next = { authEnabled: req.authEnabled ?? current.authEnabled, aadAuthEnabled: false };
  } else {
    let authEnabled = req.authEnabled ?? current.authEnabled;
    let aadAuthEnabled = req.tokenAuthEnabled ?? current.aadAuthEnabled;
    if (authEnabled && aadAuthEnabled) {
      // Only one of the two was asked for explicitly (both-true was refused above): it wins.
      if (req.tokenAuthEnabled === true) authEnabled = false;
      else aadAuthEnabled = false;
    }
    next = { authEnabled, aadAuthEnabled };
  }
  const changed =
    next.authEnabled !== current.authEnabled ||
    (current.computeType === "AKS" && next.aadAuthEnabled !== current.aadAuthEnabled);
  if (!changed) return { patch: [], changed: false, next };
  const ops: V1AuthPatchOp[] = [{ op: "replace", path: "/authEnabled", value: next.authEnabled }];
  if (current.computeType === "AKS") ops.push({ op: "replace", path: "/aadAuthEnabled", value: next.aadAuthEnabled });
  // Switch off before switching on, so a server applying ops in order never sees key+token.
  ops.sort((a, b) => Number(a.value) - Number(b.value));
  return { patch: ops, changed: true, next };
}

/** Before `token get` on a v1 service: ACI never has tokens; AKS only with token auth on. */
export function assertV1TokenAvailable(info: { name: string; computeType: V1Compute; tokenAuthEnabled: boolean }): void {
  if (info.computeType === "ACI") {
    throw violation("v1-token-unavailable-aci", `Try \`amlauth keys list ${info.name}\`.`);
  }
  if (!info.tokenAuthEnabled) {
    throw violation("v1-token-not-enabled", `Turn it on with \`amlauth auth set ${info.name} --mode token\`.`);
  }
}

/**
 * Parses a v1 `--mode`/`--auth` value: key | token | none (case-insensitive). `aml_token` is
 * accepted as `token`, because a v1 token *is* an Azure ML token and the same word then works for
 * both APIs; `aad_token` does not exist on v1 and is a rule violation.
 */
export function parseV1AuthMode(input: string): V1AuthMode {
  const value = input.trim().toLowerCase().replace(/-/g, "_");
  if (value === "key" || value === "none") return value;
  if (value === "token" || value === "aml_token" || value === "amltoken") return "token";
  if (value === "aad_token" || value === "aadtoken") {
    throw violation("v1-aad-token", "Use --mode token or --mode key.");
  }
  throw new UsageError(`unknown auth mode ${quoteInput(input)} for a v1 web service; choose key, token or none`);
}

// ---------------------------------------------------------------------------------------------
// v2 (online endpoints)

const V2_WIRE: Record<V2AuthMode, V2WireMode> = { key: "Key", aml_token: "AMLToken", aad_token: "AADToken" };

/**
 * Parses a v2 mode: key | aml_token | aad_token, case-insensitive, also the wire names
 * (Key/AMLToken/AADToken) and `token` as an alias of aml_token. `none` is a rule violation.
 */
export function normalizeV2AuthMode(input: string): V2AuthMode {
  const value = input.trim().toLowerCase().replace(/-/g, "_");
  if (value === "key") return "key";
  if (value === "aml_token" || value === "amltoken" || value === "token") return "aml_token";
  if (value === "aad_token" || value === "aadtoken") return "aad_token";
  if (value === "none") throw violation("v2-no-none", "Use --mode key (or aml_token / aad_token).");
  throw new UsageError(
    `unknown auth mode ${quoteInput(input)} for a v2 online endpoint; choose key, aml_token or aad_token (token = aml_token)`,
  );
}

/**
 * aad_token only on managed endpoints (v2-sdk.md §1.4): Kubernetes = properties.compute is set.
 * `source` "flag" = a deploy (--auth), "update" = `auth set` on an existing endpoint.
 */
export function assertV2ModeAllowed(
  mode: V2AuthMode,
  endpoint: { kubernetes: boolean; name?: string },
  source: RuleSource = "update",
): void {
  if (mode === "aad_token" && endpoint.kubernetes) {
    throw violation(
      "v2-aad-on-kubernetes",
      source === "update"
        ? `Try \`amlauth auth set ${nameOr(endpoint.name)} --mode aml_token\` (or --mode key).`
        : "Use --auth aml_token or --auth key, or create a managed endpoint (without --compute).",
    );
  }
}

export function v2WireMode(mode: V2AuthMode): V2WireMode {
  return V2_WIRE[mode];
}

/** Parses properties.authMode from ARM (case-insensitive); anything else is an unusable reply. */
export function v2ModeFromWire(wire: string): V2AuthMode {
  const value = wire.trim().toLowerCase();
  for (const [mode, name] of Object.entries(V2_WIRE) as Array<[V2AuthMode, V2WireMode]>) {
    if (name.toLowerCase() === value) return mode;
  }
  throw new ServiceError(`the service reported an unknown endpoint auth mode ${quoteInput(wire)}`);
}
