import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { strictObject } from "../schemas/common.ts";
import { baseUrlOf } from "../present-commerce.ts";
import * as orders from "../../domain/orders.ts";
import { getAccount } from "../../store/repo/accounts.ts";
import { getAddon, getPlan, type AddonRecord, type PlanRecord } from "../../store/repo/catalog.ts";
import { TallyError } from "../../domain/errors.ts";
import { providerOf } from "./checkout.ts";
import { cspAllowingScripts } from "../security-headers.ts";

/**
 * Hosted pages, public and unauthenticated: what a signed link (`/buy/{token}`,
 * `/invoices/{token}`) or a manual order's checkout URL opens in a browser. A token carries its
 * application, account and item, signed with an instance secret, and expires.
 */
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#111}table{border-collapse:collapse;width:100%}td{padding:.25rem 0}button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#111;color:#fff;cursor:pointer}.muted{color:#666}</style>
</head><body>${body}</body></html>`;
}

// The buy button's script. Pages get a CSP without inline scripts; this one is allowed by its hash.
const BUY_SCRIPT = `document.getElementById("buy").onclick=async()=>{const b=document.getElementById("buy");b.disabled=true;
const r=await fetch(location.pathname,{method:"POST",headers:{"content-type":"application/json"},body:"{}"});const j=await r.json();
if(j.checkoutUrl){location.href=j.checkoutUrl}else{b.disabled=false;document.getElementById("err").textContent=(j.error&&j.error.message)||"Something went wrong"}}`;
const BUY_CSP = cspAllowingScripts(BUY_SCRIPT);

const Token = strictObject({ token: Type.String({ minLength: 10, maxLength: 2000 }) });
const Html = Type.String({ description: "text/html" });

export function buyRoutes(r: Router, deps: RouteDeps): void {
  const provider = providerOf(deps);
  const base = { db: deps.db, clock: deps.clock };

  r.add(
    { method: "GET", url: "/buy/{token}", auth: "public", tag: "Hosted pages", summary: "Hosted purchase page of a purchase link", params: Token, responses: { 200: Html } },
    async ({ params, reply, status }) => {
      reply.type("text/html; charset=utf-8");
      const claims = await orders.verifyLink(base, params.token);
      if (claims === null || claims.kind !== "buy" || claims.item === undefined) {
        status(404);
        return page("Link expired", "<h1>This purchase link is invalid or has expired.</h1><p class=muted>Ask for a new one.</p>");
      }
      const item = claims.item;
      const found: AddonRecord | PlanRecord | undefined = await deps.db.read(
        async (q): Promise<AddonRecord | PlanRecord | undefined> => (item.kind === "addon" ? getAddon(q, claims.appId, item.id) : getPlan(q, claims.appId, item.id)),
      );
      if (found === undefined) {
        status(404);
        return page("Not available", "<h1>This item is no longer available.</h1>");
      }
      reply.header("content-security-policy", BUY_CSP);
      const what = "creditQty" in found ? `${found.creditQty} ${found.unit}` : found.interval === "one_time" ? "one payment" : `billed every ${found.interval}`;
      return page(
        found.name,
        `<h1>${esc(found.name)}</h1><p>${esc(what)}</p><p><strong>${esc(money(found.priceAmount, found.currency))}</strong></p>
<button id=buy>Continue to payment</button><p id=err class=muted></p>
<script>${BUY_SCRIPT}</script>`,
      );
    },
  );

  r.add(
    {
      method: "POST", url: "/buy/{token}", auth: "public", tag: "Hosted pages", idempotent: false,
      summary: "Starts the checkout of a purchase link; answers the provider's checkout URL", params: Token,
      responses: { 200: Type.Object({ checkoutUrl: Type.String(), orderId: Type.String() }) },
    },
    async ({ params, request }) => {
      const claims = await orders.verifyLink(base, params.token);
      if (claims === null || claims.kind !== "buy" || claims.item === undefined) throw new TallyError("NOT_FOUND", "This purchase link is invalid or has expired");
      const scope = { ...base, appId: claims.appId };
      const url = baseUrlOf(request);
      const out = await orders.startCheckout(scope, provider, {
        accountId: claims.accountId, item: claims.item, successUrl: `${url}/buy/complete`, cancelUrl: `${url}/buy/canceled`, baseUrl: url,
      });
      return { checkoutUrl: out.checkoutUrl ?? `${url}/buy/complete`, orderId: out.order.id };
    },
  );

  r.add(
    { method: "GET", url: "/buy/complete", auth: "public", tag: "Hosted pages", summary: "Where a finished checkout returns", responses: { 200: Html } },
    async ({ reply }) => {
      reply.type("text/html; charset=utf-8");
      return page("Thank you", "<h1>Thank you!</h1><p>Your purchase is being processed; credits appear as soon as the payment is confirmed.</p>");
    },
  );
  r.add(
    { method: "GET", url: "/buy/canceled", auth: "public", tag: "Hosted pages", summary: "Where a canceled checkout returns", responses: { 200: Html } },
    async ({ reply }) => {
      reply.type("text/html; charset=utf-8");
      return page("Canceled", "<h1>Checkout canceled</h1><p>Nothing was charged.</p>");
    },
  );

  r.add(
    {
      method: "GET", url: "/checkout/{orderId}", auth: "public", tag: "Hosted pages", summary: "A manual order's payment page (it waits for an operator to mark it paid)",
      params: strictObject({ orderId: Type.String({ minLength: 1, maxLength: 64, pattern: "^ord_[0-9A-Z]+$" }) }), responses: { 200: Html },
    },
    async ({ reply }) => {
      reply.type("text/html; charset=utf-8");
      return page("Awaiting payment", "<h1>Awaiting payment</h1><p>This order is paid outside the site (bank transfer or invoice). It is fulfilled as soon as the payment is confirmed.</p>");
    },
  );

  r.add(
    { method: "GET", url: "/invoices/{token}", auth: "public", tag: "Hosted pages", summary: "Hosted view of an invoice (signed link)", params: Token, responses: { 200: Html } },
    async ({ params, reply, status }) => {
      reply.type("text/html; charset=utf-8");
      const claims = await orders.verifyLink(base, params.token);
      const invoice = claims === null || claims.kind !== "invoice" || claims.invoiceId === undefined ? undefined : await orders.getInvoice({ ...base, appId: claims.appId }, claims.invoiceId);
      if (claims === null || invoice === undefined) {
        status(404);
        return page("Invoice not found", "<h1>This invoice link is invalid or has expired.</h1>");
      }
      const account = await deps.db.read((q) => getAccount(q, claims.appId, invoice.accountId));
      const rows = invoice.lines.map((l) => `<tr><td>${esc(l.description)}</td><td align=right>${esc(money(l.amount * l.quantity, invoice.currency))}</td></tr>`).join("");
      return page(
        `Invoice ${invoice.id}`,
        `<h1>Invoice</h1><p class=muted>${esc(invoice.id)} · ${esc(new Date(invoice.createdAtMs).toISOString().slice(0, 10))} · ${esc(invoice.status)}</p>
<p>Billed to: ${esc(account?.name ?? account?.email ?? account?.externalId ?? invoice.accountId)}</p>
<table>${rows}<tr><td><strong>Total</strong></td><td align=right><strong>${esc(money(invoice.amount, invoice.currency))}</strong></td></tr></table>`,
      );
    },
  );
}
