// KubeadmCluster: the whole cluster as one ComponentResource (type kubeadm:index:Cluster). It validates
// its args with the stack-config validator (every problem at once, before anything is registered), then
// wires the graph as its children:
//   machines -> version check (control plane) -> NodePrep (all nodes in parallel) -> ControlPlane
//   (init, upgrade) -> Workers (joins in parallel; upgrades batch after batch)
//   -> k8s.Provider(kubeconfig) -> Flannel, MetricsServer (in parallel) -> DemoApp.
// Only wiring lives here; every decision is in the inner components' pure functions.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as tls from "@pulumi/tls";
import * as random from "@pulumi/random";
import { buildClusterSpecWithKey, ConfigError } from "../config";
import { ClusterSpec, MirrorProfile, NodeSpec } from "../spec";
import { Host } from "../machines/host";
import { provisionMachinesAndEndpoint } from "../machines";
import { NodePrep } from "../node/node-prep";
import { UndoPrepOptions, externalServer } from "../node/scripts";
import { ControlPlane } from "../node/control-plane";
import { ControlPlaneMember, Worker } from "../node/worker";
import { runsVip } from "../node/ha-scripts";
import { Flannel } from "../addons/flannel";
import { MetricsServer } from "../addons/metrics-server";
import { DemoApp } from "../addons/demo-app";
import { KubeletCsrApprover } from "../addons/csr-approver";
import { KubeadmClusterArgs, rawConfigOf } from "./args";
import { upgradeBatches } from "../upgrade-path";
import { CLUSTER_TYPE, urn, v1Name, v1TypeChain } from "./v1-urns";

export interface NodeSummary {
  readonly name: string;
  readonly role: string;
  readonly ip: string;
  readonly sshHost: pulumi.Output<string>;
  readonly sshPort: number;
  readonly sshUser: string;
}

/** Cluster names in use in this program: two clusters with one name would share VM and cloud names. */
const clusterNamesInUse = new Set<string>();

/** Validates args into the typed spec (ConfigError lists every problem). */
export function clusterSpecOf(name: string, args: KubeadmClusterArgs): ClusterSpec {
  return buildClusterSpecWithKey(rawConfigOf(args, name), args.sshPrivateKey);
}

export class KubeadmCluster extends pulumi.ComponentResource {
  /** The validated description the cluster was built from. */
  public readonly spec: ClusterSpec;
  /** admin kubeconfig (secret), server = an address the Pulumi host can reach. */
  public readonly kubeconfig: pulumi.Output<string>;
  /** https://<address>:6443 */
  public readonly apiEndpoint: pulumi.Output<string>;
  /** Every node: name, role, Kubernetes node IP, and how to SSH to it. */
  public readonly nodes: NodeSummary[];
  /** ClusterIP of the demo Service, or undefined when the demo is off. */
  public readonly demoServiceClusterIp?: pulumi.Output<string>;
  /** Secret; only when the component generated the SSH key (no sshPrivateKey given). */
  public readonly sshPrivateKey?: pulumi.Output<string>;
  /** The Kubernetes provider of this cluster: pass it as `{ provider }` to deploy your own objects. */
  public readonly provider: k8s.Provider;
  /** What every node-level step needs to reach its machine. */
  public readonly hosts: Host[];

