// amlauth invoke [NAME] --data @file.json|-|JSON — POST to the scoring URI with the right
// credential (tokens from the cache) and print the response body on stdout.
import { Command } from "commander";
import type { App } from "../app.js";
import { AuthError, ServiceError } from "../errors.js";
import { obtainServiceToken } from "./token-get.js";
import { bodyExcerpt, defaultCredentialFor, postToScoring, readRequestData } from "./scoring.js";
import { target } from "./shared.js";

export interface InvokeOptions {
  data?: string;
}

export function makeInvokeCommand(app: App): Command {
  return new Command("invoke")
    .description("call the scoring URI with the right credential and print the response body")
    .argument("[name]", "service or endpoint name (default: from config)")
    .requiredOption("-d, --data <json>", "request body: @file.json, - for stdin, or inline JSON")
    .addHelpText("after", "\nExamples:\n  amlauth invoke demo-aks --data @input.json\n  echo '{\"data\": [[1,2]]}' | amlauth invoke demo-aci --data -")
    .action(async (name: string | undefined, opts: InvokeOptions) => {
      await runInvoke(app, name, opts);
    });
}

export async function runInvoke(app: App, nameArg: string | undefined, opts: InvokeOptions): Promise<void> {
  const body = await readRequestData(app, opts.data, "{}");
  const { name, api, backend } = await target(app, nameArg);
  const info = await backend.get(name);
  const choice = defaultCredentialFor(info);
  let secret: string | undefined;
  if (choice.kind === "key") secret = (await backend.listKeys(name)).primaryKey;
  else if (choice.kind === "token") secret = (await obtainServiceToken(app, name, api, backend, { useCache: true, forceRefresh: false })).accessToken;
  app.rememberSecret(secret);

  const res = await postToScoring(app, info, secret, body);
  if (res.status === 401 || res.status === 403) {
    throw new AuthError(`${name} refused the ${choice.kind === "key" ? "key" : "token"} (HTTP ${res.status}): ${bodyExcerpt(app, res)}`, {
      hint: `Run \`amlauth auth check ${name}\` for the cause.`,
    });
  }
  if (res.status < 200 || res.status >= 300) {
    throw new ServiceError(`${name} answered HTTP ${res.status}: ${bodyExcerpt(app, res)}`, { status: res.status });
  }
  const out = await app.printer();
  out.data(res.bodyText.endsWith("\n") ? res.bodyText : res.bodyText + "\n");
}
