// Composes the block readers into the ClusterSpec. Every problem is collected first and then thrown
// as one ConfigError, so a stack is fixed in one pass rather than one `pulumi up` per mistake.
import * as pulumi from "@pulumi/pulumi";
import { Cidr, cidrContains, cidrsOverlap, parseIpv4 } from "../net";
import { ClusterSpec, ControlPlaneEndpointSpec, MachineProvider, MirrorSpec, SshSpec, ExistingSpec } from "../spec";
import { Addons, checkAddonDependencies, checkChinaImages, readAddons } from "./addons";
import { readExisting } from "./existing";
import { AliyunRead, aliyunMachineNet, readAliyun } from "./aliyun";
import { KubernetesRead, readKubernetes } from "./kubernetes";
import { readMirrors } from "./mirrors";
import { MachineNet, NodesRead, readNodes } from "./nodes";
import { Block, ConfigError, DNS_LABEL, DNS_LABEL_HELP, P, Problems, RawConfig, isPlainObject, typeName } from "./reader";
import { readSsh } from "./ssh";
import { readControlPlaneEndpoint } from "./ha";
import { VBOX_NAT_NETWORK, VirtualBoxRead, readVirtualBox, virtualBoxMachineNet } from "./virtualbox";

export interface BuildOptions {
  /** The secret `sshPrivateKey` (readClusterSpec passes `config.getSecret`). Wins over a value in `raw`. */
  readonly privateKey?: pulumi.Output<string>;
}

/**
 * Pure: raw config -> validated, frozen ClusterSpec. Collects every problem, then throws one
 * ConfigError. `raw.sshPrivateKey` is also honoured (as a secret) when `opts.privateKey` is absent, so a
 * stack file read offline works: an encrypted `{secure: ...}` value there becomes a placeholder secret.
 */
export function buildClusterSpec(raw: RawConfig, opts: BuildOptions = {}): ClusterSpec {
  return buildClusterSpecTraced(raw, opts, undefined);
}

/** buildClusterSpec that also records every key path it reads into `trace` (for the key-table test). */
export function buildClusterSpecTraced(raw: RawConfig, opts: BuildOptions, trace: Set<string> | undefined): ClusterSpec {
  const probs = new Problems();
  if (!isPlainObject(raw)) throw new ConfigError([`${P}: the configuration must be a map of keys, got ${typeName(raw)}`]);
  const root = new Block("", "", raw, probs, trace);
  const blocks = readBlocks(root, opts, probs, trace);
  const endpoint = checkAcrossBlocks(blocks, probs);
  root.finish();
  if (probs.list.length > 0) throw new ConfigError(probs.list);
  return deepFreeze(assemble(blocks, endpoint));
}

/** What the block readers returned, for the checks across blocks and the final assembly. */
interface Blocks {
  readonly provider: MachineProvider | undefined;
  readonly clusterName: string;
  readonly vb: VirtualBoxRead | undefined;
  readonly al: AliyunRead | undefined;
  readonly existing: ExistingSpec | undefined;
  readonly nodes: NodesRead;
  readonly ssh: SshSpec;
  readonly k8s: KubernetesRead;
  readonly mirrors: MirrorSpec;
  readonly addons: Addons;
}

/** Reads every block. The order is the order problems are reported in. */
function readBlocks(root: Block, opts: BuildOptions, probs: Problems, trace: Set<string> | undefined): Blocks {
  // provider first: several defaults and checks depend on it.
  const provider = readProvider(root, probs);
  const clusterName = root.str("clusterName", "kubeadm", (s) => (DNS_LABEL.test(s) && s.length <= 40 ? undefined : `not a valid cluster name; use ${DNS_LABEL_HELP}, at most 40 (it prefixes VM and cloud names)`));
  const { vb, al, existing } = readProviderBlocks(root, provider, probs, trace);
  const nodes = readNodes(root, provider, machineNet(provider, vb, al), probs, trace);
  const ssh = readSsh(root, provider, opts.privateKey, probs);
  const k8s = readKubernetes(root.block("kubernetes"), provider, probs);
  const mirrors = readMirrors(root.block("mirrors"));
  const addons = readAddons(root, k8s.spec.version.minor, mirrors.profile, probs);
  return { provider, clusterName, vb, al, existing, nodes, ssh, k8s, mirrors, addons };
}

