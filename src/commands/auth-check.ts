// amlauth auth check [NAME] [--key primary|secondary | --token] [--credential-stdin] [--data @file.json]
// Calls the scoring URI with the credential the service's mode needs and explains the answer.
import { Command, Option } from "commander";
import type { App } from "../app.js";
import { AmlauthError, ExitCode, UsageError } from "../errors.js";
import type { HttpResponse } from "../rest/http-types.js";
import type { ServiceInfo } from "../rest/types.js";
import { obtainServiceToken } from "./token-get.js";
import { bodyExcerpt, defaultCredentialFor, postToScoring, readRequestData, type CredentialChoice } from "./scoring.js";
import { readSecretFromStdin, target } from "./shared.js";

export interface AuthCheckOptions {
  key?: "primary" | "secondary";
  token?: boolean;
  credentialStdin?: boolean;
  data?: string;
}

export interface AuthCheckResult {
  name: string;
  ok: boolean;
  status: number;
  credential: string;
  cause: string;
}

export function makeAuthCheckCommand(app: App): Command {
  return new Command("check")
    .description("call the scoring URI with the right credential and explain the answer")
    .argument("[name]", "service or endpoint name (default: from config)")
    .addOption(new Option("--key <which>", "check a key instead of the mode's default credential").choices(["primary", "secondary"]))
    .option("--token", "check a token (from the cache, refreshed when due)")
    .option("--credential-stdin", "check the key or token given on stdin instead of fetching one")
    .option("--data <json>", "request body: @file.json, - for stdin, or inline JSON (default {})")
    .addHelpText(
      "after",
      `
Causes: 200 ok; 401 wrong or expired credential (says which); 403 the identity lacks the scoring
permission; 404 no deployment taking traffic; 424/5xx the model failed. Exit 0 only on success,
4 on authentication failures, 3 for an unknown service, 1 otherwise.

Examples:
  amlauth auth check demo-aci
  amlauth auth check demo-aci --key secondary
  printf %s "$TOKEN" | amlauth auth check demo-aks --credential-stdin`,
    )
    .action(async (name: string | undefined, opts: AuthCheckOptions) => {
      await runAuthCheck(app, name, opts);
    });
}

export async function runAuthCheck(app: App, nameArg: string | undefined, opts: AuthCheckOptions): Promise<AuthCheckResult> {
  if (opts.key && opts.token) throw new UsageError("pass at most one of --key or --token");
  if (opts.credentialStdin && opts.data === "-") throw new UsageError("--credential-stdin and --data - both want stdin");
  const body = await readRequestData(app, opts.data, "{}");
  const given = opts.credentialStdin ? await readSecretFromStdin(app, "credential") : undefined;
  const { name, api, backend } = await target(app, nameArg);
  const info = await backend.get(name);

  const choice: CredentialChoice = opts.key
    ? { kind: "key", which: opts.key }
    : opts.token
      ? { kind: "token" }
      : given !== undefined && info.authMode === "none"
        ? { kind: "key", which: "primary" }
        : defaultCredentialFor(info);
  let secret = given;
  if (secret === undefined && choice.kind === "key") {
    const keys = await backend.listKeys(name);
    secret = choice.which === "primary" ? keys.primaryKey : keys.secondaryKey;
  } else if (secret === undefined && choice.kind === "token") {
    secret = (await obtainServiceToken(app, name, api, backend, { useCache: true, forceRefresh: false })).accessToken;
  }
  app.rememberSecret(secret);

  const res = await postToScoring(app, info, secret, body);
  const credential = describeCredential(choice, given !== undefined);
  const result: AuthCheckResult = { name, ok: res.status >= 200 && res.status < 300, status: res.status, credential, cause: "" };
  result.cause = explain(app, info, choice, secret, res);

  const out = await app.printer();
  if (out.formatFor() === "json") out.data(JSON.stringify(result) + "\n");
  else out.data(`${result.ok ? "ok" : "failed"}\t${res.status}\t${credential}\t${result.cause}\n`);
  if (!result.ok) {
    const code = res.status === 401 || res.status === 403 ? ExitCode.Auth : ExitCode.Failure;
    throw new AmlauthError(`auth check of ${name} failed: ${result.cause}`, code);
  }
  return result;
}

function describeCredential(choice: CredentialChoice, fromStdin: boolean): string {
  const base = choice.kind === "key" ? `${choice.which} key` : choice.kind === "token" ? "token" : "no credential";
  return fromStdin ? `${base === "no credential" ? "credential" : base} from stdin` : base;
}

function explain(app: App, info: ServiceInfo, choice: CredentialChoice, secret: string | undefined, res: HttpResponse): string {
  const s = res.status;
  if (s >= 200 && s < 300) return `${info.name} accepted the credential (${info.authMode} auth)`;
  const detail = bodyExcerpt(app, res);
  if (s === 401) {
    if (!secret) return `the service requires a credential (${info.authMode} auth) but none was sent`;
    const exp = jwtExpiry(secret);
    if (exp !== undefined && exp * 1000 <= app.ctx.now()) {
      return `the token expired at ${new Date(exp * 1000).toISOString()}; get a new one with \`amlauth token get ${info.name} --force-refresh\``;
    }
    if (info.authMode === "key" && exp !== undefined) return `a token was sent but ${info.name} uses key auth; use its key (\`amlauth keys list ${info.name}\`)`;
    if (info.authMode !== "key" && info.authMode !== "none" && exp === undefined) {
      return `a key was sent but ${info.name} uses ${info.authMode} auth; use \`amlauth token get ${info.name}\``;
    }
    if (choice.kind === "key" || exp === undefined) return `the key was rejected: it is wrong or was regenerated (${detail})`;
    return `the token was rejected: ${detail}`;
  }
  if (s === 403) {
    return `the identity lacks permission to score (needs Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action, e.g. the AzureML Data Scientist role): ${detail}`;
  }
  if (s === 404) return `no deployment is taking traffic at the scoring URI (${detail})`;
  if (s === 424 || s >= 500) return `the model failed (HTTP ${s}): ${detail}`;
  return `unexpected HTTP ${s}: ${detail}`;
}

/** exp of a JWT without verifying it (we only explain; the server decides). */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}
