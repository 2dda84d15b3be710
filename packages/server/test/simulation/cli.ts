/**
 * Runs or replays one seeded simulation of the ledger.
 *
 *   npm run simulate                          a random seed (printed first, so any run can be replayed)
 *   npm run simulate -- --seed 42             replays seed 42 (500 steps)
 *   npm run simulate -- --seed 42 --steps 5000 --database postgres://postgres@127.0.0.1:5432/test
 *   npm run simulate -- --runs 50             50 random seeds in a row
 *
 * `--database` takes any Tally database URL (default: a fresh in-memory SQLite database); it is
 * migrated and each run gets its own application in it, so point it at a scratch database.
 * `--fault-rate` (default 0.08) is the chance that an attempt meets an injected database fault;
 * `--accounts` (default 3) how many accounts the operations spread over.
 * Exit status 1 on a failure, after printing the seed, the failing step and the last steps.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { runSimulation, SimulationFailure } from "./simulator.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    steps: { type: "string", default: "500" },
    runs: { type: "string", default: "1" },
    database: { type: "string" },
    "fault-rate": { type: "string" },
    accounts: { type: "string" },
  },
});

const steps = Number(values.steps);
const runs = values.seed === undefined ? Number(values.runs) : 1;
for (let i = 0; i < runs; i++) {
  const seed = values.seed === undefined ? randomInt(0, 2 ** 32) : Number(values.seed);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(steps)) throw new Error("--seed and --steps take integers");
  console.log(`simulate: seed ${seed}, ${steps} steps`);
  const started = performance.now();
  try {
    const report = await runSimulation({
      seed,
      steps,
      ...(values.database !== undefined ? { url: values.database } : {}),
      ...(values["fault-rate"] !== undefined ? { faultRate: Number(values["fault-rate"]) } : {}),
      ...(values.accounts !== undefined ? { accounts: Number(values.accounts) } : {}),
    });
    const ms = Math.round(performance.now() - started);
    console.log(
      `simulate: seed ${seed} passed: ${report.steps} steps in ${ms} ms, ` +
        `${report.faults.beforeCommit} faults before commit, ${report.faults.afterCommit} after, ` +
        `${Math.round(report.simulatedMs / 1000)} s of simulated time`,
    );
    console.log(
      Object.entries(report.outcomes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `  ${k}: ${n}`)
        .join("\n"),
    );
  } catch (error) {
    if (error instanceof SimulationFailure) {
      console.error(error.message);
      process.exit(1);
    }
    console.error(`simulate: seed ${seed} crashed:`, error);
    process.exit(1);
  }
}
