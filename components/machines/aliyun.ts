// Aliyun ECS machines: VPC, vSwitch, security group + rules, key pair, one instance per node. The
// private IP (static, from the spec) is the node IP; the public IP is for SSH and the kubeconfig.
// Credentials: the provider's usual ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY (or ALICLOUD_PROFILE)
// environment; the region comes from the spec through an explicit provider.
import * as pulumi from "@pulumi/pulumi";
import * as alicloud from "@pulumi/alicloud";
import { ClusterSpec } from "../spec";

/** What the Aliyun machines need from the cluster description. */
export type AliyunSettings = Pick<ClusterSpec, "clusterName" | "nodes" | "ssh" | "aliyun">;
import { Host } from "./host";
import { securityGroupRules, checkAliyunAddresses, instanceName, ecsUserData } from "./aliyun-plan";
import { sshConnection } from "./connection";

export interface AliyunMachinesArgs {
  readonly spec: AliyunSettings;
  readonly privateKey: pulumi.Input<string>;
  readonly publicKey: pulumi.Input<string>;
}

/** The first zone the data source offers; a clear error when the instance type is sold nowhere. */
export function firstZone(zones: readonly { id: string }[], instanceType: string, region: string): string {
  if (zones.length === 0) throw new Error(`aliyun: no zone in ${region} offers instance type ${instanceType} with vSwitch creation; set aliyun.zone or another aliyun.instanceType`);
  return zones[0].id;
}

export function newestImage(images: readonly { id: string }[], nameRegex: string, region: string): string {
  if (images.length === 0) throw new Error(`aliyun: no system image in ${region} matches ${nameRegex}; set aliyun.imageId or aliyun.imageNameRegex`);
  return images[0].id;
}

export class AliyunMachines extends pulumi.ComponentResource {
  public readonly hosts: Host[];

  constructor(name: string, args: AliyunMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:vm:AliyunMachines", name, {}, opts);
    const { spec } = args;
    const a = spec.aliyun;
    if (!a) throw new Error("internal: AliyunMachines without spec.aliyun");
    checkAliyunAddresses(spec);

    const provider = new alicloud.Provider(`${name}-provider`, { region: a.region }, { parent: this });
    const child = { parent: this, provider };
    const invoke = { parent: this, provider };
    // Cloud-side names carry the stack so two stacks in one account do not collide.
    const prefix = `${spec.clusterName}-${pulumi.getStack()}`;

    const zoneId: pulumi.Input<string> =
      a.zone ??
      alicloud
        .getZonesOutput({ availableResourceCreation: "VSwitch", availableInstanceType: a.instanceType }, invoke)
        .apply((r) => firstZone(r.zones ?? [], a.instanceType, a.region));
    const imageId: pulumi.Input<string> =
      a.imageId ??
      alicloud.ecs
        .getImagesOutput({ owners: "system", nameRegex: a.imageNameRegex, mostRecent: true }, invoke)
        .apply((r) => newestImage(r.images ?? [], a.imageNameRegex, a.region));

    const vpc = new alicloud.vpc.Network(`${name}-vpc`, { vpcName: prefix, cidrBlock: a.vpcCidr, description: `kubeadm cluster ${prefix}` }, child);
    const vswitch = new alicloud.vpc.Switch(`${name}-vswitch`, { vpcId: vpc.id, cidrBlock: a.vswitchCidr, zoneId, vswitchName: prefix }, child);
    const sg = new alicloud.ecs.SecurityGroup(
      `${name}-sg`,
      { vpcId: vpc.id, securityGroupName: prefix, description: `kubeadm cluster ${prefix}`, securityGroupType: "normal", innerAccessPolicy: "Accept" },
      child,
    );
    const rules = securityGroupRules(a).map(
      (r) =>
        new alicloud.ecs.SecurityGroupRule(
          `${name}-sg-${r.key}`,
          {
            securityGroupId: sg.id,
            type: "ingress",
            ipProtocol: r.ipProtocol,
            portRange: r.portRange,
            cidrIp: r.cidrIp,
            sourceSecurityGroupId: r.fromOwnGroup ? sg.id : undefined,
            // VPC security groups take intranet rules ("nicType should be intranet ... in a VPC").
            nicType: "intranet",
            policy: "accept",
            priority: 1,
            description: r.description,
          },
          child,
        ),
    );
    const keyPair = new alicloud.ecs.EcsKeyPair(`${name}-key`, { keyPairName: `${prefix}-ssh`, publicKey: pulumi.output(args.publicKey).apply((k) => k.trim()) }, child);

    this.hosts = spec.nodes.map((node) => {
      const instance = new alicloud.ecs.Instance(
        `${spec.clusterName}-${node.name}-ecs`,
        {
          instanceName: instanceName(spec.clusterName, node),
          hostName: node.name,
          imageId,
          instanceType: a.instanceType,
          vswitchId: vswitch.id,
          securityGroups: [sg.id],
          privateIp: node.ip,
          keyName: keyPair.keyPairName,
          userData: pulumi.output(args.publicKey).apply((k) => ecsUserData(spec.ssh.user, k)),
          systemDiskCategory: a.systemDiskCategory,
          systemDiskSize: a.systemDiskSizeGb,
          instanceChargeType: a.instanceChargeType,
          internetChargeType: a.internetChargeType,
          internetMaxBandwidthOut: a.internetMaxBandwidthOut,
          spotStrategy: a.spotStrategy,
          tags: { "kubeadm-cluster": prefix, "kubeadm-node": node.name },
        },
        // SSH must be allowed before anything tries to connect to the instance.
        { ...child, dependsOn: rules },
      );
      const hasPublicIp = a.internetMaxBandwidthOut > 0;
      const publicIp = instance.publicIp;
      return {
        name: node.name,
        role: node.role,
        nodeIp: node.ip,
        publicAddress: hasPublicIp ? publicIp : undefined,
        // Without a public IP the Pulumi host must be inside the VPC (or VPN'd into it).
        connection: sshConnection(hasPublicIp ? publicIp : instance.privateIp, 22, spec.ssh.user, args.privateKey, spec.ssh.connectTimeoutSeconds),
        machineId: instance.id,
        machine: instance,
      };
    });
    this.registerOutputs({ vpcId: vpc.id, securityGroupId: sg.id, machineIds: this.hosts.map((h) => h.machineId) });
  }
}
