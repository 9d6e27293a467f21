// Sign-in: turns a credential kind into control-plane access tokens.
// @azure/identity is imported dynamically, and only inside getToken(), so a command that finds
// its token in the cache (or uses the static/emulator kinds) never loads it.
import { AuthError, InterruptedError, UsageError } from "../errors.js";
import { CLOUDS, normalizeCloudEndpoint } from "../core/clouds.js";
import type { HttpPipeline } from "./http-types.js";
import { redactAll as redactText } from "../output/redact.js";
import { createHttpsAgent } from "./http.js";

export const CREDENTIAL_KINDS = [
  "default",
  "cli",
  "env",
  "managed-identity",
  "workload-identity",
  "client-secret",
  "static",
  "emulator",
] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

export interface AccessToken {
  token: string;
  /** Epoch milliseconds. */
  expiresOnMs: number;
}

export interface TokenSource {
  readonly kind: CredentialKind;
  /** Whose tokens these are; part of the cache key so two identities never share an entry. */
  readonly tenantId: string | undefined;
  readonly clientId: string | undefined;
  /** false for `static`: the caller already holds that token, a disk copy would only add risk. */
  readonly cacheable: boolean;
  getToken(scope: string): Promise<AccessToken>;
}

export interface EmulatorSignIn {
  /** https://127.0.0.1:PORT (the emulator serves the Entra token endpoint itself). */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface CredentialSettings {
  kind: CredentialKind;
  env: Record<string, string | undefined>;
  now: () => number;
  /** Entra authority, e.g. https://login.microsoftonline.com (a cloud name is accepted too). */
  authorityHost?: string;
  /** Extra PEM CAs to trust for the sign-in calls. */
  ca?: string[];
  /** Trust only `ca` (emulator mode); see createHttpsAgent. */
  caExclusive?: boolean;
  signal?: AbortSignal;
  /** Kind `emulator`: the pipeline (it trusts the emulator CA) and the documented sign-in values. */
  pipeline?: HttpPipeline;
  emulator?: EmulatorSignIn;
}

export const PUBLIC_AUTHORITY_HOST = CLOUDS.public.authorityHost;
const KNOWN_AUTHORITY_ORIGINS = new Set<string>([
  ...Object.values(CLOUDS).map((c) => c.authorityHost),
  "https://login.microsoftonline.de",
  "https://login.windows.net",
]);

/** Without a lifetime we know, a token is assumed good for this long. */
const ASSUMED_LIFETIME_MS = 60 * 60_000;

export function parseCredentialKind(value: string): CredentialKind {
  const kind = value.trim().toLowerCase();
  const aliases: Record<string, CredentialKind> = { mi: "managed-identity", managedidentity: "managed-identity", az: "cli", azurecli: "cli", environment: "env" };
  const resolved = aliases[kind] ?? kind;
  if ((CREDENTIAL_KINDS as readonly string[]).includes(resolved)) return resolved as CredentialKind;
  throw new UsageError(`unknown credential kind ${JSON.stringify(value)}`, { hint: `use one of: ${CREDENTIAL_KINDS.join(", ")}` });
}

/** A cloud name (public, china, usgov) or a URL → an https origin. */
export function normalizeAuthorityHost(value: string | undefined): string {
  return normalizeCloudEndpoint(value, "authorityHost");
}

export function createTokenSource(settings: CredentialSettings): TokenSource {
  const env = settings.env;
  switch (settings.kind) {
    case "static":
      return staticSource(settings);
    case "emulator":
      return emulatorSource(settings);
    default: {
      const tenantId = nonEmpty(env.AZURE_TENANT_ID);
      const clientId = nonEmpty(env.AZURE_CLIENT_ID);
      return {
        kind: settings.kind,
        tenantId,
        clientId,
        cacheable: true,
        getToken: identityGetter(settings),
      };
    }
  }
}

function staticSource(settings: CredentialSettings): TokenSource {
  return {
    kind: "static",
    tenantId: undefined,
    clientId: undefined,
    cacheable: false,
    async getToken() {
      const raw = nonEmpty(settings.env.AMLAUTH_ACCESS_TOKEN);
      if (!raw) {
        throw new AuthError("credential `static` needs AMLAUTH_ACCESS_TOKEN", {
          hint: "export AMLAUTH_ACCESS_TOKEN=$(az account get-access-token --query accessToken -o tsv)",
        });
      }
      const token = raw.replace(/^Bearer\s+/i, "");
      const exp = jwtExpirySeconds(token);
      return { token, expiresOnMs: exp !== undefined ? exp * 1000 : settings.now() + ASSUMED_LIFETIME_MS };
    },
  };
}

/** A plain client-credentials POST to the emulator's token endpoint: no identity import, so it is fast. */
function emulatorSource(settings: CredentialSettings): TokenSource {
  const emulator = settings.emulator;
  const pipeline = settings.pipeline;
  if (!emulator || !pipeline) throw new UsageError("credential `emulator` works only with --emulator");
  return {
    kind: "emulator",
    tenantId: emulator.tenantId,
    clientId: emulator.clientId,
    cacheable: true,
    async getToken(scope) {
      const url = `${emulator.authorityHost.replace(/\/+$/, "")}/${encodeURIComponent(emulator.tenantId)}/oauth2/v2.0/token`;
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: emulator.clientId,
        client_secret: emulator.clientSecret,
        scope,
      });
      const res = await pipeline.send({
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        auth: false,
        // Asking for another token twice is harmless.
        idempotent: true,
        ...(settings.signal ? { signal: settings.signal } : {}),
      });
      const body = parseJsonObject(res.bodyText);
      if (res.status >= 400 || !body) {
        const reason = body ? describeOAuthError(body, [emulator.clientSecret]) : `HTTP ${res.status}`;
        throw new AuthError(`sign-in to the emulator failed: ${reason}`, {
          hint: "restart it with `amlauth emulator start`, or check the emulator connection file",
        });
      }
      const token = body.access_token;
      if (typeof token !== "string" || token === "") throw new AuthError("sign-in to the emulator failed: the reply has no access_token");
      return { token, expiresOnMs: expiryFromOAuth(body, token, settings.now()) };
    },
  };
}

