import { Type, type TSchema } from "typebox";
import { LIMITS } from "../../domain/limits.ts";

/** Integer amount in the unit's smallest denomination: 1 … 2^53−1. */
export const Amount = Type.Integer({ minimum: 1, maximum: LIMITS.amountMax, description: "Positive integer amount in the unit's smallest denomination" });
export const SignedAmount = Type.Integer({ minimum: -LIMITS.amountMax, maximum: LIMITS.amountMax });
export const NonNegativeAmount = Type.Integer({ minimum: 0, maximum: LIMITS.amountMax });
export const Unit = Type.String({ pattern: "^[a-z][a-z0-9_.-]{0,63}$", description: "Unit of account, e.g. `credits`", default: undefined });
export const ShortString = Type.String({ minLength: 1, maxLength: LIMITS.stringLengthMax });
export const NullableShortString = Type.Union([Type.String({ maxLength: LIMITS.stringLengthMax }), Type.Null()]);
export const Description = Type.String({ maxLength: LIMITS.descriptionLengthMax });
export const IdempotencyKey = Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyLengthMax });
export const Id = Type.String({ minLength: 1, maxLength: 64 });
export const Timestamp = Type.String({ format: "date-time", description: "ISO 8601 UTC timestamp" });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const Email = Type.String({ maxLength: LIMITS.stringLengthMax, format: "email" });

export const Metadata = Type.Record(
  Type.String({ maxLength: LIMITS.metadataKeyLengthMax }),
  Type.String({ maxLength: LIMITS.metadataValueLengthMax }),
  {
    maxProperties: LIMITS.metadataKeysMax,
    // The record's key schema only becomes a pattern, so the key length is enforced here.
    propertyNames: { type: "string", maxLength: LIMITS.metadataKeyLengthMax },
    description: `String keys (≤ ${LIMITS.metadataKeyLengthMax} chars) and string values (≤ ${LIMITS.metadataValueLengthMax} chars), at most ${LIMITS.metadataKeysMax} keys`,
  },
);

/** `accountId` or `externalId`: the domain checks that exactly one is given. */
export const AccountRefFields = {
  accountId: Type.Optional(Id),
  externalId: Type.Optional(ShortString),
};

export function strictObject<T extends Record<string, TSchema>>(properties: T, options: { description?: string; title?: string } = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.pageLimitMax, default: LIMITS.pageLimitDefault })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
};

export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
    hasMore: Type.Boolean(),
  });
}

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      status: Type.Integer(),
      requestId: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { title: "Error" },
);

export const IdParams = <K extends string>(name: K) => strictObject({ [name]: Id } as { [P in K]: typeof Id });
