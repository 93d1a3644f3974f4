// The Aliyun API load balancer (HA control plane) as data: names, the second vSwitch and its CIDR, the
// fixed private addresses, the second zone, the security group rules, the health check, the API
// server's certificate SANs and the replace rules of the new resource types. Pure; tests read it.
//
// Why an NLB (and not a CLB): a CLB layer-4 listener cannot be reached from its own backend ECS
// (hairpin), which breaks `kubeadm init` on the first control plane and every control-plane kubelet;
// with client IP preservation off, an NLB backend can also be a client of the NLB. Sources and the
// rest of the reasoning: docs/machines.md "Aliyun: the API load balancer (HA)".
import { AliyunSpec, NodeSpec } from "../spec";
import { parseCidr, parseIpv4, formatIpv4, cidrContains, cidrContainsCidr, cidrsOverlap, lastAddress, Cidr } from "../net";
import { SgRule } from "./aliyun-plan";

/** The Kubernetes API port the listener, the health check and the rules use. */
export const API_PORT = 6443;

/** What the caller chooses for the load balancer (AliyunMachines' `apiLoadBalancer` argument). */
export interface ApiLoadBalancerSettings {
  /** kubeadm `controlPlaneEndpoint` IP: the NLB's private address in the nodes' vSwitch (zone of the cluster). */
  readonly endpointIp: string;
  /** CIDR of the second vSwitch (the NLB's other zone; nothing else lives there). Default: defaultSecondVswitchCidr. */
  readonly secondVswitchCidr?: string;
}

/**
 * Cloud-side names: they carry `<clusterName>-<stack>` like aliyun.ts, so two stacks in one account do
 * not collide. NLB and server group names: "2 to 128 characters ... letters, digits, periods (.),
 * underscores (_), and hyphens (-). The value must start with a letter" (nlb/loadBalancer.d.ts
 * loadBalancerName, nlb/serverGroup.d.ts serverGroupName).
 */
export function lbNames(prefix: string): {
  readonly loadBalancer: string;
  readonly serverGroup: string;
  readonly listenerDescription: string;
  readonly securityGroup: string;
  readonly vswitch: string;
  readonly eip: (zone: "primary" | "secondary") => string;
} {
  if (!/^[A-Za-z][-.\w]{1,110}$/.test(prefix)) {
    throw new Error(`aliyun API load balancer: the name prefix "${prefix}" (<clusterName>-<stack>) must start with a letter and hold only letters, digits, ".", "_" and "-" (NLB naming rule)`);
  }
  return {
    loadBalancer: `${prefix}-api`,
    serverGroup: `${prefix}-api`,
    listenerDescription: `${prefix} Kubernetes API`,
    securityGroup: `${prefix}-api-lb`,
    vswitch: `${prefix}-api-lb`,
    eip: (zone) => `${prefix}-api-${zone}`,
  };
}

function cidrOrThrow(text: string, what: string): Cidr {
  const p = parseCidr(text);
  if (!p.ok) throw new Error(`${what} ${text}: ${p.reason}`);
  return p.cidr;
}

/** Aliyun reserves the first and the last three addresses of every vSwitch (as checkAliyunAddresses says). */
function usable(c: Cidr, ip: number): boolean {
  return cidrContains(c, ip) && ip !== c.network && ip <= lastAddress(c) - 3;
}

/**
 * A default fixed address for the NLB in a vSwitch: the last usable address minus two (x.x.x.250 in a
 * /24), away from node addresses, which are usually picked from the bottom.
 */
export function defaultEndpointIp(vswitchCidr: string): string {
  const c = cidrOrThrow(vswitchCidr, "vSwitch CIDR");
  const ip = lastAddress(c) - 5;
  if (!usable(c, ip)) throw new Error(`vSwitch CIDR ${vswitchCidr} is too small for a load balancer address`);
  return formatIpv4(ip);
}

/**
 * The endpoint IP must be a usable address of the nodes' vSwitch (the NLB takes it as its private IPv4
 * address in that zone: "the address must be in the vSwitch's CIDR and not in use", Aliyun "Specify a
 * private IP for an NLB instance") and no node's IP.
 */
