// How node commands reach their machine. Why two dial policies: the command provider stores the
// `connection` as an input, and any input change re-runs a command (pulumi-command
// remote/commandController.go Update: runs `update`, else `create`). If every command carried the
// boot-wait tunables, changing ssh.connectTimeoutSeconds would re-run prep, init and join everywhere.
// So only `<node>-ssh-ready` (the first command, cheap to re-run) dials with the machine's boot wait;
// every other command uses the fixed policy below.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "../machines/host";

/**
 * The fixed policy of every command but ssh-ready: 24 dials of at most 10 s. The provider backs off
 * 100 ms x1.5 up to 5 s between dials (pulumi-command remote/connection.go dialWithRetry ->
 * retry.Until defaults), so a refusing host fails after about 80 s and a black-holed one after about
 * five minutes: long enough for a reboot or a network blip, short enough to fail visibly.
 */
export const COMMAND_DIAL = { dialErrorLimit: 24, perDialTimeout: 10 } as const;

/**
 * The typed SSH connection for remote.Command, field by field (never a spread: PULUMI-NOTES §1.3),
 * with the machine's host key pinned when it is known (without `hostKey` the provider accepts any key:
 * remote/connection.go SSHConfig, ssh.InsecureIgnoreHostKey).
 */
export function commandConnection(host: Host, dial: { dialErrorLimit: number; perDialTimeout: number } = COMMAND_DIAL): command.types.input.remote.ConnectionArgs {
  const c = host.connection;
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    privateKey: c.privateKey,
    dialErrorLimit: dial.dialErrorLimit,
    perDialTimeout: dial.perDialTimeout,
    // An Output that resolves to undefined leaves the field out (the machine's key is not known).
    ...(host.hostKey ? { hostKey: host.hostKey as pulumi.Output<string> } : {}),
  };
}

/** The connection of the node's first command: the machine's own boot wait. */
export function bootConnection(host: Host): command.types.input.remote.ConnectionArgs {
  return commandConnection(host, { dialErrorLimit: host.connection.dialErrorLimit, perDialTimeout: host.connection.perDialTimeout });
}

/** What the delete runner (scripts/remote/ssh-run.js) needs to reach the machine; secret as a whole. */
export function runnerTarget(host: Host): pulumi.Output<{ host: string; port: number; user: string; privateKey: string; hostKey?: string }> {
  const c = host.connection;
  return pulumi.secret(
    pulumi.all([c.host, c.privateKey, host.hostKey ?? pulumi.output(undefined)]).apply(([h, key, hostKey]) => ({
      host: h,
      port: c.port,
      user: c.user,
      privateKey: key,
      ...(hostKey ? { hostKey } : {}),
    })),
  );
}
