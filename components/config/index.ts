// The one place that reads stack config: fills defaults, validates everything and returns the frozen,
// typed ClusterSpec (spec.ts). Components never read pulumi.Config. Every problem is collected and
// reported at once (ConfigError), each naming the full key, the bad value, what is allowed and the fix,
// because a user fixing a stack file one error per `pulumi up` is slow and a half-checked config fails
// 20 minutes later on a VM.
import * as pulumi from "@pulumi/pulumi";
import { AliyunSpec, ClusterSpec, MachineProvider, NodeRole, NodeSpec, SshSpec, VirtualBoxSpec, VmSize } from "../spec";
import { Cidr, cidrContains, cidrContainsCidr, cidrsOverlap, formatIpv4, lastAddress, mustParseCidr, parseCidr, parseIpv4 } from "../net";
import { checkAddonDependencies, readAddons } from "./addons";
import { readKubernetes } from "./kubernetes";
import { readMirrors } from "./mirrors";
import {
  Block, ConfigError, DNS_LABEL, DNS_LABEL_HELP, P, Problems, RawConfig, checkCidrText, checkDnsLabel, checkIpv4, checkLocalPath,
  isPlainObject, readCidr, typeName,
} from "./reader";

export { ConfigError, PROJECT } from "./reader";
export type { RawConfig } from "./reader";
export { CONFIG_KEYS } from "./keys";
export type { ConfigKeyDoc } from "./keys";
export { MIRROR_PROFILES, rewriteImageHost } from "./mirrors";
export { ENCRYPTED_PLACEHOLDER, pulumiConfigMapFromStackFile, rawConfigFromStackFile, stackFileSecretKeys } from "./stack-file";

/** VirtualBox 7 on Linux/macOS only allows host-only IPs here without /etc/vbox/networks.conf [FACTS §6.5]. */
const VBOX_ALLOWED_RANGE = mustParseCidr("192.168.56.0/21");
/** Every VM's NAT NIC (NIC1) lives here [FACTS §6.6]; pod/service ranges overlapping it break routing. */
const VBOX_NAT_NETWORK = mustParseCidr("10.0.2.0/24");



/** Best-effort recognition of an OpenSSH public key line: type, base64 blob whose embedded type matches. */
export function checkOpenSshPublicKey(v: string): string | undefined {
  const fix = 'expected one line like "ssh-ed25519 AAAAC3Nza... you@host" (the content of ~/.ssh/id_ed25519.pub)';
  if (v.includes("PRIVATE KEY")) return `this is a private key, not a public key; ${fix}`;
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?\s*$/.exec(v);
  if (!m) return `not an OpenSSH public key; ${fix}`;
  const blob = Buffer.from(m[2], "base64");
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const embedded = len > 0 && len + 4 <= blob.length ? blob.subarray(4, 4 + len).toString("latin1") : undefined;
  if (embedded !== m[1]) return `the key data does not start with the key type "${m[1]}" (truncated or mangled?); ${fix}`;
  return undefined;
}

/**
 * Checks the private key text (never echoed: it is secret). Lenient: only rejects what certainly does
 * not work: not a PEM/OpenSSH private key (e.g. the .pub file), or one protected by a passphrase,
 * which the SSH connection here cannot unlock.
 */
