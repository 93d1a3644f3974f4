// ControlPlane: kubeadm init on the control-plane node and the values workers and add-ons need:
// joinToken (secret), caCertHash, endpoint, kubeconfig (secret). Scripts: scripts/node/init.sh,
// upgrade-control-plane.sh (a version edit), ca-hash.sh, kubeconfig.sh, approve-serving-cert.sh,
// renew-certs.sh (when kubernetes.certificateRenewal changes); on delete reset.sh (through the cleanup runner).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import { ClusterSpec, NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { remoteBash } from "./script";
import { KubeadmSettings, certSans, controlPlaneEndpointOf, serverTlsBootstrap } from "./kubeadm-config";
import {
  TIMEOUTS,
  approveServingCertScript,
  caHashScript,
  externalServer,
  initScript,
  initStdin,
  kubeconfigScript,
  parseCaCertHash,
  resetScript,
  renewCertsScript,
  rewriteKubeconfigServer,
} from "./scripts";
import { NodePrep, stepTimeout, withDependsOn } from "./node-prep";
import { commandConnection } from "./connection";
import { nodeCleanup } from "./cleanup";
import { UPGRADE_TIMEOUTS, upgradeControlPlaneScript } from "./upgrade-scripts";

/** What the control plane needs from the cluster description: kubeadm settings, the SSH user, the node list (single-node taint). */
export type ControlPlaneSettings = KubeadmSettings & Pick<ClusterSpec, "ssh" | "nodes">;

export interface ControlPlaneArgs {
  readonly host: Host;
  /** The control-plane node: name, role, IP (and publicIp for existing hosts). */
  readonly node: NodeSpec;
  readonly prep: NodePrep;
  readonly settings: ControlPlaneSettings;
  /** HA: the key the control-plane certificates are uploaded with (secret, 64 hex). */
  readonly certificateKey?: pulumi.Output<string>;
  /** HA on Aliyun: what must exist before init uses the endpoint (the load balancer's listener). */
  readonly endpointReady?: readonly pulumi.Resource[];
  /**
   * HA on Aliyun: the API's public address (the load balancer's), for the certificate and the exported
   * kubeconfig, instead of the machine's own.
   */
  readonly apiPublicAddress?: pulumi.Output<string>;
  /** HA on Aliyun: every address of the load balancer, added to the API server's certificate. */
  readonly apiCertSans?: pulumi.Output<string[]>;
}

export class ControlPlane extends pulumi.ComponentResource {
  /** Bootstrap token "[a-z0-9]{6}.[a-z0-9]{16}" (secret). */
  public readonly joinToken: pulumi.Output<string>;
  /** "sha256:<64 hex>" of the cluster CA's public key. */
  public readonly caCertHash: pulumi.Output<string>;
  /** "<node IP>:6443", what workers join. */
  public readonly endpoint: pulumi.Output<string>;
  /** Admin kubeconfig (secret), server rewritten to the public address or node IP. */
  public readonly kubeconfig: pulumi.Output<string>;
  public readonly host: Host;
  /** Depend on this for "the API is up and the kubeconfig is readable". */
  public readonly ready: pulumi.Resource;
  /**
   * The resource whose replacement means a new cluster (`kubeadm init` on a new or reset machine).
   * Kubernetes objects are replaced with it (`replaceWith`) and deleted with it (`deletedWith`).
   */
  public readonly cluster: pulumi.Resource;
  /** The control plane's upgrade step: the first batch of worker upgrades waits for it. */
  public readonly upgraded: pulumi.Resource;
  /**
   * The certificate renewal (kubernetes.certificateRenewal set), else undefined: the further control
   * planes renew after it, one at a time.
   */
  public readonly renewed: pulumi.Resource | undefined;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:node:ControlPlane", name, {}, opts);
    const { host, node, prep, settings: spec } = args;
    const connection = commandConnection(host);
    const publicAddress: pulumi.Output<string> = args.apiPublicAddress ?? host.publicAddress ?? pulumi.output(node.publicIp ?? "");
    const endpoint = spec.kubernetes.controlPlaneEndpoint;
    const first = withDependsOn([], opts?.dependsOn);

