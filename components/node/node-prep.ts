// NodePrep: everything a node needs before kubeadm (scripts/node/prep.sh), plus its /etc/hosts block
// (scripts/node/hosts.sh, separate so adding a node re-runs only that small step elsewhere). The
// first command, `<node>-ssh-ready`, absorbs the wait for a booting machine (see connection.ts). On
// existing hosts, `<node>-undo-prep` puts the machine back on destroy (scripts/node/undo-prep.sh). On
// the first control plane, `<node>-version-check` refuses an unsupported version change before any prep.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterSpec, NodeSpec } from "../spec";
import { controlPlaneEndpointOf } from "./kubeadm-config";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { PrepSettings, TIMEOUTS, UndoPrepOptions, hostsScript, prepScript, undoPrepScript } from "./scripts";
import { bootConnection, commandConnection } from "./connection";
import { nodeCleanup } from "./cleanup";
import { UPGRADE_TIMEOUTS, UpgradeSettings, versionCheckScript } from "./upgrade-scripts";
import { HA_TIMEOUTS, vipScript } from "./ha-scripts";
import { VipSettings } from "./vip-config";

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
  /**
   * The first control plane only: run `<node>-version-check` (scripts/node/upgrade-check.sh) before
   * prep. It refuses a kubernetes.version that skips a minor or downgrades the running cluster, before
   * any node's prep runs (every prep waits for it through `gate`).
   */
  readonly checkVersion?: UpgradeSettings & Pick<ClusterSpec, "nodes">;
  /** Prep waits for this (the control plane's version check): nothing is changed on a refused edit. */
  readonly gate?: pulumi.Resource;
  /**
   * Control planes of an HA cluster on VirtualBox/existing hosts: `<node>-vip` (scripts/node/vip.sh,
   * keepalived + haproxy) after prep, before init/join. Its files list every control plane, so adding
   * or removing one updates it on all of them.
   */
  readonly vip?: VipSettings;
}

/** What the version check compares with the running cluster besides the version. */
function topology(spec: Pick<ClusterSpec, "kubernetes" | "nodes">, firstControlPlane: NodeSpec): { endpoint: string; controlPlanes: string[] } {
  return {
    endpoint: controlPlaneEndpointOf(spec, firstControlPlane),
    controlPlanes: spec.nodes.filter((n) => n.role === "control-plane").map((n) => n.name),
  };
}

/** What the boot-wait command runs: proves SSH and sudo work, changes nothing. */
export const SSH_READY_COMMAND = 'sudo -n true && echo "ssh and sudo ok on $(hostname)"';

export class NodePrep extends pulumi.ComponentResource {
  public readonly host: Host;
  /** The last prep command: init/join `dependsOn` it. */
  public readonly done: pulumi.Resource;
  /** The version check (first control plane only): every other node's prep waits for it. */
  public readonly versionChecked?: pulumi.Resource;

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

    // The version check reads the running cluster (if any) on the control plane; its script carries the
    // target version, so a version edit updates it and it runs again, before any prep.
    const check =
      args.checkVersion === undefined
        ? undefined
        : new command.remote.Command(
            `${name}-version-check`,
            {
              connection,
              // Created next to a running cluster (a stack from before this step existed), a version edit is
              // refused: the upgrade steps created in the same `up` would run nothing. Updated, it checks the
              // path. Both check the endpoint and how many control planes go at once.
              create: remoteBash(versionCheckScript(args.checkVersion, node, { ...topology(args.checkVersion, node), firstRun: true }), UPGRADE_TIMEOUTS.versionCheck),
              update: remoteBash(versionCheckScript(args.checkVersion, node, topology(args.checkVersion, node)), UPGRADE_TIMEOUTS.versionCheck),
              triggers,
              addPreviousOutputInEnv: false,
              logging: "stdoutAndStderr",
            },
            {
              parent: this,
              dependsOn: [ready],
              customTimeouts: { create: stepTimeout(UPGRADE_TIMEOUTS.versionCheck), update: stepTimeout(UPGRADE_TIMEOUTS.versionCheck) },
            },
          );
    const gate = check ?? args.gate;

    const prep = new command.remote.Command(
      `${name}-prep`,
      {
        connection,
        create: remoteBash(prepScript(settings, node), TIMEOUTS.prep),
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: gate ? [hosts, gate] : [hosts], customTimeouts: { create: stepTimeout(TIMEOUTS.prep), update: stepTimeout(TIMEOUTS.prep) } },
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

    const vip =
      args.vip === undefined
        ? undefined
        : new command.remote.Command(
            `${name}-vip`,
            { connection, create: remoteBash(vipScript(args.vip, node), HA_TIMEOUTS.vip), triggers, addPreviousOutputInEnv: false, logging: "stdoutAndStderr" },
            { parent: this, dependsOn: [undo ?? prep], customTimeouts: { create: stepTimeout(HA_TIMEOUTS.vip), update: stepTimeout(HA_TIMEOUTS.vip) } },
          );

    this.host = host;
    this.done = vip ?? undo ?? prep;
    this.versionChecked = check;
    this.registerOutputs({ done: prep.id });
  }
}
