import secureJson from "secure-json-parse";
import { TallyError } from "../domain/errors.ts";
import { NUL_MESSAGE } from "./errors.ts";

/**
 * A request body as JSON: empty is `{}`, and `__proto__` or `constructor.prototype` keys are
 * refused rather than stripped, so nothing downstream meets a polluted object.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch {
    throw new TallyError("INVALID_JSON", "Request body is not valid JSON");
  }
  if (hasNulEscape(text)) throw new TallyError("VALIDATION_ERROR", "Invalid body: a string holds U+0000", { issues: [{ path: "/", message: NUL_MESSAGE }] });
  return parsed;
}

/**
 * Whether valid JSON text decodes to a string holding U+0000: an escape `\u0000` that is not
 * itself an escaped backslash followed by "u0000" (JSON text cannot hold a raw NUL in a string).
 */
function hasNulEscape(text: string): boolean {
  for (let at = text.indexOf("\\u0000"); at !== -1; at = text.indexOf("\\u0000", at + 1)) {
    let backslashes = 1;
    while (at - backslashes >= 0 && text.charCodeAt(at - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 1) return true;
  }
  return false;
}
