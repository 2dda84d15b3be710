// Node.js options the server runs with. `npm start` and the `tally` command's launch line carry
// the same list (as does `npm run tally`; a test keeps them in step), and the benchmark starts its
// servers with it.
//
// --min-semi-space-size=16: V8's young generation starts at 16 MiB a semi-space (its full size
// on Node.js 20; newer V8s grow it further) instead of growing to it from 1 MiB during the first
// seconds of load. Grown from 1 MiB, Node.js 20 sometimes never left the promotion of that
// warm-up: ~15 MB/s of the HTTP layer's per-request objects reached the old generation and
// piled up there between mark-compacts, and the server's peak memory under load went from
// ~145 MB to 216-233 MB, in 7 of 22 runs. Started at 16 MiB: 0 of 16 (docs/performance-history.md, session 10).
//
// --max-semi-space-size=16: and it stops there, as it does by default on Node.js 20. Node.js 24's
// V8 grows it twice as far, and under W1 the server's peak memory was 240-259 MB there without
// this cap and 173-189 MB with it, at the same deducts/s (docs/performance.md, session 18).
export const SERVER_NODE_FLAGS = ["--min-semi-space-size=16", "--max-semi-space-size=16"];
