import type { Socket } from "node:net";

/**
 * The client's address as a server names it in messages: IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`) lose their prefix; an address the socket no longer knows is `unknown`.
 *
 * @example
 * remoteAddressOf(socket); // "127.0.0.1"
 */
export function remoteAddressOf(socket: Socket): string {
  const address = socket.remoteAddress;
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}
