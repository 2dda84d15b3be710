import pg from "pg";
import type { ChangeFeed } from "../sql.ts";

/** How long to wait before connecting again after the listening connection failed. */
const RECONNECT_DELAY_MS = 1000;

/**
 * One LISTEN connection for one channel. It is `live` only between a successful LISTEN and the
 * connection's end; on every (re)connect it calls `onNotify` once, since announcements made
 * while it was down were lost. It reconnects on its own until closed.
 */
export class PgChangeFeed implements ChangeFeed {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  live = false;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly onClosed: () => void,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    this.connecting = this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    this.client = client;
    const down = (): void => {
      if (this.client !== client) return;
      this.live = false;
      this.client = undefined;
      client.removeAllListeners("notification");
      void client.end().catch(() => undefined);
      if (!this.closed) {
        this.timer = setTimeout(() => void (this.connecting = this.connect()), RECONNECT_DELAY_MS);
        this.timer.unref();
      }
    };
    client.on("error", down);
    client.on("end", down);
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.onNotify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.closed || this.client !== client) return void client.end().catch(() => undefined);
      this.onNotify();
      this.live = true;
    } catch {
      down();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    this.onClosed();
  }
}
