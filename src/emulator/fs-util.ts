// Small crash-safe file helpers shared by the store, certs, keys and the connection file.
import { open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/** Prefix of temp files; leftovers from a killed process are recognised and removed at load. */
export const TEMP_MARKER = ".tmp-";
let tempCounter = 0;

/**
 * Writes `data` to `file` so that a crash at any point leaves either the old or the new content:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  // Unique enough for concurrent writers; "wx" below refuses to reuse a name rather than clobber it.
  // (No node:crypto here: this module sits on the CLI's start-up path through connection.ts.)
  tempCounter += 1;
  const temp = join(dir, `${basename(file)}${TEMP_MARKER}${Date.now().toString(36)}${tempCounter}${Math.random().toString(36).slice(2, 8)}`);
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
