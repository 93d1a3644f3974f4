// Pure generators of the kubeadm configuration documents (InitConfiguration, ClusterConfiguration,
// KubeletConfiguration, JoinConfiguration) for the Kubernetes version in the spec. The API version
// and the extraArgs shape follow the minor [FACTS §2.1-2.3]: v1beta3 (maps) below 1.31, v1beta4
// (lists of {name, value}) from 1.31.
import * as yaml from "js-yaml";
import { ClusterSpec, NodeSpec } from "../spec";

/** What the kubeadm documents need from the cluster description. */
export type KubeadmSettings = Pick<ClusterSpec, "kubernetes" | "mirrors" | "metricsServer">;
type VersionOnly = Pick<ClusterSpec, "kubernetes">;
import { kubeadmApiVersion } from "../versions";

/**
 * Stands in for kubernetesVersion when only a minor was configured: init.sh / prep.sh replace it with
 * the installed `kubeadm version -o short`, so the cluster runs exactly the patch apt installed.
 */
export const KUBEADM_VERSION_PLACEHOLDER = "@INSTALLED_KUBEADM_VERSION@";

export const CRI_SOCKET = "unix:///var/run/containerd/containerd.sock";
export const API_PORT = 6443;
const TOKEN_FORMAT = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CA_HASH_FORMAT = /^sha256:[0-9a-f]{64}$/;

export type ExtraArgs = Record<string, string> | { name: string; value: string }[];
/** A kubeadm/kubelet config document (plain data, dumped to YAML). */
export type KubeadmDocument = Record<string, unknown>;

/** extraArgs in the shape the API version wants: v1beta3 a map, v1beta4 a list of {name, value}. */
export function extraArgs(minor: number, args: Readonly<Record<string, string>>): ExtraArgs {
  if (kubeadmApiVersion(minor) === "kubeadm.k8s.io/v1beta3") return { ...args };
  return Object.entries(args).map(([name, value]) => ({ name, value }));
}

/** "v1.30.12", or the placeholder the node fills in when only the minor was configured. */
export function kubernetesVersionField(spec: VersionOnly): string {
  const v = spec.kubernetes.version;
  return v.patch === undefined ? KUBEADM_VERSION_PLACEHOLDER : `v${v.raw}`;
}

export function assertToken(token: string): void {
  if (!TOKEN_FORMAT.test(token)) throw new Error("bootstrap token must match [a-z0-9]{6}.[a-z0-9]{16}");
}

function nodeRegistration(spec: VersionOnly, node: NodeSpec): KubeadmDocument {
  return {
    name: node.name,
    criSocket: CRI_SOCKET,
    // node-ip: the NIC Kubernetes must use (VirtualBox NAT would otherwise give every node 10.0.2.15).
    kubeletExtraArgs: extraArgs(spec.kubernetes.version.minor, { "node-ip": node.ip }),
  };
}

/** Checks a kubeadm certificate key: "a hex encoded string that is an AES key of size 32 bytes" (kubeadm HA docs). */
export function assertCertificateKey(key: string): void {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error("certificate key must be 64 lowercase hex characters (an AES-256 key)");
}

/**
 * The address workers, kubelets and the kubeconfig use: the configured controlPlaneEndpoint (HA), else
 * the first control plane's IP and the API server's port.
 */
export function controlPlaneEndpointOf(spec: VersionOnly, firstControlPlane: NodeSpec): string {
  const e = spec.kubernetes.controlPlaneEndpoint;
  return e ? `${e.address}:${e.port}` : `${firstControlPlane.ip}:${API_PORT}`;
}

/**
 * InitConfiguration: the pre-chosen bootstrap token, the advertise address and the node registration;
 * with a certificate key (HA) the key `kubeadm init --upload-certs` encrypts the control-plane
 * certificates with ("--config and --certificate-key cannot be mixed ... add the certificateKey field",
 * kubeadm high-availability docs).
 */
export function initConfiguration(spec: VersionOnly, node: NodeSpec, token: string, certificateKey?: string): KubeadmDocument {
  assertToken(token);
  if (certificateKey !== undefined) assertCertificateKey(certificateKey);
  return {
    apiVersion: kubeadmApiVersion(spec.kubernetes.version.minor),
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token,
        ttl: spec.kubernetes.tokenTtl,
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
        usages: ["signing", "authentication"],
      },
    ],
    localAPIEndpoint: { advertiseAddress: node.ip, bindPort: API_PORT },
    nodeRegistration: nodeRegistration(spec, node),
    ...(certificateKey !== undefined ? { certificateKey } : {}),
  };
}

/**
 * ClusterConfiguration. `certSans` are the API server's extra names (node IP, node name, public
 * address); pass [] for the image pre-pull config, which only needs version and repositories.
 */
export function clusterConfiguration(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">, node: NodeSpec, certSans: readonly string[]): KubeadmDocument {
  const doc: KubeadmDocument = {
    apiVersion: kubeadmApiVersion(spec.kubernetes.version.minor),
    kind: "ClusterConfiguration",
    kubernetesVersion: kubernetesVersionField(spec),
    controlPlaneEndpoint: controlPlaneEndpointOf(spec, node),
    imageRepository: spec.mirrors.imageRepository,
    networking: {
      podSubnet: spec.kubernetes.podSubnet,
      serviceSubnet: spec.kubernetes.serviceSubnet,
      dnsDomain: spec.kubernetes.dnsDomain,
    },
  };
  if (certSans.length > 0) doc.apiServer = { certSANs: [...certSans] };
  // With a non-default repository kubeadm flattens coredns/coredns to coredns [FACTS §2.3].
  if (spec.mirrors.dnsImageRepository) doc.dns = { imageRepository: spec.mirrors.dnsImageRepository };
  return doc;
}

