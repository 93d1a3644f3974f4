// Typed ClusterSpec fixtures for component tests that must not depend on config parsing.
// config.test.ts checks that the real config files produce equivalent specs.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, NodeSpec } from "../components/spec";
import { parseKubernetesVersion, metricsServerVersion } from "../components/versions";

export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nTESTKEYDONOTUSE\n-----END OPENSSH PRIVATE KEY-----\n";
export const TEST_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEYDONOTUSE test@example";
/** A VM's SSH host key pair as the VirtualBox plan gets it (ECDSA P-256, public key without comment). */
export const TEST_HOST_KEY = {
  publicKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBHOSTKEYTESTDONOTUSE",
  privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nHOSTKEYPRIVATEDONOTUSE\n-----END OPENSSH PRIVATE KEY-----\n",
} as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function version(v: string) {
  const p = parseKubernetesVersion(v);
  if (!p) throw new Error(`bad fixture version ${v}`);
  return p;
}

/** The seed VirtualBox lab: k8s-control 192.168.56.10, k8s-worker 192.168.56.20, Kubernetes 1.30. */
export function devSpec(over: Partial<Mutable<ClusterSpec>> = {}, k8sVersion = "1.30.12"): ClusterSpec {
  const v = version(k8sVersion);
  const base: ClusterSpec = {
    clusterName: "kubeadm",
    provider: "virtualbox",
    nodes: [
      { name: "k8s-control", role: "control-plane", ip: "192.168.56.10" },
      { name: "k8s-worker", role: "worker", ip: "192.168.56.20" },
    ],
    ssh: { user: "ubuntu", port: 22, publicKey: TEST_PUBLIC_KEY, privateKey: pulumi.secret(TEST_PRIVATE_KEY), connectTimeoutSeconds: 600 },
    kubernetes: { version: v, podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local", nic: "enp0s8", tokenTtl: "24h", upgradeBatchSize: 1 },
    mirrors: { profile: "default", aptBase: "https://pkgs.k8s.io/core:/stable:/", imageRepository: "registry.k8s.io", registryMirrors: {} },
    flannel: { enabled: true, image: "ghcr.io/flannel-io/flannel:v0.28.9", cniPluginImage: "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", backend: "vxlan" },
    metricsServer: {
      enabled: true,
      version: metricsServerVersion(v.minor),
      image: `registry.k8s.io/metrics-server/metrics-server:${metricsServerVersion(v.minor)}`,
      kubeletInsecureTls: false,
    },
    kubeletCsrApprover: { enabled: true, image: "ghcr.io/postfinance/kubelet-csr-approver:v1.2.15" },
    demo: {
      enabled: true,
      namespace: "default",
      fileserverImage: "docker.io/7143192/fileserver:latest",
      downloaderImage: "docker.io/7143192/downloader:latest",
      fileserverPort: 8080,
      downloaderPort: 3000,
      hostPath: "/home/data",
      cpuRequest: "200m",
      cpuLimit: "500m",
      hpa: { minReplicas: 3, maxReplicas: 6, cpuUtilization: 40, scaleDownPercent: 10, scaleDownPeriodSeconds: 60 },
      loadImage: "docker.io/library/busybox:1.36",
    },
    virtualbox: {
      vboxManage: "VBoxManage",
      hostOnlyAdapter: "vboxnet0",
      hostOnlyCidr: "192.168.56.0/24",
      imagePath: "/home/user/images/ubuntu-22.04-server-cloudimg-amd64.ova",
      controlPlane: { cpus: 2, memoryMb: 4096, diskGb: 20 },
      worker: { cpus: 2, memoryMb: 2048, diskGb: 20 },
      bootTimeoutSeconds: 600,
    },
  };
  return Object.freeze({ ...base, ...over });
}

/** The Aliyun runbook: k8s-master + k8s-worker on ECS, Kubernetes 1.28, china mirrors. */
export function aliyunSpec(over: Partial<Mutable<ClusterSpec>> = {}): ClusterSpec {
  const v = version("1.28.9");
  const nodes: NodeSpec[] = [
    { name: "k8s-master", role: "control-plane", ip: "172.16.1.10" },
    { name: "k8s-worker", role: "worker", ip: "172.16.1.20" },
  ];
  const dev = devSpec({}, "1.28.9");
  const spec: ClusterSpec = {
    ...dev,
    provider: "aliyun",
    nodes,
    ssh: { ...dev.ssh, user: "root" },
    kubernetes: { ...dev.kubernetes, version: v, nic: "eth0" },
    mirrors: {
      profile: "china",
      aptBase: "https://mirrors.aliyun.com/kubernetes-new/core/stable/",
      imageRepository: "registry.aliyuncs.com/google_containers",
      registryMirrors: {
        "docker.io": ["https://docker.m.daocloud.io"],
        "ghcr.io": ["https://ghcr.m.daocloud.io"],
        "registry.k8s.io": ["https://k8s.m.daocloud.io"],
      },
    },
    // Behind DaoCloud, flannel comes from its Docker Hub copy (ghcr.io/flannel-io is not mirrored).
    flannel: { ...dev.flannel, image: "docker.m.daocloud.io/flannel/flannel:v0.28.9", cniPluginImage: "docker.m.daocloud.io/flannel/flannel-cni-plugin:v1.9.1-flannel3" },
    metricsServer: { ...dev.metricsServer, image: "k8s.m.daocloud.io/metrics-server/metrics-server:v0.7.2" },
    // Images DaoCloud does not mirror, from the user's own registry (the stack file's CHANGE-ME as the render shows it).
    kubeletCsrApprover: { enabled: true, image: "registry.cn-hangzhou.aliyuncs.com/change-me/kubelet-csr-approver:v1.2.15" },
    demo: {
      ...dev.demo,
      fileserverImage: "registry.cn-hangzhou.aliyuncs.com/change-me/fileserver:latest",
      downloaderImage: "registry.cn-hangzhou.aliyuncs.com/change-me/downloader:latest",
    },
    virtualbox: undefined,
    aliyun: {
      region: "cn-hangzhou",
      instanceType: "ecs.c7.large",
      imageNameRegex: "^ubuntu_22_04_x64_20G_alibase_",
      vpcCidr: "172.16.0.0/16",
      vswitchCidr: "172.16.1.0/24",
      adminCidr: "198.18.0.1/32", // the render's stand-in for the stack file's CHANGE-ME/32
      systemDiskCategory: "cloud_essd",
      systemDiskSizeGb: 40,
      internetMaxBandwidthOut: 10,
      internetChargeType: "PayByTraffic",
      instanceChargeType: "PostPaid",
      spotStrategy: "NoSpot",
    },
    ...over,
  };
  return Object.freeze(spec);
}

/** An existing-hosts spec with `workers` workers (for scale tests). */
export function existingSpec(workers = 1, over: Partial<Mutable<ClusterSpec>> = {}): ClusterSpec {
  const dev = devSpec();
  const nodes: NodeSpec[] = [{ name: "cp", role: "control-plane", ip: "10.10.0.10" }];
  for (let i = 1; i <= workers; i++) nodes.push({ name: `w${i}`, role: "worker", ip: `10.10.${Math.floor(i / 250) + 1}.${(i % 250) + 1}` });
  return Object.freeze({ ...dev, provider: "existing", nodes, virtualbox: undefined, kubernetes: { ...dev.kubernetes, nic: undefined }, ...over });
}