export function checkEndpointIp(ip: string, vswitchCidr: string, nodes: readonly Pick<NodeSpec, "name" | "ip">[] = []): void {
  const c = cidrOrThrow(vswitchCidr, "aliyun.vswitchCidr");
  const n = parseIpv4(ip);
  if (n === undefined) throw new Error(`apiLoadBalancer.endpointIp ${ip} is not an IPv4 address`);
  if (!usable(c, n)) throw new Error(`apiLoadBalancer.endpointIp ${ip} must be a usable address inside aliyun.vswitchCidr ${vswitchCidr} (not the first or the last three); e.g. ${defaultEndpointIp(vswitchCidr)}`);
  const taken = nodes.find((x) => x.ip === ip);
  if (taken) throw new Error(`apiLoadBalancer.endpointIp ${ip} is node ${taken.name}'s IP; the load balancer needs an address of its own (e.g. ${defaultEndpointIp(vswitchCidr)})`);
}

/** Smallest second vSwitch: a /28 leaves 12 usable addresses (Aliyun: "reserve at least eight IP addresses in each vSwitch of the NLB instance"). */
export const SECOND_VSWITCH_MAX_PREFIX = 28;

/**
 * Default CIDR of the second vSwitch: the highest block of the VPC that does not overlap the nodes'
 * vSwitch, a /24 when there is room, else the largest smaller one down to /28. 172.16.0.0/16 with nodes
 * on 172.16.1.0/24 gives 172.16.255.0/24; 192.168.0.0/24 with nodes on 192.168.0.0/25 gives .128/25.
 */
export function defaultSecondVswitchCidr(vpcCidr: string, vswitchCidr: string): string {
  const vpc = cidrOrThrow(vpcCidr, "aliyun.vpcCidr");
  const vsw = cidrOrThrow(vswitchCidr, "aliyun.vswitchCidr");
  for (let prefix = Math.max(24, vpc.prefix); prefix <= SECOND_VSWITCH_MAX_PREFIX; prefix++) {
    const size = 2 ** (32 - prefix);
    for (let net = lastAddress(vpc) + 1 - size; net >= vpc.network; net -= size) {
      const text = `${formatIpv4(net)}/${prefix}`;
      if (!cidrsOverlap(cidrOrThrow(text, "candidate"), vsw)) return text;
    }
  }
  throw new Error(`aliyun.vpcCidr ${vpcCidr} has no room beside aliyun.vswitchCidr ${vswitchCidr} for the load balancer's second vSwitch (a /${SECOND_VSWITCH_MAX_PREFIX} at least); set apiLoadBalancer.secondVswitchCidr or use a larger VPC`);
}

/** The second vSwitch's CIDR must lie in the VPC, apart from the nodes' vSwitch, and hold at least a /28. */
export function checkSecondVswitchCidr(cidr: string, vpcCidr: string, vswitchCidr: string): void {
  const c = cidrOrThrow(cidr, "apiLoadBalancer.secondVswitchCidr");
  const vpc = cidrOrThrow(vpcCidr, "aliyun.vpcCidr");
  const vsw = cidrOrThrow(vswitchCidr, "aliyun.vswitchCidr");
  if (!cidrContainsCidr(vpc, c)) throw new Error(`apiLoadBalancer.secondVswitchCidr ${cidr} is not inside aliyun.vpcCidr ${vpcCidr}`);
  if (cidrsOverlap(c, vsw)) throw new Error(`apiLoadBalancer.secondVswitchCidr ${cidr} overlaps aliyun.vswitchCidr ${vswitchCidr}`);
  // vpc/switch.d.ts cidrBlock: "The subnet mask must be `16` to `29` bits in length"; we keep room for the NLB's addresses.
  if (c.prefix < 16 || c.prefix > SECOND_VSWITCH_MAX_PREFIX) throw new Error(`apiLoadBalancer.secondVswitchCidr ${cidr}: the prefix must be /16 to /${SECOND_VSWITCH_MAX_PREFIX}`);
}

/** One zone the nlb.getZones data source returns (outputs.nlb.GetZonesZone: id, zoneId, localName). */
export interface NlbZone {
  readonly zoneId?: string;
  readonly id?: string;
}

/**
 * The NLB's second zone: the first zone the region offers NLB in that is not the cluster's zone. An NLB
 * needs two ("You must add at least two zones", nlb/loadBalancer.d.ts zoneMappings), so a region with
 * one NLB zone, or a cluster zone without NLB, is refused here with what to do.
 */
