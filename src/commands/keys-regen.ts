// amlauth keys regen [NAME] --primary|--secondary [--value-stdin] [--yes]
import { Command } from "commander";
import type { App } from "../app.js";
import { UsageError } from "../errors.js";
import type { KeyType } from "../rest/types.js";
import { exactlyOne, withOutcomeHint, readSecretFromStdin, serviceName, target } from "./shared.js";

export interface KeysRegenOptions {
  primary?: boolean;
  secondary?: boolean;
  valueStdin?: boolean;
  yes?: boolean;
}

export function makeKeysRegenCommand(app: App): Command {
  return new Command("regen")
    .description("regenerate the primary or the secondary key, then print the new key once")
    .argument("[name]", "service or endpoint name (default: from config)")
    .option("--primary", "regenerate the primary key")
    .option("--secondary", "regenerate the secondary key")
    .option("--value-stdin", "set the new key to the value read from stdin (never from argv)")
    .option("-y, --yes", "do not ask for confirmation (required without a TTY)")
    .addHelpText(
      "after",
      `
The old key stops working at once. For zero-downtime rotation use \`amlauth keys rotate\`.

Examples:
  amlauth keys regen demo-aci --secondary
  amlauth keys regen demo-aci --primary --yes            # CI
  printf %s "$NEW_KEY" | amlauth keys regen demo-aci --secondary --value-stdin --yes`,
    )
    .action(async (name: string | undefined, opts: KeysRegenOptions) => {
      await runKeysRegen(app, name, opts);
    });
}

export async function runKeysRegen(app: App, nameArg: string | undefined, opts: KeysRegenOptions): Promise<void> {
  exactlyOne(opts.primary, opts.secondary, ["--primary", "--secondary"]);
  const keyType: KeyType = opts.primary ? "Primary" : "Secondary";
  const out = await app.printer();
  const name = await serviceName(app, nameArg);
  await confirmDestructive(app, opts.yes, `Regenerate the ${keyType.toLowerCase()} key of ${name}? Clients using it will be refused.`);
  const keyValue = opts.valueStdin ? await readSecretFromStdin(app, "key value") : undefined;
  const { backend } = await target(app, name);

  await withOutcomeHint(
    out.withSpinner(`Regenerating the ${keyType.toLowerCase()} key of ${name}`, (update) =>
      backend.regenerateKey(name, keyType, keyValue, { wait: true, onProgress: update, signal: app.ctx.signal }),
    ),
    `the ${keyType.toLowerCase()} key may or may not have been regenerated`,
    `check with \`amlauth keys list ${name}\``,
  );
  const keys = await backend.listKeys(name);
  const key = keyType === "Primary" ? keys.primaryKey : keys.secondaryKey;
  app.rememberSecret(key);
  const text = out.formatFor({ singleSecret: true }) === "json" ? JSON.stringify({ keyType, key }) + "\n" : key + "\n";
  out.secret(text, [key]);
  out.success(`${keyType} key of ${name} regenerated`);
}

/** Destructive actions ask on a TTY and need --yes without one (exit 2). */
export async function confirmDestructive(app: App, yes: boolean | undefined, question: string): Promise<void> {
  if (yes) return;
  const out = await app.printer();
  if (!(app.ctx.stdinIsTTY && app.ctx.stderrIsTTY)) {
    throw new UsageError("--yes is required when not running interactively", { hint: "Re-run with --yes to confirm." });
  }
  if (!(await out.confirm(question))) throw new UsageError("cancelled; nothing was changed");
}
