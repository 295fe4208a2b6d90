// Free loopback ports for servers that cannot be told to pick one themselves.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** A loopback server that accepts connections and never answers: a backend that hangs. */
export interface SilentServer {
  port: number;
  url: string;
  close(): void;
}

export async function silentServer(): Promise<SilentServer> {
  const server = createServer(() => undefined);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.close();
    },
  };
}
