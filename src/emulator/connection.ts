// Finding a running emulator: its data directory and connection.json. Deliberately light (node
// builtins only) so every CLI command can import it statically without loading the emulator.
import { readFile, rm } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { ConnectionInfo } from "./types.js";
import { writeFileAtomic } from "./fs-util.js";

export const CONNECTION_FILE = "connection.json";
/** Overrides the default data directory (the --data-dir flag wins over it). */
export const EMULATOR_DIR_ENV = "AMLAUTH_EMULATOR_DIR";
/** Default port of `amlauth emulator start` (falls back to a free port when taken). */
export const DEFAULT_EMULATOR_PORT = 7443;

/** $XDG_STATE_HOME/amlauth/emulator, else ~/.local/state/amlauth/emulator. */
export function defaultEmulatorDataDir(env: Record<string, string | undefined>, homedir: string): string {
  const xdg = env["XDG_STATE_HOME"];
  // The XDG spec says relative values are invalid and must be ignored.
  const stateHome = xdg !== undefined && xdg !== "" && isAbsolute(xdg) ? xdg : join(homedir, ".local", "state");
  return join(stateHome, "amlauth", "emulator");
}

/** --data-dir, else $AMLAUTH_EMULATOR_DIR, else the default; relative paths resolve against cwd. */
export function resolveEmulatorDataDir(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  homedir: string,
  cwd: string,
): string {
  const chosen = flag !== undefined && flag !== "" ? flag : env[EMULATOR_DIR_ENV];
  if (chosen !== undefined && chosen !== "") return resolve(cwd, chosen);
  return defaultEmulatorDataDir(env, homedir);
}

function isConnectionInfo(value: unknown): value is ConnectionInfo {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["url"] === "string" &&
    typeof v["caFile"] === "string" &&
    typeof v["pid"] === "number" &&
    typeof v["dataDir"] === "string" &&
    typeof v["subscriptionId"] === "string" &&
    typeof v["resourceGroup"] === "string" &&
    typeof v["workspace"] === "string" &&
    typeof v["tenantId"] === "string" &&
    typeof v["clientId"] === "string"
  );
}

/**
 * connection.json of the emulator using `dataDir`, or null when there is none (or it is unreadable).
 * It may be stale (a killed emulator cannot remove it): check the URL before relying on it.
 */
export async function readConnectionFile(dataDir: string): Promise<ConnectionInfo | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, CONNECTION_FILE), "utf8");
  } catch {
    return null;
  }
  try {
    const value: unknown = JSON.parse(text);
    return isConnectionInfo(value) ? value : null;
  } catch {
    return null;
  }
}

export async function writeConnectionFile(dataDir: string, info: ConnectionInfo): Promise<void> {
  // No secrets in it: readable like any config file.
  await writeFileAtomic(join(dataDir, CONNECTION_FILE), JSON.stringify(info, null, 2) + "\n", 0o644);
}

/** Removes connection.json unless it now belongs to another emulator. */
export async function removeConnectionFile(dataDir: string, owner: { url: string; pid: number }): Promise<void> {
  const current = await readConnectionFile(dataDir);
  if (current !== null && (current.url !== owner.url || current.pid !== owner.pid)) return;
  await rm(join(dataDir, CONNECTION_FILE), { force: true });
}
