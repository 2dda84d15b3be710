/**
 * Builds `dist/` once before the suite (the package, consumer, example and browser tests use
 * the built package, exactly as users get it). TALLY_SDK_SKIP_BUILD=1 skips it.
 */
import { execFileSync } from "node:child_process";
import { binPath, sdkRoot } from "./paths.ts";

export default function setup(): void {
  if (process.env["TALLY_SDK_SKIP_BUILD"] === "1") return;
  execFileSync(process.execPath, [binPath("tsup", "tsup")], { cwd: sdkRoot, stdio: "pipe" });
}
