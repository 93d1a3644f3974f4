// Pure: the exact text each node receives (script = shebang + generated header + scripts/node/<file>),
// and the stdin documents that carry secrets. Components only wire these into remote.Commands; tests,
// the offline render and the chroot sandbox call them directly.
import { ClusterSpec, ControlPlaneEndpointSpec, NodeSpec, controlPlaneNode, workerNodes } from "../spec";
import { composeScript } from "./script";
import { goDurationSeconds } from "../duration";
import { MAX_CONTROL_PLANES } from "../config/ha";
import { aptVersionPattern, needsExplicitCriTools, nodeHostPackages, pauseTag } from "../versions";
import {
  KubeadmSettings,
  KUBEADM_VERSION_PLACEHOLDER,
  imagePullConfigYaml,
  API_PORT,
  initConfigYaml,
  joinConfigYaml,
  uploadCertsConfigYaml,
} from "./kubeadm-config";

/** Seconds each step may take on the node (the remote `timeout`); the Pulumi customTimeouts add margin. */
/** What node preparation needs from the cluster description (versions, mirrors, images to pre-pull). */
export type PrepSettings = Pick<ClusterSpec, "kubernetes" | "mirrors" | "flannel">;

export const TIMEOUTS = {
  prep: 3600,
  hosts: 60,
  init: 1800,
  join: 900,
  reset: 900,
  token: 180,
  caHash: 60,
  kubeconfig: 60,
  approve: 420,
  drain: 300,
  /** undo-prep.sh: apt lock waits + one purge (900 s) + the rest. */
  undoPrep: 1500,
  /** renew-certs.sh: renew (300 s), static pods out (3 x 20 s), API wait (180 s), check-expiration. */
  renewCerts: 900,
  /** upload-certs.sh: one kubeadm phase against a running API server. */
  uploadCerts: 180,
} as const;

/** Inner bounds passed to the scripts. */
const CLOUD_INIT_TIMEOUT = 600;
export const APT_LOCK_TIMEOUT = 300;
const PULL_TIMEOUT = 900;
export const API_WAIT = 180;
/** join.sh: how long a control plane without the join marker gets for its own API server to answer. */
const LOCAL_API_WAIT = 90;
const APPROVE_WAIT = 360;
export const DRAIN_WAIT = 180;
/** The kubelet's fileCheckFrequency: how long a static pod manifest stays out to restart the pod. */
const STATIC_POD_WAIT = 20;

export function nodeByName(spec: Pick<ClusterSpec, "nodes">, name: string): NodeSpec {
  const n = spec.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`internal: node ${name} is not in the spec (nodes: ${spec.nodes.map((x) => x.name).join(", ")})`);
  return n;
}

/** containerd's sandbox image: the pause tag kubeadm of this minor expects, from the configured repository. */
export function sandboxImage(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">): string {
  return `${spec.mirrors.imageRepository}/pause:${pauseTag(spec.kubernetes.version.minor)}`;
}

/** The Kubernetes apt repository for the minor, e.g. https://pkgs.k8s.io/core:/stable:/v1.30/deb/. */
export function aptRepo(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">): string {
  return `${spec.mirrors.aptBase}v${spec.kubernetes.version.minorVersion}/deb/`;
}

/** REGISTRY_MIRRORS header lines "registry mirror [mirror...]", sorted for a stable script text. */
export function registryMirrorLines(spec: Pick<ClusterSpec, "mirrors">): string {
  return Object.keys(spec.mirrors.registryMirrors)
    .sort()
    .filter((r) => spec.mirrors.registryMirrors[r].length > 0)
    .map((r) => [r, ...spec.mirrors.registryMirrors[r]].join(" "))
    .join("\n");
}

/**
 * Images a worker pre-pulls during prep: pause and kube-proxy from the cluster's repository (the
 * version placeholder is replaced on the node when only a minor was configured), and flannel's images
 * when flannel is enabled.
 */
