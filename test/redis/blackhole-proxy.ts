/**
 * A TCP proxy in front of a real redis-server that can make the connections passing through
 * it go silent — no FIN, no RST, no error: what a half-open socket or a network partition
 * looks like to the client. Connections opened after `blackhole()` pass traffic again.
 */
import net, { type AddressInfo } from 'node:net';

/** A proxy to `port` on loopback; `url` is what a client connects to. */
export interface BlackholeProxy {
  readonly port: number;
  readonly url: string;
  /** Connections made through the proxy so far. */
  readonly connections: number;
  /** Every connection open now stops carrying bytes, both ways, and stays open. */
  blackhole(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `127.0.0.1:targetPort`.
 *
 * @example
 * const proxy = await startBlackholeProxy(server.port);
 * const conn = new RedisConnection(parseLocation(proxy.url, 'redis'));
 * proxy.blackhole(); // conn's socket now hangs
 */
export async function startBlackholeProxy(targetPort: number): Promise<BlackholeProxy> {
  const pairs: Array<{ silent: boolean; down: net.Socket; up: net.Socket }> = [];
  let count = 0;
  const server = net.createServer((down) => {
    count++;
    const up = net.connect(targetPort, '127.0.0.1');
    const pair = { silent: false, down, up };
    pairs.push(pair);
    down.on('data', (chunk) => {
      if (!pair.silent) up.write(chunk);
    });
    up.on('data', (chunk) => {
      if (!pair.silent) down.write(chunk);
    });
    down.on('error', () => {});
    up.on('error', () => {});
    // A silent pair keeps its far end open too: only a live pair passes a close through.
    down.on('close', () => {
      if (!pair.silent) up.destroy();
    });
    up.on('close', () => {
      if (!pair.silent) down.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return count;
    },
    blackhole() {
      for (const pair of pairs) pair.silent = true;
    },
    async close() {
      for (const { down, up } of pairs) {
        down.destroy();
        up.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
