// Small helpers shared by the command files.
import type { Command } from "commander";
import type { App } from "../app.js";
import type { AuthBackend, ApiKind } from "../rest/types.js";
import { AmlauthError, ExitCode, InterruptedError, MaybeAppliedError, UsageError } from "../errors.js";

/** NAME argument, else the configured default service. */
export async function serviceName(app: App, arg: string | undefined): Promise<string> {
  if (arg) return arg;
  const cfg = await app.config();
  if (cfg.service) return cfg.service;
  throw new UsageError("no service name given", {
    hint: "Pass NAME, or set AMLAUTH_SERVICE / `service` in .amlauthrc.",
  });
}

/** Resolve NAME to its API kind (v1 web service or v2 endpoint) and backend. */
export async function target(app: App, arg: string | undefined): Promise<{ name: string; api: ApiKind; backend: AuthBackend }> {
  const name = await serviceName(app, arg);
  const session = await app.session();
  const { api, backend } = await session.resolve(name);
  return { name, api, backend };
}

/**
 * Read a secret from stdin (for --value-stdin): all of it, one trailing newline removed.
 * Refuses a TTY stdin without input redirection only if nothing arrives; bounded in size.
 */
export async function readSecretFromStdin(app: App, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of app.ctx.stdin) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > 4096) throw new UsageError(`${what} on stdin is longer than 4096 bytes`);
    chunks.push(buf);
  }
  const value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  if (!value) throw new UsageError(`no ${what} on stdin`, { hint: "Pipe it in, e.g. `printf %s \"$NEW_KEY\" | amlauth keys regen ...`." });
  if (/\s/.test(value)) throw new UsageError(`${what} on stdin contains whitespace`);
  if (value.length < 8) throw new UsageError(`${what} on stdin is too short (at least 8 characters)`);
  app.rememberSecret(value);
  return value;
}

export function describeUnexpected(err: unknown): string {
  if (err instanceof Error) return `unexpected error: ${err.message || err.name}`;
  return `unexpected error: ${String(err)}`;
}

/** Commander action wrapper: passes the command's own options and arguments, typed by the caller. */
export function action<A extends unknown[]>(cmd: Command, fn: (...args: A) => Promise<void>): Command {
  return cmd.action(async (...args: unknown[]) => {
    await fn(...(args as A));
  });
}

/** Exactly one of two boolean flags. */
export function exactlyOne(a: boolean | undefined, b: boolean | undefined, names: [string, string]): void {
  if (Boolean(a) === Boolean(b)) {
    throw new UsageError(`pass exactly one of ${names[0]} or ${names[1]}`);
  }
}

/**
 * A change whose outcome is unknown — Ctrl-C while it was on the wire, or a fault the backend could
 * not settle by reading the state (MaybeAppliedError) — must say how to find out. `outcome` says
 * what may have happened, `check` the command that tells. Errors that already carry a hint (an
 * interrupted operation wait says how to resume) keep theirs.
 */
export async function withOutcomeHint<T>(work: Promise<T>, outcome: string, check: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof InterruptedError && !err.hint) throw new InterruptedError(err.message, { hint: `${outcome}; ${check}` });
    if (err instanceof MaybeAppliedError && !err.hint) throw new AmlauthError(err.message, ExitCode.Failure, { hint: check, cause: err });
    throw err;
  }
}
