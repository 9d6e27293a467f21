// amlauth keys rotate [NAME] — the documented two-key procedure as one resumable command:
// regenerate the secondary, prove it works (--verify), hand it to a hook (--exec), let clients
// move to it, and only then regenerate the primary (--then-primary / --wait-for-clients).
import { Command } from "commander";
import { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { App } from "../app.js";
import { AmlauthError, AuthError, ExitCode, InterruptedError, UsageError } from "../errors.js";
import {
  describeRotation,
  isRotationState,
  newRotationState,
  planRotation,
  type RotationState,
} from "../core/rotation.js";
import { confirmDestructive } from "./keys-regen.js";
import { bodyExcerpt, postToScoring } from "./scoring.js";
import { serviceName, target, withOutcomeHint } from "./shared.js";

export interface KeysRotateOptions {
  yes?: boolean;
  verify?: boolean;
  waitForClients?: string;
  thenPrimary?: boolean;
  exec?: string;
  status?: boolean;
}

export function makeKeysRotateCommand(app: App): Command {
  return new Command("rotate")
    .description("zero-downtime rotation: new secondary key, verify, hand over, then new primary")
    .argument("[name]", "service or endpoint name (default: from config)")
    .option("-y, --yes", "do not ask for confirmation (required without a TTY)")
    .option("--verify", "prove the new secondary key works against the scoring URI")
    .option("--exec <command>", "run a shell command with the new key in $AMLAUTH_NEW_KEY before the primary is touched")
    .option("--wait-for-clients <seconds>", "wait this long for clients to move, then regenerate the primary")
    .option("--then-primary", "regenerate the primary right after the secondary step")
    .option("--status", "show the state of an unfinished rotation and exit")
    .addHelpText(
      "after",
      `
Steps: 1) regenerate the secondary key; 2) --verify it; 3) --exec a hook with it (e.g. update a CI
secret or Key Vault; the key is in $AMLAUTH_NEW_KEY, never in argv); 4) move clients to the
secondary key; 5) regenerate the primary only with --then-primary or after --wait-for-clients.
A failed step stops the rotation with the primary untouched; re-run the same command to resume.
The new secondary key is printed on stdout.

Examples:
  amlauth keys rotate demo-aci --verify --yes
  amlauth keys rotate demo-aci --exec 'gh secret set SCORING_KEY --body "$AMLAUTH_NEW_KEY"' --yes
  amlauth keys rotate demo-aci --then-primary --yes      # after clients moved
  amlauth keys rotate demo-aci --status`,
    )
    .action(async (name: string | undefined, opts: KeysRotateOptions) => {
      await runKeysRotate(app, name, opts);
    });
}

export async function runKeysRotate(app: App, nameArg: string | undefined, opts: KeysRotateOptions): Promise<void> {
  const name = await serviceName(app, nameArg);
  const out = await app.printer();
  if (opts.thenPrimary && opts.waitForClients !== undefined) {
    throw new UsageError("pass at most one of --then-primary or --wait-for-clients");
  }
  const waitSeconds = opts.waitForClients === undefined ? undefined : parseSeconds(opts.waitForClients);
  const store = await rotationStore(app, name);

  if (opts.status) {
    const state = store.load();
    if (out.formatFor() === "json") out.data(JSON.stringify({ name, inProgress: Boolean(state), ...(state ?? {}) }) + "\n");
    else out.data(describeRotation(state, name) + "\n");
    return;
  }

  const existing = store.load();
  await confirmDestructive(
    app,
    opts.yes,
    existing
      ? `Resume the key rotation of ${name}?`
      : `Start a key rotation of ${name}? Its secondary key is regenerated now; clients using it will be refused.`,
  );
  const { api, backend } = await target(app, name);
  if (existing && existing.api !== api) {
    throw new UsageError(`the unfinished rotation of ${name} was for a ${existing.api} service, but ${name} now resolves to ${api}`, {
      hint: `Pass --api ${existing.api}, or remove ${store.path} to start over.`,
    });
  }
  let state = existing;
  const steps = planRotation(state, { verify: Boolean(opts.verify), exec: opts.exec, thenPrimary: Boolean(opts.thenPrimary), waitForClientsSeconds: waitSeconds });
  const now = () => new Date(app.ctx.now()).toISOString();
  let primaryDone = false;

  for (const step of steps) {
    switch (step.kind) {
      case "regen-secondary": {
        await withOutcomeHint(
          out.withSpinner(`Regenerating the secondary key of ${name}`, (update) =>
            backend.regenerateKey(name, "Secondary", undefined, { wait: true, onProgress: update, signal: app.ctx.signal }),
          ),
          "the secondary key may or may not have been regenerated (the primary is untouched)",
          "re-run the same command to start over",
        );
        state = newRotationState(api, name, now());
        store.save(state);
        out.info(`secondary key of ${name} regenerated`);
        break;
      }
      case "verify-secondary": {
        const info = await backend.get(name);
        if (info.authMode !== "key") {
          throw new UsageError(`--verify needs key auth, but ${name} uses ${info.authMode} auth; the rotation state is kept`);
        }
        const key = (await backend.listKeys(name)).secondaryKey;
        app.rememberSecret(key);
        const res = await postToScoring(app, info, key, "{}");
        if (res.status === 401 || res.status === 403) {
          throw new AuthError(`the new secondary key was refused by ${name} (HTTP ${res.status}: ${bodyExcerpt(app, res)}); rotation stopped, primary untouched`);
        }
        state = { ...state!, verifiedAt: now(), updatedAt: now() };
        store.save(state);
        out.info(`new secondary key verified against ${name} (HTTP ${res.status})`);
        break;
      }
      case "exec": {
        const key = (await backend.listKeys(name)).secondaryKey;
        app.rememberSecret(key);
        const code = await runHook(app, opts.exec!, { AMLAUTH_NEW_KEY: key, AMLAUTH_KEY_TYPE: "secondary", AMLAUTH_SERVICE: name, AMLAUTH_API: api });
        if (code !== 0) {
          throw new AmlauthError(
            `--exec command failed (exit ${code}); rotation stopped before the primary key, nothing lost`,
            ExitCode.Failure,
            { hint: `Fix it and re-run \`amlauth keys rotate ${name}\` with the same flags to resume.` },
          );
        }
        state = { ...state!, execSucceededAt: now(), updatedAt: now() };
        store.save(state);
        break;
      }
      case "wait-for-clients": {
        await out.withSpinner(`Waiting ${step.seconds}s for clients of ${name} to move to the secondary key`, () =>
          abortableDelay(step.seconds * 1000, app.ctx.signal, name),
        );
        break;
      }
      case "regen-primary": {
        await withOutcomeHint(
          out.withSpinner(`Regenerating the primary key of ${name}`, (update) =>
            backend.regenerateKey(name, "Primary", undefined, { wait: true, onProgress: update, signal: app.ctx.signal }),
          ),
          "the primary key may or may not have been regenerated",
          `re-run \`amlauth keys rotate ${name} --then-primary\` to finish`,
        );
        store.remove();
        primaryDone = true;
        out.success(`rotation of ${name} finished: clients use the secondary key; the primary is new and unused`);
        break;
      }
      case "stop-awaiting-primary": {
        state = { ...state!, phase: "clients-moving", updatedAt: now() };
        store.save(state);
        out.info(`move clients of ${name} to the secondary key, then run \`amlauth keys rotate ${name} --then-primary\``);
        break;
      }
    }
  }

  const secondaryKey = (await backend.listKeys(name)).secondaryKey;
  app.rememberSecret(secondaryKey);
  const phase = primaryDone ? "done" : "awaiting-primary";
  const text = out.formatFor({ singleSecret: true }) === "json" ? JSON.stringify({ name, phase, secondaryKey }) + "\n" : secondaryKey + "\n";
  out.secret(text, [secondaryKey]);
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 86_400) {
    throw new UsageError(`--wait-for-clients takes whole seconds from 0 to 86400, not ${JSON.stringify(value.slice(0, 20))}`);
  }
  return Number(value);
}

