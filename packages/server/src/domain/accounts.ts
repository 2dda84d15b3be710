import type { Sql } from "../store/sql.ts";
import type { AccountRecord, Metadata } from "../store/records.ts";
import * as repo from "../store/repo/accounts.ts";
import { notFound, TallyError } from "./errors.ts";
import { newId } from "./ids.ts";
import { inTransaction, type Scope } from "./context.ts";

/** Names an account by Tally's id or by the caller's own id; exactly one of the two. */
export interface AccountRef {
  accountId?: string | undefined;
  externalId?: string | undefined;
}

export function checkAccountRef(ref: AccountRef): void {
  const count = (ref.accountId !== undefined ? 1 : 0) + (ref.externalId !== undefined ? 1 : 0);
  if (count !== 1) {
    throw new TallyError("VALIDATION_ERROR", "Give exactly one of accountId and externalId", {
      issues: [{ path: "/accountId", message: "exactly one of accountId and externalId is required" }],
    });
  }
}

export async function findAccount(q: Sql, appId: string, ref: AccountRef): Promise<AccountRecord | undefined> {
  checkAccountRef(ref);
  return ref.accountId !== undefined
    ? repo.getAccount(q, appId, ref.accountId)
    : repo.getAccountByExternalId(q, appId, ref.externalId!);
}

export async function requireAccount(q: Sql, appId: string, ref: AccountRef): Promise<AccountRecord> {
  const account = await findAccount(q, appId, ref);
  if (account === undefined) throw notFound("ACCOUNT_NOT_FOUND", "account", ref.accountId ?? ref.externalId ?? "");
  return account;
}

/**
 * The id of the account a list filter names (`accountId` or `externalId`), or undefined when it
 * names none; a named account that does not exist is 404, on every list alike.
 */
export async function filterAccountId(scope: Scope, ref: AccountRef): Promise<string | undefined> {
  if (ref.accountId === undefined && ref.externalId === undefined) return undefined;
  return (await scope.db.read((q) => requireAccount(q, scope.appId, ref))).id;
}

/** The account named by external id, created if it does not exist (grants to new users). */
export async function ensureAccountByExternalId(tx: Sql, appId: string, externalId: string, nowMs: number): Promise<AccountRecord> {
  const existing = await repo.getAccountByExternalId(tx, appId, externalId);
  if (existing !== undefined) return existing;
  const account = blankAccount(externalId, nowMs);
  await repo.insertAccount(tx, appId, account);
  const row = await repo.getAccountByExternalId(tx, appId, externalId);
  if (row === undefined) throw new Error("account vanished after insert");
  return row;
}

export async function resolveForWrite(tx: Sql, appId: string, ref: AccountRef, nowMs: number, createMissing: boolean): Promise<AccountRecord> {
  if (createMissing && ref.externalId !== undefined && ref.accountId === undefined) {
    return ensureAccountByExternalId(tx, appId, ref.externalId, nowMs);
  }
  return requireAccount(tx, appId, ref);
}

function blankAccount(externalId: string | null, nowMs: number): AccountRecord {
  return { id: newId("account", nowMs), externalId, name: null, email: null, metadata: {}, createdAtMs: nowMs, updatedAtMs: nowMs };
}

export interface AccountFields {
  name?: string | null | undefined;
  email?: string | null | undefined;
  metadata?: Metadata | undefined;
}

export async function createAccount(scope: Scope, input: AccountFields & { externalId?: string | undefined }): Promise<AccountRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const account: AccountRecord = {
      ...blankAccount(input.externalId ?? null, nowMs),
      name: input.name ?? null,
      email: input.email ?? null,
      metadata: input.metadata ?? {},
    };
    const inserted = await repo.insertAccount(tx, scope.appId, account);
    if (!inserted) {
      throw new TallyError("ACCOUNT_EXISTS", `An account with externalId ${JSON.stringify(input.externalId)} already exists`, {
        externalId: input.externalId,
      });
    }
    return account;
  });
}

/** Create-or-update by external id. Returns the account and whether it was created. */
export async function upsertAccount(scope: Scope, externalId: string, input: AccountFields): Promise<{ account: AccountRecord; created: boolean }> {
  return inTransaction(scope, async (tx, nowMs) => {
    const existing = await repo.getAccountByExternalId(tx, scope.appId, externalId);
    if (existing === undefined) {
      const account: AccountRecord = {
        ...blankAccount(externalId, nowMs),
        name: input.name ?? null,
        email: input.email ?? null,
        metadata: input.metadata ?? {},
      };
      if (await repo.insertAccount(tx, scope.appId, account)) return { account, created: true };
      // Lost a race with another upsert: update the winner instead.
      const winner = await repo.getAccountByExternalId(tx, scope.appId, externalId);
      if (winner === undefined) throw new Error("account vanished after a conflicting insert");
      return { account: await applyUpdate(tx, scope.appId, winner, input, nowMs), created: false };
    }
    return { account: await applyUpdate(tx, scope.appId, existing, input, nowMs), created: false };
  });
}

async function applyUpdate(tx: Sql, appId: string, account: AccountRecord, input: AccountFields, nowMs: number): Promise<AccountRecord> {
  const next: AccountRecord = {
    ...account,
    name: input.name !== undefined ? input.name : account.name,
    email: input.email !== undefined ? input.email : account.email,
    metadata: input.metadata !== undefined ? mergeMetadata(account.metadata, input.metadata) : account.metadata,
    updatedAtMs: nowMs,
  };
  await repo.updateAccount(tx, appId, next);
  return next;
}

/**
 * Stripe's rule for metadata updates: keys given replace, a key set to "" is removed, keys not
 * given are kept.
 */
export function mergeMetadata(current: Metadata, patch: Metadata): Metadata {
  const out: Metadata = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === "") delete out[k];
    else out[k] = v;
  }
  if (Object.keys(out).length > 50) {
    throw new TallyError("VALIDATION_ERROR", "metadata would exceed 50 keys", { issues: [{ path: "/metadata", message: "at most 50 keys" }] });
  }
  return out;
}

export async function updateAccount(scope: Scope, accountId: string, input: AccountFields): Promise<AccountRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const account = await requireAccount(tx, scope.appId, { accountId });
    return applyUpdate(tx, scope.appId, account, input, nowMs);
  });
}

export async function getAccount(scope: Scope, ref: AccountRef): Promise<AccountRecord> {
  return scope.db.read((q) => requireAccount(q, scope.appId, ref));
}

export async function listAccounts(scope: Scope, filter: repo.AccountFilter): Promise<AccountRecord[]> {
  return scope.db.read((q) => repo.listAccounts(q, scope.appId, filter));
}