export function secondZone(zones: readonly NlbZone[], clusterZone: string, region: string): string {
  const ids = zones.map((z) => z.zoneId ?? z.id ?? "").filter((z) => z !== "");
  if (ids.length === 0) throw new Error(`aliyun: region ${region} offers no Network Load Balancer (NLB) zone; an HA control plane on Aliyun needs NLB (choose another aliyun.region)`);
  if (!ids.includes(clusterZone)) {
    throw new Error(`aliyun: the cluster's zone ${clusterZone} does not offer NLB (NLB zones in ${region}: ${ids.join(", ")}); set aliyun.zone to one of them`);
  }
  const other = ids.find((z) => z !== clusterZone);
  if (other === undefined) {
    throw new Error(`aliyun: an NLB needs two zones, and region ${region} offers NLB only in ${clusterZone}; an HA control plane needs a region with NLB in two zones`);
  }
  return other;
}

/** Everything the LB plan decides up front from the spec and the settings (validated). */
export interface LbPlan {
  readonly endpointIp: string;
  readonly secondVswitchCidr: string;
  /** The NLB's fixed private address in the second zone. */
  readonly secondIp: string;
  /** Public access (Internet NLB + one EIP per zone) iff the instances get public bandwidth. */
  readonly internet: boolean;
  /** Peak Mbit/s of each EIP (pay-by-traffic: 1 to 200, ecs/eipAddress.d.ts bandwidth). */
  readonly eipBandwidth: number;
}

/** The plan from the Aliyun settings (addresses checked; node collisions: checkLbNodes). */
export function lbPlan(a: AliyunSpec, s: ApiLoadBalancerSettings): LbPlan {
  checkEndpointIp(s.endpointIp, a.vswitchCidr);
  const secondVswitchCidr = s.secondVswitchCidr ?? defaultSecondVswitchCidr(a.vpcCidr, a.vswitchCidr);
  checkSecondVswitchCidr(secondVswitchCidr, a.vpcCidr, a.vswitchCidr);
  return {
    endpointIp: s.endpointIp,
    secondVswitchCidr,
    secondIp: defaultEndpointIp(secondVswitchCidr),
    internet: a.internetMaxBandwidthOut > 0,
    eipBandwidth: Math.min(200, Math.max(1, a.internetMaxBandwidthOut)),
  };
}

/** The endpoint IP is no node's IP, and there is a control plane to balance. */
export function checkLbNodes(nodes: readonly NodeSpec[], a: Pick<AliyunSpec, "vswitchCidr">, s: ApiLoadBalancerSettings): void {
  checkEndpointIp(s.endpointIp, a.vswitchCidr, nodes);
  if (!nodes.some((n) => n.role === "control-plane")) throw new Error("aliyun API load balancer: no control-plane node to balance");
}

/** A rule of the security group the NLB joins (a drop rule is the only way to make the allows bite). */
export interface LbSgRule {
  readonly key: string;
  readonly ipProtocol: "tcp" | "all";
  readonly portRange: string;
  readonly cidrIp: string;
  readonly policy: "accept" | "drop";
  /** 1 (first) to 100 (last) (ecs/securityGroupRule.d.ts priority). */
  readonly priority: number;
  readonly description: string;
}

/**
 * The NLB's own security group. Allow 6443 from the admin CIDR (kubectl from outside) and from the VPC
 * (kubelets, kube-proxy and kubectl on the nodes, which use the private address); then drop the rest.
 * The drop is required: "After an NLB instance is added to a security group which does not contain any
 * Deny rules, the listener ports of the NLB instance accept all requests by default. If you want to
 * allow requests only from specific IP addresses to your NLB instance, you must create at least one
 * Deny rule" (Aliyun "Add an NLB instance to a security group"). It goes last (priority 100), after the
 * allows (priority 1); the NLB's managed group keeps its local addresses (health checks) allowed.
 */
export function lbSecurityGroupRules(a: Pick<AliyunSpec, "adminCidr" | "vpcCidr">): LbSgRule[] {
  return [
    { key: "admin", ipProtocol: "tcp", portRange: `${API_PORT}/${API_PORT}`, cidrIp: a.adminCidr, policy: "accept", priority: 1, description: "Kubernetes API through the load balancer from the admin network" },
    { key: "vpc", ipProtocol: "tcp", portRange: `${API_PORT}/${API_PORT}`, cidrIp: a.vpcCidr, policy: "accept", priority: 1, description: "Kubernetes API through the load balancer from the cluster's VPC (nodes)" },
    { key: "deny-rest", ipProtocol: "all", portRange: "-1/-1", cidrIp: "0.0.0.0/0", policy: "drop", priority: 100, description: "Everything else is refused (an NLB security group without a drop rule lets everything in)" },
  ];
}

