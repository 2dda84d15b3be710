import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface MasterKeySource {
  /** TALLY_SECRET_KEY, when set. */
  readonly secretKey: string | undefined;
  /** Where a generated master key is kept when TALLY_SECRET_KEY is unset. */
  readonly secretKeyFile: string;
}

const VERSION = "v1";

/**
 * Seals secrets the server must read back (HMAC key secrets) with AES-256-GCM under a master key
 * that never enters the database, so a dump of the database yields no working HMAC key.
 * The sealed value is bound to where it is stored (`aad`, e.g. the key's id): moved to another
 * row, it no longer opens.
 *
 * @example
 * ```ts
 * const sealer = new SecretSealer({ secretKey: process.env.TALLY_SECRET_KEY, secretKeyFile: "data/secret.key" });
 * const sealed = sealer.seal("hk_…", "app_1/key_1");
 * sealer.open(sealed, "app_1/key_1"); // "hk_…"
 * ```
 */
export class SecretSealer {
  private key: Buffer | undefined;

  constructor(private readonly source: MasterKeySource) {}

  /** The AES key, derived from TALLY_SECRET_KEY or from the key file (created on first use). */
  private masterKey(): Buffer {
    if (this.key !== undefined) return this.key;
    const material = this.source.secretKey ?? readOrCreateKeyFile(this.source.secretKeyFile);
    this.key = Buffer.from(hkdfSync("sha256", material, "tally", "tally sealed secrets v1", 32));
    return this.key;
  }

  seal(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey(), iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64url"), body.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
  }

  /** The plain secret, or undefined when the value was sealed under another master key or tampered with. */
  open(sealed: string, aad: string): string | undefined {
    const [version, iv, body, tag] = sealed.split(".");
    if (version !== VERSION || iv === undefined || body === undefined || tag === undefined) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.masterKey(), Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

/**
 * Reads the generated master key, or creates it (0600) if it does not exist yet. `wx` makes two
 * processes starting at once agree: the loser of the race reads the winner's file.
 */
function readOrCreateKeyFile(path: string): string {
  try {
    return readKeyFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const generated = randomBytes(32).toString("base64url");
  try {
    writeFileSync(path, generated + "\n", { flag: "wx", mode: 0o600 });
    chmodSync(path, 0o600);
    return generated;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readKeyFile(path);
  }
}

/** A file another process has just created may still be empty for a moment: wait for its content. */
function readKeyFile(path: string): string {
  for (let attempt = 0; ; attempt++) {
    const text = readFileSync(path, "utf8").trim();
    if (text.length >= 32) return text;
    if (attempt >= 100) throw new Error(`${path} holds no master key (expected at least 32 characters); delete it or set TALLY_SECRET_KEY`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/** What a sealed HMAC secret is bound to: moved to another key's row, it no longer opens. */
export function sealContext(appId: string, keyId: string): string {
  return `api_key:${appId}/${keyId}`;
}
