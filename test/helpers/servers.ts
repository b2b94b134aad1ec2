/** Small loopback servers shared by tests of the probe and the exporter. */
import { once } from 'node:events';
import * as net from 'node:net';

export interface RunningServer {
  port: number;
  /** Destroys open connections, then stops listening. */
  close(): Promise<void>;
}

/** Accepts TCP connections on 127.0.0.1 and never says a word: every probe of it times out. */
export async function startSilentServer(): Promise<RunningServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
