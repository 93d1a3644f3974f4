// The typed, validated cluster description every component receives. Built only by config/
// (readClusterSpec / buildClusterSpec); components never read pulumi.Config themselves.
import * as pulumi from "@pulumi/pulumi";
import { ParsedVersion } from "./versions";

export type MachineProvider = "virtualbox" | "aliyun" | "existing";
export type NodeRole = "control-plane" | "worker";
export type MirrorProfile = "default" | "china";

export interface NodeSpec {
  /** Hostname and Kubernetes node name (RFC 1123 label). */
  readonly name: string;
  readonly role: NodeRole;
  /** The address Kubernetes uses: kubelet node-ip, advertiseAddress, /etc/hosts, flannel iface. */
  readonly ip: string;
  /** existing hosts only: where SSH connects if not `ip` (e.g. a public address or a jump-free NAT). */
  readonly sshHost?: string;
  /** existing hosts only: SSH port (default ssh.port). */
  readonly sshPort?: number;
  /** existing hosts only: a public address to add to the API server certSANs and the kubeconfig. */
  readonly publicIp?: string;
  /** existing hosts only: the host's SSH public key ("<type> <base64>"), pinned in every connection. */
  readonly hostKey?: string;
}

export interface SshSpec {
  readonly user: string;
  readonly port: number;
  /** OpenSSH public key line. Needed by virtualbox/aliyun when a private key is configured. */
  readonly publicKey?: string;
  /**
   * Secret private key from config `sshPrivateKey`. Undefined for virtualbox/aliyun when not set:
   * the program then generates a key pair (secret in state) and exports it.
   */
  readonly privateKey?: pulumi.Output<string>;
  /** Seconds to keep dialing SSH before a step fails (fresh VMs take a while to boot). */
  readonly connectTimeoutSeconds: number;
}

export interface KubernetesSpec {
  readonly version: ParsedVersion;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly dnsDomain: string;
  /** The NIC carrying cluster traffic (flannel --iface). VirtualBox: enp0s8. Undefined = default route NIC. */
  readonly nic?: string;
  /** Bootstrap token TTL used when (re)creating the join token, e.g. "24h" or "0" (never expires). */
  readonly tokenTtl: string;
  /**
   * Any label (e.g. "2027-06"); when it changes, the next `pulumi up` renews the control plane's
   * certificates and re-reads the kubeconfig. Undefined: never renewed by the program.
   */
  readonly certificateRenewal?: string;
  /**
   * During a version upgrade, how many workers are drained and upgraded at once (batches in node order;
   * the next batch starts when the previous one is Ready and uncordoned). Default 1.
   */
  readonly upgradeBatchSize: number;
  /**
   * The stable API address (kubeadm controlPlaneEndpoint) when there are several control planes, or
   * when one was configured on purpose. Undefined: the control plane's own IP (a single control plane).
   */
  readonly controlPlaneEndpoint?: ControlPlaneEndpointSpec;
}

/** Who holds the control-plane endpoint and where (docs/ha.md). */
export type ControlPlaneEndpointSpec =
  | {
      readonly address: string;
      /** haproxy's port on every control plane (the API server keeps 6443). */
      readonly port: number;
      /** keepalived moves `address` between the control planes; haproxy spreads over their API servers. */
      readonly holder: "keepalived-haproxy";
      /** VRRP virtual_router_id: the address's last octet, so two clusters on one LAN differ. */
      readonly vrrpRouterId: number;
    }
  | {
      readonly address: string;
      readonly port: number;
      /** An Aliyun NLB in the cluster's VPC answers on `address` (components/machines/aliyun-lb.ts). */
      readonly holder: "aliyun-nlb";
      /** The vSwitch of the NLB's second zone (aliyun.lbVswitchCidr or its default). */
      readonly lbVswitchCidr: string;
    };

export interface MirrorSpec {
  readonly profile: MirrorProfile;
  /**
   * Base of the Kubernetes apt repositories, ending in "/". The repo for a minor is
   * `${aptBase}v1.30/deb/` (pkgs.k8s.io: https://pkgs.k8s.io/core:/stable:/ ;
   * Aliyun: https://mirrors.aliyun.com/kubernetes-new/core/stable/).
   */
  readonly aptBase: string;
  /** kubeadm imageRepository (control-plane images, pause). */
  readonly imageRepository: string;
  /** kubeadm dns.imageRepository when the repository flattens coredns differently; undefined = kubeadm default. */
  readonly dnsImageRepository?: string;
  /** containerd hosts.toml mirrors: registry host -> mirror endpoints (https://...), tried in order. */
  readonly registryMirrors: Readonly<Record<string, readonly string[]>>;
}

export interface FlannelSpec {
  readonly enabled: boolean;
  readonly image: string;
  readonly cniPluginImage: string;
  /** VXLAN backend (the upstream default). */
  readonly backend: "vxlan" | "host-gw";
}

export interface MetricsServerSpec {
  readonly enabled: boolean;
  /** e.g. "v0.8.1"; chosen from the Kubernetes minor unless configured. */
  readonly version: string;
  readonly image: string;
  /** true = pass --kubelet-insecure-tls (labs only); false = kubelet serverTLSBootstrap + CSR approval. */
  readonly kubeletInsecureTls: boolean;
}

