// Parsing of user-written structured files (--dc, --ic, config files) into plain values.
// Pure: callers read the file; this module only turns text into data or a one-line UsageError.
// Error messages name the file and line but never quote file content: these files can hold keys.
import { CORE_SCHEMA, YAMLException, load as loadYaml } from "js-yaml";
import { UsageError } from "../errors.js";

/**
 * Parses YAML or JSON text. `.json` files are parsed as strict JSON; `.yaml`/`.yml` as YAML;
 * anything else (`.amlauthrc`, a --dc file with another extension) as JSON when it starts with
 * `{` or `[`, else YAML — az tries both too (v1-deploy.md §6.1).
 * YAML uses js-yaml's CORE schema: YAML 1.2 scalars (true/false/null/~, numbers), no timestamps or
 * custom tags, so `2024-01-01` stays a string and `yes` is not a boolean.
 */
export function parseStructuredText(text: string, fileName: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === "") throw new UsageError(`${fileName}: the file is empty`);
  const lower = fileName.toLowerCase();
  const asJson = lower.endsWith(".json") || (!/\.ya?ml$/.test(lower) && /^\s*[[{]/.test(body));
  return asJson ? parseJson(body, fileName) : parseYaml(body, fileName);
}

function parseJson(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // V8's own message quotes a snippet of the file, so locate the error ourselves.
    const { offset, reason } = locateJsonError(text);
    const { line, column } = lineAndColumn(text, offset);
    throw new UsageError(`${fileName}: invalid JSON at line ${line}, column ${column}: ${reason}`);
  }
}

/** Values a YAML document may hold once its aliases are expanded (a real config has a few dozen). */
export const MAX_EXPANDED_VALUES = 100_000;

function parseYaml(text: string, fileName: string): unknown {
  let doc: unknown;
  try {
    // A file of only comments is an empty document: null, like JSON's "null".
    doc = loadYaml(text, { schema: CORE_SCHEMA }) ?? null;
  } catch (err) {
    if (err instanceof YAMLException) {
      const line = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : "";
      // `reason` is js-yaml's short description without the code excerpt that `message` carries.
      throw new UsageError(`${fileName}: invalid YAML${line}: ${err.reason}`);
    }
    throw new UsageError(`${fileName}: invalid YAML`);
  }
  // Aliases let a few lines reference one node billions of times ("billion laughs"); every later
  // step (validation, JSON-encoding an --ic environment) would pay for the expansion.
  if (expandedSize(doc, new Map()) > MAX_EXPANDED_VALUES) {
    throw new UsageError(`${fileName}: the YAML expands to more than ${MAX_EXPANDED_VALUES} values through its aliases (*name)`);
  }
  return doc;
}

/** Number of values once aliases are expanded, counted in linear time (shared nodes memoised). */
function expandedSize(value: unknown, memo: Map<object, number>): number {
  if (typeof value !== "object" || value === null) return 1;
  const known = memo.get(value);
  if (known !== undefined) return known;
  // A node that (through an alias) contains itself counts as too large.
  memo.set(value, MAX_EXPANDED_VALUES + 1);
  let total = 1;
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    total += expandedSize(child, memo);
    if (total > MAX_EXPANDED_VALUES) break;
  }
  memo.set(value, total);
  return total;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * A small strict JSON scanner that finds where JSON.parse would fail and why, in words that do not
 * repeat the input. Only called after JSON.parse already failed.
 */
export function locateJsonError(text: string): { offset: number; reason: string } {
  let pos = 0;
  class Stop {
    constructor(readonly offset: number, readonly reason: string) {}
  }
  const fail = (reason: string, at = pos): never => {
    throw new Stop(at, reason);
  };
  const skipWs = (): void => {
    while (pos < text.length && " \t\n\r".includes(text[pos] as string)) pos++;
  };
  const expectEnd = (): void => {
    if (pos >= text.length) fail("unexpected end of file");
  };
  const parseString = (): void => {
    pos++; // opening quote
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return;
      }
      if (c < 0x20) fail(c === 0x0a ? "line break inside a string" : "control character inside a string");
      if (c === 0x5c) {
        const next = text[pos + 1];
        if (next === undefined) fail("unterminated string");
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) fail("bad \\u escape in a string");
          pos += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(next as string)) fail("bad escape in a string");
        pos += 2;
        continue;
      }
      pos++;
    }
  };
  const parseNumber = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos));
    if (!m || m[0] === "-") fail("bad number");
    pos += (m as RegExpExecArray)[0].length;
  };
  const parseValue = (): void => {
    skipWs();
    expectEnd();
    const c = text[pos] as string;
    if (c === "{") return parseContainer("}", true);
    if (c === "[") return parseContainer("]", false);
    if (c === '"') return parseString();
    if (c === "-" || (c >= "0" && c <= "9")) return parseNumber();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return;
      }
    }
    fail(c === "'" ? "single quotes are not allowed in JSON" : "unexpected character");
  };
  const parseContainer = (close: string, isObject: boolean): void => {
    pos++;
    skipWs();
    expectEnd();
    if (text[pos] === close) {
      pos++;
      return;
    }
    for (;;) {
      skipWs();
      expectEnd();
      if (isObject) {
        if (text[pos] === close) fail("trailing comma");
        if (text[pos] !== '"') fail("expected a double-quoted property name");
        parseString();
        skipWs();
        expectEnd();
        if (text[pos] !== ":") fail("expected ':' after a property name");
        pos++;
      } else if (text[pos] === close) {
        fail("trailing comma");
      }
      parseValue();
      skipWs();
      expectEnd();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === close) {
        pos++;
        return;
      }
      fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  };
  try {
    parseValue();
    skipWs();
    if (pos < text.length) fail("unexpected content after the JSON value");
    return { offset: pos, reason: "invalid JSON" };
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, reason: err.reason };
    throw err;
  }
}

// Text helpers live in ./text.ts (no js-yaml), so modules on the start-up path can use them.
export { closestMatch, didYouMean, isPlainObject, quoteInput } from "./text.js";
