// The control-plane topology: how many control-plane nodes (1, or an odd number for etcd's quorum) and
// the stable endpoint (kubernetes.controlPlaneEndpoint) that workers, kubelets and the kubeconfig use
// when there is more than one, or when the user sets one on purpose.
//
// Who holds the endpoint depends on the machines (docs/ha.md):
//   - virtualbox, existing: a free address on the node network, moved between the control planes by
//     keepalived (VRRP) and served by haproxy on port 8443 on each of them, spreading over every
//     API server (kubernetes/kubeadm docs/ha-considerations.md "keepalived and haproxy");
//   - aliyun: the private address of an NLB in the vSwitch (VRRP/ARP addresses do not move in a VPC),
//     TCP 6443 to every control plane (components/machines/aliyun-lb.ts).
import { Cidr, cidrContains, formatIpv4, lastAddress, parseIpv4 } from "../net";
import { AliyunSpec, ControlPlaneEndpointSpec, MachineProvider } from "../spec";
import { checkSecondVswitchCidr, defaultEndpointIp, defaultSecondVswitchCidr } from "../machines/aliyun-lb-plan";
import type { MachineNet, NodeDraft } from "./nodes";
import { P, Problems } from "./reader";

/** The largest control-plane count accepted (etcd's docs recommend 3, 5 or 7 members at most). */
export const MAX_CONTROL_PLANES = 7;

/** Port haproxy listens on beside the API server (which has 6443 on the same machine). */
export const HAPROXY_PORT = 8443;

/** 1 or an odd number up to 7, else the reason. */
export function controlPlaneCountProblem(names: readonly string[]): string | undefined {
  const n = names.length;
  if (n === 0) return 'no node has role "control-plane"; one (or 3 or 5 for HA) is required (mark a node role: control-plane)';
  if (n > MAX_CONTROL_PLANES) return `${n} nodes have role "control-plane": at most ${MAX_CONTROL_PLANES} (etcd's write latency grows with every member); use 3 or 5`;
  if (n % 2 === 0) {
    return (
      `${n} nodes have role "control-plane" (${names.join(", ")}): etcd needs a majority of its members, so ${n} tolerate as few failures as ${n - 1} ` +
      `(${Math.floor((n - 1) / 2)}); use ${n - 1} or ${n + 1}`
    );
  }
  return undefined;
}


/** VRRP virtual_router_id for keepalived: the endpoint's last octet (two clusters on one LAN differ). */
export function vrrpRouterId(address: string): number {
  const n = parseIpv4(address) ?? 0;
  const last = n % 256;
  return last >= 1 && last <= 255 ? last : 51;
}

export interface EndpointInput {
  readonly provider: MachineProvider | undefined;
  /** kubernetes.controlPlaneEndpoint as written, undefined when not set. */
  readonly configured?: string;
  readonly drafts: readonly NodeDraft[];
  readonly net: MachineNet;
  /** aliyun: the vSwitch (for the default address). */
  readonly vswitch?: Cidr;
  /** The Kubernetes minor (HA needs 1.29+); undefined when the version is bad (reported). */
  readonly minor?: number;
  /** aliyun: the networks (for the load balancer's second vSwitch). */
  readonly aliyun?: Pick<AliyunSpec, "vpcCidr" | "vswitchCidr" | "lbVswitchCidr">;
}

const KEY = `${P}kubernetes.controlPlaneEndpoint`;

/**
 * The endpoint spec, or undefined for a single control plane without one. Problems are reported;
 * the node count itself is checked by the nodes block.
 */
export function readControlPlaneEndpoint(i: EndpointInput, probs: Problems): ControlPlaneEndpointSpec | undefined {
  const cps = i.drafts.filter((d) => d.spec.role === "control-plane");
  const ha = cps.length > 1;
  if (i.provider === undefined) return undefined;
  // Control planes join as etcd learners (non-voting until they have caught up) only from 1.29, where
  // kubeadm's EtcdLearnerMode became beta and on by default (kubernetes#120228); before, a second
  // member votes at once and a join that fails half-way leaves 1 of 2 members: no quorum, no API.
  if (ha && i.minor !== undefined && i.minor < 29) {
    probs.at(`${P}nodes`, `${cps.length} control planes need kubernetes.version 1.29 or newer (etcd learner mode, on by default from 1.29, makes a joining control plane safe); upgrade the single control plane first, then add control planes`);
  }
  const aliyun = i.provider === "aliyun";
  let address = i.configured;
  if (address === undefined) {
    if (!ha) return undefined;
    if (aliyun) {
      if (!i.vswitch) return undefined; // the vSwitch's own problem is reported
      address = defaultEndpointIp(i.vswitch.text);
    } else {
      // Below VirtualBox's DHCP pool (.100 and up on a host-only network) and away from the node IPs.
      const example = i.net.cidr ? formatIpv4(i.net.cidr.network + 50) : "192.168.56.50";
      probs.at(
        KEY,
        `required with ${cps.length} control-plane nodes: a free address on the node network that keepalived moves between them, e.g. "${example}" (not a node's IP, not in a DHCP pool: VirtualBox's host-only DHCP uses .100-.254)`,
      );
      return undefined;
    }
  }
  const ip = parseIpv4(address);
  if (ip === undefined) {
    probs.bad(KEY, address, 'not an IPv4 address; e.g. "192.168.56.50" (the port is chosen for you: 8443 with keepalived/haproxy, 6443 on Aliyun)');
    return undefined;
  }
  const node = i.drafts.find((d) => d.spec.ip === address);
  if (node) {
    probs.bad(KEY, address, `is the IP of node ${node.spec.name}; the endpoint must be a free address that moves between control planes`);
    return undefined;
  }
  if (i.net.cidr && !cidrContains(i.net.cidr, ip)) {
    probs.bad(KEY, address, `is outside ${i.net.cidrKey} "${i.net.cidr.text}"; pick a free address inside it`);
    return undefined;
  }
  const reserved = i.net.reserved.get(ip);
  if (reserved) {
    probs.bad(KEY, address, `is ${reserved}; pick a free address inside ${i.net.cidrKey}`);
    return undefined;
  }
  if (aliyun) {
    const lb = lbVswitch(i, probs);
    return lb === undefined ? undefined : { address, port: 6443, holder: "aliyun-nlb", lbVswitchCidr: lb };
  }
  return { address, port: HAPROXY_PORT, holder: "keepalived-haproxy", vrrpRouterId: vrrpRouterId(address) };
}

/** `aliyun.lbVswitchCidr` or its default, checked against the VPC and the nodes' vSwitch (aliyun-lb-plan.ts). */
function lbVswitch(i: EndpointInput, probs: Problems): string | undefined {
  // A bad VPC or vSwitch is reported by the aliyun block already.
  if (!i.aliyun || !i.vswitch) return undefined;
  const key = `${P}aliyun.lbVswitchCidr`;
  const { vpcCidr, vswitchCidr, lbVswitchCidr } = i.aliyun;
  try {
    const cidr = lbVswitchCidr ?? defaultSecondVswitchCidr(vpcCidr, vswitchCidr);
    checkSecondVswitchCidr(cidr, vpcCidr, vswitchCidr);
    return cidr;
  } catch (e) {
    probs.bad(key, lbVswitchCidr ?? "(default)", `${(e as Error).message}; the API load balancer needs a vSwitch in a second zone: a free /24 (at least /28) of aliyun.vpcCidr, e.g. "172.16.255.0/24"`);
    return undefined;
  }
}
