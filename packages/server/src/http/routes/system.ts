import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { TallyError } from "../../domain/errors.ts";

export function systemRoutes(r: Router, deps: RouteDeps): void {
  r.add(
    { method: "GET", url: "/healthz", auth: "public", tag: "Operations", summary: "The process is up", responses: { 200: Type.Object({ ok: Type.Boolean() }) } },
    async () => ({ ok: true }),
  );
  r.add(
    { method: "GET", url: "/readyz", auth: "public", tag: "Operations", summary: "The database answers", responses: { 200: Type.Object({ ok: Type.Boolean() }) } },
    async () => {
      if (!(await deps.db.ping())) throw new TallyError("UNAVAILABLE", "The database is not reachable");
      return { ok: true };
    },
  );
  r.add(
    { method: "GET", url: "/metrics", auth: "public", tag: "Operations", summary: "Prometheus metrics", responses: { 200: Type.String() } },
    async (ctx) => {
      const connections = deps.db.connectionStats();
      deps.metrics.dbPool.set({ state: "total" }, connections.total);
      deps.metrics.dbPool.set({ state: "idle" }, connections.idle);
      deps.metrics.dbPool.set({ state: "waiting" }, connections.waiting);
      ctx.reply.type(deps.metrics.registry.contentType);
      ctx.reply.serializer((s: unknown) => String(s));
      return deps.metrics.registry.metrics();
    },
  );
}
