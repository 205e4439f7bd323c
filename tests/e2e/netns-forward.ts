/**
 * A TCP forward from this machine's loopback to an address that exists only inside a network namespace (a server's
 * floating IP in the booting test OpenStack): a listener on 127.0.0.1 here, and per connection a relay process
 * started inside the namespace (`ip netns exec`) that connects to the address, the bytes passed through its
 * stdin/stdout. Nothing listens inside the namespace, nothing beyond loopback here; stop() ends every relay.
 */
import { ChildProcess, spawn } from "child_process";
import * as net from "net";

/** The relay run inside the namespace: stdin/stdout <-> TCP host:port (argv), exits when either side closes. */
const RELAY = `
const net = require("net");
const [host, port] = process.argv.slice(-2);
const s = net.connect({ host, port: Number(port) });
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on("error", () => process.exit(1));
s.on("close", () => process.exit(0));
process.stdin.on("end", () => s.end());
`;

export interface Forward {
  /** the local port: http://127.0.0.1:<port>/ reaches host:port inside the namespace */
  readonly port: number;
  stop(): Promise<void>;
}

export async function forwardIntoNetns(netns: string, host: string, port: number): Promise<Forward> {
  const relays = new Set<ChildProcess>();
  const server = net.createServer((client) => {
    const relay = spawn("ip", ["netns", "exec", netns, process.execPath, "-e", RELAY, host, String(port)], {
      stdio: ["pipe", "pipe", "ignore"],
    });
    relays.add(relay);
    client.pipe(relay.stdin!);
    relay.stdout!.pipe(client);
    const end = () => {
      relays.delete(relay);
      client.destroy();
      relay.kill();
    };
    relay.on("exit", end);
    client.on("error", end);
    client.on("close", () => relay.stdin!.end());
    relay.stdin!.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const r of relays) r.kill();
        server.close(() => resolve());
      }),
  };
}
