/** A scripted `fetch` for client-behaviour tests. */
import type { FetchInit, FetchLike } from "../../src/index.ts";

/** One recorded call. */
export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** What the fake server does for one call. */
export type Step =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { drop: true }
  | { hang: true }
  | ((call: Call, init: FetchInit) => Response | Promise<Response>);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "x-request-id": `req_test${status}`, ...headers },
  });
}

export function errorBody(status: number, code: string, message = code, details?: Record<string, unknown>): { error: Record<string, unknown> } {
  return { error: { code, message, status, requestId: `req_err${status}`, ...(details ? { details } : {}) } };
}

/** A fetch that plays `steps` in order (the last one repeats) and records every call. */
export function scriptedFetch(steps: Step[]): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  let i = 0;
  const fetch: FetchLike = async (url, init) => {
    const call: Call = { url, method: init.method, headers: { ...init.headers }, body: init.body };
    calls.push(call);
    const step = steps[Math.min(i, steps.length - 1)];
    i++;
    if (step === undefined) throw new Error("no step");
    if (typeof step === "function") return step(call, init);
    if ("drop" in step) throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) });
    if ("hang" in step) {
      return new Promise<Response>((_, reject) => {
        init.signal.addEventListener("abort", () => reject(init.signal.reason ?? new Error("aborted")), { once: true });
      });
    }
    return json(step.status, step.body, step.headers);
  };
  return { fetch, calls };
}

/** A sleep that records delays and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
}
