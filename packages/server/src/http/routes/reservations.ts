import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { AccountRefFields, Amount, Description, IdempotencyKey, IdParams, Metadata, NonNegativeAmount, Page, PageQuery, ShortString, Unit, strictObject, Id } from "../schemas/common.ts";
import { Allocation, Balance, Reservation, ReservationStatus, Transaction } from "../schemas/models.ts";
import { page, present } from "../present.ts";
import * as reservations from "../../domain/reservations.ts";
import { checkAccountRef, filterAccountId } from "../../domain/accounts.ts";
import { LIMITS } from "../../domain/limits.ts";
import { DryRunResult, ledgerKey } from "./credits.ts";
import type { ReservationOutcome } from "../../domain/reservations.ts";
import type { ReservationStatus as Status } from "../../store/records.ts";

const TtlSeconds = Type.Integer({ minimum: 1, maximum: LIMITS.reservationTtlSecondsMax });

const Outcome = Type.Object({ reservation: Reservation, transaction: Type.Optional(Transaction), balance: Balance, alreadyProcessed: Type.Optional(Type.Boolean()) });

function outcome(o: ReservationOutcome) {
  const out: Record<string, unknown> = { reservation: present.reservation(o.reservation) };
  if (o.transaction !== undefined) out["transaction"] = present.transaction(o.transaction);
  out["balance"] = present.balance(o.balance);
  if (o.alreadyProcessed === true) out["alreadyProcessed"] = true;
  return out;
}

export function reservationRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "POST",
      url: "/v1/reservations",
      direct: true,
      auth: "app",
      tag: "Reservations",
      summary: "Hold credits for up to ttlSeconds (402 when short)",
      body: strictObject({
        ...AccountRefFields,
        amount: Type.Optional(Amount),
        unit: Type.Optional(Unit),
        ttlSeconds: Type.Optional(TtlSeconds),
        operation: Type.Optional(ShortString),
        reference: Type.Optional(ShortString),
        description: Type.Optional(Description),
        metadata: Type.Optional(Metadata),
        idempotencyKey: Type.Optional(IdempotencyKey),
        usageEventId: Type.Optional(IdempotencyKey),
        dryRun: Type.Optional(Type.Boolean()),
      }),
      responses: {
        201: Type.Union([
          Type.Intersect([Reservation, Type.Object({ balance: Type.Optional(Balance), alreadyProcessed: Type.Optional(Type.Boolean()) })]),
          DryRunResult,
        ]),
      },
    },
    async ({ scope, body, idempotencyKey, status }) => {
      checkAccountRef(body);
      const result = await reservations.reserve(scope, { ...body, idempotencyKey: ledgerKey(body, idempotencyKey) });
      if ("dryRun" in result) {
        status(200);
        return { ...result, allocations: result.allocations.map(present.allocation), balance: present.balance(result.balance) };
      }
      // The contract's 201 body is the Reservation itself; the balance rides along for convenience.
      return { ...present.reservation(result.reservation), balance: present.balance(result.balance), ...(result.alreadyProcessed ? { alreadyProcessed: true } : {}) };
    },
  );

  r.add(
    {
      method: "POST",
      url: "/v1/reservations/{id}/confirm",
      direct: true,
      auth: "app",
      tag: "Reservations",
      summary: "Spend the actual amount (captures included) and release the rest",
      params: IdParams("id"),
      body: strictObject({ amount: Type.Optional(NonNegativeAmount), description: Type.Optional(Description), idempotencyKey: Type.Optional(IdempotencyKey) }),
      responses: { 200: Outcome },
    },
    async ({ scope, params, body, idempotencyKey }) =>
      outcome(await reservations.confirm(scope, params.id, { ...body, idempotencyKey: body.idempotencyKey ?? idempotencyKey })),
  );

  r.add(
    {
      method: "POST",
      url: "/v1/reservations/{id}/cancel",
      direct: true,
      auth: "app",
      tag: "Reservations",
      summary: "Release every held credit",
      params: IdParams("id"),
      body: strictObject({ reason: Type.Optional(Description), idempotencyKey: Type.Optional(IdempotencyKey) }),
      responses: { 200: Outcome },
    },
    async ({ scope, params, body, idempotencyKey }) =>
      outcome(await reservations.cancel(scope, params.id, { ...body, idempotencyKey: body.idempotencyKey ?? idempotencyKey })),
  );

  r.add(
    {
      method: "POST",
      url: "/v1/reservations/{id}/capture",
      auth: "app",
      tag: "Reservations",
      summary: "Spend part of a hold now and keep the rest held (streaming)",
      params: IdParams("id"),
      body: strictObject({ amount: Amount, idempotencyKey: Type.Optional(IdempotencyKey) }),
      responses: { 200: Outcome },
    },
    async ({ scope, params, body, idempotencyKey }) =>
      outcome(await reservations.capture(scope, params.id, { ...body, idempotencyKey: body.idempotencyKey ?? idempotencyKey })),
  );

  r.add(
    {
      method: "POST",
      url: "/v1/reservations/{id}/extend",
      auth: "app",
      tag: "Reservations",
      summary: "Move the expiry to ttlSeconds from now (never earlier)",
      params: IdParams("id"),
      body: strictObject({ ttlSeconds: TtlSeconds }),
      responses: { 200: Reservation },
    },
    async ({ scope, params, body }) => present.reservation(await reservations.extend(scope, params.id, body.ttlSeconds)),
  );

  r.add(
    { method: "GET", url: "/v1/reservations/{id}", auth: "app", tag: "Reservations", summary: "Get a reservation", params: IdParams("id"), responses: { 200: Reservation } },
    async ({ scope, params }) => present.reservation(await reservations.getReservation(scope, params.id)),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/reservations",
      auth: "app",
      tag: "Reservations",
      summary: "List reservations, newest first",
      query: strictObject({ ...PageQuery, ...AccountRefFields, status: Type.Optional(ReservationStatus) }),
      responses: { 200: Page(Reservation) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      const accountId = await filterAccountId(scope, query);
      const rows = await reservations.listReservations(scope, {
        limit: limit + 1,
        ...(accountId !== undefined ? { accountId } : {}),
        ...(query.status !== undefined ? { status: query.status as Status } : {}),
        ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
      });
      return page(rows, limit, present.reservation);
    },
  );
}
