// amlauth keys list [NAME] [--primary|--secondary] [--header|--curl-config]
import { Command } from "commander";
import type { App } from "../app.js";
import { UsageError } from "../errors.js";
import { renderKeys, renderAuthHeader, renderCurlConfig } from "../output/format.js";
import { target } from "./shared.js";

export interface KeysListOptions {
  primary?: boolean;
  secondary?: boolean;
  header?: boolean;
  curlConfig?: boolean;
}

export function makeKeysListCommand(app: App): Command {
  return new Command("list")
    .description("print the keys of a web service or online endpoint")
    .argument("[name]", "service or endpoint name (default: from config)")
    .option("--primary", "print only the primary key")
    .option("--secondary", "print only the secondary key")
    .option("--header", "print `Authorization: Bearer <key>` (for curl -H @-)")
    .option("--curl-config", "print a curl config line (for curl -K -), keeping the key out of argv")
    .addHelpText(
      "after",
      `
Examples:
  amlauth keys list demo-aci
  amlauth keys list demo-aci --primary
  amlauth keys list demo-aci --curl-config | curl -K - -d @input.json "$SCORING_URI"`,
    )
    .action(async (name: string | undefined, opts: KeysListOptions) => {
      await runKeysList(app, name, opts);
    });
}

export async function runKeysList(app: App, nameArg: string | undefined, opts: KeysListOptions): Promise<void> {
  if (opts.primary && opts.secondary) throw new UsageError("pass at most one of --primary or --secondary");
  if (opts.header && opts.curlConfig) throw new UsageError("pass at most one of --header or --curl-config");
  const { name, backend } = await target(app, nameArg);
  const out = await app.printer();
  const keys = await backend.listKeys(name);
  app.rememberSecret(keys.primaryKey);
  app.rememberSecret(keys.secondaryKey);

  const single = opts.secondary ? keys.secondaryKey : opts.primary ? keys.primaryKey : undefined;
  if (opts.header || opts.curlConfig) {
    // A header carries one credential: the one asked for, else the primary.
    const key = single ?? keys.primaryKey;
    out.secret(opts.header ? renderAuthHeader(key) : renderCurlConfig(key), [key]);
    return;
  }
  if (single !== undefined) {
    const only = opts.secondary ? "secondary" : "primary";
    out.secret(renderKeys(keys, out.formatFor({ singleSecret: true }), { only, chalk: out.chalk }), [single]);
    return;
  }
  out.secret(renderKeys(keys, out.formatFor(), { chalk: out.chalk }), [keys.primaryKey, keys.secondaryKey]);
}
