/**
 * The commerce schema: catalog, subscriptions, orders, invoices, webhooks, auto top-up and spend
 * limits. Like the core schema, `app_id` leads every primary key and unique index. Global
 * indexes without `app_id` exist only for the background jobs that scan what is due.
 */
export const up = `
ALTER TABLE balances ADD COLUMN commerce_flags INTEGER NOT NULL DEFAULT 0;

CREATE TABLE products (
  app_id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, product_id)
);

CREATE TABLE plans (
  app_id TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  product_id TEXT,
  name TEXT NOT NULL,
  price_amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  billing_interval TEXT NOT NULL,
  trial_days INTEGER,
  credits TEXT NOT NULL,
  features TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, plan_id)
);
CREATE INDEX plans_product ON plans (app_id, product_id);

CREATE TABLE addons (
  app_id TEXT NOT NULL,
  addon_id TEXT NOT NULL,
  product_id TEXT,
  name TEXT NOT NULL,
  unit TEXT NOT NULL,
  credit_qty BIGINT NOT NULL,
  price_amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  expires_in_days INTEGER,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, addon_id)
);
CREATE INDEX addons_product ON addons (app_id, product_id);

CREATE TABLE subscriptions (
  app_id TEXT NOT NULL,
  sub_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  product_id TEXT,
  status TEXT NOT NULL,
  current_period_start BIGINT NOT NULL,
  current_period_end BIGINT,
  granted_period_start BIGINT,
  next_run_at BIGINT,
  cancel_at_period_end INTEGER NOT NULL,
  canceled_at BIGINT,
  cancel_reason TEXT,
  order_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, sub_id)
);
CREATE INDEX subscriptions_account ON subscriptions (app_id, account_id, sub_id);
CREATE INDEX subscriptions_due ON subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE orders (
  app_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  product_id TEXT,
  plan_id TEXT,
  addon_id TEXT,
  status TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  unit TEXT,
  credit_qty BIGINT,
  provider TEXT NOT NULL,
  provider_ref TEXT,
  payment_ref TEXT,
  checkout_url TEXT,
  idempotency_key TEXT,
  grant_id TEXT,
  subscription_id TEXT,
  clawback_txn_id TEXT,
  created_at BIGINT NOT NULL,
  paid_at BIGINT,
  refunded_at BIGINT,
  PRIMARY KEY (app_id, order_id)
);
CREATE UNIQUE INDEX orders_provider_ref ON orders (app_id, provider_ref);
CREATE UNIQUE INDEX orders_idempotency ON orders (app_id, idempotency_key);
CREATE INDEX orders_account ON orders (app_id, account_id, order_id);
CREATE INDEX orders_pending_free ON orders (created_at) WHERE status = 'pending' AND amount = 0;

CREATE TABLE invoices (
  app_id TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  invoice_key TEXT NOT NULL,
  account_id TEXT NOT NULL,
  order_id TEXT,
  subscription_id TEXT,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  lines TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, invoice_id)
);
CREATE UNIQUE INDEX invoices_key ON invoices (app_id, invoice_key);
CREATE INDEX invoices_account ON invoices (app_id, account_id, invoice_id);

CREATE TABLE auto_topups (
  app_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  threshold BIGINT NOT NULL,
  addon_id TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  in_flight_order_id TEXT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, account_id, unit)
);

CREATE TABLE spend_limits (
  app_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  per_hour BIGINT,
  per_day BIGINT,
  per_month BIGINT,
  hour_start BIGINT NOT NULL,
  hour_spent BIGINT NOT NULL,
  day_start BIGINT NOT NULL,
  day_spent BIGINT NOT NULL,
  month_start BIGINT NOT NULL,
  month_spent BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, account_id, unit)
);

CREATE TABLE webhook_endpoints (
  app_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  balance_low_threshold BIGINT,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT,
  PRIMARY KEY (app_id, endpoint_id)
);

CREATE TABLE webhook_deliveries (
  app_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT,
  last_status_code INTEGER,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT,
  PRIMARY KEY (app_id, delivery_id)
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (app_id, endpoint_id, event_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (app_id, endpoint_id, delivery_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
  app_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  attempted_at BIGINT NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (app_id, delivery_id, attempt)
);
`;
