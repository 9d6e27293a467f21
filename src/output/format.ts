// Renderers for what commands print on stdout. Pure: text in, text out.
//
// Formats:
//   table  aligned columns with an upper-case header (the default on a terminal)
//   tsv    tab-separated, no header, one record or field per line (the default in a pipe);
//          tabs/newlines inside values are written as \t, \n, \r
//   json   2-space indented, stable field order, ISO-8601 UTC times
//   env    NAME=value lines for `>> $GITHUB_ENV`, docker --env-file or dotenv. Values are not
//          quoted (quotes would become part of the value there); a value with a line break is refused
//   raw    the bare value(s), one per line: what $(...) and pipes into curl want
import type { Style } from "./color.js";
import type { Context } from "../context.js";
import type { OutputFormat } from "../commands/globals.js";
import type { ServiceInfo, ServiceKeys, ServiceToken } from "../rest/types.js";
import { UsageError } from "../errors.js";

/**
 * Table on a terminal; in a pipe, tsv — or raw when the command prints one secret (a single key,
 * a token), so that `$(amlauth token get svc)` is exactly the secret.
 */
export function defaultFormat(ctx: Pick<Context, "stdoutIsTTY">, opts: { singleSecret?: boolean } = {}): OutputFormat {
  if (ctx.stdoutIsTTY) return "table";
  return opts.singleSecret ? "raw" : "tsv";
}

/** The format to render in: the one asked for (-o / config `output`), else defaultFormat. */
export function chooseFormat(
  explicit: OutputFormat | undefined,
  ctx: Pick<Context, "stdoutIsTTY">,
  opts: { singleSecret?: boolean } = {},
): OutputFormat {
  return explicit ?? defaultFormat(ctx, opts);
}

export interface RenderOptions {
  /** Colors the table header; tables are plain without it. */
  chalk?: Style;
}

// ---------------------------------------------------------------------------------------------
// Generic building blocks

export function renderTable(headers: string[], rows: string[][], opts: RenderOptions = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], style?: (s: string) => string): string =>
    cells
      .map((cell, i) => {
        // The last column is not padded, so lines carry no trailing spaces.
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        return style ? style(padded) : padded;
      })
      .join("  ");
  const bold = opts.chalk ? (s: string) => (opts.chalk as Style).bold(s) : undefined;
  return [line(headers.map((h) => h.toUpperCase()), bold), ...rows.map((r) => line(r))].join("\n") + "\n";
}

export function escapeTsv(value: string): string {
  return value.replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

export function renderTsv(rows: string[][]): string {
  return rows.map((r) => r.map(escapeTsv).join("\t")).join("\n") + (rows.length > 0 ? "\n" : "");
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

export function renderEnv(pairs: Array<[string, string]>): string {
  return pairs
    .map(([name, value]) => {
      if (/[\r\n]/.test(value)) throw new UsageError(`${name} cannot be written as an env line: its value has a line break`);
      return `${name}=${value}\n`;
    })
    .join("");
}

/** A list of records in any format. `raw` prints the first column. */
export function renderList(headers: string[], rows: string[][], format: OutputFormat, opts: RenderOptions = {}): string {
  switch (format) {
    case "table":
      return renderTable(headers, rows, opts);
    case "tsv":
      return renderTsv(rows);
    case "raw":
      return rows.map((r) => `${r[0] ?? ""}\n`).join("");
    case "json":
      return renderJson(rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i] ?? ""]))));
    case "env":
      throw new UsageError("-o env prints one record; use -o tsv or -o json for lists");
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

export type KeyName = "primary" | "secondary";

/**
 * Env names: AMLAUTH_PRIMARY_KEY, AMLAUTH_SECONDARY_KEY.
 * tsv: `primary<TAB>KEY` then `secondary<TAB>KEY` (name first, so `awk '$1=="primary"{print $2}'`
 * and `cut -f2` both work; primary always first).
 */
