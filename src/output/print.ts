// The Printer: where each kind of text goes.
//   stdout  data only (what pipes and $(...) capture)
//   stderr  progress, notices, warnings, success lines, --verbose traces, CI mask lines
// Spinners (ora, loaded lazily) run only on an interactive stderr, outside CI, not for -o json,
// and only once an operation has taken longer than SPINNER_DELAY_MS.
import type { Ora } from "ora";
import type { Context } from "../context.js";
import type { OutputFormat } from "../commands/globals.js";
import { InterruptedError, UsageError } from "../errors.js";
import { colorLevel, makeChalk, type Style } from "./color.js";
import { chooseFormat } from "./format.js";
import { isCI, writeSecret } from "./ci.js";
import { redactJwts } from "./redact.js";

export const SPINNER_DELAY_MS = 300;

export interface PrinterOptions {
  /** -o / config `output`; undefined = decided from the terminal per command (formatFor). */
  output?: OutputFormat;
  /** false when --no-color was given. */
  color?: boolean;
  verbose?: boolean;
  /** How long an operation runs before its spinner appears (tests use 0). */
  spinnerDelayMs?: number;
}

export interface Printer {
  /** The format the user asked for, if any. */
  readonly explicitFormat: OutputFormat | undefined;
  /** The format to render in: the explicit one, else table on a TTY, tsv (or raw for one secret) in a pipe. */
  formatFor(opts?: { singleSecret?: boolean }): OutputFormat;
  /** For text written to stdout (tables); level 0 when stdout is not a color terminal. */
  readonly chalk: Style;
  /** For text written to stderr. */
  readonly errChalk: Style;
  readonly verbose: boolean;
  /** Writes rendered data to stdout as-is. */
  data(text: string): void;
  /**
   * Writes rendered text holding secrets to stdout, after registering each secret with the CI
   * runner's log masking on stderr (ci.ts). `secrets` defaults to the trimmed text.
   */
  secret(text: string, secrets?: string[]): void;
  info(message: string): void;
  warn(message: string): void;
  /** "✓ message" on a terminal; the plain message otherwise. */
  success(message: string): void;
  /** A --verbose line (HTTP traces, config sources); nothing without --verbose. */
  trace(line: string): void;
  /** Runs `fn` under a spinner (or one plain line); `update` changes the progress label. */
  withSpinner<T>(label: string, fn: (update: (progress: string) => void) => Promise<T>): Promise<T>;
  /** Asks on the terminal; needs an interactive stdin and stderr (callers require --yes otherwise). */
  confirm(question: string): Promise<boolean>;
}

export async function createPrinter(ctx: Context, opts: PrinterOptions = {}): Promise<Printer> {
  const verbose = Boolean(opts.verbose);
  const chalk = await makeChalk(colorLevel(ctx, opts, "stdout"));
  const errLevel = colorLevel(ctx, opts, "stderr");
  const errChalk = await makeChalk(errLevel);
  let spinner: Ora | undefined;

  // Keep a running spinner's line out of the way of any other write.
  const write = (stream: NodeJS.WritableStream, text: string): void => {
    if (spinner?.isSpinning) {
      spinner.clear();
      stream.write(text);
      spinner.render();
    } else {
      stream.write(text);
    }
  };
  const line = (text: string): string => (text.endsWith("\n") ? text : `${text}\n`);
  const toStderr = (text: string): void => write(ctx.stderr, line(redactJwts(text)));

  const printer: Printer = {
    explicitFormat: opts.output,
    chalk,
    errChalk,
    verbose,
    formatFor(o = {}) {
      return chooseFormat(opts.output, ctx, o);
    },
    data(text) {
      write(ctx.stdout, text);
    },
    secret(text, secrets) {
      writeSecret(ctx, text, secrets, write);
    },
    info(message) {
      toStderr(message);
    },
    warn(message) {
      toStderr(`${errChalk.yellow("warning:")} ${message}`);
    },
    success(message) {
      toStderr(ctx.stderrIsTTY ? `${errChalk.green("✓")} ${message}` : message);
    },
    trace(text) {
      if (verbose) toStderr(errChalk.dim(text));
    },
    async withSpinner(label, fn) {
      const animated = ctx.stderrIsTTY && !isCI(ctx.env) && printer.formatFor() !== "json";
      if (!animated) {
        if (verbose || ctx.stderrIsTTY) toStderr(`${label}…`);
        let last = "";
        return fn((progress) => {
          if (verbose && progress !== last) toStderr(`${label}: ${progress}`);
          last = progress;
        });
      }
      let text = label;
      let finished = false;
      const timer = setTimeout(() => {
        import("ora")
          .then(({ default: ora }) => {
            if (finished) return;
            spinner = ora({
              text,
              stream: ctx.stderr,
              isEnabled: true,
              discardStdin: false,
              color: errLevel > 0 ? "cyan" : false,
            }).start();
          })
          .catch(() => {
            // No spinner library: fall back to the plain line.
            if (!finished) toStderr(`${label}…`);
          });
      }, opts.spinnerDelayMs ?? SPINNER_DELAY_MS);
      try {
        return await fn((progress) => {
          text = `${label} (${progress})`;
          if (spinner) spinner.text = text;
        });
      } finally {
        finished = true;
        clearTimeout(timer);
        spinner?.stop();
        spinner = undefined;
      }
    },
    async confirm(question) {
      if (!ctx.stdinIsTTY || !ctx.stderrIsTTY) {
        throw new UsageError("cannot ask for confirmation without a terminal; pass --yes");
      }
      const { createInterface } = await import("node:readline");
      return new Promise<boolean>((resolve, reject) => {
        const rl = createInterface({ input: ctx.stdin, output: ctx.stderr, terminal: false });
        let settled = false;
        const finish = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          ctx.signal.removeEventListener("abort", onAbort);
          rl.close();
          fn();
        };
        const onAbort = (): void => finish(() => reject(new InterruptedError()));
        if (ctx.signal.aborted) return onAbort();
        ctx.signal.addEventListener("abort", onAbort, { once: true });
        // End of input (Ctrl-D) is a "no".
        rl.once("close", () => finish(() => resolve(false)));
        rl.question(`${question} [y/N] `, (answer) => finish(() => resolve(/^\s*y(es)?\s*$/i.test(answer))));
      });
    },
  };
  return printer;
}