export function workerPrepullImages(spec: PrepSettings): string[] {
  const v = spec.kubernetes.version;
  const tag = v.patch === undefined ? KUBEADM_VERSION_PLACEHOLDER : `v${v.raw}`;
  const images = [sandboxImage(spec), `${spec.mirrors.imageRepository}/kube-proxy:${tag}`];
  if (spec.flannel.enabled) images.push(spec.flannel.cniPluginImage, spec.flannel.image);
  return images;
}

/**
 * HOST_PACKAGES header lines "package executable...": prep installs a package when one of its
 * executables is missing (components/versions.ts nodeHostPackages: kubeadm preflight + node needs).
 */
export function hostPackageLines(minor: number): string {
  return nodeHostPackages(minor)
    .map((p) => [p.name, ...p.binaries].join(" "))
    .join("\n");
}

/** The header of scripts/node/prep.sh for one node. */
export function prepVars(spec: PrepSettings, node: NodeSpec): Record<string, string> {
  const v = spec.kubernetes.version;
  const cp = node.role === "control-plane";
  return {
    NODE_NAME: node.name,
    NODE_IP: node.ip,
    ROLE: node.role,
    K8S_MINOR: v.minorVersion,
    K8S_VERSION: v.patch === undefined ? "" : v.raw,
    APT_BASE: spec.mirrors.aptBase,
    APT_VERSION_PATTERN: aptVersionPattern(v),
    INSTALL_CRI_TOOLS: String(needsExplicitCriTools(v.minor)),
    HOST_PACKAGES: hostPackageLines(v.minor),
    SANDBOX_IMAGE: sandboxImage(spec),
    REGISTRY_MIRRORS: registryMirrorLines(spec),
    PULL_CONFIG: cp ? imagePullConfigYaml(spec, node) : "",
    PREPULL_IMAGES: cp ? "" : workerPrepullImages(spec).join("\n"),
    VERSION_PLACEHOLDER: KUBEADM_VERSION_PLACEHOLDER,
    CLOUD_INIT_TIMEOUT: String(CLOUD_INIT_TIMEOUT),
    APT_LOCK_TIMEOUT: String(APT_LOCK_TIMEOUT),
    PULL_TIMEOUT: String(PULL_TIMEOUT),
  };
}

/** Node preparation (every node): hostname, swap, modules, sysctls, containerd, kube packages, pre-pull. */
export function prepScript(spec: PrepSettings, node: NodeSpec): string {
  return composeScript("node/prep.sh", prepVars(spec, node), { tag: `prep ${node.name}`, logFd: 1 });
}

/** /etc/hosts block with every node of the spec (a separate command: it changes when nodes are added). */
export function hostsScript(spec: Pick<ClusterSpec, "nodes">): string {
  return composeScript("node/hosts.sh", { HOSTS_ENTRIES: spec.nodes.map((n) => `${n.ip} ${n.name}`).join("\n") }, { tag: "hosts", logFd: 1 });
}

/** Full reset (seed 000 问题4): a worker's delete, the control plane's delete, and half-done retries. */
export function resetScript(spec: Pick<ClusterSpec, "ssh">, node: NodeSpec): string {
  return composeScript("node/reset.sh", { ROLE: node.role, SSH_USER: spec.ssh.user }, { tag: `reset ${node.name}`, logFd: 1 });
}

/** kubeadm init (control plane); its config comes from initStdin on stdin. */
export function initScript(spec: Pick<ClusterSpec, "ssh" | "nodes">, node: NodeSpec): string {
  // HA: more than one control plane. Only then is UPLOAD_CERTS in the header (one control plane: the
  // script is what it always was).
  const ha = spec.nodes.filter((n) => n.role === "control-plane").length > 1;
  return composeScript("node/init.sh", {
    ...(ha ? { UPLOAD_CERTS: "true" } : {}),
    NODE_NAME: node.name,
    NODE_IP: node.ip,
    SSH_USER: spec.ssh.user,
    SINGLE_NODE: String(workerNodes(spec).length === 0),
    VERSION_PLACEHOLDER: KUBEADM_VERSION_PLACEHOLDER,
    RESET_SCRIPT: resetScript(spec, node),
    API_WAIT: String(API_WAIT),
    // Leaves room for the API waits and a reset before kubeadm init inside the outer bound.
    INIT_TIMEOUT: String(TIMEOUTS.init - API_WAIT * 2 - 300),
  }, { tag: `init ${node.name}`, logFd: 2 });
}

