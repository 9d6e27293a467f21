// Per-run application state handed to every command: the context, the parsed global flags, and
// lazily built services (config, printer, REST session). Nothing here is created until a command
// asks for it, so `--help`, `--version` and usage errors touch no file or network. The config and
// printer modules are part of the entry bundle (light, and nearly every command needs them: a
// separate chunk cost more than it saved); the session module, which brings node:https, loads
// only when a command asks for it.
import type { Context } from "./context.js";
import type { GlobalOptions } from "./commands/globals.js";
import type { ResolvedConfig } from "./config/types.js";
import type { Printer } from "./output/print.js";
import type { Session } from "./rest/session.js";
import { redactAll } from "./output/redact.js";
import { loadConfig } from "./config/load.js";
import { createPrinter } from "./output/print.js";
import { describeConfig } from "./config/resolve.js";

export interface App {
  readonly ctx: Context;
  /** Set by a command that finishes without throwing but must not exit 0 (rare). */
  exitCode: number;
  setGlobals(opts: Record<string, unknown>): void;
  globals(): GlobalOptions;
  globalsOrNull(): GlobalOptions | null;
  config(): Promise<ResolvedConfig>;
  printer(): Promise<Printer>;
  session(): Promise<Session>;
  /** Remember a secret seen in this run so that any later error text is scrubbed of it. */
  rememberSecret(secret: string | undefined): void;
  redact(text: string): string;
  dispose(): Promise<void>;
}

export function createApp(ctx: Context): App {
  let globals: GlobalOptions | null = null;
  let config: Promise<ResolvedConfig> | null = null;
  let printer: Promise<Printer> | null = null;
  let session: Promise<Session> | null = null;
  const secrets = new Set<string>();

  const app: App = {
    ctx,
    exitCode: 0,
    setGlobals(opts) {
      globals = opts as GlobalOptions;
    },
    globals() {
      return globals ?? {};
    },
    globalsOrNull() {
      return globals;
    },
    config() {
      config ??= loadConfig(ctx, app.globals());
      return config;
    },
    printer() {
      printer ??= (async () => {
        const cfg = await app.config();
        return createPrinter(ctx, { output: cfg.output, color: app.globals().color, verbose: Boolean(app.globals().verbose) });
      })();
      return printer;
    },
    session() {
      session ??= (async () => {
        const [{ createSession }, cfg, out] = await Promise.all([import("./rest/session.js"), app.config(), app.printer()]);
        if (out.verbose) {
          // Where each setting came from, before the first request is traced.
          for (const line of describeConfig(cfg)) out.trace(line);
        }
        return createSession(ctx, cfg, {
          verbose: Boolean(app.globals().verbose),
          trace: (line: string) => out.trace(line),
          notice: (line: string) => out.info(line),
        });
      })();
      return session;
    },
    rememberSecret(secret) {
      if (secret && secret.length >= 6) secrets.add(secret);
    },
    redact(text) {
      return redactAll(text, [...secrets]);
    },
    async dispose() {
      if (session) {
        try {
          (await session).close();
        } catch {
          // A session that failed to build has nothing to close.
        }
      }
    },
  };
  return app;
}
