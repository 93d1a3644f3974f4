// NodePrep: everything a node needs before kubeadm (scripts/node/prep.sh), plus its /etc/hosts block
// (scripts/node/hosts.sh, separate so adding a node re-runs only that small step elsewhere). The
// first command, `<node>-ssh-ready`, absorbs the wait for a booting machine (see connection.ts). On
// existing hosts, `<node>-undo-prep` puts the machine back on destroy (scripts/node/undo-prep.sh).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { PrepSettings, TIMEOUTS, UndoPrepOptions, hostsScript, prepScript, undoPrepScript } from "./scripts";
import { bootConnection, commandConnection } from "./connection";
import { nodeCleanup } from "./cleanup";

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
  /**
   * Machines the program did not create (provider existing): what `pulumi destroy`, or removing the
   * node, undoes of the preparation (scripts/node/undo-prep.sh, after the node's reset). Undefined for
   * VirtualBox and Aliyun, whose machines are deleted instead.
   */
  readonly undo?: UndoPrepOptions;
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

    // Created after prep and before init/join (which depend on `done`): Pulumi deletes in reverse, so
    // the undo runs after the node's reset and drain. undo-prep.sh itself refuses while kubelet.conf or
    // etcd data is still there.
    const undo =
      args.undo === undefined
        ? undefined
        : nodeCleanup(
            `${name}-undo-prep`,
            { host, script: undoPrepScript(node, args.undo), label: `undo prep on ${node.name}`, timeoutSeconds: TIMEOUTS.undoPrep, triggers },
            { parent: this, dependsOn: [prep] },
          );

    this.host = host;
    this.done = undo ?? prep;
    this.registerOutputs({ done: prep.id });
  }
}