/** postfinance/kubelet-csr-approver: approves kubelet serving certificate renewals in the cluster. */
export interface CsrApproverSpec {
  readonly enabled: boolean;
  readonly image: string;
}

export interface HpaSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuUtilization: number;
  /** Scale-down policy: at most this percent of pods ... */
  readonly scaleDownPercent: number;
  /** ... per this many seconds. */
  readonly scaleDownPeriodSeconds: number;
}

export interface DemoSpec {
  readonly enabled: boolean;
  readonly namespace: string;
  readonly fileserverImage: string;
  readonly downloaderImage: string;
  readonly fileserverPort: number;
  readonly downloaderPort: number;
  /** hostPath for the Pod's shared volume (DirectoryOrCreate). */
  readonly hostPath: string;
  readonly cpuRequest: string;
  readonly cpuLimit: string;
  readonly hpa: HpaSpec;
  /** Image for load generators (scripts/ops/hpa-load). */
  readonly loadImage: string;
}

export interface VirtualBoxSpec {
  /** Path or name of VBoxManage on the Pulumi host. */
  readonly vboxManage: string;
  /** Host-only adapter for NIC2 (vboxnet0 on Linux/macOS; "VirtualBox Host-Only Ethernet Adapter" on Windows). */
  readonly hostOnlyAdapter: string;
  /** The host-only network the node IPs must be inside, e.g. 192.168.56.0/24. */
  readonly hostOnlyCidr: string;
  /** Ubuntu 22.04 cloud image (.ova or .vmdk) on the Pulumi host. */
  readonly imagePath: string;
  /** Folder where VMs are created (default: VirtualBox's default machine folder). */
  readonly baseFolder?: string;
  readonly controlPlane: VmSize;
  readonly worker: VmSize;
  /** Seconds to wait for SSH on a new VM. */
  readonly bootTimeoutSeconds: number;
}

export interface VmSize {
  readonly cpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
}

export interface AliyunSpec {
  readonly region: string;
  /** Zone; undefined = first zone offering the instance type (data source). */
  readonly zone?: string;
  readonly instanceType: string;
  /** Image id; undefined = newest system Ubuntu 22.04 image (data source). */
  readonly imageId?: string;
  readonly imageNameRegex: string;
  readonly vpcCidr: string;
  readonly vswitchCidr: string;
  /** Only this CIDR may reach SSH (22) and the API server (6443). */
  readonly adminCidr: string;
  readonly systemDiskCategory: string;
  readonly systemDiskSizeGb: number;
  /** Mbps; > 0 allocates a public IP (needed for SSH from outside the VPC). */
  readonly internetMaxBandwidthOut: number;
  readonly internetChargeType: "PayByTraffic" | "PayByBandwidth";
  readonly instanceChargeType: "PostPaid" | "PrePaid";
  readonly spotStrategy: "NoSpot" | "SpotAsPriceGo";
  /**
   * HA: the CIDR of the vSwitch the API load balancer's second zone uses (an NLB needs two zones);
   * undefined = the highest free /24 of the VPC (components/machines/aliyun-lb-plan.ts).
   */
  readonly lbVswitchCidr?: string;
  /** Name of the key pair; undefined = derived from the key's fingerprint. */
  readonly keyPairName?: string;
}

/** What `pulumi destroy` undoes on machines the program did not create (provider existing). */
export interface ExistingSpec {
  /** Purge kubelet, kubeadm, kubectl, cri-tools, kubernetes-cni and the packages prep installed. */
  readonly removeKubePackages: boolean;
  /** Turn swap back on (the fstab lines prep commented out). */
  readonly restoreSwap: boolean;
}

export interface ClusterSpec {
  /** Prefix for VM names and cloud resource names, e.g. "kubeadm". */
  readonly clusterName: string;
  readonly provider: MachineProvider;
  /** The control planes (1, or 3/5/7 for HA; the first one runs kubeadm init) first, then workers in config order. */
  readonly nodes: readonly NodeSpec[];
  readonly ssh: SshSpec;
  readonly kubernetes: KubernetesSpec;
  readonly mirrors: MirrorSpec;
  readonly flannel: FlannelSpec;
  readonly metricsServer: MetricsServerSpec;
  readonly kubeletCsrApprover: CsrApproverSpec;
  readonly demo: DemoSpec;
  /** Present iff provider = virtualbox. */
  readonly virtualbox?: VirtualBoxSpec;
  /** Present iff provider = aliyun. */
  readonly aliyun?: AliyunSpec;
  /** Present iff provider = existing. */
  readonly existing?: ExistingSpec;
}

export function controlPlaneNode(spec: Pick<ClusterSpec, "nodes">): NodeSpec {
  const cp = spec.nodes.find((n) => n.role === "control-plane");
  if (!cp) throw new Error("internal: validated spec has no control plane");
  return cp;
}

export function workerNodes(spec: Pick<ClusterSpec, "nodes">): readonly NodeSpec[] {
  return spec.nodes.filter((n) => n.role === "worker");
}
