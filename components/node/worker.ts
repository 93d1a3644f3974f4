// Worker: joins a prepared node with the token, CA hash and endpoint from ControlPlane outputs, and
// undoes it on delete (drain + delete the Node on the control plane, then kubeadm reset on the worker).
// Scripts: scripts/node/token.sh, join.sh, approve-serving-cert.sh, drain-node.sh, reset.sh.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterSpec, NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { serverTlsBootstrap } from "./kubeadm-config";
import {
  TIMEOUTS,
  approveServingCertScript,
  drainNodeScript,
  joinScript,
  joinStdin,
  resetScript,
  tokenScript,
  tokenStdin,
} from "./scripts";
import { NodePrep, stepTimeout, withDependsOn } from "./node-prep";
import { commandConnection } from "./connection";
import { nodeCleanup } from "./cleanup";

/** What a worker needs from the cluster description: version and token TTL, SSH user, kubelet TLS mode. */
export type WorkerSettings = Pick<ClusterSpec, "kubernetes" | "ssh" | "metricsServer">;

/** What a worker joins: ControlPlane outputs and the host the token and drain steps run on. */
export interface JoinInputs {
  /** Bootstrap token (secret). */
  readonly token: pulumi.Output<string>;
  /** "sha256:<hex>" of the cluster CA. */
  readonly caCertHash: pulumi.Output<string>;
  /** "host:port" of the API server. */
  readonly endpoint: pulumi.Output<string>;
  /** The control-plane host (token and drain run there). */
  readonly controlPlane: Host;
}

export interface WorkerArgs {
  readonly host: Host;
  /** The worker node: name, role, IP. */
  readonly node: NodeSpec;
  readonly prep: NodePrep;
  readonly join: JoinInputs;
  readonly settings: WorkerSettings;
  /**
   * Keep the inert `<name>-node-object` of v0.1 (a remote.Command whose delete drained the node). A
   * stack deployed by v0.1 has it in state: were it simply dropped, Pulumi would run that stored delete
   * and drain a healthy node during a routine `up`; declared with no delete and retainOnDelete, the
   * update removes the delete from state. Set by KubeadmCluster when it adopts a v0.1 stack.
   */
  readonly keepV1NodeObject?: boolean;
}

export class Worker extends pulumi.ComponentResource {
  /** Depend on this for "the node has joined (and its kubelet serving certificate is approved)". */
  public readonly joined: pulumi.Resource;
  public readonly host: Host;

  constructor(name: string, args: WorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:Worker", name, {}, opts);
    const { host, node, prep, join: controlPlane, settings: spec } = args;
    const connection = commandConnection(host);
    const cpConnection = commandConnection(controlPlane.controlPlane);
    const secretOutputs = ["stdout", "stderr"];
    // A recreated machine, or a new cluster (a replaced control plane has a new CA), means this node must
    // be joined again: both replace the worker's commands (PULUMI-NOTES §1.1: triggers always replace).
    const triggers = [host.machineId, controlPlane.caCertHash];

    // init's token has a TTL: re-create it (same value, from state) before every (re)join.
    const token = new command.remote.Command(
      `${name}-token`,
      {
        connection: cpConnection,
        create: remoteBash(tokenScript(spec), TIMEOUTS.token),
        stdin: pulumi.secret(controlPlane.token.apply(tokenStdin)),
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        parent: this,
        // Needs only a running API server: `triggers` carries caCertHash, which is read after init.
        // Not waiting for controlPlane.ready (serving-cert approval, kubeconfig) keeps joins two steps earlier.
        dependsOn: withDependsOn([], opts?.dependsOn),
        additionalSecretOutputs: secretOutputs,
        customTimeouts: { create: stepTimeout(TIMEOUTS.token), update: stepTimeout(TIMEOUTS.token) },
      },
    );

    const join = new command.remote.Command(
      `${name}-join`,
      {
        connection,
        create: remoteBash(joinScript(spec, node), TIMEOUTS.join),
        stdin: pulumi.secret(
          pulumi
            .all([controlPlane.token, controlPlane.caCertHash, controlPlane.endpoint])
            .apply(([t, hash, endpoint]) => joinStdin(spec, node, t, hash, endpoint)),
        ),
        // Includes the machine id: a recreated VM with the same IP has an identical connection.
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        parent: this,
        dependsOn: withDependsOn([prep.done, token], opts?.dependsOn),
        // The old node is drained and reset (the cleanups below) before the new one joins.
        deleteBeforeReplace: true,
        additionalSecretOutputs: secretOutputs,
        customTimeouts: { create: stepTimeout(TIMEOUTS.join), update: stepTimeout(TIMEOUTS.join) },
      },
    );

    // Cleanups, created after the join so Pulumi deletes them first, in this order: the Node is drained
    // and deleted on the control plane while the worker still runs, then the worker is reset.
    const reset = nodeCleanup(
      `${name}-reset`,
      { host, script: resetScript(spec, node), label: `reset ${node.name}`, timeoutSeconds: TIMEOUTS.reset, triggers: [...triggers, join.id] },
      // No SSH reset against a VM that is being deleted anyway.
      { parent: this, dependsOn: [join], deletedWith: host.machine },
    );
    const drain = nodeCleanup(
      `${name}-drain`,
      {
        host: controlPlane.controlPlane,
        script: drainNodeScript(node),
        label: `drain and delete node ${node.name}`,
        timeoutSeconds: TIMEOUTS.drain,
        triggers: [...triggers, join.id],
      },
      // When the whole cluster goes (control-plane VM deleted), draining is pointless.
      { parent: this, dependsOn: [reset], deletedWith: controlPlane.controlPlane.machine },
    );
    if (args.keepV1NodeObject) {
      new command.remote.Command(
        `${name}-node-object`,
        { connection: cpConnection, triggers, addPreviousOutputInEnv: false, logging: "stdoutAndStderr" },
        // Nothing runs on create or update (no create, no update), nothing on delete (none, and retained).
        { parent: this, dependsOn: [drain], retainOnDelete: true },
      );
    }

    let joined: pulumi.Resource = join;
    if (serverTlsBootstrap(spec)) {
      joined = new command.remote.Command(
        `${name}-approve-serving-cert`,
        {
          connection: cpConnection,
          create: remoteBash(approveServingCertScript(node), TIMEOUTS.approve),
          triggers,
          addPreviousOutputInEnv: false,
          logging: "stdoutAndStderr",
        },
        { parent: this, dependsOn: [join], customTimeouts: { create: stepTimeout(TIMEOUTS.approve), update: stepTimeout(TIMEOUTS.approve) } },
      );
    }

    this.joined = joined;
    this.host = host;
    this.registerOutputs({});
  }
}