/** Whether kubelets request serving certificates signed by the cluster CA (metrics-server verifies them). */
export function serverTlsBootstrap(spec: Pick<ClusterSpec, "metricsServer">): boolean {
  return !spec.metricsServer.kubeletInsecureTls;
}

/** KubeletConfiguration: systemd cgroups (containerd is configured the same way) and serving certs. */
export function kubeletConfiguration(spec: Pick<ClusterSpec, "metricsServer">): KubeadmDocument {
  const doc: KubeadmDocument = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupDriver: "systemd",
  };
  if (serverTlsBootstrap(spec)) doc.serverTLSBootstrap = true;
  return doc;
}

/**
 * JoinConfiguration: token discovery pinned to the CA hash. With `certificateKey` the node joins as a
 * control plane: its API server advertises the node IP, and the control-plane certificates come from
 * the kubeadm-certs Secret, decrypted with the key (v1beta3/v1beta4 JoinControlPlane).
 */
export function joinConfiguration(
  spec: VersionOnly,
  node: NodeSpec,
  token: string,
  caCertHash: string,
  endpoint: string,
  certificateKey?: string,
): KubeadmDocument {
  assertToken(token);
  if (certificateKey !== undefined) assertCertificateKey(certificateKey);
  if (!CA_HASH_FORMAT.test(caCertHash)) throw new Error(`CA cert hash must look like sha256:<64 hex>, got ${JSON.stringify(caCertHash)}`);
  if (!/^[^\s:]+:\d+$/.test(endpoint)) throw new Error(`API endpoint must be host:port, got ${JSON.stringify(endpoint)}`);
  return {
    apiVersion: kubeadmApiVersion(spec.kubernetes.version.minor),
    kind: "JoinConfiguration",
    discovery: { bootstrapToken: { apiServerEndpoint: endpoint, token, caCertHashes: [caCertHash] } },
    nodeRegistration: nodeRegistration(spec, node),
    ...(certificateKey !== undefined ? { controlPlane: { localAPIEndpoint: { advertiseAddress: node.ip, bindPort: API_PORT }, certificateKey } } : {}),
  };
}

/** Multi-document YAML, documents in the given order. */
export function kubeadmYaml(docs: readonly KubeadmDocument[]): string {
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true })).join("---\n");
}

/** The config `kubeadm init` reads (on stdin: it carries the token, and the certificate key for HA). */
export function initConfigYaml(spec: KubeadmSettings, node: NodeSpec, token: string, certSans: readonly string[], certificateKey?: string): string {
  return kubeadmYaml([initConfiguration(spec, node, token, certificateKey), clusterConfiguration(spec, node, certSans), kubeletConfiguration(spec)]);
}

/** The config `kubeadm join` reads (on stdin); with a certificate key, a control-plane join. */
export function joinConfigYaml(spec: VersionOnly, node: NodeSpec, token: string, caCertHash: string, endpoint: string, certificateKey?: string): string {
  return kubeadmYaml([joinConfiguration(spec, node, token, caCertHash, endpoint, certificateKey)]);
}

/**
 * The config `kubeadm init phase upload-certs --upload-certs --config` reads on the first control plane
 * (on stdin): InitConfiguration.certificateKey is the key the phase encrypts with ("if
 * len(data.CertificateKey()) == 0" it would generate one: cmd/kubeadm/app/cmd/phases/init/uploadcerts.go),
 * ClusterConfiguration pins kubernetesVersion (without it kubeadm looks the version up online).
 */
export function uploadCertsConfigYaml(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">, firstControlPlane: NodeSpec, certificateKey: string): string {
  assertCertificateKey(certificateKey);
  const init: KubeadmDocument = {
    apiVersion: kubeadmApiVersion(spec.kubernetes.version.minor),
    kind: "InitConfiguration",
    localAPIEndpoint: { advertiseAddress: firstControlPlane.ip, bindPort: API_PORT },
    nodeRegistration: { name: firstControlPlane.name, criSocket: CRI_SOCKET },
    certificateKey,
  };
  return kubeadmYaml([init, clusterConfiguration(spec, firstControlPlane, [])]);
}

/** The token-free config for `kubeadm config images pull` during node prep. */
export function imagePullConfigYaml(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">, node: NodeSpec): string {
  return kubeadmYaml([clusterConfiguration(spec, node, [])]);
}

/**
 * API server certificate SANs: node IP, node name, the machine's public address when it has one, and
 * the control-plane endpoint's address (kubeadm adds it too; listed so the certificate is the same
 * whoever reads the config).
 */
export function certSans(node: NodeSpec, publicAddress?: string, endpointAddress?: string): string[] {
  const out = [node.ip, node.name];
  for (const extra of [publicAddress?.trim() || node.publicIp, endpointAddress]) {
    if (extra && !out.includes(extra)) out.push(extra);
  }
  return out;
}
