// The one place that reads stack config: fills defaults, validates everything and returns the frozen,
// typed ClusterSpec (spec.ts). Components never read pulumi.Config. Every problem is collected and
// reported at once (ConfigError), each naming the full key, the bad value, what is allowed and the fix,
// because a user fixing a stack file one error per `pulumi up` is slow and a half-checked config fails
// 20 minutes later on a VM.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, MachineProvider } from "../spec";
import { Cidr, cidrContains, cidrsOverlap, parseIpv4 } from "../net";
import { checkAddonDependencies, readAddons } from "./addons";
import { aliyunMachineNet, readAliyun } from "./aliyun";
import { readKubernetes } from "./kubernetes";
import { readMirrors } from "./mirrors";
import { MachineNet, readNodes } from "./nodes";
import { Block, ConfigError, DNS_LABEL, DNS_LABEL_HELP, P, Problems, RawConfig, isPlainObject, typeName } from "./reader";
import { privateKeyProblem, readSsh } from "./ssh";
import { VBOX_NAT_NETWORK, readVirtualBox, virtualBoxMachineNet } from "./virtualbox";

export { ConfigError, PROJECT } from "./reader";
export type { RawConfig } from "./reader";
export { CONFIG_KEYS } from "./keys";
export type { ConfigKeyDoc } from "./keys";
export { MIRROR_PROFILES, rewriteImageHost } from "./mirrors";
export { checkOpenSshPublicKey, privateKeyProblem } from "./ssh";
export { ENCRYPTED_PLACEHOLDER, pulumiConfigMapFromStackFile, rawConfigFromStackFile, stackFileSecretKeys } from "./stack-file";

// ---------------------------------------------------------------------------------------------------

function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object" || pulumi.Output.isInstance(v)) return v;
  for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  return Object.freeze(v);
}

const PROVIDERS: readonly MachineProvider[] = ["virtualbox", "aliyun", "existing"];

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

  // provider first: several defaults and checks depend on it.
  let provider: MachineProvider | undefined;
  if (!root.has("provider")) {
    root.raw("provider");
    probs.at(`${P}provider`, 'required; one of "virtualbox", "aliyun", "existing" (pulumi config set provider virtualbox)');
  } else {
    provider = root.oneOf<MachineProvider>("provider", undefined, PROVIDERS);
  }
  const clusterName = root.str("clusterName", "kubeadm", (s) => (DNS_LABEL.test(s) && s.length <= 40 ? undefined : `not a valid cluster name; use ${DNS_LABEL_HELP}, at most 40 (it prefixes VM and cloud names)`));

  // Provider blocks: parsed only for their provider; given for another provider they are an error
  // (like sshHost on a VM) rather than silently ignored, so a stack never looks configured when it is not.
  const providerBlock = (k: "virtualbox" | "aliyun"): Block | undefined => {
    if (provider === k) return root.block(k);
    const given = root.raw(k);
    // Still read the block's keys for the key table (a throwaway reader, nothing reported).
    if (trace) (k === "virtualbox" ? readVirtualBox : readAliyun)(new Block(k, k, {}, new Problems(), trace), new Problems());
    if (given !== undefined && provider !== undefined) {
      probs.at(`${P}${k}`, `only used with provider "${k}" (provider is "${provider}"); remove the ${k} block from the stack config`);
    }
    return undefined;
  };
  const vbBlock = providerBlock("virtualbox");
  const alBlock = providerBlock("aliyun");
  const vb = vbBlock ? readVirtualBox(vbBlock, probs) : undefined;
  const al = alBlock ? readAliyun(alBlock, probs) : undefined;

  // Machine network: node IPs must be inside it, pod/service ranges must not overlap it.
  const net: MachineNet = provider === "virtualbox" ? virtualBoxMachineNet(vb) : provider === "aliyun" ? aliyunMachineNet(al) : { reserved: new Map() };

  // Machines: nodes or nodeCount.
  const { drafts, complete: nodesComplete } = readNodes(root, provider, net, probs, trace);

  const sshSpec = readSsh(root, provider, opts.privateKey, probs);

  // Kubernetes, mirrors and add-ons
  const k8s = readKubernetes(root.block("kubernetes"), provider, probs);
  const mirrors = readMirrors(root.block("mirrors"));
  const { flannel, metricsServer, demo } = readAddons(root, k8s.spec.version.minor, mirrors.profile, probs);

  // Address ranges that must not overlap [FACTS §7.3]: pod, service, and the machine network.
  const machineNets: { key: string; cidr: Cidr }[] = [];
  if (vb?.cidr) machineNets.push({ key: "virtualbox.hostOnlyCidr", cidr: vb.cidr });
  if (provider === "virtualbox") machineNets.push({ key: "the VirtualBox NAT network", cidr: VBOX_NAT_NETWORK });
  if (al?.vpc) machineNets.push({ key: "aliyun.vpcCidr", cidr: al.vpc });
  const fix = 'pick a range the machines do not use (defaults: podSubnet "10.244.0.0/16", serviceSubnet "10.96.0.0/12")';
  for (const [k, c] of [["podSubnet", k8s.pod], ["serviceSubnet", k8s.svc]] as const) {
    if (!c) continue;
    for (const m of machineNets) {
      if (cidrsOverlap(c, m.cidr)) probs.bad(`${P}kubernetes.${k}`, c.text, `overlaps ${m.key} "${m.cidr.text}"; ${fix}`);
    }
    // Existing hosts have no declared network: their own addresses must stay outside.
    if (provider === "existing") {
      const inside = drafts.filter((d) => {
        const ip = parseIpv4(d.spec.ip);
        return ip !== undefined && cidrContains(c, ip);
      });
      if (inside.length > 0) probs.bad(`${P}kubernetes.${k}`, c.text, `contains node IPs ${inside.map((d) => `${d.spec.name} (${d.spec.ip})`).join(", ")}; ${fix}`);
    }
  }
  // Each node gets a /24 of the pod subnet (kube-controller-manager's default node mask).
  if (k8s.pod && nodesComplete && drafts.length > 0) {
    const room = k8s.pod.prefix <= 24 ? 2 ** (24 - k8s.pod.prefix) : 0;
    if (room < drafts.length) {
      probs.bad(`${P}kubernetes.podSubnet`, k8s.pod.text, `too small for ${drafts.length} nodes: each node gets a /24 from it; use a /${Math.max(8, 24 - Math.ceil(Math.log2(drafts.length)))} or larger, e.g. "10.244.0.0/16"`);
    }
  }
  // A control plane without workers is fine: the init step removes its NoSchedule taint so the demo runs.
  checkAddonDependencies({ flannel, metricsServer, demo }, probs);

  root.finish();
  if (probs.list.length > 0) throw new ConfigError(probs.list);

  // Control plane first, then workers in config order.
  const nodes = [...drafts.filter((d) => d.spec.role === "control-plane"), ...drafts.filter((d) => d.spec.role === "worker")].map((d) => d.spec);
  const spec: ClusterSpec = {
    clusterName,
    provider: provider as MachineProvider,
    nodes,
    ssh: sshSpec,
    kubernetes: k8s.spec,
    mirrors,
    flannel,
    metricsServer,
    demo,
    ...(vb?.spec ? { virtualbox: vb.spec } : {}),
    ...(al ? { aliyun: al.spec } : {}),
  };
  return deepFreeze(spec);
}

