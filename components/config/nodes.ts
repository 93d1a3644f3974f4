// The machines: an explicit `nodes` list or a generated `nodeCount`, and the checks on the result
// (exactly one control plane, unique names and IPs, IPs inside the provider's machine network).
import { Cidr, cidrContains, formatIpv4, parseIpv4 } from "../net";
import { MachineProvider, NodeRole, NodeSpec } from "../spec";
import { Block, DNS_LABEL, DNS_LABEL_HELP, P, Problems, checkDnsLabel, checkIpv4, isPlainObject, typeName } from "./reader";
import { checkOpenSshPublicKey } from "./ssh";
import { controlPlaneCountProblem } from "./ha";

export interface NodeDraft {
  readonly spec: NodeSpec;
  /** Message prefix for this node's ip, e.g. "kubeadm-cluster:nodes[1].ip" or "kubeadm-cluster:nodeCount (generated k8s-worker-3 ip)". */
  readonly ipKey: string;
  readonly nameKey: string;
  /** How to fix an IP problem of this node. */
  readonly ipFix: string;
  /** From nodeCount: one IP problem is enough (the following nodes only repeat it). */
  readonly generated?: boolean;
}

export interface NodesRead {
  readonly drafts: NodeDraft[];
  /** false when an entry was unreadable: checks that count nodes or roles would only add noise. */
  readonly complete: boolean;
}

export interface MachineNet {
  /** The network node IPs must be inside (undefined: no constraint, e.g. existing hosts). */
  readonly cidr?: Cidr;
  /** Its key for messages, e.g. "virtualbox.hostOnlyCidr". */
  readonly cidrKey?: string;
  /** Addresses inside it that nodes may not use, with the reason. */
  readonly reserved: ReadonlyMap<number, string>;
  /** nodeCount's first IP when nodeCount.firstIp is not set (undefined: none to derive, e.g. existing hosts). */
  readonly defaultFirstIp?: number;
}

/**
 * A provider's machine network: `cidr` when it is valid (else no constraint: its problem is reported
 * already), and nodeCount's default first IP .10 of it, or of the provider's default network.
 */
export function machineNetIn(cidr: Cidr | undefined, fallback: Cidr, cidrKey: string, reserved: (c: Cidr) => [number, string][]): MachineNet {
  const defaultFirstIp = (cidr ?? fallback).network + 10;
  if (!cidr) return { reserved: new Map(), defaultFirstIp };
  return { cidr, cidrKey, reserved: new Map(reserved(cidr)), defaultFirstIp };
}

/** The machines from `nodes` or `nodeCount` (exactly one of them), checked against the machine network. */
export function readNodes(root: Block, provider: MachineProvider | undefined, net: MachineNet, probs: Problems, trace: Set<string> | undefined): NodesRead {
  const hasList = root.has("nodes");
  const hasCount = root.has("nodeCount");
  // Both are read either way, so their keys are known (and a bad value in the other is reported too).
  const list = readNodeList(root, provider, probs, trace);
  const count = readNodeCount(root, provider, net.defaultFirstIp, probs);
  if (hasList && hasCount) {
    probs.at(`${P}nodeCount`, "set together with nodes; use one of them: nodes lists the machines, nodeCount generates them");
    return { drafts: [], complete: false };
  }
  if (!hasList && !hasCount) {
    probs.at(`${P}nodes`, 'not set; list the machines in nodes (e.g. [{name: k8s-control, role: control-plane, ip: "192.168.56.10"}, ...]) or set nodeCount: {workers: 1}');
    return { drafts: [], complete: false };
  }
  const nodes = hasList ? list : count;
  checkNodes(nodes.drafts, net, probs, nodes.complete);
  return nodes;
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
  const host = provider === "existing" ? readHostFields(b) : rejectHostFields(b, provider);
  b.finish();
  return { ...base, ...host };
}

/** An existing host's own SSH address and port, its public IP, and its pinned host key. */
function readHostFields(b: Block): Pick<NodeSpec, "sshHost" | "sshPort" | "publicIp" | "hostKey"> {
  const sshHost = b.str("sshHost", undefined, (s) => (/^[A-Za-z0-9.:-]+$/.test(s) ? undefined : 'not a host name or IP address, e.g. "203.0.113.10"'));
  const sshPort = b.int("sshPort", undefined, { min: 1, max: 65535 });
  const publicIp = b.str("publicIp", undefined, checkIpv4);
  const hostKeyText = b.str("hostKey", undefined, (s) => hostKeyProblem(s));
  return {
    ...(sshHost !== undefined ? { sshHost } : {}),
    ...(sshPort !== undefined ? { sshPort } : {}),
    ...(publicIp !== undefined ? { publicIp } : {}),
    ...(hostKeyText !== undefined ? { hostKey: normalizeHostKey(hostKeyText) } : {}),
  };
}

