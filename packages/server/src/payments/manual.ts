import type { CheckoutRequest, CheckoutResult, PaymentProvider } from "./provider.ts";

/** Orders wait for `POST /v1/orders/{id}/mark-paid`; the checkout URL is a hosted "awaiting payment" page. */
export class ManualProvider implements PaymentProvider {
  readonly name = "manual" as const;

  async createCheckout(request: CheckoutRequest): Promise<CheckoutResult> {
    return { providerRef: null, checkoutUrl: `${request.baseUrl}/checkout/${request.order.id}` };
  }

  async refund(): Promise<void> {}
}