// ---------------------------------------------------------------------------------------------------
// Reading from Pulumi

/** Top-level keys whose values are structured (JSON in pulumi config). */
const OBJECT_KEYS = ["nodes", "nodeCount", "ssh", "kubernetes", "mirrors", "flannel", "metricsServer", "demo", "virtualbox", "aliyun"];

/**
 * Reads the stack config of project kubeadm-cluster and returns the validated spec (throws ConfigError).
 * sshPrivateKey is read with getSecret, so it stays a secret; its text is checked for the mistakes
 * that would otherwise only show up as an SSH failure (the .pub file, a passphrase).
 */
export function readClusterSpec(cfg: pulumi.Config = new pulumi.Config()): ClusterSpec {
  const ns = `${cfg.name}:`;
  const raw: Record<string, unknown> = {};
  // allConfig() also reveals keys no one reads (typos like `kubernets`), which buildClusterSpec reports.
  for (const full of Object.keys(pulumi.runtime.allConfig())) {
    if (!full.startsWith(ns)) continue;
    const k = full.slice(ns.length);
    if (k === "sshPrivateKey") continue;
    const v = cfg.get(k);
    if (v === undefined) continue;
    if (OBJECT_KEYS.includes(k)) {
      try {
        raw[k] = JSON.parse(v);
      } catch {
        raw[k] = v; // reported by buildClusterSpec as "must be an object/list"
      }
    } else {
      raw[k] = v;
    }
  }
  const keyText = pulumi.runtime.getConfig(`${ns}sshPrivateKey`);
  const privateKey = cfg.getSecret("sshPrivateKey");
  const extra = keyText !== undefined ? privateKeyProblem(keyText) : undefined;
  try {
    const spec = buildClusterSpec(raw, { privateKey: keyText === "" ? undefined : privateKey });
    if (extra) throw new ConfigError([extra]);
    return spec;
  } catch (e) {
    if (e instanceof ConfigError && extra && !e.problems.includes(extra)) throw new ConfigError([...e.problems, extra]);
    throw e;
  }
}