/** stdin of the init command: the kubeadm config documents (they carry the token, and the certificate key for HA). */
export function initStdin(spec: KubeadmSettings, node: NodeSpec, token: string, certSans: string[], certificateKey?: string): string {
  return initConfigYaml(spec, node, token, certSans, certificateKey);
}

/**
 * kubeadm join; its JoinConfiguration comes from joinStdin on stdin. A control plane (HA) names the step
 * that uploaded its certificates (for the message when they expired) and gets ~/.kube/config.
 */
export function joinScript(spec: Pick<ClusterSpec, "ssh">, node: NodeSpec, steps: { tokenStep: string; uploadStep?: string }): string {
  const { uploadStep } = steps;
  return composeScript("node/join.sh", {
    NODE_NAME: node.name,
    RESET_SCRIPT: resetScript(spec, node),
    TOKEN_STEP: steps.tokenStep,
    // Two attempts within the outer timeout, after what comes before them: 120 s for resets and the
    // pause between attempts, on a control plane the marker checks (LOCAL_API_WAIT + 30 s for the
    // endpoint) and one more reset. The token check after a failed attempt is one read (at most 15 s)
    // and fits in the 120 s.
    JOIN_TIMEOUT: String(Math.floor((TIMEOUTS.join - 120 - (uploadStep !== undefined ? LOCAL_API_WAIT + 30 + 60 : 0)) / 2)),
    ...(uploadStep !== undefined
      ? {
          CONTROL_PLANE: "true",
          SSH_USER: spec.ssh.user,
          UPLOAD_STEP: uploadStep,
          // Asked when kubelet.conf is there but the join marker is not (a join that died half-way, or a
          // node joined before the marker existed): a working member is left alone.
          LOCAL_API_SERVER: `https://${node.ip}:${API_PORT}`,
          LOCAL_API_WAIT: String(LOCAL_API_WAIT),
        }
      : {}),
  }, { tag: `join ${node.name}`, logFd: 2 });
}

/** stdin of the join command; with a certificate key, a control-plane join. */
export function joinStdin(spec: Pick<ClusterSpec, "kubernetes">, node: NodeSpec, token: string, caCertHash: string, endpoint: string, certificateKey?: string): string {
  return joinConfigYaml(spec, node, token, caCertHash, endpoint, certificateKey);
}

/** On the first control plane, before a control plane joins: kubeadm init phase upload-certs (config on stdin). */
export function uploadCertsScript(): string {
  return composeScript("node/upload-certs.sh", {
    VERSION_PLACEHOLDER: KUBEADM_VERSION_PLACEHOLDER,
    UPLOAD_TIMEOUT: String(TIMEOUTS.uploadCerts - 30),
  }, { tag: "upload-certs", logFd: 2 });
}

/** stdin of the upload-certs command: the certificate key and the cluster configuration (secret). */
export function uploadCertsStdin(spec: Pick<ClusterSpec, "kubernetes" | "mirrors">, firstControlPlane: NodeSpec, certificateKey: string): string {
  return uploadCertsConfigYaml(spec, firstControlPlane, certificateKey);
}

/** On the control plane: make sure the join token exists and has not expired (token on stdin). */
export function tokenScript(spec: Pick<ClusterSpec, "kubernetes">): string {
  const ttl = spec.kubernetes.tokenTtl;
  const seconds = goDurationSeconds(ttl);
  return composeScript(
    "node/token.sh",
    { TOKEN_TTL: ttl, TOKEN_TTL_SECONDS: seconds, TOKEN_MIN_REMAINING_SECONDS: Math.min(TOKEN_JOIN_WINDOW_SECONDS, Math.floor(seconds / 2)) },
    { tag: "token", logFd: 2 },
  );
}