/**
 * The rule the nodes' security group needs: with client IP preservation off, the NLB connects to the
 * backends from its local addresses in its two vSwitches, both inside the VPC. The group already accepts
 * 6443 from the admin CIDR and everything from its own members (aliyun-plan.ts securityGroupRules), not
 * from the NLB. Aliyun says health checks from the local addresses need no ECS rule ("NLB health
 * checks"); for the forwarded connections no such statement was found, so the rule is explicit.
 */
export function nodeApiRuleFromVpc(a: Pick<AliyunSpec, "vpcCidr">): SgRule {
  return { key: "apiserver-from-vpc", ipProtocol: "tcp", portRange: `${API_PORT}/${API_PORT}`, cidrIp: a.vpcCidr, description: "Kubernetes API from the API load balancer (its local addresses in the VPC)" };
}

/**
 * TCP health check on 6443: the API server speaks only TLS there and an NLB HTTP check is plain HTTP, so
 * a TCP connect is the check (nlb/serverGroup.d.ts healthCheckType "TCP (default) and HTTP"). Short
 * interval: a new control plane is healthy about interval*healthyThreshold = 10 s after its API server
 * listens; a dead one leaves after about interval*unhealthyThreshold (+ timeouts) = 10 to 20 s.
 * Ranges: interval 5-50 (default 10), thresholds 2-10 (default 2), connect timeout 1-300 (default 5)
 * (types/input.d.ts nlb.ServerGroupHealthCheck).
 */
export const HEALTH_CHECK = {
  healthCheckEnabled: true,
  healthCheckType: "TCP",
  healthCheckConnectPort: API_PORT,
  healthCheckInterval: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  healthCheckConnectTimeout: 5,
} as const;

/** Seconds from an API server listening to the NLB sending it traffic. */
export const SECONDS_TO_HEALTHY = HEALTH_CHECK.healthCheckInterval * HEALTH_CHECK.healthyThreshold;

/**
 * The names and addresses the API server certificate must carry for this load balancer: both private
 * addresses (the endpoint and the second zone's), every public address, and the NLB's DNS name when
 * known (it is an Output: the component passes it once resolved). Sorted IPs first, no duplicates.
 */
export function lbCertSans(privateAddresses: readonly string[], publicAddresses: readonly string[], dnsName?: string): string[] {
  const ips = [...new Set([...privateAddresses, ...publicAddresses].filter((x) => x !== ""))];
  return dnsName ? [...ips, dnsName] : ips;
}

/**
 * Inputs whose change replaces a resource of the new types (terraform-provider-alicloud schemas,
 * `ForceNew: true`): resource_alicloud_nlb_load_balancer.go (address_ip_version, load_balancer_type,
 * vpc_id; bandwidth_package_id in the website docs of another version), resource_alicloud_nlb_server_group.go
 * (address_ip_version, any_port_enabled, protocol, server_group_type, vpc_id),
 * resource_alicloud_nlb_listener.go (listener_port, listener_protocol, load_balancer_id, start_port,
 * end_port), resource_alicloud_nlb_server_group_server_attachment.go (port, server_group_id, server_id,
 * server_ip, server_type), resource_alicloud_eip_address.go (internet_charge_type, isp, netmode,
 * payment_type, instance_charge_type, public_ip_address_pool_id, security_protection_types, zone,
 * high_definition_monitor_log_status). Everything else updates in place (zone_mappings, address_type and
 * security_group_ids of the NLB; preserve_client_ip_enabled and health_check of the server group;
 * server_group_id of the listener; weight of an attachment; bandwidth of an EIP).
 */
export const LB_FORCE_NEW: Readonly<Record<string, readonly string[]>> = {
  "alicloud:nlb/loadBalancer:LoadBalancer": ["addressIpVersion", "loadBalancerType", "vpcId", "bandwidthPackageId"],
  "alicloud:nlb/serverGroup:ServerGroup": ["addressIpVersion", "anyPortEnabled", "protocol", "serverGroupType", "vpcId"],
  "alicloud:nlb/listener:Listener": ["listenerPort", "listenerProtocol", "loadBalancerId", "startPort", "endPort"],
  "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment": ["port", "serverGroupId", "serverId", "serverIp", "serverType"],
  "alicloud:ecs/eipAddress:EipAddress": [
    "internetChargeType",
    "isp",
    "netmode",
    "paymentType",
    "instanceChargeType",
    "publicIpAddressPoolId",
    "securityProtectionTypes",
    "zone",
    "highDefinitionMonitorLogStatus",
  ],
};
