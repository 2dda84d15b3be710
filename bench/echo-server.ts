import { createServer } from "node:http";

/**
 * The yardstick for W1 and W6: the least a Node.js JSON API can do per request on this machine
 * (read the body, parse it, serialise a reply) with no framework, no auth and no database.
 * Usage: node --import tsx bench/echo-server.ts --port 0 (prints `listening on PORT`).
 */
const portArg = process.argv.indexOf("--port");
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let echo: unknown = {};
    if (chunks.length > 0) {
      try {
        echo = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":"invalid json"}');
        return;
      }
    }
    const body = JSON.stringify({ echo, method: req.method, url: req.url });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening on ${typeof address === "object" && address !== null ? address.port : port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
