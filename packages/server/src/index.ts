export { startServer, type RunningServer } from "./server.ts";
export { loadConfig, type Config } from "./config.ts";
export { startTestServer, type TestServer } from "./testing.ts";
export { openDatabase } from "./store/open.ts";
export { migrate } from "./store/migrate.ts";
export { verifyLedger } from "./domain/verify.ts";