type IdentityModule = typeof import("@azure/identity");
type IdentityCredential = import("@azure/identity").TokenCredential;

function identityGetter(settings: CredentialSettings): (scope: string) => Promise<AccessToken> {
  let credentialPromise: Promise<IdentityCredential> | undefined;
  return async (scope) => {
    credentialPromise ??= buildIdentityCredential(settings);
    let credential: IdentityCredential;
    try {
      credential = await credentialPromise;
    } catch (err) {
      credentialPromise = undefined;
      throw signInError(settings, err);
    }
    try {
      const result = await credential.getToken(scope, settings.signal ? { abortSignal: settings.signal } : {});
      if (!result?.token) throw new AuthError(`sign-in failed (${settings.kind}): no token was returned`);
      return { token: result.token, expiresOnMs: result.expiresOnTimestamp };
    } catch (err) {
      if (settings.signal?.aborted) throw new InterruptedError();
      throw signInError(settings, err);
    }
  };
}

async function buildIdentityCredential(settings: CredentialSettings): Promise<IdentityCredential> {
  // CommonJS package: bundled as ESM, its exports may sit on `default`.
  const identityModule = (await import("@azure/identity")) as IdentityModule & { default?: IdentityModule };
  const identity = identityModule.default ?? identityModule;
  const env = settings.env;
  const authorityHost = normalizeAuthorityHost(settings.authorityHost ?? env.AZURE_AUTHORITY_HOST);
  const extraCa = (settings.ca ?? []).filter((pem) => pem.trim() !== "");
  const common = {
    authorityHost,
    // Instance discovery asks login.microsoftonline.com about the authority; a private or
    // emulated authority would fail that, so trust it as given.
    ...(KNOWN_AUTHORITY_ORIGINS.has(authorityHost) ? {} : { disableInstanceDiscovery: true }),
    // The identity pipeline's own requests (token endpoint, metadata) trust the same CAs.
    ...(extraCa.length > 0 ? { agent: createHttpsAgent(extraCa, { exclusive: Boolean(settings.caExclusive) }) } : {}),
  };
  const tenantId = nonEmpty(env.AZURE_TENANT_ID);
  const clientId = nonEmpty(env.AZURE_CLIENT_ID);
  const need = (names: string[]): void => {
    const missing = names.filter((n) => !nonEmpty(env[n]));
    if (missing.length > 0) {
      throw new AuthError(`credential \`${settings.kind}\` needs ${missing.join(", ")} in the environment`);
    }
  };
  switch (settings.kind) {
    case "default":
      // DefaultAzureCredential reads AZURE_TOKEN_CREDENTIALS (dev/prod/one class) itself.
      return new identity.DefaultAzureCredential({ ...common, ...(tenantId ? { tenantId } : {}) });
    case "cli":
      return new identity.AzureCliCredential(tenantId ? { tenantId } : {});
    case "env": {
      // Built from the context's environment (not process.env) so what we were given is what we use.
      need(["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]);
      const secret = nonEmpty(env.AZURE_CLIENT_SECRET);
      if (secret) return new identity.ClientSecretCredential(tenantId!, clientId!, secret, common);
      const certificatePath = nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PATH);
      if (certificatePath) {
        const certificatePassword = nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PASSWORD);
        return new identity.ClientCertificateCredential(
          tenantId!,
          clientId!,
          { certificatePath, ...(certificatePassword ? { certificatePassword } : {}) },
          common,
        );
      }
      throw new AuthError("credential `env` needs AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH in the environment");
    }
    case "client-secret":
      need(["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]);
      return new identity.ClientSecretCredential(tenantId!, clientId!, nonEmpty(env.AZURE_CLIENT_SECRET)!, common);
    case "managed-identity":
      return new identity.ManagedIdentityCredential(clientId ? { ...common, clientId } : common);
    case "workload-identity": {
      need(["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"]);
      return new identity.WorkloadIdentityCredential({
        ...common,
        tenantId: tenantId!,
        clientId: clientId!,
        tokenFilePath: nonEmpty(env.AZURE_FEDERATED_TOKEN_FILE)!,
      });
    }
    default:
      throw new UsageError(`credential \`${settings.kind}\` is not handled by @azure/identity`);
  }
}

/** One line, no stack, no secret: identity errors are long and sometimes echo what they were given. */
function signInError(settings: CredentialSettings, err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const secrets = [settings.env.AZURE_CLIENT_SECRET, settings.env.AZURE_CLIENT_CERTIFICATE_PASSWORD].filter(
    (s): s is string => typeof s === "string" && s !== "",
  );
  const raw = err instanceof Error ? err.message : String(err);
  // Entra's own sentence ("AADSTS7000215: Invalid client secret provided.") says it best; MSAL
  // wraps it in timestamps, trace and correlation ids.
  const entra = /AADSTS\d+:.*?(?=\s+-\s+(?:Correlation|Trace) ID|\s+Trace ID:|\r?\n|$)/.exec(raw)?.[0];
  const lines = raw
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(To troubleshoot|For more information|Trace ID|Correlation ID|Timestamp)/i.test(l));
  let text = redactText(entra ?? lines.slice(0, 2).join(" "), secrets).replace(/\s+/g, " ").trim();
  if (text.length > 300) text = `${text.slice(0, 299)}…`;
  const hints: Partial<Record<CredentialKind, string>> = {
    default: "sign in with `az login`, or pick a credential with --credential (cli, env, managed-identity, workload-identity, static)",
    cli: "run `az login` (and `az account set`) first",
    env: "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
    "client-secret": "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
    "managed-identity": "run on an Azure host with a managed identity, or set AZURE_CLIENT_ID for a user-assigned one",
    "workload-identity": "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE",
  };
  const hint = hints[settings.kind];
  return new AuthError(`sign-in failed (${settings.kind}): ${text || "no details"}`, hint ? { hint } : {});
}

// ---------------------------------------------------------------------------------------------
// Token helpers

/** `exp` of a JWT in epoch seconds, without verifying it (we only need to know when to refresh). */
export function jwtExpirySeconds(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

function expiryFromOAuth(body: Record<string, unknown>, token: string, nowMs: number): number {
  const expiresOn = Number(body.expires_on);
  if (Number.isFinite(expiresOn) && expiresOn > 0) return expiresOn * 1000;
  const expiresIn = Number(body.expires_in);
  if (Number.isFinite(expiresIn) && expiresIn > 0) return nowMs + expiresIn * 1000;
  const exp = jwtExpirySeconds(token);
  return exp !== undefined ? exp * 1000 : nowMs + ASSUMED_LIFETIME_MS;
}

function describeOAuthError(body: Record<string, unknown>, secrets: string[]): string {
  const parts = [body.error_description, body.error, (body.error as { message?: unknown } | undefined)?.message].filter(
    (p): p is string => typeof p === "string" && p !== "",
  );
  // Entra descriptions go on with "Trace ID: … Correlation ID: … Timestamp: …" lines: keep the first.
  const first = (parts[0] ?? "the token endpoint refused the request").split(/\r?\n/)[0]!;
  const text = redactText(first, secrets).replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v.trim() : undefined;
}