    // Token chosen by the program (kept in state) so init and every later join agree on it.
    const tokenId = new random.RandomString(
      `${name}-token-id`,
      { length: 6, lower: true, numeric: true, upper: false, special: false },
      { parent: this, dependsOn: first },
    );
    const tokenSecret = new random.RandomPassword(
      `${name}-token-secret`,
      { length: 16, lower: true, numeric: true, upper: false, special: false },
      { parent: this, dependsOn: first },
    );
    this.joinToken = pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`);

    const init = new command.remote.Command(
      `${name}-init`,
      {
        connection,
        create: remoteBash(initScript(spec, node), TIMEOUTS.init),
        // The kubeadm config carries the token: stdin only (never the command text, which the
        // provider prints on failure).
        stdin: pulumi.secret(
          pulumi
            .all([this.joinToken, publicAddress, args.certificateKey, args.apiCertSans])
            .apply(([token, pub, key, lbSans]) => {
              const sans = certSans(node, pub, endpoint?.address);
              for (const x of lbSans ?? []) if (!sans.includes(x)) sans.push(x);
              return initStdin(spec, node, token, sans, key);
            }),
        ),
        triggers: [host.machineId],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        parent: this,
        dependsOn: withDependsOn([prep.done, ...(args.endpointReady ?? [])], opts?.dependsOn),
        // A replaced machine's old cluster is cleaned up (the reset below) before init runs again.
        deleteBeforeReplace: true,
        additionalSecretOutputs: ["stdout", "stderr"],
        customTimeouts: { create: stepTimeout(TIMEOUTS.init), update: stepTimeout(TIMEOUTS.init) },
      },
    );

    // kubeadm reset on destroy or before a re-init; skipped when the machine itself is being deleted,
    // and by the runner when the machine no longer answers or is another machine.
    const reset = nodeCleanup(
      `${name}-reset`,
      { host, script: resetScript(spec, node), label: `reset ${node.name}`, timeoutSeconds: TIMEOUTS.reset, triggers: [host.machineId, init.id] },
      { parent: this, dependsOn: [init], deletedWith: host.machine },
    );

    // The kubeadm upgrade of the control plane (scripts/node/upgrade-control-plane.sh). Only `update` is
    // set: a new cluster is initialised at the configured version, so creating this runs nothing. Its
    // script carries the target version: a version edit updates it (the provider runs `update`), after
    // prep and init have run for the new version. Re-run after a failure, it continues where it stopped.
    // Never replaced by a version edit (its triggers hold only the machine and the cluster), so no reset
    // ever follows from one.
    const upgrade = new command.remote.Command(
      `${name}-upgrade`,
      {
        connection,
        update: remoteBash(upgradeControlPlaneScript(spec, node), UPGRADE_TIMEOUTS.upgradeControlPlane),
        triggers: [host.machineId, init.id],
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      {
        parent: this,
        dependsOn: [init, reset],
        customTimeouts: { create: stepTimeout(UPGRADE_TIMEOUTS.upgradeControlPlane), update: stepTimeout(UPGRADE_TIMEOUTS.upgradeControlPlane) },
      },
    );

    // kubernetes.certificateRenewal: a new label replaces this command, whose create renews the
    // certificates (kubeadm certs renew all + static pod restart). It runs before the CA hash is read so
    // workers (whose token step waits for the hash) never talk to an API server being restarted.
    const renewal = spec.kubernetes.certificateRenewal;
    const renew =
      renewal === undefined
        ? undefined
        : new command.remote.Command(
            `${name}-renew-certs`,
            {
              connection,
              create: remoteBash(renewCertsScript(spec, node), TIMEOUTS.renewCerts),
              triggers: [host.machineId, init.id, renewal],
              addPreviousOutputInEnv: false,
              logging: "stderr",
            },
            { parent: this, dependsOn: [init, reset, upgrade], customTimeouts: { create: stepTimeout(TIMEOUTS.renewCerts), update: stepTimeout(TIMEOUTS.renewCerts) } },
          );

    const caHash = new command.remote.Command(
      `${name}-ca-hash`,
      {
        connection,
        create: remoteBash(caHashScript(), TIMEOUTS.caHash),
        triggers: [host.machineId, init.id],
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
      },
      // After the reset resource: workers (which use the hash) are then removed before the control plane is reset.
      // After the upgrade (and a renewal): workers' token and join wait for the hash, so a worker never
      // joins (at the new version) a control plane that is still at the old one.
      { parent: this, dependsOn: [init, reset, upgrade, ...(renew ? [renew] : [])], customTimeouts: { create: stepTimeout(TIMEOUTS.caHash), update: stepTimeout(TIMEOUTS.caHash) } },
    );
    this.caCertHash = caHash.stdout.apply(parseCaCertHash);

    const readyDeps: pulumi.Resource[] = [init, reset, upgrade, ...(renew ? [renew] : [])];
    if (serverTlsBootstrap(spec)) {
      // metrics-server verifies kubelet serving certificates; nothing approves the first one on its own.
      readyDeps.push(
        new command.remote.Command(
          `${name}-approve-serving-cert`,
          {
            connection,
            create: remoteBash(approveServingCertScript(node), TIMEOUTS.approve),
            triggers: [host.machineId, init.id],
            addPreviousOutputInEnv: false,
            logging: "stdoutAndStderr",
          },
          { parent: this, dependsOn: [init], customTimeouts: { create: stepTimeout(TIMEOUTS.approve), update: stepTimeout(TIMEOUTS.approve) } },
        ),
      );
    }

    const kubeconfig = new command.remote.Command(
      `${name}-kubeconfig`,
      {
        connection,
        // Read again after an upgrade (the trailing comment carries the version, so a version edit updates
        // this command): kubeadm upgrade apply renews the certificates (--certificate-renewal defaults to
        // true, cmd/kubeadm/app/cmd/upgrade/apply.go). Not `environment`: remote Setenv fails unless sshd
        // has AcceptEnv (pulumi-command remote/command.go).
        create: `${remoteBash(kubeconfigScript(), TIMEOUTS.kubeconfig)} # kubernetes ${spec.kubernetes.version.raw}`,
        // Read again after a renewal: admin.conf then embeds a new client certificate.
        triggers: [host.machineId, init.id, ...(renew ? [renew.id] : [])],
        addPreviousOutputInEnv: false,
        logging: "none",
      },
      {
        parent: this,
        dependsOn: readyDeps,
        additionalSecretOutputs: ["stdout", "stderr"],
        customTimeouts: { create: stepTimeout(TIMEOUTS.kubeconfig), update: stepTimeout(TIMEOUTS.kubeconfig) },
      },
    );
    this.kubeconfig = pulumi.secret(
      pulumi.all([kubeconfig.stdout, publicAddress]).apply(([text, pub]) => rewriteKubeconfigServer(text, externalServer(node, pub, endpoint))),
    );

    this.endpoint = pulumi.output(controlPlaneEndpointOf(spec, node));
    this.host = host;
    this.ready = kubeconfig;
    this.cluster = init;
    this.upgraded = upgrade;
    this.renewed = renew;
    this.registerOutputs({ joinToken: this.joinToken, caCertHash: this.caCertHash, endpoint: this.endpoint, kubeconfig: this.kubeconfig });
  }
}
