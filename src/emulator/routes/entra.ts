// Entra-like sign-in: OpenID metadata, JWKS and a client-credentials token endpoint.
// Enough for @azure/identity's ClientSecretCredential with
// { authorityHost: <emulator url>, disableInstanceDiscovery: true } (v2-sdk.md §4.3), and for curl.
// Only the documented emulator client (world.ts EMULATOR_CLIENT_ID / EMULATOR_CLIENT_SECRET) exists.
import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestContext } from "../types.js";
import type { EmulatorRoute, RouteDeps } from "../deps.js";
import { httpErrors } from "../errors.js";
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT_ID } from "../world.js";
import { mediaType } from "./common.js";

const OIDC_SCOPES = new Set(["openid", "profile", "offline_access", "email"]);
const secretDigest = createHash("sha256").update(EMULATOR_CLIENT_SECRET).digest();

function assertTenant(tenant: string | undefined): void {
  if (tenant === undefined || tenant.toLowerCase() !== EMULATOR_TENANT_ID) {
    throw httpErrors.entra(
      400,
      "invalid_tenant",
      `Tenant '${(tenant ?? "").slice(0, 100)}' not found. The emulator's tenant is ${EMULATOR_TENANT_ID}.`,
      90002,
    );
  }
}

/** client_secret_post or client_secret_basic. */
function clientCredentials(ctx: RequestContext, form: URLSearchParams): { clientId: string | null; secret: string | null } {
  const header = ctx.headers["authorization"];
  const basic = typeof header === "string" ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (basic !== null) {
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  }
  return { clientId: form.get("client_id"), secret: form.get("client_secret") };
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded first. */
function formDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

export function entraRoutes(deps: RouteDeps): EmulatorRoute[] {
  const tenantBase = () => `${deps.baseUrl()}/${EMULATOR_TENANT_ID}`;
  const metadata = (ctx: RequestContext) => {
    assertTenant(ctx.params["tenant"]);
    const base = tenantBase();
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: deps.tokens.entraIssuer(),
        request_uri_parameter_supported: false,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "appid", "oid"],
        tenant_region_scope: null,
        cloud_instance_name: "amlauth-emulator",
        cloud_graph_host_name: "graph.invalid",
        msgraph_host: "graph.invalid",
      },
    };
  };

  return [
    { method: "GET", pattern: /^\/(?<tenant>[^/]+)\/v2\.0\/\.well-known\/openid-configuration$/, auth: "none", errorShape: "entra", handle: metadata },
    { method: "GET", pattern: /^\/(?<tenant>[^/]+)\/\.well-known\/openid-configuration$/, auth: "none", errorShape: "entra", handle: metadata },
    {
      method: "GET",
      pattern: /^\/(?<tenant>[^/]+)\/discovery\/v2\.0\/keys$/,
      auth: "none",
      errorShape: "entra",
      handle: (ctx) => {
        assertTenant(ctx.params["tenant"]);
        return { status: 200, body: deps.tokens.jwks() };
      },
    },
    {
      method: "POST",
      pattern: /^\/(?<tenant>[^/]+)\/oauth2\/v2\.0\/token$/,
      auth: "none",
      errorShape: "entra",
      maxBodyBytes: 64 * 1024,
      handle: (ctx) => {
        assertTenant(ctx.params["tenant"]);
        if (mediaType(ctx) !== "application/x-www-form-urlencoded") {
          throw httpErrors.entra(400, "invalid_request", "The request body must be application/x-www-form-urlencoded.", 900144);
        }
        const form = new URLSearchParams(ctx.body.toString("utf8"));
        const grantType = form.get("grant_type");
        if (grantType === null || grantType === "") {
          throw httpErrors.entra(400, "invalid_request", "The request body must contain the following parameter: 'grant_type'.", 900144);
        }
        if (grantType !== "client_credentials") {
          throw httpErrors.entra(
            400,
            "unsupported_grant_type",
            "The emulator supports only the client_credentials grant.",
            70003,
          );
        }
        const { clientId, secret } = clientCredentials(ctx, form);
        if (clientId === null || clientId === "") {
          throw httpErrors.entra(400, "invalid_request", "The request body must contain the following parameter: 'client_id'.", 900144);
        }
        if (clientId.toLowerCase() !== EMULATOR_CLIENT_ID) {
          throw httpErrors.entra(
            400,
            "unauthorized_client",
            `Application with identifier '${clientId.slice(0, 100)}' was not found in the directory. The emulator's client id is ${EMULATOR_CLIENT_ID}.`,
            700016,
          );
        }
        if (secret === null || secret === "") {
          throw httpErrors.entra(
            401,
            "invalid_client",
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            7000216,
          );
        }
        if (!timingSafeEqual(createHash("sha256").update(secret).digest(), secretDigest)) {
          throw httpErrors.entra(401, "invalid_client", "Invalid client secret provided.", 7000215);
        }
        const scopes = (form.get("scope") ?? "").split(/\s+/).filter((s) => s !== "" && !OIDC_SCOPES.has(s));
        if (scopes.length === 0) {
          throw httpErrors.entra(400, "invalid_request", "The request body must contain the following parameter: 'scope'.", 900144);
        }
        const scope = scopes[0]!;
        if (scopes.length > 1 || !scope.endsWith("/.default") || scope.length <= "/.default".length) {
          throw httpErrors.entra(
            400,
            "invalid_scope",
            "Client credential flows must have exactly one scope value with /.default suffixed to the resource identifier (e.g. https://management.azure.com/.default).",
            1002012,
          );
        }
        const audience = scope.slice(0, -"/.default".length);
        const token = deps.tokens.mintEntraToken(audience, EMULATOR_CLIENT_ID);
        return {
          status: 200,
          headers: { "cache-control": "no-store, no-cache", pragma: "no-cache" },
          body: {
            token_type: "Bearer",
            expires_in: token.expiresIn,
            ext_expires_in: token.expiresIn,
            access_token: token.accessToken,
          },
        };
      },
    },
    {
      method: "GET",
      pattern: /^\/(?<tenant>[^/]+)\/oauth2\/v2\.0\/authorize$/,
      auth: "none",
      errorShape: "entra",
      handle: () => {
        throw httpErrors.entra(
          400,
          "unsupported_response_type",
          "The amlauth emulator has no interactive sign-in; use the client credentials grant at the token endpoint.",
          70000,
        );
      },
    },
    {
      method: "GET",
      pattern: /^\/(?<tenant>[^/]+)\/oauth2\/v2\.0\/logout$/,
      auth: "none",
      errorShape: "entra",
      handle: () => ({ status: 200, body: "Signed out of the amlauth emulator (nothing to do).\n" }),
    },
  ];
}
