// The stable Kubernetes API endpoint of an HA control plane on Aliyun: a Network Load Balancer (NLB)
// with a TCP 6443 listener in front of every control-plane instance, in the cluster's VPC. ARP VIPs
// (keepalived, kube-vip) do not work in a VPC, and a classic CLB cannot be reached from its own backends
// (hairpin); an NLB server group with client IP preservation off can (docs/machines.md, "Aliyun: the
// API load balancer (HA)"). Decisions live in aliyun-lb-plan.ts; argument names and values are those of
// @pulumi/alicloud 3.108 (nlb/*.d.ts, ecs/eipAddress.d.ts, vpc/switch.d.ts, ecs/securityGroupRule.d.ts).
import * as pulumi from "@pulumi/pulumi";
import * as alicloud from "@pulumi/alicloud";
import { AliyunSpec } from "../spec";
import { API_PORT, HEALTH_CHECK, lbCertSans, lbNames, lbPlan, lbSecurityGroupRules, nodeApiRuleFromVpc, secondZone } from "./aliyun-lb-plan";

export interface AliyunApiLoadBalancerArgs {
  /** Cloud-name prefix `<clusterName>-<stack>` (as AliyunMachines uses). */
  readonly prefix: string;
  readonly aliyun: AliyunSpec;
  /** The region-pinned provider every cloud resource and data source of the cluster uses. */
  readonly provider: alicloud.Provider;
  readonly vpcId: pulumi.Input<string>;
  /**
   * The nodes' vSwitch zone as the vSwitch resource reports it (`vswitch.zoneId`), not the data-source
   * answer: the vSwitch keeps its first zone (ignoreChanges), and so must the NLB's zone mapping.
   */
  readonly zoneId: pulumi.Input<string>;
  readonly vswitchId: pulumi.Input<string>;
  /** The nodes' security group: it gets 6443 from the VPC (the NLB's local addresses). */
  readonly nodeSecurityGroupId: pulumi.Input<string>;
  /** kubeadm controlPlaneEndpoint IP: the NLB's fixed private address in the nodes' vSwitch. */
  readonly endpointIp: string;
  /** CIDR of the NLB's second vSwitch (other zone). Default: aliyun-lb-plan defaultSecondVswitchCidr. */
  readonly secondVswitchCidr?: string;
  /** Backends: every control-plane instance, keyed by node name (one attachment each). */
  readonly controlPlanes: readonly { readonly name: string; readonly instance: alicloud.ecs.Instance }[];
  /** The other instances in the nodes' vSwitch (workers): the NLB is created after them (their fixed IPs). */
  readonly otherInstances?: readonly alicloud.ecs.Instance[];
}

export class AliyunApiLoadBalancer extends pulumi.ComponentResource {
  /** The endpoint IP (private, in the nodes' vSwitch): kubeadm controlPlaneEndpoint, kubelets, kube-proxy. */
  public readonly privateAddress: string;
  /** The NLB's private address in the second zone (a SAN; nothing in the cluster dials it). */
  public readonly secondaryPrivateAddress: string;
  /** The EIPs' addresses, one per zone ([] for an intranet NLB: aliyun.internetMaxBandwidthOut = 0). */
  public readonly publicAddresses: pulumi.Output<string[]>;
  /** The NLB's DNS name. */
  public readonly dnsName: pulumi.Output<string>;
  /** What the API server certificate must add for this load balancer (apiServer.certSANs). */
  public readonly certSans: pulumi.Output<string[]>;
  /**
   * What must exist before `kubeadm init` may use the endpoint: the listener, the first control plane's
   * attachment, the node rule that lets the NLB reach 6443, and the NLB security group's rules (the
   * nodes reach the endpoint through them).
   */
  public readonly ready: pulumi.Resource[];
  public readonly loadBalancer: alicloud.nlb.LoadBalancer;
  public readonly attachments: ReadonlyMap<string, alicloud.nlb.ServerGroupServerAttachment>;