export function privateKeyProblem(text: string): string | undefined {
  const key = `${P}sshPrivateKey`;
  const how = "set it with: cat ~/.ssh/id_ed25519 | pulumi config set --secret sshPrivateKey";
  if (/^\s*(ssh-|ecdsa-|sk-)/.test(text)) return `${key}: this is a public key, not a private key; ${how}`;
  const m = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----([\s\S]*?)-----END \1PRIVATE KEY-----/.exec(text);
  if (!m) return `${key}: not a PEM or OpenSSH private key (no "-----BEGIN ... PRIVATE KEY-----" block); ${how}`;
  const body = m[2];
  if (/Proc-Type:\s*4,ENCRYPTED/.test(body) || m[1] === "ENCRYPTED ") return `${key}: the key is protected by a passphrase, which is not supported; use a key without one (ssh-keygen -t ed25519 -N '' -f ./cluster-key)`;
  if (m[1] === "OPENSSH ") {
    const blob = Buffer.from(body.replace(/\s+/g, ""), "base64");
    const magic = "openssh-key-v1\0";
    if (blob.subarray(0, magic.length).toString("latin1") === magic && blob.length >= magic.length + 4) {
      const n = blob.readUInt32BE(magic.length);
      const cipher = blob.subarray(magic.length + 4, magic.length + 4 + n).toString("latin1");
      if (cipher !== "none") return `${key}: the key is protected by a passphrase (cipher ${cipher}), which is not supported; use a key without one (ssh-keygen -t ed25519 -N '' -f ./cluster-key)`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Node list

interface NodeDraft {
  readonly spec: NodeSpec;
  /** Message prefix for this node's ip, e.g. "kubeadm-cluster:nodes[1].ip" or "kubeadm-cluster:nodeCount (generated k8s-worker-3 ip)". */
  readonly ipKey: string;
  readonly nameKey: string;
  /** How to fix an IP problem of this node. */
  readonly ipFix: string;
  /** From nodeCount: one IP problem is enough (the following nodes only repeat it). */
  readonly generated?: boolean;
}

interface MachineNet {
  /** The network node IPs must be inside (undefined: no constraint, e.g. existing hosts). */
  readonly cidr?: Cidr;
  /** Its key for messages, e.g. "virtualbox.hostOnlyCidr". */
  readonly cidrKey?: string;
  /** Addresses inside it that nodes may not use, with the reason. */
  readonly reserved: ReadonlyMap<number, string>;
}

const NODE_ROLES: readonly NodeRole[] = ["control-plane", "worker"];

/**
 * One entry of `nodes`. Missing/bad fields were reported; the result still carries the valid ones so
 * the IP checks run on an entry whose name is wrong (each mistake reported in the same run).
 */
function readNodeItem(b: Block, provider: MachineProvider | undefined, probs: Problems): Partial<NodeSpec> {
  const name = b.reqStr("name", 'e.g. name: "k8s-worker-1"', checkDnsLabel);
  let role: NodeRole | undefined;
  if (b.has("role")) role = b.oneOf<NodeRole>("role", undefined, NODE_ROLES);
  else {
    b.raw("role");
    probs.at(b.key("role"), 'required; one of "control-plane", "worker"');
  }
  const ip = b.reqStr("ip", 'the node\'s IPv4 address, e.g. ip: "192.168.56.10"', checkIpv4);
  const base = { ...(name !== undefined ? { name } : {}), ...(role !== undefined ? { role } : {}), ...(ip !== undefined ? { ip } : {}) };
  // sshHost/sshPort/publicIp describe machines made elsewhere; for VMs the program knows them itself.
  if (provider !== "existing") {
    for (const k of ["sshHost", "sshPort", "publicIp"]) {
      const v = b.raw(k);
      if (v === undefined || provider === undefined) continue; // no provider: already reported
      const why = provider === "aliyun" ? "ECS addresses come from the cloud" : "VMs are reached on their node IP";
      b.bad(k, v, `only used with provider "existing" (provider is "${provider}"; ${why}); remove it`);
    }
    b.finish();
    return base;
  }
  const sshHost = b.str("sshHost", undefined, (s) => (/^[A-Za-z0-9.:-]+$/.test(s) ? undefined : 'not a host name or IP address, e.g. "203.0.113.10"'));
  const sshPort = b.int("sshPort", undefined, { min: 1, max: 65535 });
  const publicIp = b.str("publicIp", undefined, checkIpv4);
  b.finish();
  return {
    ...base,
    ...(sshHost !== undefined ? { sshHost } : {}),
    ...(sshPort !== undefined ? { sshPort } : {}),
    ...(publicIp !== undefined ? { publicIp } : {}),
  };
}

/** `nodes`; `complete` is false when an entry could not be fully read (so role counting would mislead). */
function readNodeList(root: Block, provider: MachineProvider | undefined, probs: Problems, trace: Set<string> | undefined): { drafts: NodeDraft[]; complete: boolean } {
  const v = root.raw("nodes");
  // Read an item's keys once even for an empty list, so the key table test sees them.
  if (trace) readNodeItem(new Block("nodes[0]", "nodes[]", {}, new Problems(), trace), provider, new Problems());
  if (v === undefined) return { drafts: [], complete: true };
  if (!Array.isArray(v)) {
    probs.bad(`${P}nodes`, v, `must be a list of {name, role, ip}, got ${typeName(v)}`);
    return { drafts: [], complete: false };
  }
  const drafts: NodeDraft[] = [];
  let complete = true;
  v.forEach((item: unknown, i: number) => {
    const path = `nodes[${i}]`;
    if (!isPlainObject(item)) {
      probs.bad(`${P}${path}`, item, `must be an object {name, role, ip}, got ${typeName(item)}`);
      complete = false;
      return;
    }
    const b = new Block(path, "nodes[]", item, probs, trace);
    const part = readNodeItem(b, provider, probs);
    if (part.name === undefined || part.role === undefined) complete = false;
    if (part.ip === undefined) {
      complete = false;
      return;
    }
    // A partial entry only feeds the IP checks; the spec is never built while problems exist.
    const spec = { name: part.name ?? "", role: part.role ?? "worker", ...part } as NodeSpec;
    drafts.push({ spec, ipKey: b.key("ip"), nameKey: b.key("name"), ipFix: `change ${path}.ip` });
  });
  return { drafts, complete };
}

/** `nodeCount`; `complete` is false when the list could not be generated (reported already). */
function readNodeCount(root: Block, provider: MachineProvider | undefined, defaultFirstIp: number | undefined, probs: Problems): { drafts: NodeDraft[]; complete: boolean } {
  const b = root.block("nodeCount");
  const workers = b.int("workers", 1, { min: 0, max: 1000 });
  const step = b.int("ipStep", 10, { min: 1, max: 65536 });
  const prefix = b.str("namePrefix", "k8s", (s) => (DNS_LABEL.test(s) && s.length <= 50 ? undefined : `not a valid name prefix; use ${DNS_LABEL_HELP}, at most 50 so "-worker-N" fits`));
  let first: number | undefined;
  if (b.has("firstIp")) {
    const t = b.str("firstIp", undefined, checkIpv4);
    first = t === undefined ? undefined : parseIpv4(t);
  } else {
    b.raw("firstIp");
    first = defaultFirstIp;
    if (root.has("nodeCount") && first === undefined && provider === "existing") {
      probs.at(b.key("firstIp"), 'required for provider "existing" (there is no network to derive it from); set it, or list the hosts in nodes');
    }
  }
  b.finish();
  if (!root.has("nodeCount")) return { drafts: [], complete: true };
  if (first === undefined || b.broken) return { drafts: [], complete: false };
  const drafts: NodeDraft[] = [];
  for (let i = 0; i <= workers; i++) {
    const name = i === 0 ? `${prefix}-control` : `${prefix}-worker-${i}`;
    const ipN = first + step * i;
    if (ipN > 0xffffffff) {
      probs.at(b.key(), `generated node ${name} would get an address beyond 255.255.255.255; lower workers or ipStep, or lower firstIp`);
      return { drafts, complete: false };
    }
    drafts.push({
      spec: { name, role: i === 0 ? "control-plane" : "worker", ip: formatIpv4(ipN) },
      ipKey: `${b.key()} (generated ${name} ip)`,
      nameKey: `${b.key()} (generated ${name} name)`,
      ipFix: "change nodeCount.firstIp / ipStep / workers, or list the nodes explicitly in nodes",
      generated: true,
    });
  }
  return { drafts, complete: true };
}

function checkNodes(drafts: NodeDraft[], net: MachineNet, probs: Problems, countRoles: boolean): void {
  const cps = drafts.filter((d) => d.spec.role === "control-plane");
  if (!countRoles) {
    // An entry was unreadable (reported already); counting roles without it would mislead.
  } else if (cps.length === 0) {
    probs.at(`${P}nodes`, 'no node has role "control-plane"; exactly one is required (mark one node role: control-plane)');
  } else if (cps.length > 1) {
    probs.at(`${P}nodes`, `${cps.length} nodes have role "control-plane" (${cps.map((d) => d.spec.name).join(", ")}): exactly one is supported, HA control planes are not supported yet; make the others role: worker`);
  }
  const byName = new Map<string, NodeDraft>();
  const byIp = new Map<string, NodeDraft>();
  let generatedReported = false;
  for (const d of drafts) {
    // An empty name means it was missing or invalid (reported already).
    const n = d.spec.name ? byName.get(d.spec.name) : undefined;
    if (n) probs.bad(d.nameKey, d.spec.name, `duplicate node name (also ${n.nameKey.slice(P.length)}); names must be unique`);
    else if (d.spec.name) byName.set(d.spec.name, d);
    const o = byIp.get(d.spec.ip);
    if (o) probs.bad(d.ipKey, d.spec.ip, `duplicate node IP (also ${o.ipKey.slice(P.length)}); IPs must be unique`);
    else byIp.set(d.spec.ip, d);
    const ip = parseIpv4(d.spec.ip);
    if (ip === undefined || !net.cidr || (d.generated && generatedReported)) continue;
    const before = probs.list.length;
    if (!cidrContains(net.cidr, ip)) {
      probs.bad(d.ipKey, d.spec.ip, `outside ${net.cidrKey} "${net.cidr.text}"; ${d.ipFix} to an address inside it, or change ${net.cidrKey}`);
    } else if (net.reserved.has(ip)) {
      probs.bad(d.ipKey, d.spec.ip, `${net.reserved.get(ip)}; ${d.ipFix} (e.g. "${formatIpv4(net.cidr.network + 10)}")`);
    }
    if (d.generated && probs.list.length > before) generatedReported = true;
  }
}

// ---------------------------------------------------------------------------------------------------
// Blocks

function readVmSize(parent: Block, k: "controlPlane" | "worker", def: VmSize): VmSize {
  const b = parent.block(k);
  const cp = k === "controlPlane";
  const size: VmSize = {
    cpus: b.int("cpus", def.cpus, { min: 2, max: 64, hint: "kubeadm's preflight needs at least 2 CPUs" }),
    memoryMb: b.int("memoryMb", def.memoryMb, { min: 2048, max: 1048576, hint: `kubeadm needs about 2 GiB${cp ? "; 4096 recommended for the control plane" : ""}` }),
    diskGb: b.int("diskGb", def.diskGb, { min: 10, max: 2048, hint: "images and etcd need room" }),
  };
  b.finish();
  return size;
}

interface VirtualBoxRead {
  readonly spec: VirtualBoxSpec | undefined;
  readonly cidr: Cidr | undefined;
}

function readVirtualBox(b: Block, probs: Problems): VirtualBoxRead {
  const { text: hostOnlyCidr, cidr } = readCidr(b, "hostOnlyCidr", "192.168.56.0/24");
  const allowOutside = b.bool("allowOutsideDefaultRange", false);
  if (cidr && !allowOutside && !cidrContainsCidr(VBOX_ALLOWED_RANGE, cidr)) {
    probs.bad(b.key("hostOnlyCidr"), hostOnlyCidr,
      "outside 192.168.56.0/21: VirtualBox 6.1.28+ on Linux/macOS refuses host-only addresses outside that range (E_ACCESSDENIED) unless /etc/vbox/networks.conf allows them; " +
      'use e.g. "192.168.56.0/24", or add a line like "* 10.0.0.0/8 192.168.0.0/16" to /etc/vbox/networks.conf and set virtualbox.allowOutsideDefaultRange: true (Windows hosts are not restricted)');
  }
  if (cidr && cidr.prefix > 29) probs.bad(b.key("hostOnlyCidr"), hostOnlyCidr, "too small: needs room for the host address and the nodes; use /29 or larger, e.g. /24");
  const imagePath = b.reqStr("imagePath",
    'download the Ubuntu 22.04 cloud image (https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.ova) and set virtualbox.imagePath to its absolute path',
    (s) => checkLocalPath(s) ?? (/\.(ova|vmdk)$/i.test(s) ? undefined : "must be an Ubuntu 22.04 cloud image ending in .ova or .vmdk"));
  const baseFolder = b.str("baseFolder", undefined, checkLocalPath);
  const spec = {
    vboxManage: b.str("vboxManage", "VBoxManage"),
    hostOnlyAdapter: b.str("hostOnlyAdapter", "vboxnet0"),
    hostOnlyCidr: cidr ? cidr.text : hostOnlyCidr,
    imagePath: imagePath ?? "",
    ...(baseFolder !== undefined ? { baseFolder } : {}),
    controlPlane: readVmSize(b, "controlPlane", { cpus: 2, memoryMb: 4096, diskGb: 20 }),
    worker: readVmSize(b, "worker", { cpus: 2, memoryMb: 2048, diskGb: 20 }),
    bootTimeoutSeconds: b.int("bootTimeoutSeconds", 600, { min: 30, max: 7200 }),
  };
  b.finish();
  return { spec, cidr };
}

interface AliyunRead {
  readonly spec: AliyunSpec;
  readonly vpc?: Cidr;
  readonly vswitch?: Cidr;
}

const DISK_CATEGORIES = ["cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry"] as const;

function readAliyun(b: Block, probs: Problems): AliyunRead {
  const region = b.str("region", "cn-hangzhou", (s) => (/^[a-z]{2,3}(-[a-z0-9]+)+$/.test(s) ? undefined : 'not a region id; e.g. "cn-hangzhou"'));
  const zone = b.str("zone", undefined, (s) => (/^[a-z]{2,3}(-[a-z0-9]+)+$/.test(s) ? undefined : 'not a zone id; e.g. "cn-hangzhou-i"'));
  if (zone !== undefined && !zone.startsWith(`${region}-`)) probs.bad(b.key("zone"), zone, `not a zone of aliyun.region "${region}"; use "${region}-<letter>" or remove it`);
  const imageId = b.str("imageId", undefined);
  const imageNameRegex = b.str("imageNameRegex", "^ubuntu_22_04_x64_20G_alibase_", (s) => {
    try {
      new RegExp(s);
      return undefined;
    } catch (e) {
      return `not a valid regular expression (${(e as Error).message})`;
    }
  });
  const { text: vpcText, cidr: vpc } = readCidr(b, "vpcCidr", "172.16.0.0/16");
  const { text: vswText, cidr: vswitch } = readCidr(b, "vswitchCidr", "172.16.1.0/24");
  if (vpc && vswitch && !cidrContainsCidr(vpc, vswitch)) {
    probs.bad(b.key("vswitchCidr"), vswText, `not inside aliyun.vpcCidr "${vpc.text}"; a vSwitch is a part of its VPC, e.g. "${formatIpv4(vpc.network + 256)}/24"`);
  }
  if (vswitch && vswitch.prefix > 29) probs.bad(b.key("vswitchCidr"), vswText, "too small; use /29 or larger, e.g. /24");
  let adminCidr = b.reqStr("adminCidr",
    'set the address you manage the cluster from, e.g. "203.0.113.7/32" (your public IP: curl ifconfig.me): pulumi config set --path aliyun.adminCidr 203.0.113.7/32',
    (s) => (parseIpv4(s) !== undefined ? `a single address needs a prefix; write "${s}/32"` : checkCidrText(s)));
  const anywhere = b.bool("allowAdminFromAnywhere", false);
  const adminP = adminCidr === undefined ? undefined : parseCidr(adminCidr);
  if (adminCidr !== undefined && adminP?.ok && adminP.cidr.prefix === 0 && !anywhere) {
    probs.bad(b.key("adminCidr"), adminCidr, "opens SSH and the API server to the whole internet; use your own address/32, or set aliyun.allowAdminFromAnywhere: true if you really mean it");
    adminCidr = undefined;
  }
  const spec: AliyunSpec = {
    region,
    ...(zone !== undefined ? { zone } : {}),
    instanceType: b.str("instanceType", "ecs.c7.large", (s) => (/^ecs\.[a-z0-9-]+\.[a-z0-9-]+$/.test(s) ? undefined : 'not an ECS instance type; e.g. "ecs.c7.large"')),
    ...(imageId !== undefined ? { imageId } : {}),
    imageNameRegex,
    vpcCidr: vpc ? vpc.text : vpcText,
    vswitchCidr: vswitch ? vswitch.text : vswText,
    adminCidr: adminCidr ?? "",
    systemDiskCategory: b.oneOf("systemDiskCategory", "cloud_essd", DISK_CATEGORIES),
    systemDiskSizeGb: b.int("systemDiskSizeGb", 40, { min: 20, max: 500 }),
    internetMaxBandwidthOut: b.int("internetMaxBandwidthOut", 10, { min: 0, max: 100, hint: "Mbps; 0 = no public IP" }),
    internetChargeType: b.oneOf("internetChargeType", "PayByTraffic", ["PayByTraffic", "PayByBandwidth"] as const),
    instanceChargeType: b.oneOf("instanceChargeType", "PostPaid", ["PostPaid", "PrePaid"] as const),
    spotStrategy: b.oneOf("spotStrategy", "NoSpot", ["NoSpot", "SpotAsPriceGo"] as const),
  };
  b.finish();
  return { spec, vpc, vswitch };
}

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
  let net: MachineNet = { reserved: new Map() };
  let defaultFirstIp: number | undefined;
  if (provider === "virtualbox") {
    const c = vb?.cidr ?? mustParseCidr("192.168.56.0/24");
    defaultFirstIp = c.network + 10;
    if (vb?.cidr) {
      net = {
        cidr: c,
        cidrKey: "virtualbox.hostOnlyCidr",
        reserved: new Map([
          [c.network, "the network address of virtualbox.hostOnlyCidr"],
          [c.network + 1, "the host's own address on the host-only adapter (.1)"],
          [lastAddress(c), "the broadcast address of virtualbox.hostOnlyCidr"],
        ]),
      };
    }
  } else if (provider === "aliyun") {
    const c = al?.vswitch ?? mustParseCidr("172.16.1.0/24");
    defaultFirstIp = c.network + 10;
    if (al?.vswitch) {
      const last = lastAddress(c);
      const why = "reserved by Aliyun (the first and the last three addresses of a vSwitch)";
      net = { cidr: c, cidrKey: "aliyun.vswitchCidr", reserved: new Map([[c.network, why], [last - 2, why], [last - 1, why], [last, why]]) };
    }
  }

  // Machines: nodes or nodeCount.
  const hasList = root.has("nodes");
  const hasCount = root.has("nodeCount");
  const list = readNodeList(root, provider, probs, trace);
  const count = readNodeCount(root, provider, defaultFirstIp, probs);
  let drafts: NodeDraft[] = [];
  // false when an entry was unreadable: checks that count nodes or roles would only add noise.
  let nodesComplete = false;
  if (hasList && hasCount) {
    probs.at(`${P}nodeCount`, "set together with nodes; use one of them: nodes lists the machines, nodeCount generates them");
  } else if (!hasList && !hasCount) {
    probs.at(`${P}nodes`, 'not set; list the machines in nodes (e.g. [{name: k8s-control, role: control-plane, ip: "192.168.56.10"}, ...]) or set nodeCount: {workers: 1}');
  } else {
    drafts = hasList ? list.drafts : count.drafts;
    nodesComplete = hasList ? list.complete : count.complete;
    checkNodes(drafts, net, probs, nodesComplete);
  }

  // SSH
  const sb = root.block("ssh");
  const publicKey = sb.str("publicKey", undefined, checkOpenSshPublicKey);
  const sshPublicKeyGiven = sb.has("publicKey");
  const ssh = {
    user: sb.str("user", provider === "aliyun" ? "root" : "ubuntu", (s) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(s) ? undefined : 'not a Linux user name; e.g. "ubuntu"')),
    port: sb.int("port", 22, { min: 1, max: 65535 }),
    connectTimeoutSeconds: sb.int("connectTimeoutSeconds", 600, { min: 10, max: 86400 }),
  };
  sb.finish();
  const rawKey = root.raw("sshPrivateKey");
  let privateKey = opts.privateKey;
  if (!privateKey && typeof rawKey === "string" && rawKey !== "") privateKey = pulumi.secret(rawKey);
  if (!privateKey && isPlainObject(rawKey) && typeof rawKey.secure === "string") {
    privateKey = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\n(encrypted in the stack file; decrypted only by pulumi)\n-----END OPENSSH PRIVATE KEY-----\n");
  }
  const setKey = "cat ~/.ssh/id_ed25519 | pulumi config set --secret sshPrivateKey";
  if (provider === "existing" && !privateKey) {
    probs.at(`${P}sshPrivateKey`, `required for provider "existing" (the key that logs in as ssh.user on every host); set it with: ${setKey}`);
  }
  if ((provider === "virtualbox" || provider === "aliyun") && privateKey && !sshPublicKeyGiven) {
    probs.at(`${P}ssh.publicKey`, `required when sshPrivateKey is set (it is installed on the new machines so that key can log in); set it with: pulumi config set --path ssh.publicKey "$(cat ~/.ssh/id_ed25519.pub)", or unset sshPrivateKey to let the program generate a key pair`);
  }
  // New machines come from images whose sshd listens on 22 and which refuse root logins (VirtualBox cloud image).
  if ((provider === "virtualbox" || provider === "aliyun") && ssh.port !== 22) {
    probs.bad(`${P}ssh.port`, ssh.port, `only used with provider "existing": new ${provider} machines run sshd on port 22; remove ssh.port`);
  }
  if (provider === "virtualbox" && ssh.user === "root") {
    probs.bad(`${P}ssh.user`, "root", 'the Ubuntu cloud image refuses root logins over SSH; use a normal user such as "ubuntu" (it gets passwordless sudo)');
  }
  const sshSpec: SshSpec = { ...ssh, ...(publicKey !== undefined ? { publicKey: publicKey.trim() } : {}), ...(privateKey ? { privateKey } : {}) };

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