const PROVIDERS: readonly MachineProvider[] = ["virtualbox", "aliyun", "existing"];

function readProvider(root: Block, probs: Problems): MachineProvider | undefined {
  if (root.has("provider")) return root.oneOf<MachineProvider>("provider", undefined, PROVIDERS);
  root.raw("provider");
  probs.at(`${P}provider`, 'required; one of "virtualbox", "aliyun", "existing" (pulumi config set provider virtualbox)');
  return undefined;
}

/**
 * Provider blocks: parsed only for their provider; given for another provider they are an error
 * (like sshHost on a VM) rather than silently ignored, so a stack never looks configured when it is not.
 */
function readProviderBlocks(
  root: Block,
  provider: MachineProvider | undefined,
  probs: Problems,
  trace: Set<string> | undefined,
): { vb?: VirtualBoxRead; al?: AliyunRead; existing?: ExistingSpec } {
  // All blocks are checked before any is read: that fixes the order their problems are reported in.
  const vbBlock = providerBlock(root, "virtualbox", provider, probs, trace);
  const alBlock = providerBlock(root, "aliyun", provider, probs, trace);
  const exBlock = providerBlock(root, "existing", provider, probs, trace);
  return {
    vb: vbBlock ? readVirtualBox(vbBlock, probs) : undefined,
    al: alBlock ? readAliyun(alBlock, probs) : undefined,
    existing: exBlock ? readExisting(exBlock) : undefined,
  };
}

const PROVIDER_BLOCK_READERS = {
  virtualbox: (b: Block) => readVirtualBox(b, new Problems()),
  aliyun: (b: Block) => readAliyun(b, new Problems()),
  existing: (b: Block) => readExisting(b),
};

function providerBlock(root: Block, k: MachineProvider, provider: MachineProvider | undefined, probs: Problems, trace: Set<string> | undefined): Block | undefined {
  if (provider === k) return root.block(k);
  const given = root.raw(k);
  // Still read the block's keys for the key table (a throwaway reader, nothing reported).
  if (trace) PROVIDER_BLOCK_READERS[k](new Block(k, k, {}, new Problems(), trace));
  if (given !== undefined && provider !== undefined) {
    probs.at(`${P}${k}`, `only used with provider "${k}" (provider is "${provider}"); remove the ${k} block from the stack config`);
  }
  return undefined;
}

/** Machine network: node IPs must be inside it (existing hosts have none declared). */
function machineNet(provider: MachineProvider | undefined, vb: VirtualBoxRead | undefined, al: AliyunRead | undefined): MachineNet {
  if (provider === "virtualbox") return virtualBoxMachineNet(vb);
  if (provider === "aliyun") return aliyunMachineNet(al);
  return { reserved: new Map() };
}

function checkAcrossBlocks(b: Blocks, probs: Problems): ControlPlaneEndpointSpec | undefined {
  checkSubnetsClearOfMachines(b, probs);
  checkPodSubnetRoom(b.k8s.pod, b.nodes, probs);
  checkAddonDependencies(b.addons, probs);
  checkChinaImages(b.addons, b.mirrors, probs);
  return readControlPlaneEndpoint(
    { provider: b.provider, configured: b.k8s.endpoint, drafts: b.nodes.drafts, net: machineNet(b.provider, b.vb, b.al), vswitch: b.al?.vswitch, aliyun: b.al?.spec, minor: b.k8s.versionValid ? b.k8s.spec.version.minor : undefined },
    probs,
  );
}

