/**
 * The core schema. Every table carries `app_id` first in its primary key and in every unique
 * index, so the database can be distributed by application later with no hot path crossing
 * shards. Amounts and timestamps (epoch milliseconds) are BIGINT; JSON is stored as TEXT.
 */
export const up = `
CREATE TABLE instance_settings (
  app_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (app_id, name)
);

CREATE TABLE apps (
  app_id TEXT NOT NULL,
  name TEXT NOT NULL,
  end_user_auth TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id)
);

CREATE TABLE api_keys (
  app_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  scopes TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  secret_sealed TEXT,
  hint TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  last_used_at BIGINT,
  PRIMARY KEY (app_id, key_id)
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (app_id, secret_hash);

CREATE TABLE accounts (
  app_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  external_id TEXT,
  name TEXT,
  email TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, account_id)
);
CREATE UNIQUE INDEX accounts_external ON accounts (app_id, external_id);
CREATE INDEX accounts_email ON accounts (app_id, email);

CREATE TABLE balances (
  app_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  balance BIGINT NOT NULL,
  reserved BIGINT NOT NULL,
  next_due_at BIGINT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, account_id, unit)
);
CREATE INDEX balances_due ON balances (next_due_at) WHERE next_due_at IS NOT NULL;

CREATE TABLE lots (
  app_id TEXT NOT NULL,
  lot_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  amount BIGINT NOT NULL,
  remaining BIGINT NOT NULL,
  held BIGINT NOT NULL,
  consumed BIGINT NOT NULL,
  expired BIGINT NOT NULL,
  priority INTEGER NOT NULL,
  expires_at BIGINT,
  source TEXT NOT NULL,
  reference TEXT,
  description TEXT,
  metadata TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, lot_id)
);
CREATE INDEX lots_live ON lots (app_id, account_id, unit, priority) WHERE remaining > 0;
CREATE INDEX lots_account ON lots (app_id, account_id, unit, lot_id);

CREATE TABLE transactions (
  app_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  type TEXT NOT NULL,
  amount BIGINT NOT NULL,
  balance_after BIGINT NOT NULL,
  idempotency_key TEXT,
  reference TEXT,
  operation TEXT,
  description TEXT,
  metadata TEXT NOT NULL,
  reservation_id TEXT,
  refund_of TEXT,
  grant_id TEXT,
  allocations TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, txn_id)
);
CREATE UNIQUE INDEX transactions_idempotency ON transactions (app_id, idempotency_key);
CREATE INDEX transactions_account ON transactions (app_id, account_id, txn_id);
CREATE INDEX transactions_refund_of ON transactions (app_id, refund_of) WHERE refund_of IS NOT NULL;

CREATE TABLE reservations (
  app_id TEXT NOT NULL,
  rsv_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  amount BIGINT NOT NULL,
  captured_amount BIGINT NOT NULL,
  status TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  confirmed_amount BIGINT,
  transaction_id TEXT,
  operation TEXT,
  reference TEXT,
  description TEXT,
  metadata TEXT NOT NULL,
  holds TEXT NOT NULL,
  idempotency_key TEXT,
  resolution_key TEXT,
  resolution TEXT,
  created_at BIGINT NOT NULL,
  resolved_at BIGINT,
  PRIMARY KEY (app_id, rsv_id)
);
CREATE UNIQUE INDEX reservations_idempotency ON reservations (app_id, idempotency_key);
CREATE INDEX reservations_account ON reservations (app_id, account_id, rsv_id);
CREATE INDEX reservations_held ON reservations (app_id, account_id, unit, expires_at) WHERE status = 'held';

CREATE TABLE usage_records (
  app_id TEXT NOT NULL,
  use_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  transaction_id TEXT,
  context TEXT NOT NULL,
  model_id TEXT NOT NULL,
  usage_type TEXT NOT NULL,
  input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  credits BIGINT NOT NULL,
  unit TEXT NOT NULL,
  idempotency_key TEXT,
  description TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, use_id)
);
CREATE UNIQUE INDEX usage_idempotency ON usage_records (app_id, idempotency_key);
CREATE INDEX usage_account ON usage_records (app_id, account_id, use_id);
CREATE INDEX usage_time ON usage_records (app_id, created_at);

CREATE TABLE prices (
  app_id TEXT NOT NULL,
  price_key TEXT NOT NULL,
  price_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  amount BIGINT,
  model_id TEXT,
  input_per_million BIGINT,
  output_per_million BIGINT,
  per_request BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, price_key)
);
CREATE INDEX prices_model ON prices (app_id, model_id);

CREATE TABLE units (
  app_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  name TEXT,
  decimals INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, unit)
);

CREATE TABLE idempotency_requests (
  app_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  status_code INTEGER,
  response_body TEXT,
  created_at BIGINT NOT NULL,
  locked_until BIGINT NOT NULL,
  PRIMARY KEY (app_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency_requests (created_at);
`;
