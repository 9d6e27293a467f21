// TLS material: a CA and a leaf for localhost/127.0.0.1/::1, made once, reused, repaired when needed.
import { afterAll, describe, expect, it } from "vitest";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect } from "node:tls";
import { certificateNames, ensureTlsMaterial } from "../../src/emulator/certs.js";
import { startEmulator } from "../../src/emulator/index.js";
import { tempDir } from "./helpers.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("certificates", () => {
  it("creates a CA and a leaf with the right names and modes, reuses them, and repairs a broken set", async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const now = Date.now();
    const first = await ensureTlsMaterial(dir, "127.0.0.1", now);
    const ca = new X509Certificate(first.caPem);
    const leaf = new X509Certificate(first.certPem);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(leaf.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
    expect((await stat(join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    // The CA private key is never written: nothing else in the dir holds a private key.
    for (const file of ["ca.pem", "cert.pem"]) expect(await readFile(join(dir, file), "utf8")).not.toContain("PRIVATE KEY");

    const again = await ensureTlsMaterial(dir, "localhost", now + 1000);
    expect(again.certPem).toBe(first.certPem); // reused

    // A leaf that no longer matches its key is replaced (and the CA with it).
    const unrelated = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
    await writeFile(join(dir, "key.pem"), unrelated);
    const repaired = await ensureTlsMaterial(dir, "127.0.0.1", now + 2000);
    expect(repaired.certPem).not.toBe(first.certPem);
    expect(new X509Certificate(repaired.certPem).checkIssued(new X509Certificate(repaired.caPem))).toBe(true);

    // Renewed when close to expiry.
    const renewed = await ensureTlsMaterial(dir, "127.0.0.1", now + 710 * 24 * 3600 * 1000);
    expect(renewed.certPem).not.toBe(repaired.certPem);
  });

  it("adds a specific --host to the names, and serves TLS that verifies against ca.pem only", async () => {
    expect(certificateNames("0.0.0.0")).toEqual(["localhost", "127.0.0.1", "::1"]);
    expect(certificateNames("[::]")).toEqual(["localhost", "127.0.0.1", "::1"]);
    expect(certificateNames("devbox.local")).toEqual(["localhost", "127.0.0.1", "::1", "devbox.local"]);
    const dir = await tempDir();
    dirs.push(dir);
    const emu = await startEmulator({ port: 0, host: "::1", dataDir: dir, inMemory: true, writeConnectionFile: false });
    try {
      expect(emu.url).toMatch(/^https:\/\/\[::1\]:\d+$/);
      const ca = await readFile(emu.caFile, "utf8");
      const verified = (servername: string, trust?: string) =>
        new Promise<boolean>((resolve) => {
          const socket = connect({ host: "::1", port: emu.port, servername, ...(trust ? { ca: trust } : {}) }, () => {
            resolve(socket.authorized);
            socket.end();
          });
          socket.on("error", () => resolve(false));
        });
      expect(await verified("localhost", ca)).toBe(true);
      expect(await verified("localhost")).toBe(false); // not trusted without the CA file
      expect(await verified("example.com", ca)).toBe(false); // not valid for other names
    } finally {
      await emu.close();
    }
  });
});
