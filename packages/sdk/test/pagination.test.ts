/** Lists return a page that is also an async iterator over every page. */
import { describe, expect, it } from "vitest";
import { Page, PagePromise, Tally } from "../src/index.ts";
import { scriptedFetch, json } from "./helpers/mock-fetch.ts";

function tx(n: number) {
  return { id: `txn_${n}`, amount: -n };
}

describe("pagination", () => {
  it("walks several cursor pages with for await, passing filters along", async () => {
    const pages: Record<string, { items: unknown[]; nextCursor: string | null; hasMore: boolean }> = {
      "": { items: [tx(1), tx(2)], nextCursor: "txn_2", hasMore: true },
      txn_2: { items: [tx(3), tx(4)], nextCursor: "txn_4", hasMore: true },
      txn_4: { items: [tx(5)], nextCursor: null, hasMore: false },
    };
    const { fetch, calls } = scriptedFetch([
      (call) => {
        const cursor = new URL(call.url).searchParams.get("cursor") ?? "";
        return json(200, pages[cursor]);
      },
    ]);
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const seen: string[] = [];
    for await (const t of tally.transactions.list({ externalId: "user_1", limit: 2 })) seen.push(t.id);
    expect(seen).toEqual(["txn_1", "txn_2", "txn_3", "txn_4", "txn_5"]);
    expect(calls.map((c) => c.url)).toEqual([
      "http://tally.test/v1/transactions?externalId=user_1&limit=2",
      "http://tally.test/v1/transactions?externalId=user_1&limit=2&cursor=txn_2",
      "http://tally.test/v1/transactions?externalId=user_1&limit=2&cursor=txn_4",
    ]);

    const first = await tally.transactions.list({ limit: 2 });
    expect(first).toBeInstanceOf(Page);
    expect(first.items.map((t) => t.id)).toEqual(["txn_1", "txn_2"]);
    expect(first.hasMore).toBe(true);
    expect(first.nextCursor).toBe("txn_2");
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.items.map((t) => t.id)).toEqual(["txn_3", "txn_4"]);
    expect(JSON.parse(JSON.stringify(second))).toEqual(pages["txn_2"]);
    let count = 0;
    for await (const page of first.iterPages()) count += page.items.length;
    expect(count).toBe(5);
  });

  it("walks offset pages", async () => {
    const all = [1, 2, 3, 4, 5].map(tx);
    const { fetch } = scriptedFetch([
      (call) => {
        const q = new URL(call.url).searchParams;
        const offset = Number(q.get("offset"));
        const limit = Number(q.get("limit"));
        const items = all.slice(offset, offset + limit);
        return json(200, { items, nextCursor: null, hasMore: offset + limit < all.length, pagination: { limit, offset, total: all.length } });
      },
    ]);
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const page = await tally.transactions.list({ accountId: "acct_1", limit: 2, offset: 0 });
    expect(page.pagination).toEqual({ limit: 2, offset: 0, total: 5 });
    const ids: string[] = [];
    for await (const t of tally.transactions.list({ accountId: "acct_1", limit: 2, offset: 0 })) ids.push(t.id);
    expect(ids).toEqual(all.map((t) => t.id));
  });

  it("treats { items } without cursor fields as a single page", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 200, body: { items: [{ id: "key_1" }] } }]);
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const keys = [];
    for await (const k of tally.apiKeys.list()) keys.push(k);
    expect(keys).toHaveLength(1);
    expect(calls).toHaveLength(1);
  });

  it("a PagePromise is thenable and rejects like a promise", async () => {
    const { fetch } = scriptedFetch([{ status: 404, body: { error: { code: "NOT_FOUND", message: "x", status: 404, requestId: "req_1" } } }]);
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const p = tally.accounts.list();
    expect(p).toBeInstanceOf(PagePromise);
    await expect(p).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      (async () => {
        for await (const _ of tally.accounts.list()) void _;
      })(),
    ).rejects.toMatchObject({ status: 404 });
  });

  it("resolves an externalId once for account-scoped lists", async () => {
    const { fetch, calls } = scriptedFetch([
      { status: 200, body: { id: "acct_9" } },
      { status: 200, body: { items: [{ id: "grt_1" }], nextCursor: "grt_1", hasMore: true } },
      { status: 200, body: { items: [{ id: "grt_2" }], nextCursor: null, hasMore: false } },
    ]);
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const ids = [];
    for await (const g of tally.accounts.grants({ externalId: "u" }, { active: true })) ids.push(g.id);
    expect(ids).toEqual(["grt_1", "grt_2"]);
    expect(calls.map((c) => c.url)).toEqual([
      "http://tally.test/v1/accounts/by-external-id/u",
      "http://tally.test/v1/accounts/acct_9/grants?active=true",
      "http://tally.test/v1/accounts/acct_9/grants?active=true&cursor=grt_1",
    ]);
  });
});
