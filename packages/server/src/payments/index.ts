import type { PaymentProvider, PaymentsConfig } from "./provider.ts";
import { ManualProvider } from "./manual.ts";
import { StripeProvider } from "./stripe.ts";

export function createPaymentProvider(config: PaymentsConfig): PaymentProvider {
  return config.provider === "stripe" ? new StripeProvider(config) : new ManualProvider();
}
