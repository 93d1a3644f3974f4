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
import { securityGroupRules, checkAliyunAddresses, instanceName, ecsUserData, HOST_KEY_TAG, keyPairName, pinnedHostKey } from "./aliyun-plan";
import { fingerprint, hostKeyPair, publicKeyLine } from "./host-keys";
import { sshConnection } from "./connection";
import { AliyunApiLoadBalancer } from "./aliyun-lb";
import { ApiLoadBalancerSettings, checkLbNodes } from "./aliyun-lb-plan";

export interface AliyunMachinesArgs {
  readonly spec: AliyunSettings;
  readonly privateKey: pulumi.Input<string>;
  readonly publicKey: pulumi.Input<string>;
  /**
   * HA control plane: put an NLB (aliyun-lb.ts) in front of every control-plane instance, its private
   * address `endpointIp` (kubeadm controlPlaneEndpoint). Unset: nothing of it is registered.
   */
  readonly apiLoadBalancer?: ApiLoadBalancerSettings;
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

/** ignoreChanges for inputs a data source resolved (the config left them unset): keep the first value. */
export function derivedIgnores(configured: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(configured)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
}

export class AliyunMachines extends pulumi.ComponentResource {
  public readonly hosts: Host[];
  /** The API load balancer, when `apiLoadBalancer` was given. */
  public readonly apiLoadBalancer?: AliyunApiLoadBalancer;

  constructor(name: string, args: AliyunMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:vm:AliyunMachines", name, {}, opts);
    const { spec } = args;
    const a = spec.aliyun;
    if (!a) throw new Error("internal: AliyunMachines without spec.aliyun");
    checkAliyunAddresses(spec);
    if (args.apiLoadBalancer) checkLbNodes(spec.nodes, a, args.apiLoadBalancer);

    // replaceOnImageUpdate: a changed aliyun.imageId replaces the instance (new id: the node lifecycle
    // runs again) instead of the provider's default in-place ReplaceSystemDisk, which keeps the id and
    // wipes the disk under a "successful" up (terraform-provider-alicloud resource_alicloud_instance.go
    // image_id: not ForceNew; @pulumi/alicloud types ProviderFeaturesEcsInstance.replaceOnImageUpdate).
    const provider = new alicloud.Provider(`${name}-provider`, { region: a.region, features: { ecsInstance: { replaceOnImageUpdate: true } } }, { parent: this });
    const child = { parent: this, provider };
    const invoke = { parent: this, provider };
    // Cloud-side names carry the stack so two stacks in one account do not collide.
    const prefix = `${spec.clusterName}-${pulumi.getStack()}`;

    // Values a data source looks up are resolved once and kept (ignoreChanges): the newest image or the
    // first zone with stock change over time, and applying a new one would re-image the nodes in place
    // or replace the vSwitch. A value set in config is followed (a deliberate change).
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
    const vswitch = new alicloud.vpc.Switch(
      `${name}-vswitch`,
      { vpcId: vpc.id, cidrBlock: a.vswitchCidr, zoneId, vswitchName: prefix },
      // zone_id and cidr_block are ForceNew; the replacement reuses the CIDR, so the old one goes first.
      { ...child, deleteBeforeReplace: true, ignoreChanges: derivedIgnores({ zoneId: a.zone }) },
    );
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
    const publicKey = pulumi.output(args.publicKey).apply((k) => k.trim());
    // key_pair_name and public_key are ForceNew and names are unique per account: a name derived from
    // the key makes a new key a new pair, created before the old one is deleted (an attached pair
    // cannot be deleted: KeypairAlreadyAttachedInstance).
    const keyPair = new alicloud.ecs.EcsKeyPair(`${name}-key`, { keyPairName: a.keyPairName ?? publicKey.apply((k) => keyPairName(prefix, k)), publicKey }, child);

    const controlPlanes: { name: string; instance: alicloud.ecs.Instance }[] = [];
    this.hosts = spec.nodes.map((node) => {
      const hostKey = hostKeyPair(`${spec.clusterName}-${node.name}-host-key`, { parent: this });
      const hostLine = publicKeyLine(hostKey);
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
          // Carries the host's private key: secret in state.
          userData: pulumi.secret(
            pulumi.all([publicKey, hostKey.privateKeyOpenssh, hostLine]).apply(([k, priv, pub]) => ecsUserData(spec.ssh.user, k, { privateKeyOpenssh: priv, publicLine: pub })),
          ),
          systemDiskCategory: a.systemDiskCategory,
          systemDiskSize: a.systemDiskSizeGb,
          instanceChargeType: a.instanceChargeType,
          internetChargeType: a.internetChargeType,
          internetMaxBandwidthOut: a.internetMaxBandwidthOut,
          spotStrategy: a.spotStrategy,
          tags: hostLine.apply((pub) => ({ "kubeadm-cluster": prefix, "kubeadm-node": node.name, [HOST_KEY_TAG]: fingerprint(pub) })),
        },
        {
          ...child,
          // SSH must be allowed before anything tries to connect to the instance.
          dependsOn: rules,
          // A replacement keeps the node's fixed private IP: the old instance must go first.
          deleteBeforeReplace: true,
          additionalSecretOutputs: ["userData"],
          // userData and the host-key tag only matter at creation (cloud-init installs the key once);
          // applying them to a running instance would reboot it for nothing.
          ignoreChanges: ["userData", `tags["${HOST_KEY_TAG}"]`, ...derivedIgnores({ imageId: a.imageId })],
        },
      );
      if (node.role === "control-plane") controlPlanes.push({ name: node.name, instance });
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
        hostKey: pulumi.all([instance.tags, hostLine]).apply(([tags, pub]) => pinnedHostKey(tags, pub)),
      };
    });
    if (args.apiLoadBalancer) {
      this.apiLoadBalancer = new AliyunApiLoadBalancer(
        `${name}-api-lb`,
        {
          prefix,
          aliyun: a,
          provider,
          vpcId: vpc.id,
          // The zone the vSwitch keeps (ignoreChanges), not a newer data-source answer.
          zoneId: vswitch.zoneId,
          vswitchId: vswitch.id,
          nodeSecurityGroupId: sg.id,
          endpointIp: args.apiLoadBalancer.endpointIp,
          secondVswitchCidr: args.apiLoadBalancer.secondVswitchCidr,
          controlPlanes,
          otherInstances: this.hosts.filter((h) => h.role !== "control-plane").map((h) => h.machine as alicloud.ecs.Instance),
        },
        { parent: this },
      );
    }
    this.registerOutputs({ vpcId: vpc.id, securityGroupId: sg.id, machineIds: this.hosts.map((h) => h.machineId) });
  }
}
