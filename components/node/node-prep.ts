// NodePrep: everything a node needs before kubeadm (scripts/node/prep.sh), plus its /etc/hosts block
// (scripts/node/hosts.sh, separate so adding a node re-runs only that small step elsewhere).
// Also holds the small wiring helpers the other node components share.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { PrepSettings, TIMEOUTS, hostsScript, prepScript } from "./scripts";

/** The typed SSH connection for remote.Command, field by field (never a spread: PULUMI-NOTES §1.3). */
export function sshConnection(host: Host): command.types.input.remote.ConnectionArgs {
  const c = host.connection;
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    privateKey: c.privateKey,
    dialErrorLimit: c.dialErrorLimit,
    perDialTimeout: c.perDialTimeout,
  };
}

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

export class NodePrep extends pulumi.ComponentResource {
  public readonly host: Host;
  /** The last prep command: init/join `dependsOn` it. */
  public readonly done: pulumi.Resource;

  constructor(name: string, args: NodePrepArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:NodePrep", name, {}, opts);
    const { host, node, settings } = args;
    const connection = sshConnection(host);

    // First command on a fresh machine: it also absorbs the wait for SSH (dialErrorLimit).
    const hosts = new command.remote.Command(
      `${name}-hosts`,
      {
        connection,
        create: remoteBash(hostsScript({ nodes: args.clusterNodes }), TIMEOUTS.hosts),
        // A recreated machine (same IP, same connection) must be prepared again.
        triggers: [host.machineId],
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: withDependsOn([], opts?.dependsOn), customTimeouts: { create: stepTimeout(TIMEOUTS.hosts + 600), update: stepTimeout(TIMEOUTS.hosts + 600) } },
    );

    const prep = new command.remote.Command(
      `${name}-prep`,
      {
        connection,
        create: remoteBash(prepScript(settings, node), TIMEOUTS.prep),
        triggers: [host.machineId],
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
