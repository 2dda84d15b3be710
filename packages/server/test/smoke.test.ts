import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "./support/databases.ts";
import { startHarness, type Harness } from "./support/http.ts";

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`smoke on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    it("grants, deducts and reads the balance back", async () => {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: "u1", amount: 100 });
      expect(g.status).toBe(201);
      const d = await h.api("POST", "/v1/credits/deduct", { externalId: "u1", amount: 40, idempotencyKey: "d1" });
      expect(d.status).toBe(201);
      expect(d.body.balance).toMatchObject({ balance: 60, reserved: 0, available: 60 });
      const b = await h.api("GET", `/v1/accounts/${g.body.transaction.accountId}/balance`);
      expect(b.body).toMatchObject({ balance: 60, available: 60 });
    });
  });
}
