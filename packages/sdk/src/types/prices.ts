import type { PageParams } from "../core/pagination.js";
import type { Timestamp } from "./common.js";

/** A price: per operation (`amount`) or per model (`inputPerMillion`, `outputPerMillion`, `perRequest`). */
export interface Price {
  id: string;
  key: string;
  unit: string;
  amount: number | null;
  modelId: string | null;
  inputPerMillion: number | null;
  outputPerMillion: number | null;
  perRequest: number | null;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** An operation price: deducts of `operation: key` without an amount cost `amount`. */
export interface OperationPriceParams {
  unit: string;
  amount: number;
}

/** A model price: usage with `charge: true` costs ceil(tokens × price / 10^6) + perRequest. */
export interface ModelPriceParams {
  unit: string;
  modelId: string;
  inputPerMillion: number;
  outputPerMillion: number;
  perRequest?: number;
}

/** Body of `PUT /v1/prices/{key}`. */
export type PriceSetParams = OperationPriceParams | ModelPriceParams;

/** Query of `GET /v1/prices`. */
export interface PriceListParams extends PageParams {}

/** A declared unit (display name and decimals). Undeclared units work too. */
export interface Unit {
  unit: string;
  name: string | null;
  decimals: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** Body of `PUT /v1/units/{unit}`. */
export interface UnitSetParams {
  name?: string;
  decimals?: number;
}