export function renderKeys(keys: ServiceKeys, format: OutputFormat, opts: RenderOptions & { only?: KeyName } = {}): string {
  const entries: Array<[KeyName, string]> = [];
  if (opts.only !== "secondary") entries.push(["primary", keys.primaryKey]);
  if (opts.only !== "primary") entries.push(["secondary", keys.secondaryKey]);
  switch (format) {
    case "json":
      return renderJson(Object.fromEntries(entries.map(([k, v]) => [`${k}Key`, v])));
    case "raw":
      return entries.map(([, v]) => `${v}\n`).join("");
    case "tsv":
      return renderTsv(entries);
    case "env":
      return renderEnv(entries.map(([k, v]) => [`AMLAUTH_${k.toUpperCase()}_KEY`, v]));
    case "table":
      return renderTable(["key", "value"], entries, opts);
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/**
 * json: {"accessToken","tokenType","expiryOn","refreshAfter"} with ISO-8601 UTC times.
 * raw: the token and a newline, nothing else. tsv: `field<TAB>value` lines in the json order.
 * env: AMLAUTH_TOKEN, AMLAUTH_TOKEN_TYPE, AMLAUTH_TOKEN_EXPIRY_ON, AMLAUTH_TOKEN_REFRESH_AFTER.
 */
export function renderToken(token: ServiceToken, format: OutputFormat, opts: RenderOptions = {}): string {
  const fields: Array<[string, string]> = [
    ["accessToken", token.accessToken],
    ["tokenType", token.tokenType],
    ["expiryOn", isoTime(token.expiryOn)],
    ["refreshAfter", isoTime(token.refreshAfter)],
  ];
  switch (format) {
    case "json":
      return renderJson(Object.fromEntries(fields));
    case "raw":
      return `${token.accessToken}\n`;
    case "tsv":
      return renderTsv(fields);
    case "env":
      return renderEnv([
        ["AMLAUTH_TOKEN", token.accessToken],
        ["AMLAUTH_TOKEN_TYPE", token.tokenType],
        ["AMLAUTH_TOKEN_EXPIRY_ON", isoTime(token.expiryOn)],
        ["AMLAUTH_TOKEN_REFRESH_AFTER", isoTime(token.refreshAfter)],
      ]);
    case "table":
      return renderTable(["field", "value"], fields, opts);
  }
}

// ---------------------------------------------------------------------------------------------
// Service / endpoint info

const SERVICE_FIELDS = ["name", "computeType", "authMode", "authEnabled", "tokenAuthEnabled", "state", "scoringUri"] as const;

/**
 * json: exactly {"name","computeType","authMode","authEnabled","tokenAuthEnabled","state","scoringUri"}.
 * raw: the scoring URI (empty line when there is none), for `curl "$(amlauth auth show svc -o raw)"`.
 * tsv: `field<TAB>value` lines in the json order. env: AMLAUTH_SERVICE_NAME, AMLAUTH_COMPUTE_TYPE,
 * AMLAUTH_AUTH_MODE, AMLAUTH_AUTH_ENABLED, AMLAUTH_TOKEN_AUTH_ENABLED, AMLAUTH_STATE, AMLAUTH_SCORING_URI.
 */
export function renderServiceInfo(info: ServiceInfo, format: OutputFormat, opts: RenderOptions = {}): string {
  const json = Object.fromEntries(SERVICE_FIELDS.map((f) => [f, info[f]]));
  const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
  const fields: Array<[string, string]> = SERVICE_FIELDS.map((f) => [f, text(info[f])]);
  switch (format) {
    case "json":
      return renderJson(json);
    case "raw":
      return `${text(info.scoringUri)}\n`;
    case "tsv":
      return renderTsv(fields);
    case "env":
      return renderEnv(
        fields.map(([f, v]) => [f === "name" ? "AMLAUTH_SERVICE_NAME" : `AMLAUTH_${f.replace(/([A-Z])/g, "_$1").toUpperCase()}`, v]),
      );
    case "table":
      return renderTable(["field", "value"], fields, opts);
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets shaped for curl

function checkHeaderSafe(secret: string): void {
  // A line break would let the value add headers of its own.
  if (/[\r\n\0]/.test(secret)) throw new UsageError("the secret contains a line break and cannot be used in a header");
}

/** `Authorization: Bearer <secret>` — for `curl -H @-`. */
export function renderAuthHeader(secret: string): string {
  checkHeaderSafe(secret);
  return `Authorization: Bearer ${secret}\n`;
}

/** `header = "Authorization: Bearer <secret>"` — curl -K config syntax, for `curl -K -`. */
export function renderCurlConfig(secret: string): string {
  checkHeaderSafe(secret);
  const escaped = `Authorization: Bearer ${secret}`.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\t/g, "\\t");
  return `header = "${escaped}"\n`;
}
