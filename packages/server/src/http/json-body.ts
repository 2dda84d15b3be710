import secureJson from "secure-json-parse";
import { TallyError } from "../domain/errors.ts";

/**
 * A request body as JSON: empty is `{}`, and `__proto__` or `constructor.prototype` keys are
 * refused rather than stripped, so nothing downstream meets a polluted object.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return {};
  try {
    return secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch {
    throw new TallyError("INVALID_JSON", "Request body is not valid JSON");
  }
}
