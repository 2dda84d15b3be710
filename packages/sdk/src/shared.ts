/** What both entry points export: errors, pagination, options and every type. */
export {
  TallyError,
  ValidationError,
  AuthenticationError,
  InsufficientCreditsError,
  PermissionError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  InternalServerError,
  ConnectionError,
  TimeoutError,
  ConfigurationError,
  type ErrorDetails,
  type ErrorEnvelope,
  type TallyErrorInit,
} from "./core/errors.js";
export { Page, PagePromise, type PageData, type PageParams, type PaginationInfo } from "./core/pagination.js";
export { DEFAULT_BASE_URL, type FetchLike, type FetchInit, type FetchResponse, type RequestOptions } from "./core/http.js";
export type { TallyLogger, LogFn } from "./core/logger.js";
export { VERSION } from "./core/version.js";
export type * from "./types/index.js";
