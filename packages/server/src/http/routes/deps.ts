import type { Database } from "../../store/sql.ts";
import type { Clock } from "../../domain/clock.ts";
import type { Metrics } from "../metrics.ts";
import type { SecretSealer } from "../../auth/sealing.ts";
import type { PaymentProvider } from "../../payments/provider.ts";

export interface RouteDeps {
  db: Database;
  clock: Clock;
  metrics: Metrics;
  /** Seals HMAC key secrets (absent: HMAC keys cannot be created). */
  sealer?: SecretSealer;
  /** How orders are paid (absent: manual). */
  payments?: PaymentProvider;
  /** Called after a key is revoked, before the answer: cached copies of keys must go. */
  onKeysChanged?: () => void;
}

/** Parses an ISO timestamp query parameter (already format-checked) to epoch ms. */
export function ms(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Date.parse(value);
}