  constructor(name: string, args: KubeadmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validated before anything is registered: a bad description leaves nothing half-built.
    const spec = clusterSpecOf(name, args);
    if (clusterNamesInUse.has(spec.clusterName)) {
      throw new ConfigError([`clusterName "${spec.clusterName}" is used by two clusters in this program; VM, cloud and resource names would collide: give each KubeadmCluster its own clusterName`]);
    }
    clusterNamesInUse.add(spec.clusterName);
    const adopt = args.adoptV1Stack === true;
    super(CLUSTER_TYPE, name, {}, adopt ? withV1Aliases(spec.clusterName, opts) : opts);
    this.spec = spec;
    const c = spec.clusterName;
    const child = { parent: this };

    const keys = sshKeys(spec, `${c}-ssh-key`, child);
    const machines = provisionMachinesAndEndpoint(spec, { privateKey: keys.privateKey, publicKey: keys.publicKey }, child);
    this.hosts = machines.hosts;
    // HA on Aliyun: the API load balancer (init waits for it; its addresses are the API's).
    const lb = machines.endpoint;
    const nodeOf = (h: Host): NodeSpec => {
      const n = spec.nodes.find((x) => x.name === h.name);
      if (!n) throw new Error(`internal: no node ${h.name} in the spec`);
      return n;
    };

    // The control plane's prep first: it carries the version check every other prep waits for.
    const preps = new Map<string, NodePrep>();
    const firstCp = this.hosts.find((h) => h.role === "control-plane");
    let gate: pulumi.Resource | undefined;
    for (const host of [...this.hosts].sort((a, b) => Number(b === firstCp) - Number(a === firstCp))) {
      const isGate = host === firstCp;
      const prep = new NodePrep(
        `${c}-${host.name}`,
        {
          host,
          node: nodeOf(host),
          clusterNodes: spec.nodes,
          settings: spec,
          undo: undoOf(spec),
          ...(isGate ? { checkVersion: spec } : { gate }),
          // HA on VirtualBox/existing hosts: keepalived + haproxy on every control plane.
          ...(host.role === "control-plane" && runsVip(spec) ? { vip: spec } : {}),
        },
        child,
      );
      if (isGate) gate = prep.versionChecked;
      preps.set(host.name, prep);
    }
    const prepOf = (h: Host): NodePrep => {
      const p = preps.get(h.name);
      if (!p) throw new Error(`internal: no NodePrep for ${h.name}`);
      return p;
    };

    const cpHosts = this.hosts.filter((h) => h.role === "control-plane");
    const cpHost = cpHosts[0];
    if (!cpHost) throw new Error("internal: validated spec has no control plane");
    // HA: the key the control-plane certificates are uploaded with (32 random bytes as hex, the format
    // kubeadm wants). RandomBytes, not RandomId: its outputs are secret in the state and its id is not the
    // value (@pulumi/random randomBytes: "Use this in preference to random.RandomId when the output is
    // considered sensitive"; RandomId's id is the value in base64url). One control plane needs none.
    const certificateKey =
      cpHosts.length > 1 ? pulumi.secret(new random.RandomBytes(`${c}-certificate-key`, { length: 32 }, child).hex) : undefined;
    const controlPlane = new ControlPlane(
      `${c}-${cpHost.name}`,
      {
        host: cpHost,
        node: nodeOf(cpHost),
        prep: prepOf(cpHost),
        settings: spec,
        ...(certificateKey ? { certificateKey } : {}),
        ...(lb ? { endpointReady: lb.ready, apiCertSans: lb.certSans, ...(lb.publicAddress ? { apiPublicAddress: lb.publicAddress } : {}) } : {}),
      },
      child,
    );

    const join = { token: controlPlane.joinToken, caCertHash: controlPlane.caCertHash, endpoint: controlPlane.endpoint, controlPlane: cpHost };
    // Further control planes join one after another (etcd adds one learner at a time); an upgrade takes
    // them one after another too, after the first.
    const members: ControlPlaneMember[] = [];
    // A certificate renewal restarts a control plane's etcd member, as an upgrade does: the next control
    // plane's upgrade and renewal, and the workers' upgrades, wait for both (one member down at a time).
    let upgradeAfter: pulumi.Resource[] = [controlPlane.upgraded, ...(controlPlane.renewed ? [controlPlane.renewed] : [])];
    for (const h of cpHosts.slice(1)) {
      const previous = members[members.length - 1];
      const member = new ControlPlaneMember(
        `${c}-${h.name}`,
        {
          host: h,
          node: nodeOf(h),
          prep: prepOf(h),
          join,
          settings: spec,
          upgradeAfter,
          certificateKey: certificateKey as pulumi.Output<string>,
          firstControlPlane: nodeOf(cpHost),
          // Not after the previous renewal: a renewal step created with its join finds fresh certificates
          // and does nothing (worker.ts), and waiting
          // for it would put the previous control plane's serving-cert approval on every join's path.
          joinAfter: previous ? [previous.join] : [],
          renewAfter: previous ? [previous.renewed] : controlPlane.renewed ? [controlPlane.renewed] : [],
        },
        child,
      );
      members.push(member);
      upgradeAfter = [member.upgraded, member.renewed];
    }
    // A version upgrade takes the workers batch after batch, after the control planes.
    const workers: Worker[] = [];
    for (const batch of upgradeBatches(this.hosts.filter((h) => h.role === "worker"), spec.kubernetes.upgradeBatchSize)) {
      const made = batch.map(
        (h) => new Worker(`${c}-${h.name}`, { host: h, node: nodeOf(h), prep: prepOf(h), join, settings: spec, keepV1NodeObject: adopt, upgradeAfter }, child),
      );
      workers.push(...made);
      upgradeAfter = made.map((w) => w.upgraded);
    }

    // The provider waits for every join: all Kubernetes objects then depend on the nodes, and the demo's
    // pods have workers to run on.
    this.provider = new k8s.Provider(
      `${c}-k8s`,
      {
        kubeconfig: controlPlane.kubeconfig,
        // Unchanged across kubeconfig changes (certificate renewal, a new public IP), so the provider is
        // only updated; a new cluster replaces the objects through replaceWith (addons/k8s-resources.ts).
        clusterIdentifier: `${spec.clusterName}-${pulumi.getStack()}`,
        // deleteUnreachable is deliberately not set: set, even to false, it overrides the
        // PULUMI_K8S_DELETE_UNREACHABLE variable (pulumi-kubernetes provider.go Configure: "If the
        // provider flag is set, use that value ... This will override the ENV var"), and true would make
        // a `pulumi refresh` while the machines are off drop every object from state (Read returns
        // "deleted" for an unreachable cluster). docs/lifecycle.md says when to set the variable.
      },
      // And for the last upgrade step: on a version edit the add-ons roll once every node is upgraded and
      // uncordoned (a rollout stuck on a drained node would stop the engine with that node cordoned).
      // Creating the upgrade steps runs nothing, so a first `up` waits for nothing more.
      { ...child, dependsOn: [controlPlane.ready, ...members.map((m) => m.joined), ...workers.map((w) => w.joined), ...upgradeAfter] },
    );
    const provider = this.provider;
    const lifecycle = { cluster: controlPlane.cluster, readyTimeout: addonReadyTimeout(spec.mirrors.profile) };

    const flannel = spec.flannel.enabled ? new Flannel(`${c}-flannel`, { spec, lifecycle }, { ...child, provider }) : undefined;
    // metrics-server's pods need the pod network: waiting for them before flannel runs only burns the timeout.
    const metrics = spec.metricsServer.enabled
      ? new MetricsServer(`${c}-metrics-server`, { spec, lifecycle }, { ...child, provider, dependsOn: flannel?.ready ?? [] })
      : undefined;
    // Its pods need the pod network too; nothing waits for it (it approves renewals, months later).
    if (spec.kubeletCsrApprover.enabled) {
      new KubeletCsrApprover(`${c}-kubelet-csr-approver`, { spec, lifecycle }, { ...child, provider, dependsOn: flannel?.ready ?? [] });
    }
    const addonReady = [...(flannel?.ready ?? []), ...(metrics?.ready ?? [])];
    const demo = spec.demo.enabled ? new DemoApp(`${c}-demo`, { spec, lifecycle, dependsOn: addonReady }, { ...child, provider }) : undefined;

    this.nodes = this.hosts.map((h) => ({
      name: h.name,
      role: h.role,
      ip: h.nodeIp,
      sshHost: pulumi.output(h.connection.host),
      sshPort: h.connection.port,
      sshUser: h.connection.user,
    }));
    this.kubeconfig = controlPlane.kubeconfig;
    // The address users reach: the public IP when the machine has one (Aliyun), else the node IP.
    // The address users reach (the kubeconfig's server): a public address when there is one (Aliyun), the
    // control-plane endpoint with several control planes, else the node IP.
    this.apiEndpoint = pulumi.output(lb?.publicAddress ?? cpHost.publicAddress ?? "").apply((pub) => externalServer(nodeOf(cpHost), pub, spec.kubernetes.controlPlaneEndpoint));
    this.demoServiceClusterIp = demo?.service.spec.clusterIP;
    this.sshPrivateKey = keys.generated ? keys.privateKey : undefined;
    this.registerOutputs({ kubeconfig: this.kubeconfig, apiEndpoint: this.apiEndpoint, demoServiceClusterIp: this.demoServiceClusterIp });
  }
}

