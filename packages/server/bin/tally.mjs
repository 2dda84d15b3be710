#!/bin/sh
":" //; exec node --min-semi-space-size=16 --max-semi-space-size=16 "$0" "$@"
// The `tally` command. It runs the server from one bundled file, dist/tally.mjs, which esbuild
// makes from the TypeScript sources in milliseconds, and makes again here whenever a source is
// newer. A bundle needs no loader at run time: under a TypeScript loader, Node 20 runs the
// loader's hooks on a thread of their own, which costs about 30 MB of memory and start-up time.
// Without esbuild (an install without dev dependencies) and without a bundle, the sources run
// through tsx instead.
//
// The first two lines start Node.js with the server's options (scripts/node-flags.mjs says why)
// when the file is run as a program. sh reads line 2 as its no-op `:` and then execs Node.js;
// Node.js reads it as a string and a comment. `#!/usr/bin/env -S node …` would be shorter, but
// BusyBox's env (Alpine images) has no -S.
import { BUNDLE, bundle, bundleIsStale } from "../scripts/bundle.mjs";
import { buildNative } from "../scripts/build-native.mjs";

// The WAL-coalescing SQLite shim (native/wal-coalesce.c), rebuilt when its source is newer; the
// server runs without it when no C compiler is there.
buildNative();

let entry = BUNDLE;
if (bundleIsStale()) {
  try {
    await bundle();
  } catch {
    const { register } = await import("tsx/esm/api");
    register();
    entry = new URL("../src/cli/main.ts", import.meta.url).href;
  }
}
await import(entry);
