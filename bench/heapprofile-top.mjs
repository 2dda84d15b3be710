// Prints the allocation stacks that hold the most bytes in a V8 sampling heap profile (such as
// bench/promoted-sampler.mjs writes): `node bench/heapprofile-top.mjs FILE [FRAMES] [ROWS]`.
import { readFileSync } from "node:fs";

const [file, framesArg = "3", rowsArg = "25"] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: node bench/heapprofile-top.mjs FILE [FRAMES] [ROWS]");
const frames = Number(framesArg);
const profile = JSON.parse(readFileSync(file, "utf8"));
const bytesByStack = new Map();
let total = 0;
// Iterative walk: the tree is as deep as the deepest stack.
const pending = [{ node: profile.head, stack: [] }];
while (pending.length > 0) {
  const { node, stack } = pending.pop();
  const { functionName, url, lineNumber } = node.callFrame;
  const here = [...stack, `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`];
  if (node.selfSize > 0) {
    const key = here.slice(-frames).reverse().join(" < ");
    bytesByStack.set(key, (bytesByStack.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  for (const child of node.children) pending.push({ node: child, stack: here });
}
console.log(`${(total / 1e6).toFixed(1)} MB sampled`);
for (const [stack, bytes] of [...bytesByStack].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg))) {
  console.log(`${(bytes / 1e6).toFixed(2).padStart(8)} MB  ${stack}`);
}
