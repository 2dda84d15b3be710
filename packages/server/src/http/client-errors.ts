import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ERROR_STATUS, type ErrorCode } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import { envelope } from "./errors.ts";

/**
 * Answers a request Node's HTTP parser refused before any route saw it (headers over the limit,
 * a malformed request line or `Content-Length`, a request that took too long to arrive), in the
 * contract's envelope with an `x-request-id`, as every other answer. Fastify's default writes a
 * body of its own shape. The connection is closed after: the parser cannot find where the next
 * request would start.
 */
export function answerUnparsableRequest(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [code, message] = refusal(error.code);
  const status = ERROR_STATUS[code];
  const requestId = newId("request");
  const body = envelope(code, message, requestId, code === "VALIDATION_ERROR" ? { issues: [{ path: "/", message }] } : undefined);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
        "connection: close\r\n" +
        "content-type: application/json; charset=utf-8\r\n" +
        "x-content-type-options: nosniff\r\n" +
        `x-request-id: ${requestId}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function refusal(parserCode: string | undefined): [ErrorCode, string] {
  if (parserCode === "HPE_HEADER_OVERFLOW") return ["HEADERS_TOO_LARGE", "The request's headers exceed 16 KiB"];
  if (parserCode === "ERR_HTTP_REQUEST_TIMEOUT") return ["REQUEST_TIMEOUT", "The request did not arrive in time"];
  return ["VALIDATION_ERROR", "Malformed HTTP request"];
}