  constructor(name: string, args: AliyunApiLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:vm:AliyunApiLoadBalancer", name, {}, opts);
    const a = args.aliyun;
    if (args.controlPlanes.length === 0) throw new Error("aliyun API load balancer: no control-plane instance to balance");
    const plan = lbPlan(a, { endpointIp: args.endpointIp, secondVswitchCidr: args.secondVswitchCidr });
    const names = lbNames(args.prefix);
    const child = { parent: this, provider: args.provider };

    // The second zone is looked up once and kept (ignoreChanges), like the nodes' zone in aliyun.ts; the
    // NLB's mapping then reads the vSwitch's own zone, so a new data-source answer changes nothing.
    const zone2: pulumi.Output<string> = pulumi
      .all([alicloud.nlb.getZonesOutput({}, { parent: this, provider: args.provider }), pulumi.output(args.zoneId)])
      .apply(([r, z]) => secondZone(r.zones ?? [], z, a.region));
    const vswitch2 = new alicloud.vpc.Switch(
      `${name}-vswitch`,
      { vpcId: args.vpcId, cidrBlock: plan.secondVswitchCidr, zoneId: zone2, vswitchName: names.vswitch, description: `${args.prefix}: second zone of the API load balancer (nothing else runs here)` },
      // zone_id and cidr_block are ForceNew and the CIDR is fixed: the old vSwitch goes first.
      { ...child, deleteBeforeReplace: true, ignoreChanges: ["zoneId"] },
    );

    // Who may reach the NLB: a dedicated group (basic type; "NLB supports basic and advanced security
    // groups in the same VPC", Aliyun "Add an NLB instance to a security group").
    const lbSg = new alicloud.ecs.SecurityGroup(
      `${name}-sg`,
      { vpcId: args.vpcId, securityGroupName: names.securityGroup, description: `${args.prefix}: who may reach the Kubernetes API load balancer`, securityGroupType: "normal" },
      child,
    );
    const lbRules = lbSecurityGroupRules(a).map(
      (r) =>
        new alicloud.ecs.SecurityGroupRule(
          `${name}-sg-${r.key}`,
          { securityGroupId: lbSg.id, type: "ingress", ipProtocol: r.ipProtocol, portRange: r.portRange, cidrIp: r.cidrIp, nicType: "intranet", policy: r.policy, priority: r.priority, description: r.description },
          child,
        ),
    );
    // The nodes accept 6443 from the NLB's local addresses (client IP preservation off: they are the source).
    const nr = nodeApiRuleFromVpc(a);
    const nodeRule = new alicloud.ecs.SecurityGroupRule(
      `${name}-node-${nr.key}`,
      { securityGroupId: args.nodeSecurityGroupId, type: "ingress", ipProtocol: nr.ipProtocol, portRange: nr.portRange, cidrIp: nr.cidrIp, nicType: "intranet", policy: "accept", priority: 1, description: nr.description },
      child,
    );

    // One pay-by-traffic EIP per zone mapping ("NLB ... 僅可綁定暫未加入共用頻寬的隨用隨付(按使用流量計費)的已購 EIP",
    // Aliyun NLB FAQ). Values per ecs/eipAddress.d.ts: paymentType PayAsYouGo, internetChargeType PayByTraffic,
    // bandwidth "1 to 200" Mbit/s for that pair.
    const eip = (zone: "primary" | "secondary") =>
      new alicloud.ecs.EipAddress(
        `${name}-eip-${zone}`,
        { addressName: names.eip(zone), description: `${args.prefix}: public address of the Kubernetes API load balancer (${zone} zone)`, paymentType: "PayAsYouGo", internetChargeType: "PayByTraffic", bandwidth: String(plan.eipBandwidth) },
        child,
      );
    const eips = plan.internet ? [eip("primary"), eip("secondary")] : [];

    // Created after every instance (control planes and workers, `instances`): the NLB takes local
    // addresses from the nodes' vSwitch ("Specify a private IP for an NLB instance"), so it must not pick a
    // node's fixed IP before that node exists. (Pulumi deletes it before them on destroy; the node
    // commands that talk through it are skipped then: deletedWith their machines.)
    const instances = [...args.controlPlanes.map((c) => c.instance), ...(args.otherInstances ?? [])];
    this.loadBalancer = new alicloud.nlb.LoadBalancer(
      `${name}-nlb`,
      {
        loadBalancerName: names.loadBalancer,
        // nlb/loadBalancer.d.ts addressType: "Internet" | "Intranet"; an Internet NLB also has a private
        // address in every zone (Aliyun "Change the network type of an NLB instance").
        addressType: plan.internet ? "Internet" : "Intranet",
        vpcId: args.vpcId,
        // Every backend is in the first zone: the second zone must forward across zones.
        crossZoneEnabled: true,
        securityGroupIds: [lbSg.id],
        zoneMappings: [
          { zoneId: args.zoneId, vswitchId: args.vswitchId, privateIpv4Address: plan.endpointIp, allocationId: eips[0]?.id },
          { zoneId: vswitch2.zoneId, vswitchId: vswitch2.id, privateIpv4Address: plan.secondIp, allocationId: eips[1]?.id },
        ],
        tags: { "kubeadm-cluster": args.prefix },
      },
      // Fixed private addresses: a replacement could not get them while the old NLB holds them.
      { ...child, deleteBeforeReplace: true, dependsOn: [...lbRules, ...instances] },
    );
    const group = new alicloud.nlb.ServerGroup(
      `${name}-group`,
      {
        serverGroupName: names.serverGroup,
        serverGroupType: "Instance",
        vpcId: args.vpcId,
        protocol: "TCP",
        // Off: a backend ECS can then also be a client of the NLB (the control planes' kubelets, and
        // `kubeadm init` on the first one, dial the endpoint). Set explicitly: its default is not documented.
        preserveClientIpEnabled: false,
        healthCheck: { ...HEALTH_CHECK },
        tags: { "kubeadm-cluster": args.prefix },
      },
      child,
    );
    const listener = new alicloud.nlb.Listener(
      `${name}-listener`,
      { loadBalancerId: this.loadBalancer.id, listenerProtocol: "TCP", listenerPort: API_PORT, serverGroupId: group.id, listenerDescription: names.listenerDescription },
      // One listener per port and NLB: a replacement goes after the old one is gone.
      { ...child, deleteBeforeReplace: true },
    );
    const attachments = new Map<string, alicloud.nlb.ServerGroupServerAttachment>();
    for (const cp of args.controlPlanes) {
      attachments.set(
        cp.name,
        // serverId = the instance's id: the attachment depends on the instance, so Pulumi detaches it
        // before deleting the instance, and a new instance (new id) gets a new attachment.
        new alicloud.nlb.ServerGroupServerAttachment(
          `${name}-${cp.name}`,
          { serverGroupId: group.id, serverId: cp.instance.id, serverType: "Ecs", port: API_PORT, weight: 100, description: `${args.prefix} control plane ${cp.name}` },
          child,
        ),
      );
    }
    this.attachments = attachments;

    this.privateAddress = plan.endpointIp;
    this.secondaryPrivateAddress = plan.secondIp;
    this.publicAddresses = eips.length ? pulumi.all(eips.map((e) => e.ipAddress)) : pulumi.output([]);
    this.dnsName = this.loadBalancer.dnsName;
    this.certSans = pulumi.all([this.publicAddresses, this.dnsName]).apply(([pub, dns]) => lbCertSans([plan.endpointIp, plan.secondIp], pub, dns));
    const first = attachments.get(args.controlPlanes[0].name) as alicloud.nlb.ServerGroupServerAttachment;
    this.ready = [listener, first, nodeRule, ...lbRules];
    this.registerOutputs({ privateAddress: this.privateAddress, publicAddresses: this.publicAddresses, dnsName: this.dnsName, certSans: this.certSans });
  }
}
