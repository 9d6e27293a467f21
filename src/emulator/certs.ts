// TLS material for the emulator: a private CA and a leaf certificate for localhost, 127.0.0.1 and ::1
// (plus the --host name when it is something else), created on first start and reused afterwards.
//
// RSA keys come from node:crypto (fast, native); node-forge only assembles and signs the X.509
// structures, and is loaded only when certificates have to be made. The CA private key is never
// written anywhere: once the leaf is signed it is dropped, so nobody can use the trusted ca.pem to
// mint certificates for other hosts. When the leaf must be replaced (expiry, a new host), a fresh CA
// is made too and ca.pem is rewritten in place (clients that reference the file path keep working
// after they restart).
import { X509Certificate, constants, createPrivateKey, privateEncrypt, randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { generateRsaPrivateKeyPem } from "./jwt.js";
import { writeFileAtomic } from "./fs-util.js";

export const CA_FILE = "ca.pem";
export const CERT_FILE = "cert.pem";
export const KEY_FILE = "key.pem";

export interface TlsMaterial {
  /** Path of ca.pem, for --cacert / NODE_EXTRA_CA_CERTS. */
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 3600 * 1000;
const VALIDITY_DAYS = 730;
/** Reissue when less than this is left, so a long-running emulator never serves an expired cert. */
const RENEW_BEFORE_DAYS = 30;

/** The names every leaf covers, plus `host` when it names one specific other interface. */
export function certificateNames(host: string | undefined): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  const extra = host?.replace(/^\[|\]$/g, "");
  if (extra && extra !== "0.0.0.0" && extra !== "::" && !names.includes(extra)) names.push(extra);
  return names;
}

/** Returns valid TLS material from `dir`, creating or renewing it when needed. */
export async function ensureTlsMaterial(dir: string, host: string | undefined, now: number): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names = certificateNames(host);
  const existing = await readExisting(dir);
  if (existing !== null && isUsable(existing, names, now)) return existing;
  return await createTlsMaterial(dir, names, now);
}

async function readExisting(dir: string): Promise<TlsMaterial | null> {
  try {
    const [caPem, certPem, keyPem] = await Promise.all(
      [CA_FILE, CERT_FILE, KEY_FILE].map((f) => readFile(join(dir, f), "utf8")),
    );
    return { caFile: join(dir, CA_FILE), caPem: caPem!, certPem: certPem!, keyPem: keyPem! };
  } catch {
    return null;
  }
}

function isUsable(material: TlsMaterial, names: string[], now: number): boolean {
  try {
    const ca = new X509Certificate(material.caPem);
    const leaf = new X509Certificate(material.certPem);
    if (!leaf.checkPrivateKey(createPrivateKey(material.keyPem))) return false;
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
    const renewAt = Math.min(Date.parse(leaf.validTo), Date.parse(ca.validTo)) - RENEW_BEFORE_DAYS * DAY_MS;
    if (!(now < renewAt) || now < Date.parse(leaf.validFrom)) return false;
    return names.every((name) => (isIP(name) ? leaf.checkIP(name) !== undefined : leaf.checkHost(name) !== undefined));
  } catch {
    return false;
  }
}

/** DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2): what RSASSA-PKCS1-v1_5 signs. */
const SHA256_DIGEST_INFO = Buffer.from("3031300d060960864801650304020105000420", "hex");

/**
 * A signer forge's `certificate.sign(key, md)` accepts, doing the RSA operation natively (forge's
 * pure-JS RSA takes ~100-250 ms per signature; this takes ~1 ms).
 */
function nativeSigner(privateKeyPem: string): { sign(md: { digest(): { getBytes(): string } }): string } {
  const key = createPrivateKey(privateKeyPem);
  return {
    sign(md) {
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), "binary")]);
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString("binary");
    },
  };
}

async function createTlsMaterial(dir: string, names: string[], now: number): Promise<TlsMaterial> {
  const [{ default: forge }, caKeyPem, leafKeyPem] = await Promise.all([
    import("node-forge"),
    generateRsaPrivateKeyPem(),
    generateRsaPrivateKeyPem(),
  ]);
  const { pki, md } = forge;
  type RsaKey = import("node-forge").pki.rsa.PrivateKey;
  const publicOf = (pem: string) => {
    const key = pki.privateKeyFromPem(pem) as RsaKey;
    return pki.setRsaPublicKey(key.n, key.e);
  };
  const caSigner = nativeSigner(caKeyPem) as unknown as RsaKey;

  // Backdate a little so a client clock slightly behind ours still accepts the certificate.
  const notBefore = new Date(now - 3600 * 1000);
  const notAfter = new Date(now + VALIDITY_DAYS * DAY_MS);
  // A positive serial in minimal DER form: a leading zero byte (as `00${random}` gave whenever the
  // first random byte was 0x00, 1 in 256) is illegal padding that OpenSSL rejects.
  const serial = () => {
    const bytes = randomBytes(16);
    bytes[0] = (bytes[0]! & 0x7f) || 1;
    return bytes.toString("hex");
  };

  const caSubject = [
    { name: "commonName", value: `amlauth emulator local CA ${randomBytes(4).toString("hex")}` },
    { name: "organizationName", value: "amlauth emulator (local development only)" },
  ];
  const ca = pki.createCertificate();
  ca.publicKey = publicOf(caKeyPem);
  ca.serialNumber = serial();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = notAfter;
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(caSigner, md.sha256.create());

  const leaf = pki.createCertificate();
  leaf.publicKey = publicOf(leafKeyPem);
  leaf.serialNumber = serial();
  leaf.validity.notBefore = notBefore;
  leaf.validity.notAfter = notAfter;
  leaf.setSubject([{ name: "commonName", value: "localhost" }]);
  leaf.setIssuer(caSubject);
  leaf.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  leaf.sign(caSigner, md.sha256.create());

  const material: TlsMaterial = {
    caFile: join(dir, CA_FILE),
    caPem: pki.certificateToPem(ca),
    certPem: pki.certificateToPem(leaf),
    keyPem: leafKeyPem,
  };
  // Key first: a crash in between leaves a mismatch that the next start detects and repairs.
  await writeFileAtomic(join(dir, KEY_FILE), material.keyPem, 0o600);
  await writeFileAtomic(join(dir, CERT_FILE), material.certPem, 0o644);
  await writeFileAtomic(join(dir, CA_FILE), material.caPem, 0o644);
  return material;
}