/** What destroy undoes of node preparation: only on machines the program did not create. */
export function undoOf(spec: Pick<ClusterSpec, "existing">): UndoPrepOptions | undefined {
  return spec.existing === undefined
    ? undefined
    : { removePackages: spec.existing.removeKubePackages, restoreSwap: spec.existing.restoreSwap };
}

/**
 * How long Pulumi waits for add-on workloads to become ready. The provider's default is 10 minutes
 * (pulumi-kubernetes await: DefaultPodTimeoutMins etc.); behind the China mirrors the first pulls of
 * flannel, metrics-server and the demo images often take longer.
 */
export function addonReadyTimeout(profile: MirrorProfile): string | undefined {
  return profile === "china" ? "20m" : undefined;
}

/**
 * The key type to generate for the machines' provider. Aliyun's ImportKeyPair documents RSA, DSA and
 * ECDSA public keys only (api-ecs-2014-05-26-importkeypair; ED25519 is not listed), so Aliyun gets RSA
 * 4096; VirtualBox (cloud-init) and existing hosts take ED25519.
 */
export function generatedKeyType(provider: ClusterSpec["provider"]): { algorithm: "RSA"; rsaBits: number } | { algorithm: "ED25519" } {
  return provider === "aliyun" ? { algorithm: "RSA", rsaBits: 4096 } : { algorithm: "ED25519" };
}

