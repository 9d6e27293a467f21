// Small crash-safe file helpers shared by the store, certs, keys and the connection file.
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/** Prefix of temp files; leftovers from a killed process are recognised and removed at load. */
export const TEMP_MARKER = ".tmp-";

/**
 * Writes `data` to `file` so that a crash at any point leaves either the old or the new content:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `${basename(file)}${TEMP_MARKER}${randomBytes(6).toString("hex")}`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes a rename durable. Some filesystems refuse fsync on directories; that is not fatal here. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // best effort (e.g. EINVAL/EISDIR on some filesystems)
  } finally {
    await handle?.close();
  }
}
