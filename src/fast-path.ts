// Start-up fast path (issue 6): `amlauth token get [NAME]` answered from the token cache without
// loading commander, the ESM bundle, an HTTP module or any Azure SDK. Built into its own small
// CommonJS file (dist/fast.cjs, scripts/build.mjs) that bin/amlauth.cjs tries first.
//
// It answers only what it can answer exactly as the full CLI would, byte for byte: the same
// config layers (config/locate.ts, minus cosmiconfig), the same target and cache key
// (rest/session-target.ts, rest/cache.ts), the same rendering and CI mask lines (output/*).
// Anything else — another flag, a TTY, a config file that needs cosmiconfig, no cached answer,
// an expired token, any error — is "not handled": it writes nothing, and the bin runs the full
// CLI, which then behaves as if this file did not exist. AMLAUTH_NO_FAST_PATH=1 (read by the
// bin) skips it, for debugging. In this bundle node:fs/promises is src/fast-path-fs.ts, so every
// file is read synchronously, and node:crypto is never loaded (rest/cache.ts hashes in JS).
//
// One deliberate difference: the full path checks that the emulator answers (and starts one if
// not) before it looks at the cache. A cached token is valid whether or not the emulator runs,
// so this path does not probe it.
import type { Context } from "./context.js";
import type { GlobalOptions, OutputFormat } from "./commands/globals.js";
import { LOADER_FREE_READERS, loadConfigWith } from "./config/locate.js";
import { chooseFormat, renderToken } from "./output/format.js";
import { writeSecret, type TextSink } from "./output/ci.js";
import {
  collectCa,
  findEmulatorConnection,
  openSessionCache,
  pickCredentialKind,
  sessionTarget,
  type EmulatorConnection,
} from "./rest/session-target.js";
import type { ServiceToken } from "./rest/types.js";

/**
 * The part of the Context (src/context.ts) this path reads. The bin builds it without touching
 * process.stdin/stdout/stderr: constructing those streams (for a pipe, a net.Socket) costs more
 * than the whole cache hit.
 */
export interface FastContext extends Pick<Context, "env" | "cwd" | "homedir" | "now" | "stdoutIsTTY"> {
  stdout: TextSink;
  stderr: TextSink;
}

/** `token get [NAME]` and the global flags given with it. */
export interface FastTokenGetArgs {
  name: string | undefined;
  flags: GlobalOptions;
}

type ValueFlag = "subscription" | "resourceGroup" | "workspace" | "profile" | "output" | "api" | "credential" | "armEndpoint" | "authorityHost" | "caFile";

/** The global options of src/main.ts that take a value, by spelling. */
const VALUE_FLAGS: Readonly<Record<string, ValueFlag>> = {
  "--subscription": "subscription",
  "-g": "resourceGroup",
  "--resource-group": "resourceGroup",
  "-w": "workspace",
  "--workspace": "workspace",
  "--profile": "profile",
  "-o": "output",
  "--output": "output",
  "--api": "api",
  "--credential": "credential",
  "--arm-endpoint": "armEndpoint",
  "--authority-host": "authorityHost",
  "--ca-file": "caFile",
};
/** Choices commander enforces (src/main.ts); anything else is its usage error to report. */
const CHOICES: Partial<Record<ValueFlag, readonly string[]>> = {
  output: ["raw", "json", "tsv", "table", "env"],
  api: ["v1", "v2"],
};
/** Formats rendered here; `table` may want color, so it stays with the full CLI. */
const FAST_FORMATS: ReadonlySet<OutputFormat> = new Set(["raw", "json", "tsv", "env"]);

/**
 * The argv shapes this path takes: exactly the words `token get`, at most one NAME, and global
 * flags commander would accept in any position (`--flag value`, `--flag=value`, `-o value`, last
 * one wins). Everything else — --verbose, --help, the `get` command's own flags, `--`, attached
 * short values (-ojson), a value that starts with `-` — is undefined: for the full CLI to parse.
 */
export function parseFastTokenGetArgs(argv: readonly string[]): FastTokenGetArgs | undefined {
  const flags: GlobalOptions = {};
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) {
      words.push(arg);
      continue;
    }
    if (arg === "--emulator") {
      flags.emulator = true;
      continue;
    }
    if (arg === "--no-color") {
      flags.color = false;
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const key = VALUE_FLAGS[eq > 0 ? arg.slice(0, eq) : arg];
    if (key === undefined) return undefined;
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      i += 1;
      if (value === undefined || value.startsWith("-")) return undefined;
    }
    const choices = CHOICES[key];
    if (choices && !choices.includes(value)) return undefined;
    (flags as Record<ValueFlag, string>)[key] = value;
  }
  if (words.length < 2 || words.length > 3 || words[0] !== "token" || words[1] !== "get") return undefined;
  return { name: words[2], flags };
}

/** What a cache hit writes: CI mask lines (stderr) and the rendered token (stdout). */
export interface FastAnswer {
  text: string;
  token: ServiceToken;
}

/**
 * The answer the full CLI would give for `argv` from the cache alone, or undefined when this
 * path cannot be sure of it. Reads files, writes nothing (cache files it reads may have their
 * mode tightened, as on the full path).
 */
export async function fastTokenGetAnswer(argv: readonly string[], ctx: FastContext): Promise<FastAnswer | undefined> {
  // A terminal gets a table (and maybe color): the full CLI's job.
  if (ctx.stdoutIsTTY) return undefined;
  const args = parseFastTokenGetArgs(argv);
  if (!args) return undefined;
  try {
    const config = await loadConfigWith(ctx, args.flags, LOADER_FREE_READERS);
    const format = chooseFormat(config.output, ctx, { singleSecret: true });
    if (!FAST_FORMATS.has(format)) return undefined;
    const name = args.name || config.service;
    if (!name) return undefined;

    let emulator: EmulatorConnection | undefined;
    if (config.emulator) {
      emulator = (await findEmulatorConnection(ctx)).connection ?? undefined;
      // No connection file: the full CLI starts an emulator first.
      if (!emulator) return undefined;
    }
    const target = sessionTarget(config, emulator);
    // What createSession would refuse before reaching the cache, refused here by the same code.
    collectCa(config, emulator);
    pickCredentialKind(ctx, config, emulator);
    new URL(target.armEndpoint);
    if (!target.subscription || !target.resourceGroup || !target.workspace) return undefined;

    const cache = openSessionCache(ctx, config, target);
    // --api (or config `api`), else the remembered lookup; a lookup is network work.
    const api = config.api ?? cache.getKind(name);
    if (!api) return undefined;
    // A hit only while now < refreshAfter and now < expiryOn (cache.ts), as obtainServiceToken.
    const token = cache.getServiceToken(api, name);
    if (!token) return undefined;
    return { text: renderToken(token, format), token };
  } catch {
    // Every error is the full CLI's to report, in its words and with its exit code.
    return undefined;
  }
}

/**
 * Writes the cached answer and returns true (exit code 0), or writes nothing and returns false:
 * then the caller runs the full CLI.
 */
export async function runFastTokenGet(argv: readonly string[], ctx: FastContext): Promise<boolean> {
  const answer = await fastTokenGetAnswer(argv, ctx);
  if (!answer) return false;
  writeSecret(ctx, answer.text, [answer.token.accessToken]);
  return true;
}
