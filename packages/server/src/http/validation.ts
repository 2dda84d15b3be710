import Ajv from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Two validators. Query strings and path parameters arrive as text, so they are coerced
 * ("20" → 20). Bodies are JSON and are taken exactly as sent: `"5"` is not an amount, and a
 * number is not a metadata string. Neither ever drops unknown fields: they are rejected.
 */
function makeAjv(coerce: boolean) {
  const ajv = new Ajv.default({
    coerceTypes: coerce ? "array" : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

const forText = makeAjv(true);
const forJson = makeAjv(false);

/** A compiled validator: true when valid, else `errors` holds what failed (Ajv's issues). */
export interface Validator {
  (data: unknown): boolean;
  errors?: unknown[] | null | undefined;
}

/**
 * The validator of one part of a request. Ajv caches by schema object, so Fastify and the direct
 * dispatcher (direct-routes.ts), compiling the same schema, share one function.
 */
export function compileValidator(schema: object, httpPart: string | undefined): Validator {
  const ajv = httpPart === "body" ? forJson : forText;
  return ajv.compile(schema) as Validator;
}

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => compileValidator(schema, httpPart) as ReturnType<FastifySchemaCompiler<object>>;
