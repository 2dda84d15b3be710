import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { systemRoutes } from "./system.ts";
import { appRoutes } from "./apps.ts";
import { accountRoutes } from "./accounts.ts";
import { creditRoutes } from "./credits.ts";
import { reservationRoutes } from "./reservations.ts";
import { usageRoutes } from "./usage.ts";
import { priceRoutes } from "./prices.ts";
import { meRoutes } from "./me.ts";
import { statsRoutes } from "./stats.ts";
import { catalogRoutes } from "./catalog.ts";
import { subscriptionRoutes } from "./subscriptions.ts";
import { checkoutRoutes } from "./checkout.ts";
import { orderRoutes } from "./orders.ts";
import { webhookRoutes } from "./webhooks.ts";
import { limitRoutes } from "./limits.ts";
import { buyRoutes } from "./buy.ts";

export function registerRoutes(r: Router, deps: RouteDeps): void {
  systemRoutes(r, deps);
  appRoutes(r, deps);
  accountRoutes(r, deps);
  creditRoutes(r, deps);
  reservationRoutes(r, deps);
  usageRoutes(r, deps);
  priceRoutes(r, deps);
  meRoutes(r, deps);
  statsRoutes(r, deps);
  catalogRoutes(r, deps);
  subscriptionRoutes(r, deps);
  checkoutRoutes(r, deps);
  orderRoutes(r, deps);
  webhookRoutes(r, deps);
  limitRoutes(r, deps);
  buyRoutes(r, deps);
}
