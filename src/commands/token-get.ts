// amlauth token get [NAME] — the raw JWT and a newline on stdout, nothing else, so that
// curl -H "Authorization: Bearer $(amlauth token get svc)" URL works.
import { Command } from "commander";
import type { App } from "../app.js";
import { ServiceError, UsageError } from "../errors.js";
import { assertV1TokenAvailable } from "../core/rules.js";
import { renderToken, renderAuthHeader, renderCurlConfig } from "../output/format.js";
import type { ApiKind, AuthBackend, ServiceToken } from "../rest/types.js";
import { target } from "./shared.js";

export interface TokenGetOptions {
  cache?: boolean; // false with --no-cache
  forceRefresh?: boolean;
  header?: boolean;
  curlConfig?: boolean;
}

export function makeTokenGetCommand(app: App): Command {
  return new Command("get")
    .description("print an access token for a token-auth web service (AKS) or an aml_token/aad_token endpoint")
    .argument("[name]", "service or endpoint name (default: from config)")
    .option("--no-cache", "neither read nor write the token cache")
    .option("--force-refresh", "fetch a new token even if the cached one is still fresh")
    .option("--header", "print `Authorization: Bearer <token>` (for curl -H @-)")
    .option("--curl-config", "print a curl config line (for curl -K -), keeping the token out of argv")
    .addHelpText(
      "after",
      `
Tokens are cached (files 0600 in a 0700 directory) until their refresh-after time.

Examples:
  curl -H "Authorization: Bearer $(amlauth token get demo-aks)" -d @input.json "$SCORING_URI"
  amlauth token get demo-aks --curl-config | curl -K - -d @input.json "$SCORING_URI"
  amlauth token get demo-aks -o json`,
    )
    .action(async (name: string | undefined, opts: TokenGetOptions) => {
      await runTokenGet(app, name, opts);
    });
}

export async function runTokenGet(app: App, nameArg: string | undefined, opts: TokenGetOptions): Promise<void> {
  if (opts.header && opts.curlConfig) throw new UsageError("pass at most one of --header or --curl-config");
  const { name, api, backend } = await target(app, nameArg);
  const token = await obtainServiceToken(app, name, api, backend, {
    useCache: opts.cache !== false,
    forceRefresh: Boolean(opts.forceRefresh),
  });
  const out = await app.printer();
  app.rememberSecret(token.accessToken);
  if (token.source === "entra" && app.ctx.stderrIsTTY) {
    out.info(`note: ${name} uses aad_token auth; this is an Entra token for https://ml.azure.com from your own credential`);
  }
  if (opts.header || opts.curlConfig) {
    const line = opts.header ? renderAuthHeader(token.accessToken) : renderCurlConfig(token.accessToken);
    out.secret(line, [token.accessToken]);
    return;
  }
  out.secret(renderToken(token, out.formatFor({ singleSecret: true }), { chalk: out.chalk }), [token.accessToken]);
}

/**
 * A token from the cache while now < refreshAfter, else a fresh one (then cached).
 * A cache hit makes no network call and loads no Azure SDK module.
 */
export async function obtainServiceToken(
  app: App,
  name: string,
  api: ApiKind,
  backend: AuthBackend,
  opts: { useCache: boolean; forceRefresh: boolean },
): Promise<ServiceToken> {
  const session = await app.session();
  const nowSeconds = app.ctx.now() / 1000;
  if (opts.useCache && !opts.forceRefresh) {
    const cached = session.cache.getServiceToken(api, name);
    if (cached && nowSeconds < cached.refreshAfter && nowSeconds < cached.expiryOn) return cached;
  }
  const token = await fetchToken(app, name, api, backend);
  if (opts.useCache) session.cache.putServiceToken(api, name, token);
  return token;
}

async function fetchToken(app: App, name: string, api: ApiKind, backend: AuthBackend): Promise<ServiceToken> {
  try {
    return await backend.getToken(name);
  } catch (err) {
    // The service refused: explain with the rules module (ACI, or token auth off) — exit 2.
    if (api === "v1" && err instanceof ServiceError && err.status !== undefined && err.status < 500) {
      const info = await backend.get(name);
      if (info.computeType === "ACI" || info.computeType === "AKS") {
        assertV1TokenAvailable({ name, computeType: info.computeType, tokenAuthEnabled: info.tokenAuthEnabled });
      }
    }
    throw err;
  }
}