/** SSH key pair to use: the configured one, or a generated pair kept (secret) in state. */
function sshKeys(
  spec: ClusterSpec,
  name: string,
  opts: pulumi.CustomResourceOptions,
): { privateKey: pulumi.Output<string>; publicKey: pulumi.Input<string>; generated: boolean } {
  if (spec.ssh.privateKey) {
    return { privateKey: spec.ssh.privateKey, publicKey: spec.ssh.publicKey ?? "", generated: false };
  }
  const key = new tls.PrivateKey(name, generatedKeyType(spec.provider), opts);
  return {
    privateKey: pulumi.secret(key.privateKeyOpenssh),
    // cloud-init and Aliyun want the bare "<type> AAAA..." line.
    publicKey: key.publicKeyOpenssh.apply((k) => k.trim()),
    generated: true,
  };
}

/**
 * Adds to the cluster and every resource below it an alias to its v0.1 URN (v1-urns.ts). The chain of
 * types is followed through the parents as they are constructed (parents always come first).
 */
function withV1Aliases(clusterName: string, opts: pulumi.ComponentResourceOptions | undefined): pulumi.ComponentResourceOptions {
  const chains = new WeakMap<pulumi.Resource, string[]>();
  const stack = pulumi.getStack();
  const project = pulumi.getProject();
  const transformation: pulumi.ResourceTransformation = (a) => {
    if (a.type === CLUSTER_TYPE) {
      // The cluster itself: new in this version, nothing to alias; its children start the chain.
      chains.set(a.resource, [CLUSTER_TYPE]);
      return undefined;
    }
    const parentChain = (a.opts.parent && chains.get(a.opts.parent)) || [CLUSTER_TYPE];
    const chain = [...parentChain, a.type];
    chains.set(a.resource, chain);
    const alias = urn(stack, project, v1TypeChain(chain), v1Name(clusterName, a.type, a.name));
    return { props: a.props, opts: pulumi.mergeOptions(a.opts, { aliases: [alias] }) };
  };
  return pulumi.mergeOptions(opts ?? {}, { transformations: [transformation] });
}
