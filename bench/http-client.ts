import { connect, type Socket } from "node:net";

/**
 * A bare HTTP/1.1 keep-alive connection that sends one request at a time. The workloads that
 * autocannon cannot express (a reserve followed by its confirm; a true open-loop schedule) use
 * it, so their client costs about what autocannon's raw-socket client costs, not what a full
 * HTTP library would: otherwise the ratios against autocannon-driven workloads would measure
 * the clients, not the server.
 */
export interface RawResponse {
  status: number;
  body: string;
}

interface Pending {
  resolve: (response: RawResponse) => void;
  reject: (error: Error) => void;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private closed = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("close", () => this.fail(new Error("connection closed")));
  }

  connected(): Promise<void> {
    return this.ready;
  }

  /** `headers` are extra header lines, each ending in CRLF; Host, Connection and Content-Length are added here. */
  async request(method: string, path: string, headers: string, body?: string): Promise<RawResponse> {
    if (this.pending !== undefined) throw new Error("one request at a time per connection");
    if (this.closed) throw new Error("connection closed");
    const payload = body === undefined ? "" : body;
    const length = body === undefined ? "" : `Content-Length: ${Buffer.byteLength(payload)}\r\n`;
    const text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n${headers}${length}\r\n${payload}`;
    return new Promise<RawResponse>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(text);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffer.toString("latin1", 0, end);
    const status = Number(head.slice(9, 12));
    const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (match === null) {
      this.fail(new Error(`response without content-length (chunked replies are not supported): ${head.split("\r\n")[0] ?? ""}`));
      this.socket.destroy();
      return;
    }
    const bodyStart = end + HEADER_END.length;
    const bodyEnd = bodyStart + Number(match[1]);
    if (this.buffer.length < bodyEnd) return;
    const body = this.buffer.toString("utf8", bodyStart, bodyEnd);
    this.buffer = this.buffer.length === bodyEnd ? Buffer.alloc(0) : this.buffer.subarray(bodyEnd);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve({ status, body });
  }
}

/** Opens `count` connections and waits until all are established. */
export async function openConnections(host: string, port: number, count: number): Promise<Connection[]> {
  const connections = Array.from({ length: count }, () => new Connection(host, port));
  await Promise.all(connections.map((c) => c.connected()));
  return connections;
}
