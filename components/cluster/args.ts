// KubeadmClusterArgs: the cluster description a program passes to `new KubeadmCluster(...)`. It is the
// stack config of docs/configuration.md as a typed object (same keys, same defaults, same validation:
// the component runs the one config validator over it), so a stack file and a library call describe
// a cluster the same way. Plain values only: the machines and versions must be known before anything
// is created, and a mistake is reported, all at once, before any machine is touched.
import * as pulumi from "@pulumi/pulumi";
import { MachineProvider, MirrorProfile, NodeRole } from "../spec";
import { RawConfig } from "../config";

export interface NodeConfig {
  readonly name: string;
  readonly role: NodeRole;
  readonly ip: string;
  /** existing only */
  readonly sshHost?: string;
  /** existing only */
  readonly sshPort?: number;
  /** existing only */
  readonly publicIp?: string;
  /** existing only: one line of `ssh-keyscan -t ecdsa <host>` */
  readonly hostKey?: string;
}

export interface NodeCountConfig {
  readonly workers?: number;
  readonly firstIp?: string;
  readonly ipStep?: number;
  readonly namePrefix?: string;
}

export interface SshConfig {
  readonly user?: string;
  readonly port?: number;
  readonly publicKey?: string;
  readonly connectTimeoutSeconds?: number;
}

export interface KubernetesConfig {
  readonly version: string;
  readonly podSubnet?: string;
  readonly serviceSubnet?: string;
  readonly dnsDomain?: string;
  readonly nic?: string;
  readonly tokenTtl?: string;
  readonly certificateRenewal?: string;
  readonly upgradeBatchSize?: number;
  /** IPv4; required with 3+ control planes on VirtualBox/existing hosts (docs/ha.md). */
  readonly controlPlaneEndpoint?: string;
}

export interface MirrorsConfig {
  readonly profile?: MirrorProfile;
  readonly aptBase?: string;
  readonly imageRepository?: string;
  readonly dnsImageRepository?: string;
  readonly registryMirrors?: Readonly<Record<string, readonly string[]>>;
}

export interface FlannelConfig {
  readonly enabled?: boolean;
  readonly image?: string;
  readonly cniPluginImage?: string;
  readonly backend?: "vxlan" | "host-gw";
}

export interface MetricsServerConfig {
  readonly enabled?: boolean;
  readonly version?: string;
  readonly image?: string;
  readonly kubeletInsecureTls?: boolean;
}

export interface KubeletCsrApproverConfig {
  readonly enabled?: boolean;
  readonly image?: string;
}

export interface DemoConfig {
  readonly enabled?: boolean;
  readonly namespace?: string;
  readonly fileserverImage?: string;
  readonly downloaderImage?: string;
  readonly fileserverPort?: number;
  readonly downloaderPort?: number;
  readonly hostPath?: string;
  readonly cpuRequest?: string;
  readonly cpuLimit?: string;
  readonly hpa?: {
    readonly minReplicas?: number;
    readonly maxReplicas?: number;
    readonly cpuUtilization?: number;
    readonly scaleDownPercent?: number;
    readonly scaleDownPeriodSeconds?: number;
  };
  readonly loadImage?: string;
}

export interface VmSizeConfig {
  readonly cpus?: number;
  readonly memoryMb?: number;
  readonly diskGb?: number;
}

export interface VirtualBoxConfig {
  readonly vboxManage?: string;
  readonly hostOnlyAdapter?: string;
  readonly hostOnlyCidr?: string;
  readonly allowOutsideDefaultRange?: boolean;
  readonly imagePath: string;
  readonly baseFolder?: string;
  readonly controlPlane?: VmSizeConfig;
  readonly worker?: VmSizeConfig;
  readonly bootTimeoutSeconds?: number;
}

export interface AliyunConfig {
  readonly region?: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly imageId?: string;
  readonly imageNameRegex?: string;
  readonly vpcCidr?: string;
  readonly vswitchCidr?: string;
  readonly adminCidr: string;
  readonly allowAdminFromAnywhere?: boolean;
  readonly systemDiskCategory?: string;
  readonly systemDiskSizeGb?: number;
  readonly internetMaxBandwidthOut?: number;
  readonly internetChargeType?: "PayByTraffic" | "PayByBandwidth";
  readonly instanceChargeType?: "PostPaid" | "PrePaid";
  readonly spotStrategy?: "NoSpot" | "SpotAsPriceGo";
  readonly keyPairName?: string;
}

export interface ExistingConfig {
  readonly removeKubePackages?: boolean;
  readonly restoreSwap?: boolean;
}

/** Every key of docs/configuration.md except `sshPrivateKey`, which is a (secret) Input here. */
export interface KubeadmClusterArgs {
  readonly provider: MachineProvider;
  /** Default: the component's name. Prefixes VM and cloud resource names. */
  readonly clusterName?: string;
  readonly nodes?: readonly NodeConfig[];
  readonly nodeCount?: NodeCountConfig;
  readonly ssh?: SshConfig;
  readonly kubernetes: KubernetesConfig;
  readonly mirrors?: MirrorsConfig;
  readonly flannel?: FlannelConfig;
  readonly metricsServer?: MetricsServerConfig;
  readonly kubeletCsrApprover?: KubeletCsrApproverConfig;
  readonly demo?: DemoConfig;
  readonly virtualbox?: VirtualBoxConfig;
  readonly aliyun?: AliyunConfig;
  readonly existing?: ExistingConfig;
  /** SSH private key (OpenSSH/PEM, no passphrase); kept secret. Without it (virtualbox/aliyun) a key pair is generated. */
  readonly sshPrivateKey?: pulumi.Input<string>;
  /**
   * Set by this project's own program (index.ts): its stacks were deployed by v0.1, when every resource
   * sat at the top of the stack. Children then get aliases to their v0.1 URNs, so nothing is replaced.
   * Leave unset in new programs.
   */
  readonly adoptV1Stack?: boolean;
}

/** The args as the config validator reads them (the secret key and component options stripped). */
export function rawConfigOf(args: KubeadmClusterArgs, defaultClusterName: string): RawConfig {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- split off what is not config
  const { sshPrivateKey, adoptV1Stack, ...config } = args;
  return { clusterName: defaultClusterName, ...config };
}
