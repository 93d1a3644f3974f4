// Worker: joins a prepared node with the token, CA hash and endpoint from ControlPlane outputs, and
// undoes it on delete (drain + delete the Node on the control plane, then kubeadm reset on the worker).
// Scripts: scripts/node/token.sh, join.sh, approve-serving-cert.sh, drain-node.sh, reset.sh, and for a
// version upgrade upgrade-drain.sh, upgrade-node.sh, upgrade-uncordon.sh.
import * as crypto from "crypto";
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
  renewCertsScript,
  joinStdin,
  resetScript,
  tokenScript,
  tokenStdin,
  uploadCertsScript,
  uploadCertsStdin,
} from "./scripts";
import { NodePrep, stepTimeout, withDependsOn } from "./node-prep";
import { commandConnection } from "./connection";
import { nodeCleanup } from "./cleanup";
import { UPGRADE_TIMEOUTS, upgradeDrainScript, upgradeNodeScript, upgradeUncordonScript } from "./upgrade-scripts";

/** What a joining node needs from the cluster description: version and token TTL, SSH user, kubelet TLS mode, mirrors. */
export type WorkerSettings = Pick<ClusterSpec, "kubernetes" | "ssh" | "metricsServer" | "mirrors">;

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
  /**
   * What this worker's upgrade waits for: the control plane's upgrade for the first batch, the previous
   * batch's uncordons after that (KubeadmCluster builds the batches from kubernetes.upgradeBatchSize).
   */
  readonly upgradeAfter: readonly pulumi.Resource[];
}

export class Worker extends pulumi.ComponentResource {
  /** Depend on this for "the node has joined (and its kubelet serving certificate is approved)". */
  public readonly joined: pulumi.Resource;
  /** The last step of this worker's upgrade (uncordon): the next batch waits for it. */
  public readonly upgraded: pulumi.Resource;
  public readonly host: Host;

  constructor(name: string, args: WorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:Worker", name, {}, opts);
    const built = joinSteps(this, name, args, opts);
    this.joined = built.joined;
    this.upgraded = built.upgraded;
    this.host = args.host;
    this.registerOutputs({});
  }
}

export interface ControlPlaneMemberArgs extends WorkerArgs {
  /** The cluster's certificate key (secret, 64 hex): the uploaded certificates are encrypted with it. */
  readonly certificateKey: pulumi.Output<string>;
  /** The first control plane (where the certificates are uploaded from). */
  readonly firstControlPlane: NodeSpec;
  /**
   * What this control plane's join waits for: the previous control plane's join. etcd adds one learner
   * at a time ("membership: too many learner members in cluster"; learner mode is the default from 1.29),
   * so control planes join one after another.
   */
  readonly joinAfter: readonly pulumi.Resource[];
  /**
   * What this control plane's certificate renewal (kubernetes.certificateRenewal) waits for: the
   * previous control plane's renewal. Each renewal restarts the node's static pods, its etcd member
   * among them, so one at a time keeps etcd's quorum (2 of 3 members stay up).
   */
  readonly renewAfter: readonly pulumi.Resource[];
}

/**
 * A further control plane (HA): the certificates are uploaded again on the first control plane right
 * before its join (kubeadm deletes them two hours after an upload), then `kubeadm join` with a
 * controlPlane section (stacked etcd member, API server on the node). Removed like a worker: drained on
 * the first control plane, then `kubeadm reset`, which removes its etcd member ("remove-etcd-member").
 */
export class ControlPlaneMember extends pulumi.ComponentResource {
  public readonly joined: pulumi.Resource;
  public readonly upgraded: pulumi.Resource;
  /** The join itself: the next control plane waits for it. */
  public readonly join: pulumi.Resource;
  /** Its certificate renewal step (runs when kubernetes.certificateRenewal changes): the next one waits for it. */
  public readonly renewed: pulumi.Resource;
  public readonly host: Host;

