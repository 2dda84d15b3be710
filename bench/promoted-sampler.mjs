// Preload for a Tally server under the bench: samples the allocations that outlive scavenges
// (V8's sampling heap profiler, keeping what a mark-compact frees and dropping what a scavenge
// frees), then writes the profile as JSON; Chrome DevTools opens it as a .heapprofile. What it
// holds is what the young generation promoted: docs/performance-history.md, W9 (session 10).
//
//   npm run bench -- --only W9 --keep --server-node-args=--import=./bench/promoted-sampler.mjs
//
// PROMOTED_SAMPLER_OUT   where to write (default: promoted-<pid>.heapprofile in the working directory)
// PROMOTED_SAMPLER_DELAY_S, PROMOTED_SAMPLER_SECONDS   when to start after the server starts, and for how long (8, 15)
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const delayMs = 1000 * Number(process.env["PROMOTED_SAMPLER_DELAY_S"] ?? 8);
const durationMs = 1000 * Number(process.env["PROMOTED_SAMPLER_SECONDS"] ?? 15);
const out = process.env["PROMOTED_SAMPLER_OUT"] ?? `promoted-${process.pid}.heapprofile`;

const session = new Session();
session.connect();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));

// Timers are unref'd: the sampler never keeps a server alive that is shutting down.
setTimeout(async () => {
  await post("HeapProfiler.startSampling", { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  setTimeout(async () => {
    const { profile } = await post("HeapProfiler.stopSampling");
    writeFileSync(out, JSON.stringify(profile));
    process.stderr.write(`promoted-sampler: wrote ${out}\n`);
  }, durationMs).unref();
}, delayMs).unref();
