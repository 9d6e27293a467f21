// `node:fs/promises` as the fast path bundle sees it (scripts/build.mjs aliases the module to this
// file for dist/fast.cjs only). The shared modules it bundles read a file or two through
// fs/promises (the emulator's connection.json); here those reads run synchronously, so a cache
// hit neither loads fs/promises nor starts libuv's thread pool, whose threads a busy machine may
// not schedule for a long while. Same results, same errors (as rejections).
// Nothing on the fast path writes; the writers reject, and a rejection means "not handled".
import { readFileSync } from "node:fs";

export async function readFile(path: string, encoding: BufferEncoding): Promise<string> {
  return readFileSync(path, encoding);
}

function writesAreNotForTheFastPath(): Promise<never> {
  return Promise.reject(new Error("the fast path does not write files"));
}

export const open = writesAreNotForTheFastPath;
export const rename = writesAreNotForTheFastPath;
export const rm = writesAreNotForTheFastPath;
