// Entry point of the bundle: builds the commander program, runs it, and maps every
// outcome to one documented exit code. Never calls process.exit; bin/amlauth.cjs does.
import { Command, CommanderError, Option } from "commander";
import type { Context } from "./context.js";
import { AmlauthError, ExitCode } from "./errors.js";
import { createApp, type App } from "./app.js";
import { makeKeysCommand } from "./commands/keys.js";
import { makeTokenCommand } from "./commands/token.js";
import { makeAuthCommand } from "./commands/auth.js";
import { makeDeployCommand } from "./commands/deploy.js";
import { makeInvokeCommand } from "./commands/invoke.js";
import { makeCompletionCommand } from "./commands/completion.js";
import { makeEmulatorCommand } from "./commands/emulator.js";
import { describeUnexpected } from "./commands/shared.js";
import { VERSION } from "./version.js";

export { createProcessContext } from "./context.js";

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    failure (service error, network fault, unexpected reply)
  2    usage error or auth-rule violation (nothing was sent)
  3    not found (service, endpoint, workspace, model)
  4    authentication/authorization failed (sign-in, rejected key or token)
  130  interrupted (Ctrl-C); the server-side operation may continue

Environment: AMLAUTH_SUBSCRIPTION (or AZURE_SUBSCRIPTION_ID), AMLAUTH_RESOURCE_GROUP,
AMLAUTH_WORKSPACE, AMLAUTH_SERVICE, AMLAUTH_PROFILE, AMLAUTH_EMULATOR=1, AMLAUTH_ACCESS_TOKEN,
AMLAUTH_CA_FILE, NO_COLOR, FORCE_COLOR. See README.md for config files and CI recipes.`;

export function buildProgram(app: App): Command {
  const program = new Command("amlauth");
  program
    .description("Key and token authentication for Azure ML web services (v1 ACI/AKS) and online endpoints (v2).")
    .version(VERSION, "-V, --version")
    .option("--subscription <id>", "Azure subscription id")
    .option("-g, --resource-group <name>", "resource group of the workspace")
    .option("-w, --workspace <name>", "Azure ML workspace name")
    .option("--profile <name>", "named profile from the config file")
    .addOption(
      new Option("-o, --output <format>", "output format (default: table on a TTY, tsv/raw on a pipe)").choices([
        "raw",
        "json",
        "tsv",
        "table",
        "env",
      ]),
    )
    .addOption(new Option("--api <kind>", "v1 web service or v2 online endpoint (default: look up both)").choices(["v1", "v2"]))
    .option("--credential <kind>", "default|cli|env|managed-identity|workload-identity|client-secret|static|emulator")
    .option("--arm-endpoint <url>", "ARM endpoint URL or cloud name (public, china, usgov)")
    .option("--authority-host <url>", "Entra authority host URL or cloud name")
    .option("--ca-file <path>", "extra CA certificate (PEM) to trust")
    .option("--emulator", "use the local emulator (starts one in the background if needed)")
    .option("--verbose", "trace HTTP calls (secrets redacted) and show stack traces")
    .option("--no-color", "disable color")
    .showHelpAfterError(false)
    .addHelpText("after", EXIT_CODES_HELP)
    .configureOutput({
      writeOut: (text) => app.ctx.stdout.write(text),
      writeErr: (text) => app.ctx.stderr.write(text),
      // commander's own parse errors: one line, same prefix as ours.
      // (A suggestion comes on a second line, "(Did you mean keys?)": joined into the one line.)
      outputError: (text, write) => write(`amlauth: ${oneLine(text.replace(/^error: /, ""))}\n`),
    })
    .exitOverride();

  program.addCommand(makeKeysCommand(app));
  program.addCommand(makeTokenCommand(app));
  program.addCommand(makeAuthCommand(app));
  program.addCommand(makeDeployCommand(app));
  program.addCommand(makeInvokeCommand(app));
  program.addCommand(makeCompletionCommand(app));
  program.addCommand(makeEmulatorCommand(app.ctx, () => app.globals()));
  // Subcommands inherit the parent's exitOverride/output settings only if copied.
  for (const cmd of allCommands(program)) {
    cmd.exitOverride();
    cmd.configureOutput(program.configureOutput());
    cmd.showHelpAfterError(false);
  }
  program.hook("preAction", (_root, actionCommand) => {
    app.setGlobals(actionCommand.optsWithGlobals());
  });
  return program;
}

export function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((sub) => [sub, ...allCommands(sub)]);
}

export async function main(argv: string[], ctx: Context): Promise<number> {
  const app = createApp(ctx);
  const program = buildProgram(app);
  try {
    await program.parseAsync(argv, { from: "user" });
    return app.exitCode;
  } catch (err) {
    return reportError(err, app);
  } finally {
    await app.dispose();
  }
}

function reportError(err: unknown, app: App): number {
  const verbose = app.globalsOrNull()?.verbose ?? false;
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return ExitCode.Ok;
    // `amlauth help` exits 0; help shown because a subcommand is missing (`amlauth keys`) is a
    // usage error, so a script that forgot the subcommand does not pass silently.
    if (err.code === "commander.help") return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    // The message was already written through outputError; usage errors exit 2.
    return ExitCode.Usage;
  }
  if (err instanceof AmlauthError) {
    app.ctx.stderr.write(`amlauth: ${app.redact(withHint(oneLine(err.message), err.hint))}\n`);
    if (verbose && err.stack) app.ctx.stderr.write(app.redact(err.stack) + "\n");
    return err.exitCode;
  }
  const more = verbose ? "" : " (run again with --verbose for details)";
  app.ctx.stderr.write(`amlauth: ${app.redact(oneLine(describeUnexpected(err)))}${more}\n`);
  if (verbose && err instanceof Error && err.stack) app.ctx.stderr.write(app.redact(err.stack) + "\n");
  return ExitCode.Failure;
}

/**
 * One line: a message that ends a sentence is followed by the hint as the next sentence; otherwise
 * the hint continues it after "; " (lower-cased: "Re-run with --yes." reads "re-run with --yes.").
 * Only a capital followed by a lower-case letter is changed: NAME, --yes and URLs stay as written.
 */
function withHint(message: string, hint: string | undefined): string {
  if (!hint) return message;
  const text = oneLine(hint);
  if (/[.!?]$/.test(message)) return `${message} ${/^[a-z]/.test(text) ? text[0]!.toUpperCase() + text.slice(1) : text}`;
  return `${message}; ${/^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
