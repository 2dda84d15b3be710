import type { AccountRecord, ApiKeyRecord, AppRecord, LotRecord, PriceRecord, ReservationRecord, TransactionRecord, UnitRecord, UsageRecordRow } from "../store/records.ts";
import type { BalanceView } from "../domain/balances.ts";
import { toIso, toIsoOrNull } from "../domain/clock.ts";
import type { Allocation } from "../store/records.ts";

/** Records (epoch ms, internal fields) → the contract's shapes (ISO timestamps). */
export const present = {
  account: (a: AccountRecord) => ({
    id: a.id,
    externalId: a.externalId,
    name: a.name,
    email: a.email,
    metadata: a.metadata,
    createdAt: toIso(a.createdAtMs),
  }),
  balance: (b: BalanceView) => {
    const out: Record<string, unknown> = { accountId: b.accountId, unit: b.unit, balance: b.balance, reserved: b.reserved, available: b.available };
    if (b.expiringNext !== undefined) out["expiringNext"] = { amount: b.expiringNext.amount, expiresAt: toIso(b.expiringNext.expiresAtMs) };
    return out;
  },
  allocation: (a: Allocation) => ({ grantId: a.grantId, amount: a.amount, source: a.source, expiresAt: toIsoOrNull(a.expiresAtMs) }),
  transaction: (t: TransactionRecord) => ({
    id: t.id,
    accountId: t.accountId,
    unit: t.unit,
    type: t.type,
    amount: t.amount,
    balanceAfter: t.balanceAfter,
    idempotencyKey: t.idempotencyKey,
    reference: t.reference,
    operation: t.operation,
    description: t.description,
    metadata: t.metadata,
    reservationId: t.reservationId,
    refundOf: t.refundOf,
    grantId: t.grantId,
    allocations: t.allocations.map(present.allocation),
    createdAt: toIso(t.createdAtMs),
  }),
  grant: (l: LotRecord) => ({
    id: l.id,
    accountId: l.accountId,
    unit: l.unit,
    amount: l.amount,
    remaining: l.remaining,
    reserved: l.held,
    consumed: l.consumed,
    expired: l.expired,
    source: l.source,
    priority: l.priority,
    expiresAt: toIsoOrNull(l.expiresAtMs),
    reference: l.reference,
    description: l.description,
    metadata: l.metadata,
    transactionId: l.transactionId,
    createdAt: toIso(l.createdAtMs),
  }),
  reservation: (r: ReservationRecord) => ({
    id: r.id,
    accountId: r.accountId,
    unit: r.unit,
    amount: r.amount,
    capturedAmount: r.capturedAmount,
    status: r.status,
    expiresAt: toIso(r.expiresAtMs),
    confirmedAmount: r.confirmedAmount,
    transactionId: r.transactionId,
    operation: r.operation,
    reference: r.reference,
    description: r.description,
    metadata: r.metadata,
    createdAt: toIso(r.createdAtMs),
  }),
  usage: (u: UsageRecordRow) => ({
    id: u.id,
    accountId: u.accountId,
    transactionId: u.transactionId,
    context: u.context,
    modelId: u.modelId,
    usageType: u.usageType,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    quantity: u.quantity,
    credits: u.credits,
    unit: u.unit,
    idempotencyKey: u.idempotencyKey,
    description: u.description,
    metadata: u.metadata,
    createdAt: toIso(u.createdAtMs),
  }),
  price: (p: PriceRecord) => ({
    id: p.id,
    key: p.key,
    unit: p.unit,
    amount: p.amount,
    modelId: p.modelId,
    inputPerMillion: p.inputPerMillion,
    outputPerMillion: p.outputPerMillion,
    perRequest: p.perRequest,
    createdAt: toIso(p.createdAtMs),
    updatedAt: toIso(p.updatedAtMs),
  }),
  unit: (u: UnitRecord) => ({ unit: u.unit, name: u.name, decimals: u.decimals, createdAt: toIso(u.createdAtMs), updatedAt: toIso(u.updatedAtMs) }),
  app: (a: AppRecord) => ({
    id: a.id,
    name: a.name,
    endUserAuth:
      a.endUserAuth === null
        ? null
        : {
            algorithm: a.endUserAuth.algorithm,
            subjectClaim: a.endUserAuth.subjectClaim,
            ...(a.endUserAuth.issuer !== undefined ? { issuer: a.endUserAuth.issuer } : {}),
            ...(a.endUserAuth.audience !== undefined ? { audience: a.endUserAuth.audience } : {}),
            ...(a.endUserAuth.jwksUrl !== undefined ? { jwksUrl: a.endUserAuth.jwksUrl } : {}),
            hasSecret: a.endUserAuth.secret !== undefined || a.endUserAuth.secretSealed !== undefined,
            hasPublicKey: a.endUserAuth.publicKey !== undefined,
          },
    createdAt: toIso(a.createdAtMs),
  }),
  apiKey: (k: ApiKeyRecord) => ({
    id: k.id,
    name: k.name,
    type: k.type,
    scopes: k.scopes,
    hint: k.hint,
    createdAt: toIso(k.createdAtMs),
    revokedAt: toIsoOrNull(k.revokedAtMs),
    lastUsedAt: toIsoOrNull(k.lastUsedAtMs),
  }),
};

/** A page of newest-first items; the cursor is the last item's id. */
export function page<T extends { id: string }, R>(rows: T[], limit: number, map: (row: T) => R) {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  return { items: items.map(map), nextCursor: hasMore ? items[items.length - 1]!.id : null, hasMore };
}