/** The hook gets the key in its environment only; its output goes to our stderr (stdout is data). */
async function runHook(app: App, command: string, extraEnv: Record<string, string>): Promise<number> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, {
      shell: true,
      cwd: app.ctx.cwd,
      env: { ...app.ctx.env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => app.ctx.stderr.write(app.redact(chunk.toString())));
    child.stderr.on("data", (chunk: Buffer) => app.ctx.stderr.write(app.redact(chunk.toString())));
    const onAbort = () => child.kill("SIGTERM");
    app.ctx.signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err) => reject(new AmlauthError(`--exec command could not start: ${err.message}`)));
    child.on("close", (code, signal) => {
      app.ctx.signal.removeEventListener("abort", onAbort);
      if (app.ctx.signal.aborted) {
        reject(
          new InterruptedError("interrupted during --exec; rotation state kept, primary key untouched", {
            hint: `re-run \`amlauth keys rotate ${extraEnv.AMLAUTH_SERVICE ?? ""}\` with the same flags to resume`,
          }),
        );
      } else {
        resolvePromise(code ?? (signal ? 128 : 1));
      }
    });
  });
}

function abortableDelay(ms: number, signal: AbortSignal, name: string): Promise<void> {
  // Say what state the service is in and the exact command that finishes the job.
  const interrupted = () =>
    new InterruptedError(`interrupted while waiting for clients of ${name}: the secondary key is new, the primary untouched`, {
      hint: `finish with \`amlauth keys rotate ${name} --then-primary\`, or check with \`amlauth keys rotate ${name} --status\``,
    });
  return new Promise((resolvePromise, reject) => {
    if (signal.aborted) return reject(interrupted());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolvePromise();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(interrupted());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Rotation state lives next to the token cache (0600 file, 0700 dir); it never holds a key. */
async function rotationStore(app: App, name: string) {
  const session = await app.session();
  const { createHash } = await import("node:crypto");
  const t = session.target;
  const scope = [t.armEndpoint, t.subscription, t.resourceGroup, t.workspace].join("|");
  const dir = join(session.cache.dir, "rotations");
  const id = createHash("sha256").update(`${scope}\n${name}`).digest("hex").slice(0, 32);
  const path = join(dir, `${id}.json`);
  return {
    path,
    load(): RotationState | undefined {
      try {
        const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
        return isRotationState(parsed) && parsed.name === name ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    save(state: RotationState): void {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const tmp = `${path}.${app.ctx.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
      renameSync(tmp, path);
    },
    remove(): void {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