/** The machines' own networks, which pod and service ranges must not overlap [FACTS §7.3]. */
function machineRanges({ provider, vb, al }: Blocks): { key: string; cidr: Cidr }[] {
  const machineNets: { key: string; cidr: Cidr }[] = [];
  if (vb?.cidr) machineNets.push({ key: "virtualbox.hostOnlyCidr", cidr: vb.cidr });
  if (provider === "virtualbox") machineNets.push({ key: "the VirtualBox NAT network", cidr: VBOX_NAT_NETWORK });
  if (al?.vpc) machineNets.push({ key: "aliyun.vpcCidr", cidr: al.vpc });
  return machineNets;
}

/** Address ranges that must not overlap [FACTS §7.3]: pod, service, and the machine network. */
function checkSubnetsClearOfMachines(b: Blocks, probs: Problems): void {
  const machineNets = machineRanges(b);
  const fix = 'pick a range the machines do not use (defaults: podSubnet "10.244.0.0/16", serviceSubnet "10.96.0.0/12")';
  for (const [k, c] of [["podSubnet", b.k8s.pod], ["serviceSubnet", b.k8s.svc]] as const) {
    if (!c) continue;
    for (const m of machineNets) {
      if (cidrsOverlap(c, m.cidr)) probs.bad(`${P}kubernetes.${k}`, c.text, `overlaps ${m.key} "${m.cidr.text}"; ${fix}`);
    }
    // Existing hosts have no declared network: their own addresses must stay outside.
    if (b.provider === "existing") {
      const inside = b.nodes.drafts.filter((d) => {
        const ip = parseIpv4(d.spec.ip);
        return ip !== undefined && cidrContains(c, ip);
      });
      if (inside.length > 0) probs.bad(`${P}kubernetes.${k}`, c.text, `contains node IPs ${inside.map((d) => `${d.spec.name} (${d.spec.ip})`).join(", ")}; ${fix}`);
    }
  }
}

/** Each node gets a /24 of the pod subnet (kube-controller-manager's default node mask). */
function checkPodSubnetRoom(pod: Cidr | undefined, { drafts, complete }: NodesRead, probs: Problems): void {
  if (!pod || !complete || drafts.length === 0) return;
  const room = pod.prefix <= 24 ? 2 ** (24 - pod.prefix) : 0;
  if (room < drafts.length) {
    probs.bad(`${P}kubernetes.podSubnet`, pod.text, `too small for ${drafts.length} nodes: each node gets a /24 from it; use a /${Math.max(8, 24 - Math.ceil(Math.log2(drafts.length)))} or larger, e.g. "10.244.0.0/16"`);
  }
}

/** The spec, once there are no problems. */
function assemble(b: Blocks, endpoint: ControlPlaneEndpointSpec | undefined): ClusterSpec {
  // Control plane first, then workers in config order.
  const drafts = b.nodes.drafts;
  const nodes = [...drafts.filter((d) => d.spec.role === "control-plane"), ...drafts.filter((d) => d.spec.role === "worker")].map((d) => d.spec);
  return {
    clusterName: b.clusterName,
    // Set: a missing or bad provider is a problem, and there are none here.
    provider: b.provider as MachineProvider,
    nodes,
    ssh: b.ssh,
    kubernetes: endpoint ? { ...b.k8s.spec, controlPlaneEndpoint: endpoint } : b.k8s.spec,
    mirrors: b.mirrors,
    flannel: b.addons.flannel,
    metricsServer: b.addons.metricsServer,
    kubeletCsrApprover: b.addons.kubeletCsrApprover,
    demo: b.addons.demo,
    ...(b.vb?.spec ? { virtualbox: b.vb.spec } : {}),
    ...(b.al ? { aliyun: b.al.spec } : {}),
    ...(b.provider === "existing" ? { existing: b.existing ?? { removeKubePackages: true, restoreSwap: false } } : {}),
  };
}

function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object" || pulumi.Output.isInstance(v)) return v;
  for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  return Object.freeze(v);
}
