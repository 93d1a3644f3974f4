// SSH dial policy shared by the machine providers (pure).
import * as pulumi from "@pulumi/pulumi";
import { SshConnection } from "./host";

/** Seconds per dial attempt (the provider default). */
export const PER_DIAL_TIMEOUT = 15;

/**
 * How many failed dials the first remote command tolerates. The provider backs off 100 ms x1.5 up to
 * 5 s between attempts (PULUMI-NOTES §1.2); a refused connection costs about that 5 s, so the limit
 * covers `connectTimeoutSeconds` of a booting machine. A timed-out dial costs up to 20 s, which makes
 * the wait longer but still bounded.
 */
export function dialErrorLimit(connectTimeoutSeconds: number): number {
  return Math.max(10, Math.ceil(connectTimeoutSeconds / 5));
}

export function sshConnection(
  host: pulumi.Input<string>,
  port: number,
  user: string,
  privateKey: pulumi.Input<string>,
  connectTimeoutSeconds: number,
): SshConnection {
  return { host, port, user, privateKey: pulumi.secret(privateKey), dialErrorLimit: dialErrorLimit(connectTimeoutSeconds), perDialTimeout: PER_DIAL_TIMEOUT };
}
