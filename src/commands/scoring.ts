// Calling a scoring URI with the credential its auth mode needs (auth check, invoke, rotate --verify).
import type { App } from "../app.js";
import { UsageError } from "../errors.js";
import type { HttpResponse } from "../rest/http-types.js";
import type { ServiceInfo } from "../rest/types.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export type CredentialChoice = { kind: "key"; which: "primary" | "secondary" } | { kind: "token" } | { kind: "none" };

/** The credential a service's current mode asks for (unless the user picked one). */
export function defaultCredentialFor(info: ServiceInfo): CredentialChoice {
  if (info.authMode === "key") return { kind: "key", which: "primary" };
  if (info.authMode === "none") return { kind: "none" };
  return { kind: "token" };
}

/** POST to the scoring URI. Scoring is a pure function of its input, so retrying a 5xx is safe. */
export async function postToScoring(app: App, info: ServiceInfo, secret: string | undefined, body: string): Promise<HttpResponse> {
  if (!info.scoringUri) throw new UsageError(`${info.name} has no scoring URI yet (state: ${info.state})`);
  const session = await app.session();
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (secret) headers["authorization"] = `Bearer ${secret}`;
  return session.pipeline.send({
    method: "POST",
    url: info.scoringUri,
    headers,
    body,
    auth: false,
    idempotent: true,
    signal: app.ctx.signal,
  });
}

/** --data @file.json | - (stdin) | inline JSON text. Validated as JSON so typos fail before the call. */
export async function readRequestData(app: App, data: string | undefined, fallback: string): Promise<string> {
  if (data === undefined) return fallback;
  let text: string;
  if (data === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of app.ctx.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
    text = Buffer.concat(chunks).toString("utf8");
  } else if (data.startsWith("@")) {
    const path = resolve(app.ctx.cwd, data.slice(1));
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read --data file ${data.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  } else {
    text = data;
  }
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError("--data is not valid JSON", { hint: "Pass @file.json, - for stdin, or a JSON string." });
  }
  return text;
}

/** A short, single-line excerpt of a reply body for messages (never contains our secret). */
export function bodyExcerpt(app: App, res: HttpResponse, max = 200): string {
  let text = res.bodyText.trim();
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const inner = (parsed.error ?? parsed) as Record<string, unknown> | string;
    if (typeof inner === "string") text = inner;
    else if (typeof inner.message === "string") text = inner.message;
    else if (typeof parsed.message === "string") text = parsed.message;
  } catch {
    // not JSON: keep the raw text
  }
  text = app.redact(text.replace(/\s+/g, " "));
  return text.length > max ? text.slice(0, max) + "…" : text;
}
