/**
 * An Express (or Connect-style) app listening on a free loopback port, for tests over real HTTP.
 *
 * @example const { base, close } = await listen(app); await fetch(`${base}/page`); await close();
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listen(app: { listen(port: number, host: string): Server }) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
