import { randomFillSync } from "node:crypto";

/** Crockford base32, the ULID alphabet: sortable as plain strings. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export const ID_PREFIXES = {
  account: "acct",
  transaction: "txn",
  grant: "grt",
  reservation: "rsv",
  usage: "use",
  price: "prc",
  product: "prd",
  plan: "plan",
  subscription: "sub",
  addon: "addon",
  order: "ord",
  invoice: "inv",
  checkoutSession: "cs",
  apiKey: "key",
  webhookEndpoint: "we",
  event: "evt",
  app: "app",
  request: "req",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

let lastTimeMs = 0;
let lastTimeEncoded = "";
let lastRandom: Uint8Array = new Uint8Array(10);

// Random bytes are drawn from a pool refilled 4 KiB at a time: one getrandom call per ~400 ids
// instead of one per millisecond with ids in it (several per request on the hot path).
const randomPool = new Uint8Array(4096);
let randomPoolOffset = randomPool.length;
function freshRandom(): Uint8Array {
  if (randomPoolOffset + 10 > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const bytes = randomPool.slice(randomPoolOffset, randomPoolOffset + 10);
  randomPoolOffset += 10;
  return bytes;
}

function encodeTime(timeMs: number): string {
  let out = "";
  let t = timeMs;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters.
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/**
 * A monotonic ULID: ids made in one process sort in creation order even within one millisecond,
 * which cursor pagination relies on.
 */
export function ulid(nowMs: number = Date.now()): string {
  if (nowMs <= lastTimeMs) {
    // Same (or earlier, if the clock stepped back) millisecond: increment the random part.
    const next = new Uint8Array(lastRandom);
    for (let i = next.length - 1; i >= 0; i--) {
      if (next[i] === 255) {
        next[i] = 0;
      } else {
        next[i] = next[i]! + 1;
        break;
      }
    }
    lastRandom = next;
  } else {
    lastTimeMs = nowMs;
    lastTimeEncoded = encodeTime(nowMs);
    lastRandom = freshRandom();
  }
  return lastTimeEncoded + encodeRandom(lastRandom);
}

/** `newId("account")` → `acct_01JD…`. */
export function newId(kind: IdKind, nowMs?: number): string {
  return `${ID_PREFIXES[kind]}_${ulid(nowMs)}`;
}

export function hasPrefix(id: string, kind: IdKind): boolean {
  return id.startsWith(`${ID_PREFIXES[kind]}_`);
}
