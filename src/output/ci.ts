// CI log masking. Before a secret reaches stdout, the CI runner is told to mask it.
//
// The mask lines go to **stderr**: stdout is usually captured by $(...) or redirected into
// $GITHUB_ENV, where a mask line would corrupt the captured value and never reach the runner.
// Both GitHub Actions and Azure Pipelines read workflow commands from stderr as well as stdout,
// and they mask from that point on, so the line must be written before the secret.
import type { Context } from "../context.js";

export function isGitHubActions(env: Record<string, string | undefined>): boolean {
  return env["GITHUB_ACTIONS"] === "true";
}

export function isAzurePipelines(env: Record<string, string | undefined>): boolean {
  return (env["TF_BUILD"] ?? "").toLowerCase() === "true";
}

/** Any CI that we know of (used to keep spinners away from logs). */
export function isCI(env: Record<string, string | undefined>): boolean {
  const ci = (env["CI"] ?? "").toLowerCase();
  return (ci !== "" && ci !== "0" && ci !== "false") || isGitHubActions(env) || isAzurePipelines(env) || Boolean(env["BUILD_BUILDID"]);
}

// Workflow-command data escaping: the runner decodes these, so the mask matches the real value.
const escapeGitHub = (s: string): string => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const escapeAzure = (s: string): string => s.replace(/%/g, "%AZP25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");

/**
 * The lines (each ending in "\n") that register `secrets` with the CI runner's log masking;
 * empty outside GitHub Actions (GITHUB_ACTIONS=true) and Azure Pipelines (TF_BUILD=True).
 * Multi-line secrets are masked line by line, as the runners match single lines.
 */
export function secretMaskLines(ctx: Pick<Context, "env">, secrets: string[]): string[] {
  const github = isGitHubActions(ctx.env);
  const azure = isAzurePipelines(ctx.env);
  if (!github && !azure) return [];
  const parts = new Set<string>();
  for (const secret of secrets) {
    for (const part of secret.split(/\r?\n/)) if (part.trim() !== "") parts.add(part);
  }
  const lines: string[] = [];
  for (const part of parts) {
    if (github) lines.push(`::add-mask::${escapeGitHub(part)}\n`);
    if (azure) lines.push(`##vso[task.setsecret]${escapeAzure(part)}\n`);
  }
  return lines;
}

/** Anything text can be written to: a stream, or a plain synchronous writer (bin/amlauth.cjs). */
export interface TextSink {
  write(text: string): unknown;
}

/**
 * Writes text holding secrets to stdout, after registering each secret with the CI runner's log
 * masking on stderr. `secrets` defaults to the trimmed text; `write` lets the printer keep a
 * spinner's line out of the way.
 */
export function writeSecret<S extends TextSink>(
  ctx: { env: Record<string, string | undefined>; stdout: S; stderr: S },
  text: string,
  secrets: string[] = [text.trim()],
  write: (stream: S, chunk: string) => void = (stream, chunk) => {
    stream.write(chunk);
  },
): void {
  for (const mask of secretMaskLines(ctx, secrets)) write(ctx.stderr, mask);
  write(ctx.stdout, text);
}
