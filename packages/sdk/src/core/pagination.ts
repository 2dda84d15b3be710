/**
 * Cursor pagination. A list method returns a {@link PagePromise}: await it for one
 * {@link Page}, or `for await` over it for every item of every page.
 */

/** Offset pagination info, present when a list was requested with `offset`. */
export interface PaginationInfo {
  limit: number;
  offset: number;
  total: number;
}

/** The wire shape of a page: `{ items, nextCursor, hasMore, pagination? }`. */
export interface PageData<T> {
  items: T[];
  nextCursor: string | null;
  hasMore: boolean;
  pagination?: PaginationInfo;
}

/** Parameters every list accepts. */
export interface PageParams {
  /** Items per page, 1–100 (default 20). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** Fetches one page given the params (with `cursor`/`offset` set for the page wanted). */
export type PageFetcher<T, P> = (params: P) => Promise<PageData<T>>;

/**
 * One page of results, with helpers to walk on.
 *
 * @example
 * ```ts
 * let page = await tally.accounts.list({ limit: 50 });
 * while (true) {
 *   for (const account of page.items) console.log(account.id);
 *   if (!page.hasNextPage()) break;
 *   page = await page.getNextPage();
 * }
 * ```
 */
export class Page<T> implements PageData<T>, AsyncIterable<T> {
  items: T[];
  nextCursor: string | null;
  hasMore: boolean;
  pagination?: PaginationInfo;
  readonly #params: PageParams & { offset?: number };
  readonly #fetch: PageFetcher<T, PageParams & { offset?: number }>;

  constructor(data: Partial<PageData<T>> & { items?: T[] }, params: PageParams & { offset?: number }, fetchPage: PageFetcher<T, PageParams & { offset?: number }>) {
    this.items = Array.isArray(data.items) ? data.items : [];
    this.nextCursor = typeof data.nextCursor === "string" ? data.nextCursor : null;
    this.hasMore = data.hasMore === true;
    if (data.pagination !== undefined) this.pagination = data.pagination;
    this.#params = params;
    this.#fetch = fetchPage;
  }

  /**
   * Whether another page follows.
   *
   * @example
   * ```ts
   * const page = await tally.transactions.list({ externalId: "user_456" });
   * if (page.hasNextPage()) console.log("more to come");
   * ```
   */
  hasNextPage(): boolean {
    if (this.items.length === 0) return false;
    if (this.#params.offset !== undefined) {
      if (this.pagination !== undefined) return this.pagination.offset + this.items.length < this.pagination.total;
      return this.hasMore;
    }
    return this.hasMore && this.nextCursor !== null;
  }

  /**
   * Fetches the page after this one (same filters).
   *
   * @example
   * ```ts
   * const first = await tally.transactions.list({ externalId: "user_456", limit: 10 });
   * const second = await first.getNextPage();
   * ```
   */
  async getNextPage(): Promise<Page<T>> {
    if (!this.hasNextPage()) throw new Error("No next page; check hasNextPage() first");
    const next = { ...this.#params };
    if (next.offset !== undefined) {
      next.offset = (this.pagination?.offset ?? next.offset) + this.items.length;
    } else if (this.nextCursor !== null) {
      next.cursor = this.nextCursor;
    }
    return new Page(await this.#fetch(next), next, this.#fetch);
  }

  /**
   * Every page from this one on.
   *
   * @example
   * ```ts
   * for await (const page of (await tally.accounts.list()).iterPages()) console.log(page.items.length);
   * ```
   */
  async *iterPages(): AsyncGenerator<Page<T>, void, undefined> {
    let page: Page<T> = this;
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  /** Iterates every item of this page and the ones after it. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.iterPages()) {
      for (const item of page.items) yield item;
    }
  }

  /**
   * The plain wire shape (what `JSON.stringify` prints).
   *
   * @example
   * ```ts
   * const page = await tally.accounts.list();
   * res.json(page.toJSON()); // { items, nextCursor, hasMore }
   * ```
   */
  toJSON(): PageData<T> {
    return { items: this.items, nextCursor: this.nextCursor, hasMore: this.hasMore, ...(this.pagination !== undefined ? { pagination: this.pagination } : {}) };
  }
}

/**
 * The result of a list method: a promise of the first {@link Page} that is also an async
 * iterable over every item of every page (the openai-node `PagePromise` pattern).
 *
 * @example
 * ```ts
 * const page = await tally.transactions.list({ externalId: "user_456" });   // one page
 * for await (const t of tally.transactions.list({ externalId: "user_456" })) {  // all items
 *   console.log(t.id, t.amount);
 * }
 * ```
 */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  readonly #promise: Promise<Page<T>>;

  constructor(params: PageParams & { offset?: number }, fetchPage: PageFetcher<T, PageParams & { offset?: number }>) {
    this.#promise = fetchPage(params).then((data) => new Page(data, params, fetchPage));
    // Whoever awaits or iterates sees the rejection; this only stops an "unhandled rejection"
    // report when the caller drops the promise.
    this.#promise.catch(() => undefined);
  }

  then<R1 = Page<T>, R2 = never>(onfulfilled?: ((value: Page<T>) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return this.#promise.then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.#promise.catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<Page<T>> {
    return this.#promise.finally(onfinally);
  }

  /** Iterates every item across every page. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    const first = await this.#promise;
    yield* first;
  }

  readonly [Symbol.toStringTag] = "PagePromise";
}
