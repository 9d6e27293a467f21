// amlauth auth set [NAME] --mode key|token|none (v1) | key|aml_token|aad_token (v2) [--no-wait]
import { Command } from "commander";
import type { App } from "../app.js";
import { RuleViolationError, ServiceError, UsageError } from "../errors.js";
import { quoteInput } from "../core/text.js";
import {
  assertV2ModeAllowed,
  normalizeV2AuthMode,
  parseV1AuthMode,
  planV1AuthUpdate,
} from "../core/rules.js";
import { renderServiceInfo } from "../output/format.js";
import type { AuthMode, ServiceInfo } from "../rest/types.js";
import { target, withOutcomeHint } from "./shared.js";

export interface AuthSetOptions {
  mode?: string;
  wait?: boolean; // false with --no-wait
}

export function makeAuthSetCommand(app: App): Command {
  return new Command("set")
    .description("switch the auth mode of a web service or online endpoint")
    .argument("[name]", "service or endpoint name (default: from config)")
    .requiredOption("--mode <mode>", "v1: key | token | none; v2: key | aml_token | aad_token (token = aml_token)")
    .option("--no-wait", "return once the change is accepted, without waiting for it to finish")
    .addHelpText(
      "after",
      `
Rules (checked before anything is sent): token auth only on AKS; key and token auth never together;
v2 endpoints have no \`none\` mode; aad_token only on managed (not Kubernetes) endpoints.

Examples:
  amlauth auth set demo-aks --mode token
  amlauth auth set demo-aci --mode none
  amlauth auth set demo-managed --mode aad_token`,
    )
    .action(async (name: string | undefined, opts: AuthSetOptions) => {
      await runAuthSet(app, name, opts);
    });
}

export async function runAuthSet(app: App, nameArg: string | undefined, opts: AuthSetOptions): Promise<void> {
  const requested = opts.mode;
  if (!requested) throw new UsageError("--mode is required");
  // Refuse v2-only / v1-only spellings that the explicit --api already rules out, before any call.
  const explicitApi = app.globals().api ?? (await app.config()).api;
  if (explicitApi === "v2") normalizeV2AuthMode(requested);
  if (explicitApi === "v1") parseV1AuthMode(requested);
  // A mode that neither API knows needs no lookup to be refused (exit 2, nothing sent).
  if (isUnknownTo(parseV1AuthMode, requested) && isUnknownTo(normalizeV2AuthMode, requested)) {
    throw new UsageError(
      `unknown auth mode ${quoteInput(requested)}; choose key, token or none (v1 web services) or key, aml_token or aad_token (v2 online endpoints)`,
    );
  }

  const { name, api, backend } = await target(app, nameArg);
  const out = await app.printer();
  let mode: AuthMode;
  if (api === "v1") {
    const v1Mode = parseV1AuthMode(requested);
    const current = await backend.get(name);
    if (current.computeType !== "ACI" && current.computeType !== "AKS") throw new UsageError(`${name} is not a v1 web service`);
    const plan = planV1AuthUpdate(
      { computeType: current.computeType, authEnabled: current.authEnabled, aadAuthEnabled: current.tokenAuthEnabled, name },
      v1Mode,
    );
    if (!plan.changed) {
      assertSettled(current);
      out.info(`${name} already uses ${v1Mode} auth; nothing to change`);
      out.data(renderServiceInfo(current, out.formatFor(), { chalk: out.chalk }));
      return;
    }
    mode = v1Mode;
  } else {
    const v2Mode = normalizeV2AuthMode(requested);
    const current = await backend.get(name);
    assertV2ModeAllowed(v2Mode, { kubernetes: current.computeType === "Kubernetes", name });
    if (current.authMode === v2Mode) {
      assertSettled(current);
      out.info(`${name} already uses ${v2Mode} auth; nothing to change`);
      out.data(renderServiceInfo(current, out.formatFor(), { chalk: out.chalk }));
      return;
    }
    mode = v2Mode;
  }

  const wait = opts.wait !== false;
  const info = await withOutcomeHint(
    out.withSpinner(`Switching ${name} to ${mode} auth`, (update) =>
      backend.setAuthMode(name, { mode }, { wait, onProgress: update, signal: app.ctx.signal }),
    ),
    "the change may or may not have been applied",
    `check with \`amlauth auth show ${name}\``,
  );
  // A cached token may no longer be accepted after a mode change.
  (await app.session()).cache.deleteServiceToken(api, name);
  out.data(renderServiceInfo(info, out.formatFor(), { chalk: out.chalk }));
  out.success(wait ? `${name} now uses ${mode} auth` : `${name}: change to ${mode} auth accepted (not waiting)`);
}

/** True when `parse` does not know the mode at all (a rule violation means: known, wrong here). */
function isUnknownTo(parse: (mode: string) => unknown, mode: string): boolean {
  try {
    parse(mode);
    return false;
  } catch (err) {
    if (err instanceof RuleViolationError) return false;
    if (err instanceof UsageError) return true;
    throw err;
  }
}

/** v1 `Transitioning`, v2 `Creating`/`Updating`/`Deleting`: an operation is still changing the service. */
const IN_FLIGHT_STATES = new Set(["transitioning", "creating", "updating", "deleting"]);

/**
 * "Already uses X; nothing to change" must stay true: while an operation is in flight the flags
 * shown may be replaced when it completes (e.g. an earlier `auth set` that was interrupted).
 */
function assertSettled(current: ServiceInfo): void {
  if (!IN_FLIGHT_STATES.has(current.state.toLowerCase())) return;
  throw new ServiceError(`${current.name} is still being changed (state ${current.state}), so its auth mode is not settled yet`, {
    hint: `wait until \`amlauth auth show ${current.name}\` shows it settled, then run this again`,
  });
}