  constructor(name: string, args: ControlPlaneMemberArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:ControlPlaneMember", name, {}, opts);
    const built = joinSteps(this, name, args, opts, {
      certificateKey: args.certificateKey,
      firstControlPlane: args.firstControlPlane,
      after: args.joinAfter,
      renewAfter: args.renewAfter,
    });
    this.joined = built.joined;
    this.upgraded = built.upgraded;
    this.join = built.join;
    if (!built.renewed) throw new Error("internal: a control-plane member without its renewal step");
    this.renewed = built.renewed;
    this.host = args.host;
    this.registerOutputs({});
  }
}

interface ControlPlaneJoin {
  readonly certificateKey: pulumi.Output<string>;
  readonly firstControlPlane: NodeSpec;
  readonly after: readonly pulumi.Resource[];
  readonly renewAfter: readonly pulumi.Resource[];
}

/** The steps of a joining node (worker, or a further control plane), as children of `parent`. */
function joinSteps(
  parent: pulumi.ComponentResource,
  name: string,
  args: WorkerArgs,
  opts: pulumi.ComponentResourceOptions | undefined,
  cp?: ControlPlaneJoin,
): { joined: pulumi.Resource; upgraded: pulumi.Resource; join: pulumi.Resource; renewed?: pulumi.Resource } {
  const { host, node, prep, join: controlPlane, settings: spec } = args;
  const connection = commandConnection(host);
  const cpConnection = commandConnection(controlPlane.controlPlane);
  const secretOutputs = ["stdout", "stderr"];
  // A recreated machine, or a new cluster (a replaced control plane has a new CA), means this node must
  // be joined again: both replace the node's commands (PULUMI-NOTES §1.1: triggers always replace).
  const triggers = [host.machineId, controlPlane.caCertHash];
  // Named once: the join's messages tell the user which of these to replace.
  const tokenStep = `${name}-token`;
  const uploadStep = `${name}-upload-certs`;
  const joinText = joinScript(spec, node, { tokenStep, ...(cp ? { uploadStep } : {}) });
  // The join runs again (an update) whenever its script changes, and may then reset the node and join
  // it again; the token (TTL) and the uploaded certificates (2 h) must be fresh for that join too. This
  // comment makes the token and upload steps run again, before it, whenever the join's script changes.
  const beforeJoin = ` # before join ${crypto.createHash("sha256").update(joinText).digest("hex").slice(0, 12)}`;

  // A further control plane: the certificates are uploaded again right before its join, on the first
  // control plane (they expire two hours after an upload), after the previous control plane's join.
  const upload = cp
    ? new command.remote.Command(
        uploadStep,
        {
          connection: cpConnection,
          create: `${remoteBash(uploadCertsScript(), TIMEOUTS.uploadCerts)}${beforeJoin}`,
          stdin: pulumi.secret(cp.certificateKey.apply((key) => uploadCertsStdin(spec, cp.firstControlPlane, key))),
          triggers,
          addPreviousOutputInEnv: false,
          logging: "stdoutAndStderr",
        },
        {
          parent,
          dependsOn: withDependsOn([...cp.after], opts?.dependsOn),
          additionalSecretOutputs: secretOutputs,
          customTimeouts: { create: stepTimeout(TIMEOUTS.uploadCerts), update: stepTimeout(TIMEOUTS.uploadCerts) },
        },
      )
    : undefined;

  // init's token has a TTL: re-create it (same value, from state) before every (re)join.
  const token = new command.remote.Command(
    tokenStep,
    {
      connection: cpConnection,
      create: `${remoteBash(tokenScript(spec), TIMEOUTS.token)}${beforeJoin}`,
      stdin: pulumi.secret(controlPlane.token.apply(tokenStdin)),
      triggers,
      addPreviousOutputInEnv: false,
      logging: "stderr",
    },
    {
      parent,
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
      create: remoteBash(joinText, TIMEOUTS.join),
      stdin: pulumi.secret(
        pulumi
          .all([controlPlane.token, controlPlane.caCertHash, controlPlane.endpoint, cp ? cp.certificateKey : undefined])
          .apply(([t, hash, endpoint, key]) => joinStdin(spec, node, t, hash, endpoint, key)),
      ),
      // Includes the machine id: a recreated VM with the same IP has an identical connection.
      triggers,
      addPreviousOutputInEnv: false,
      logging: "stderr",
    },
    {
      parent,
      dependsOn: withDependsOn([prep.done, token, ...(upload ? [upload] : [])], opts?.dependsOn),
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
    { parent, dependsOn: [join], deletedWith: host.machine },
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
    { parent, dependsOn: [reset], deletedWith: controlPlane.controlPlane.machine },
  );
  if (args.keepV1NodeObject) {
    new command.remote.Command(
      `${name}-node-object`,
      { connection: cpConnection, triggers, addPreviousOutputInEnv: false, logging: "stdoutAndStderr" },
      // Nothing runs on create or update (no create, no update), nothing on delete (none, and retained).
      { parent, dependsOn: [drain], retainOnDelete: true },
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
      { parent, dependsOn: [join], customTimeouts: { create: stepTimeout(TIMEOUTS.approve), update: stepTimeout(TIMEOUTS.approve) } },
    );
  }

  // The kubeadm upgrade of this worker, in three steps: drain on the control plane, kubeadm upgrade node
  // + kubelet on the worker, wait for Ready at the new version and uncordon on the control plane. Only
  // `update` is set: creating them runs nothing (pulumi-command Create returns early without a create
  // command), so a new cluster or a new worker, which joins at the configured version, pays nothing.
  // Their scripts carry the target version, so a version edit updates them and the provider runs
  // `update` (commandController.go Update), in dependency order. The triggers are the join's: a
  // version edit never replaces them, nor anything that resets the node.
  const step = (suffix: string, conn: typeof connection, script: string, seconds: number, after: readonly pulumi.Resource[]) =>
    new command.remote.Command(
      `${name}-${suffix}`,
      { connection: conn, update: remoteBash(script, seconds), triggers, addPreviousOutputInEnv: false, logging: "stdoutAndStderr" },
      { parent, dependsOn: [...after], customTimeouts: { create: stepTimeout(seconds), update: stepTimeout(seconds) } },
    );
  const upDrain = step("upgrade-drain", cpConnection, upgradeDrainScript(spec, node), UPGRADE_TIMEOUTS.upgradeDrain, [joined, ...args.upgradeAfter]);
  const upNode = step("upgrade", connection, upgradeNodeScript(spec, node), UPGRADE_TIMEOUTS.upgradeNode, [upDrain]);
  const upUncordon = step("upgrade-uncordon", cpConnection, upgradeUncordonScript(spec, node), UPGRADE_TIMEOUTS.upgradeUncordon, [upNode]);

  // A further control plane renews its own certificates too (each control plane has its API server,
  // etcd and kubeconfig certificates; `kubeadm certs renew all` renews only the node it runs on). The
  // kubernetes.certificateRenewal label is in the `update` text: a new label updates it and renews;
  // without a label the update is `true`, so removing the label renews nothing. Created (a new control
  // plane, or this step new in an existing stack) with a label, it renews only certificates older than
  // a day: a control plane that just joined has new ones, and a renewal then would restart its etcd
  // member while the next control plane joins. After this node's join and upgrade, and after the
  // previous control plane's renewal (one etcd member restarting at a time).
  const renewal = spec.kubernetes.certificateRenewal;
  const renewed = cp
    ? new command.remote.Command(
        `${name}-renew-certs`,
        {
          connection,
          ...(renewal === undefined ? {} : { create: `${remoteBash(renewCertsScript(spec, node, { freshHours: 24 }), TIMEOUTS.renewCerts)} # certificate renewal: ${renewal}` }),
          update: renewal === undefined ? "true # certificate renewal: none" : `${remoteBash(renewCertsScript(spec, node), TIMEOUTS.renewCerts)} # certificate renewal: ${renewal}`,
          triggers,
          addPreviousOutputInEnv: false,
          logging: "stderr",
        },
        {
          parent,
          dependsOn: [joined, upUncordon, ...cp.renewAfter],
          customTimeouts: { create: stepTimeout(TIMEOUTS.renewCerts), update: stepTimeout(TIMEOUTS.renewCerts) },
        },
      )
    : undefined;

  return { joined, upgraded: upUncordon, join, renewed };
}
