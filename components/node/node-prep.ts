// NodePrep: everything a node needs before kubeadm (scripts/node/prep.sh), plus its /etc/hosts block
// (scripts/node/hosts.sh, separate so adding a node re-runs only that small step elsewhere). The
// first command, `<node>-ssh-ready`, absorbs the wait for a booting machine (see connection.ts).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { PrepSettings, TIMEOUTS, hostsScript, prepScript } from "./scripts";
import { bootConnection, commandConnection } from "./connection";

/** Pulumi-side bound for a step whose script is bounded by `seconds` on the node (dialing SSH included). */
export function stepTimeout(seconds: number): string {
  return `${Math.ceil(seconds / 60) + 10}m`;
}

/** `extra` followed by a component's own dependsOn, so a component-level dependsOn reaches its first children. */
export function withDependsOn(
  extra: pulumi.Input<pulumi.Resource>[],
  given: pulumi.ResourceOptions["dependsOn"] | undefined,
): pulumi.Input<pulumi.Resource>[] {
  if (given === undefined) return extra;
  if (Array.isArray(given)) return [...extra, ...given];
  // A single resource (or a promise/output of one); an Output of an array is not supported here.
  return [...extra, given as pulumi.Input<pulumi.Resource>];
}

export interface NodePrepArgs {
  readonly host: Host;
  /** This node: name, role, IP. */
  readonly node: NodeSpec;
  /** Every node of the cluster, for the /etc/hosts block. */
  readonly clusterNodes: readonly NodeSpec[];
  /** Versions, mirrors and add-on images the node is prepared for. */
  readonly settings: PrepSettings;
}

/** What the boot-wait command runs: proves SSH and sudo work, changes nothing. */
export const SSH_READY_COMMAND = 'sudo -n true && echo "ssh and sudo ok on $(hostname)"';

export class NodePrep extends pulumi.ComponentResource {
  public readonly host: Host;
  /** The last prep command: init/join `dependsOn` it. */
  public readonly done: pulumi.Resource;

  constructor(name: string, args: NodePrepArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:NodePrep", name, {}, opts);
    const { host, node, settings } = args;
    const connection = commandConnection(host);
    // A recreated machine (same IP, same connection) must be prepared again.
    const triggers = [host.machineId];

    const ready = new command.remote.Command(
      `${name}-ssh-ready`,
      { connection: bootConnection(host), create: SSH_READY_COMMAND, triggers, addPreviousOutputInEnv: false, logging: "stdoutAndStderr" },
      { parent: this, dependsOn: withDependsOn([], opts?.dependsOn) },
    );

    const hosts = new command.remote.Command(
      `${name}-hosts`,
      {
        connection,
        create: remoteBash(hostsScript({ nodes: args.clusterNodes }), TIMEOUTS.hosts),
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: [ready], customTimeouts: { create: stepTimeout(TIMEOUTS.hosts), update: stepTimeout(TIMEOUTS.hosts) } },
    );

    const prep = new command.remote.Command(
      `${name}-prep`,
      {
        connection,
        create: remoteBash(prepScript(settings, node), TIMEOUTS.prep),
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: [hosts], customTimeouts: { create: stepTimeout(TIMEOUTS.prep), update: stepTimeout(TIMEOUTS.prep) } },
    );

    this.host = host;
    this.done = prep;
    this.registerOutputs({ done: prep.id });
  }
}
