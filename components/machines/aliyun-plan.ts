// Aliyun ECS decisions as data (pure; tests read them): security group rules, names, address checks
// and the optional cloud-init user for a non-root SSH user.
import { AliyunSpec, ClusterSpec, NodeSpec } from "../spec";
import { parseCidr, parseIpv4, cidrContains, cidrContainsCidr, lastAddress } from "../net";
import * as crypto from "crypto";
import { toYaml } from "./cloud-init";
import { fingerprint, hostKeyCloudConfig } from "./host-keys";

export interface SgRule {
  /** Resource name suffix. */
  readonly key: string;
  readonly ipProtocol: "tcp" | "udp" | "all";
  /** "from/to"; "-1/-1" for all ports. */
  readonly portRange: string;
  /** Exactly one of cidrIp / fromOwnGroup. */
  readonly cidrIp?: string;
  readonly fromOwnGroup?: true;
  readonly description: string;
}

/**
 * Ingress rules. From the admin CIDR only: SSH (22), the API server (6443) and NodePorts (30000-32767,
 * TCP and UDP). Between members of the group: everything (etcd 2379-2380, kubelet 10250, scheduler
 * 10259, controller-manager 10257, kube-proxy 10256, flannel VXLAN 8472/udp, NodePorts) [FACTS §7.3].
 * Egress stays the group default (allow all): nodes pull packages and images.
 */
export function securityGroupRules(a: AliyunSpec): SgRule[] {
  return [
    { key: "ssh", ipProtocol: "tcp", portRange: "22/22", cidrIp: a.adminCidr, description: "SSH from the admin network" },
    { key: "apiserver", ipProtocol: "tcp", portRange: "6443/6443", cidrIp: a.adminCidr, description: "Kubernetes API from the admin network" },
    { key: "nodeports-tcp", ipProtocol: "tcp", portRange: "30000/32767", cidrIp: a.adminCidr, description: "NodePort services (TCP) from the admin network" },
    { key: "nodeports-udp", ipProtocol: "udp", portRange: "30000/32767", cidrIp: a.adminCidr, description: "NodePort services (UDP) from the admin network" },
    { key: "intra-cluster", ipProtocol: "all", portRange: "-1/-1", fromOwnGroup: true, description: "All traffic between cluster nodes (kubeadm ports, flannel VXLAN 8472/udp)" },
  ];
}

/** Checks the addresses Aliyun would otherwise reject late (or worse, accept and misroute). */
export function checkAliyunAddresses(spec: Pick<ClusterSpec, "aliyun" | "nodes">): void {
  const a = spec.aliyun;
  if (!a) throw new Error("internal: aliyun checks without spec.aliyun");
  const vpc = parseCidr(a.vpcCidr);
  if (!vpc.ok) throw new Error(`aliyun.vpcCidr ${a.vpcCidr}: ${vpc.reason}`);
  const vsw = parseCidr(a.vswitchCidr);
  if (!vsw.ok) throw new Error(`aliyun.vswitchCidr ${a.vswitchCidr}: ${vsw.reason}`);
  if (!cidrContainsCidr(vpc.cidr, vsw.cidr)) throw new Error(`aliyun.vswitchCidr ${a.vswitchCidr} is not inside aliyun.vpcCidr ${a.vpcCidr}`);
  const admin = parseCidr(a.adminCidr);
  if (!admin.ok) throw new Error(`aliyun.adminCidr ${a.adminCidr}: ${admin.reason}`);
  for (const n of spec.nodes) {
    const ip = parseIpv4(n.ip);
    // Aliyun reserves the first and the last three addresses of every vSwitch.
    if (ip === undefined || !cidrContains(vsw.cidr, ip) || ip === vsw.cidr.network || ip > lastAddress(vsw.cidr) - 3) {
      throw new Error(`node ${n.name}: ip ${n.ip} must be a usable address inside aliyun.vswitchCidr ${a.vswitchCidr} (not the first or the last three)`);
    }
  }
}

/** ECS instance name: cluster prefix, like the VirtualBox VM names. */
export function instanceName(clusterName: string, node: NodeSpec): string {
  return `${clusterName}-${node.name}`;
}

/** The machine's host key, as cloud-init receives it. */
export interface HostKeyMaterial {
  readonly privateKeyOpenssh: string;
  readonly publicLine: string;
}

/**
 * cloud-init user-data (base64): the pinned SSH host key (host-keys.ts) and, for a non-root SSH user,
 * that user with the key and passwordless sudo (the key pair alone only authorizes root on Aliyun's
 * Ubuntu images).
 */
export function ecsUserData(user: string, publicKey: string, hostKey: HostKeyMaterial): string {
  const keys = hostKeyCloudConfig(hostKey.privateKeyOpenssh, hostKey.publicLine);
  const config =
    user === "root"
      ? { ...keys }
      : {
          users: [{ name: user, shell: "/bin/bash", groups: ["sudo"], sudo: "ALL=(ALL) NOPASSWD:ALL", lock_passwd: true, ssh_authorized_keys: [publicKey.trim()] }],
          ssh_pwauth: false,
          ...keys,
        };
  const text = "#cloud-config\n" + toYaml(config);
  return Buffer.from(text, "utf8").toString("base64");
}

/** Tag on an instance created with a pinned host key: its value is the key's fingerprint. */
export const HOST_KEY_TAG = "kubeadm-host-key";

/**
 * The key to pin for an instance, from the tags the instance really has. Instances created before keys
 * were pinned have neither the tag nor the key (tags and user data are ignoreChanges: applying them to
 * a running instance would reboot it and cloud-init would not install the key again), so they stay
 * unpinned rather than fail every connection.
 */
export function pinnedHostKey(tags: Readonly<Record<string, string>> | undefined, publicLine: string): string | undefined {
  return tags?.[HOST_KEY_TAG] === fingerprint(publicLine) ? publicLine : undefined;
}

/** The key pair's name carries the key's fingerprint: a new key is a new key pair, created before the old one goes. */
export function keyPairName(prefix: string, publicKey: string): string {
  const short = crypto.createHash("sha256").update(publicKey.trim().split(/\s+/).slice(0, 2).join(" ")).digest("hex").slice(0, 8);
  return `${prefix}-ssh-${short}`;
}
