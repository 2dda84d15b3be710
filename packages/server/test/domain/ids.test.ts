import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeRandom, newId, ulid } from "../../src/domain/ids.ts";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The plain definition: 80 bits, five at a time, most significant first. */
function referenceEncode(bytes: Uint8Array): string {
  let bits = "";
  for (const byte of bytes) bits += byte.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i < 80; i += 5) out += ALPHABET[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

describe("ids", () => {
  it("encodes any 80 bits as the 16 base32 characters of the plain definition", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), (bytes) => {
        expect(encodeRandom(bytes)).toBe(referenceEncode(bytes));
      }),
      { numRuns: 2000 },
    );
    expect(encodeRandom(new Uint8Array(10))).toBe("0".repeat(16));
    expect(encodeRandom(new Uint8Array(10).fill(255))).toBe("Z".repeat(16));
  });

  it("makes ids that sort in creation order, within one millisecond and across them", () => {
    const ids: string[] = [];
    const t = Date.now() + 10_000;
    for (let i = 0; i < 5000; i++) ids.push(ulid(t + Math.floor(i / 1000)));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(newId("transaction")).toMatch(/^txn_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