/**
 * How long after its token step a join may still start: the node's prep (which runs beside the token
 * step), then control-plane joins one after another, at most all of them. A token closer to its expiry
 * is extended (token.sh), so a join never starts with a token that expires under it.
 */
export const TOKEN_JOIN_WINDOW_SECONDS = TIMEOUTS.prep + MAX_CONTROL_PLANES * TIMEOUTS.join;

/** stdin of the token command: the token and a newline. */
export function tokenStdin(token: string): string {
  return `${token}\n`;
}

/** On the control plane: the discovery hash (hex) of the cluster CA. */
export function caHashScript(): string {
  return composeScript("node/ca-hash.sh", {}, { tag: "ca-hash", logFd: 2 });
}

/** On the control plane: prints admin.conf (secret stdout). */
export function kubeconfigScript(): string {
  return composeScript("node/kubeconfig.sh", {}, { tag: "kubeconfig", logFd: 2 });
}

/** On the control plane: approve `node`'s kubelet serving certificate request after checking its names. */
export function approveServingCertScript(node: NodeSpec): string {
  return composeScript("node/approve-serving-cert.sh", {
    NODE_NAME: node.name,
    NODE_IP: node.ip,
    APPROVE_TIMEOUT: String(APPROVE_WAIT),
  }, { tag: `serving cert ${node.name}`, logFd: 2 });
}

/**
 * On the first control plane, when a node is removed: drain it and delete its Node object; a further
 * control plane (HA) also loses its etcd member (ETCD_MEMBER_IP), before its Node goes.
 */
export function drainNodeScript(node: NodeSpec): string {
  return composeScript(
    "node/drain-node.sh",
    { NODE_NAME: node.name, DRAIN_TIMEOUT: String(DRAIN_WAIT), ...(node.role === "control-plane" ? { ETCD_MEMBER_IP: node.ip } : {}) },
    { tag: `remove node ${node.name}`, logFd: 2 },
  );
}

export interface UndoPrepOptions {
  /** Purge the kube packages and every package prep installed that was not there before. Default false. */
  readonly removePackages?: boolean;
  /** Uncomment the fstab swap lines prep commented out and swapon -a. Default false. */
  readonly restoreSwap?: boolean;
}

/**
 * Undo node preparation on an `existing` host (`pulumi destroy`, after the reset): restores the files
 * prep overwrote, removes what it created (apt source and key, /etc/hosts block, containerd config,
 * mirrors, crictl, modules/sysctl files, cloud-init drop-in), unholds the kube packages and, with
 * removePackages, purges them and the packages prep installed. Keeps the hostname.
 * Header: REMOVE_PACKAGES, RESTORE_SWAP ("true"/"false"), APT_LOCK_TIMEOUT (seconds).
 * Run as root, bounded by TIMEOUTS.undoPrep; nothing secret in it or its output.
 */
export function undoPrepScript(node: NodeSpec, opts: UndoPrepOptions = {}): string {
  return composeScript("node/undo-prep.sh", {
    REMOVE_PACKAGES: String(opts.removePackages ?? false),
    RESTORE_SWAP: String(opts.restoreSwap ?? false),
    APT_LOCK_TIMEOUT: String(APT_LOCK_TIMEOUT),
  }, { tag: `undo-prep ${node.name}`, logFd: 1 });
}

/**
 * On the control plane: `kubeadm certs renew all`, restart the static pods (manifests out, 20 s, back),
 * wait for the API, copy the new admin.conf to the SSH user's ~/.kube/config, print the new expiry
 * table to stderr. Header: NODE_NAME, SSH_USER, STATIC_POD_WAIT (20), API_WAIT (seconds), API_SERVER (this
 * node's own API server: with HA, admin.conf names the endpoint, which other control planes answer).
 * Run as root, bounded by TIMEOUTS.renewCerts. The admin kubeconfig changes: re-read it afterwards
 * (kubeconfigScript) so the exported kubeconfig carries the renewed client certificate.
 */
