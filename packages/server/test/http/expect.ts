import { expect } from "vitest";
import type { Api } from "../support/http.ts";

/**
 * Asserts the contract's error envelope: status, code, the status repeated in the body, and a
 * request id that matches the `x-request-id` header.
 */
export function expectError(res: Api, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body?.error?.code, res.text).toBe(code);
  expect(res.body.error.status).toBe(status);
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.requestId).toMatch(/^req_/);
  expect(res.headers.get("x-request-id")).toBe(res.body.error.requestId);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
}

/** Asserts a success status, printing the body when it is not. */
export function expectStatus(res: Api, status: number): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("x-request-id")).toMatch(/^req_/);
}

/** A unique-enough suffix so tests sharing one application never collide on external ids or keys. */
let counter = 0;
export function uid(prefix = "u"): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 7)}`;
}
