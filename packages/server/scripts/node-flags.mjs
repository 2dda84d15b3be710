// Node.js options the server runs with. `npm start` and the `tally` command's shebang carry the
// same list (a test keeps the three in step), and the benchmark starts its servers with it.
//
// --min-semi-space-size=16: V8's young generation starts at its full size (16 MiB a semi-space,
// V8's default maximum on 64-bit) instead of growing to it from 1 MiB during the first seconds
// of load. Started small, V8 11 (Node.js 20) sometimes leaves that warm-up in a mode where the
// objects of requests in flight are promoted to the old generation at their first scavenge
// instead of their second: ~15 MB/s of short-lived objects piling up between mark-compacts,
// which doubled the server's peak memory under load (221-233 MB against 142-155 MB) in 1 of 5
// to 1 of 15 runs. Started full, it did not happen in 15 runs (docs/performance.md, W9).
export const SERVER_NODE_FLAGS = ["--min-semi-space-size=16"];