/**
 * A host key as `ssh-keyscan` or known_hosts writes it ("host[,host] type base64 [comment]") or as the
 * host's .pub file ("type base64 [comment]"): the "type base64" part, which the connection pins.
 */
export function normalizeHostKey(text: string): string {
  const words = text.trim().split(/\s+/);
  const i = words.findIndex((w) => HOST_KEY_TYPES.includes(w));
  return i >= 0 && words[i + 1] ? `${words[i]} ${words[i + 1]}` : text.trim();
}

const HOST_KEY_TYPES = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];

function hostKeyProblem(s: string): string | undefined {
  const fix = 'paste one line of `ssh-keyscan -t ecdsa <host>` (checked against the host\'s own /etc/ssh/ssh_host_ecdsa_key.pub), e.g. "10.0.0.5 ecdsa-sha2-nistp256 AAAAE2Vj..."';
  if (s.includes("\n")) return `one key line only; ${fix}`;
  const line = normalizeHostKey(s);
  return checkOpenSshPublicKey(line) === undefined && HOST_KEY_TYPES.includes(line.split(" ")[0]) ? undefined : `not an SSH host key line; ${fix}`;
}

/** The host fields given for a VM provider: an error rather than silently ignored. */
function rejectHostFields(b: Block, provider: MachineProvider | undefined): Record<string, never> {
  for (const k of ["sshHost", "sshPort", "publicIp", "hostKey"]) {
    const v = b.raw(k);
    if (v === undefined || provider === undefined) continue; // no provider: already reported
    const why = provider === "aliyun" ? "ECS addresses come from the cloud" : "VMs are reached on their node IP";
    b.bad(k, v, `only used with provider "existing" (provider is "${provider}"; ${why}); remove it`);
  }
  return {};
}

/** `nodes`; `complete` is false when an entry could not be fully read (so role counting would mislead). */
function readNodeList(root: Block, provider: MachineProvider | undefined, probs: Problems, trace: Set<string> | undefined): NodesRead {
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
function readNodeCount(root: Block, provider: MachineProvider | undefined, defaultFirstIp: number | undefined, probs: Problems): NodesRead {
  const b = root.block("nodeCount");
  const workers = b.int("workers", 1, { min: 0, max: 1000 });
  const step = b.int("ipStep", 10, { min: 1, max: 65536 });
  const prefix = b.str("namePrefix", "k8s", (s) => (DNS_LABEL.test(s) && s.length <= 50 ? undefined : `not a valid name prefix; use ${DNS_LABEL_HELP}, at most 50 so "-worker-N" fits`));
  const first = readFirstIp(root, b, provider, defaultFirstIp, probs);
  b.finish();
  if (!root.has("nodeCount")) return { drafts: [], complete: true };
  if (first === undefined || b.broken) return { drafts: [], complete: false };
  return generateNodes(b, { workers, step, prefix, first }, probs);
}

/** `nodeCount.firstIp`, else the machine network's default; undefined when bad or missing (reported). */
function readFirstIp(root: Block, b: Block, provider: MachineProvider | undefined, defaultFirstIp: number | undefined, probs: Problems): number | undefined {
  if (b.has("firstIp")) {
    const t = b.str("firstIp", undefined, checkIpv4);
    return t === undefined ? undefined : parseIpv4(t);
  }
  b.raw("firstIp");
  if (root.has("nodeCount") && defaultFirstIp === undefined && provider === "existing") {
    probs.at(b.key("firstIp"), 'required for provider "existing" (there is no network to derive it from); set it, or list the hosts in nodes');
  }
  return defaultFirstIp;
}

/** `<prefix>-control` at firstIp, then `<prefix>-worker-i` every ipStep addresses. */
function generateNodes(b: Block, c: { workers: number; step: number; prefix: string; first: number }, probs: Problems): NodesRead {
  const drafts: NodeDraft[] = [];
  for (let i = 0; i <= c.workers; i++) {
    const name = i === 0 ? `${c.prefix}-control` : `${c.prefix}-worker-${i}`;
    const ipN = c.first + c.step * i;
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
  // An unreadable entry (reported already) would make counting roles mislead.
  if (countRoles) checkControlPlaneCount(drafts, probs);
  checkNamesAndIps(drafts, net, probs);
}

function checkControlPlaneCount(drafts: NodeDraft[], probs: Problems): void {
  const problem = controlPlaneCountProblem(drafts.filter((d) => d.spec.role === "control-plane").map((d) => d.spec.name));
  if (problem) probs.at(`${P}nodes`, problem);
}

/** Unique names and IPs, and IPs inside the machine network but not on its reserved addresses. */
function checkNamesAndIps(drafts: NodeDraft[], net: MachineNet, probs: Problems): void {
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