export function renewCertsScript(spec: Pick<ClusterSpec, "ssh">, node: NodeSpec, opts: { freshHours?: number } = {}): string {
  if (node.role !== "control-plane") throw new Error(`internal: renew-certs runs on the control plane, not on ${node.name} (${node.role})`);
  return composeScript("node/renew-certs.sh", {
    NODE_NAME: node.name,
    SSH_USER: spec.ssh.user,
    STATIC_POD_WAIT: String(STATIC_POD_WAIT),
    API_WAIT: String(API_WAIT),
    API_SERVER: `https://${node.ip}:${API_PORT}`,
    ...(opts.freshHours !== undefined ? { FRESH_HOURS: String(opts.freshHours) } : {}),
  }, { tag: `renew-certs ${node.name}`, logFd: 2 });
}

/** Parses the ca-hash command's output into "sha256:<hex>", or throws a clear error. */
export function parseCaCertHash(stdout: string): string {
  const hex = stdout.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`the CA hash command on the control plane printed ${JSON.stringify(hex.slice(0, 100))}, not a SHA-256 hex digest`);
  }
  return `sha256:${hex}`;
}

/**
 * admin.conf names the API server by its advertise address; from outside (laptop, CI) the reachable
 * address is the public one when the machine has it. Rewrites every `server:` line of the kubeconfig.
 */
export function rewriteKubeconfigServer(kubeconfig: string, server: string): string {
  if (!/^\s*server:\s*\S+/m.test(kubeconfig)) throw new Error("the kubeconfig read from the control plane has no server: line");
  return kubeconfig.replace(/^(\s*server:\s*)\S+[ \t]*$/gm, `$1${server}`);
}

/**
 * The API URL for the exported kubeconfig: the machine's (or, on Aliyun HA, the load balancer's) public
 * address when there is one, else the control-plane endpoint (HA) or the node IP.
 */
export function externalServer(node: NodeSpec, publicAddress?: string, endpoint?: ControlPlaneEndpointSpec): string {
  const pub = publicAddress?.trim() || node.publicIp;
  if (endpoint?.holder === "keepalived-haproxy") return `https://${endpoint.address}:${endpoint.port}`;
  if (endpoint) return `https://${pub || endpoint.address}:${endpoint.port}`;
  return `https://${pub || node.ip}:6443`;
}

/** Convenience for the sandbox and the render: every script a cluster's nodes receive, by file name. */
export function allNodeScripts(spec: ClusterSpec): Record<string, string> {
  const cp = controlPlaneNode(spec);
  const out: Record<string, string> = {
    [`${cp.name}-hosts.sh`]: hostsScript(spec),
    [`${cp.name}-prep.sh`]: prepScript(spec, cp),
    [`${cp.name}-init.sh`]: initScript(spec, cp),
    [`${cp.name}-reset.sh`]: resetScript(spec, cp),
    [`${cp.name}-ca-hash.sh`]: caHashScript(),
    [`${cp.name}-kubeconfig.sh`]: kubeconfigScript(),
    [`${cp.name}-token.sh`]: tokenScript(spec),
    [`${cp.name}-approve-serving-cert.sh`]: approveServingCertScript(cp),
    [`${cp.name}-renew-certs.sh`]: renewCertsScript(spec, cp),
    [`${cp.name}-undo-prep.sh`]: undoPrepScript(cp),
  };
  for (const w of workerNodes(spec)) {
    out[`${w.name}-prep.sh`] = prepScript(spec, w);
    out[`${w.name}-join.sh`] = joinScript(spec, w, { tokenStep: `${w.name}-token` });
    out[`${w.name}-reset.sh`] = resetScript(spec, w);
    out[`${w.name}-approve-serving-cert.sh`] = approveServingCertScript(w);
    out[`${w.name}-drain-node.sh`] = drainNodeScript(w);
    out[`${w.name}-undo-prep.sh`] = undoPrepScript(w, { removePackages: true, restoreSwap: true });
  }
  return out;
}
