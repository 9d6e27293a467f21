// A scriptable HTTPS server on 127.0.0.1:0 for pipeline tests, with certificates from the
// emulator's certs module (a private CA + a leaf for 127.0.0.1).
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTlsMaterial, type TlsMaterial } from "../../src/emulator/certs.js";

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface TestServer {
  url: string;
  tls: TlsMaterial;
  seen: SeenRequest[];
  /** Handlers used in order, one per request; the last one repeats. */
  script(...handlers: Handler[]): void;
  close(): Promise<void>;
}

let tlsPromise: Promise<{ tls: TlsMaterial; dir: string }> | undefined;

/** One CA + leaf per test file (key generation is the slow part). */
export function testTls(): Promise<{ tls: TlsMaterial; dir: string }> {
  tlsPromise ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "amlauth-rest-tls-"));
    return { tls: await ensureTlsMaterial(dir, "127.0.0.1", Date.now()), dir };
  })();
  return tlsPromise;
}

export async function startTestServer(): Promise<TestServer> {
  const { tls } = await testTls();
  const seen: SeenRequest[] = [];
  let handlers: Handler[] = [(_req, res) => json(res, 200, {})];
  let index = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const handler = handlers[Math.min(index, handlers.length - 1)]!;
      index += 1;
      handler(req, res, body);
    });
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    tls,
    seen,
    script(...h) {
      handlers = h;
      index = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Destroys the connection without answering (a reset as the client sees it). */
export function reset(req: IncomingMessage): void {
  req.socket.destroy();
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
