// The single color decision. chalk's auto-detection reads the real process (and ignores
// NO_COLOR), so we decide from ctx and build explicit Chalk instances.
import type { Context } from "../context.js";

export type ColorLevel = 0 | 1 | 2 | 3;

/**
 * In order: --no-color → 0; NO_COLOR (non-empty) → 0; FORCE_COLOR 0/false → 0, any other value
 * → that level (1–3, default 1); CLICOLOR_FORCE (non-empty, not 0) → on; otherwise on only when
 * the stream the text goes to is a TTY and TERM is not `dumb`.
 */
export function colorLevel(
  ctx: Pick<Context, "env" | "stdoutIsTTY" | "stderrIsTTY">,
  flags: { color?: boolean },
  stream: "stdout" | "stderr" = "stderr",
): ColorLevel {
  const env = ctx.env;
  if (flags.color === false) return 0;
  if ((env["NO_COLOR"] ?? "") !== "") return 0;
  const force = env["FORCE_COLOR"];
  if (force !== undefined) {
    const value = force.trim().toLowerCase();
    if (value === "0" || value === "false") return 0;
    if (value === "2" || value === "3") return Number(value) as ColorLevel;
    return Math.max(1, detectedLevel(env)) as ColorLevel;
  }
  const cliColorForce = env["CLICOLOR_FORCE"];
  if (cliColorForce !== undefined && cliColorForce !== "" && cliColorForce !== "0") {
    return Math.max(1, detectedLevel(env)) as ColorLevel;
  }
  const isTTY = stream === "stdout" ? ctx.stdoutIsTTY : ctx.stderrIsTTY;
  if (!isTTY || env["TERM"] === "dumb") return 0;
  return Math.max(1, detectedLevel(env)) as ColorLevel;
}

/** How many colors the terminal claims (only used once color is on). */
function detectedLevel(env: Record<string, string | undefined>): ColorLevel {
  const colorterm = (env["COLORTERM"] ?? "").toLowerCase();
  if (colorterm === "truecolor" || colorterm === "24bit") return 3;
  if (/256/.test(env["TERM"] ?? "")) return 2;
  return 1;
}

/** The few styles we use; a chalk instance satisfies it. */
export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const identity = (text: string): string => text;
/** Color off: no escape codes, and chalk (which reads the terminal on import) is never loaded. */
export const PLAIN: Style = { bold: identity, dim: identity, red: identity, green: identity, yellow: identity, cyan: identity };

/** chalk is imported only when color is actually on. */
export async function makeChalk(level: ColorLevel): Promise<Style> {
  if (level === 0) return PLAIN;
  const { Chalk } = await import("chalk");
  return new Chalk({ level });
}
