// Pure: the node scripts of an upgrade (issue 16), the exact text each node receives. On an edit of
// kubernetes.version every one of them is a remote.Command whose text changes (the target is in its
// header), so `pulumi up` runs it again, in this order: <cp>-version-check (before any prep), every
// node's prep, <cp>-init (skips), <cp>-upgrade, then per worker batch <w>-upgrade-drain (on the control
// plane), <w>-upgrade (on the worker), <w>-upgrade-uncordon (on the control plane). On a new cluster or a
// new worker the same scripts find nothing to do and say so. See docs/node-lifecycle.md "Upgrades".
import { ClusterSpec, NodeSpec, controlPlaneNode, workerNodes } from "../spec";
import { aptVersionPattern, needsExplicitCriTools } from "../versions";
import { composeScript } from "./script";
import { API_WAIT, APT_LOCK_TIMEOUT } from "./scripts";

/** What the upgrade scripts need from the cluster description: the target, the apt base, the SSH user. */
export type UpgradeSettings = Pick<ClusterSpec, "kubernetes" | "mirrors" | "ssh">;

/** Inner bounds passed to the scripts (seconds). */
const PLAN_TIMEOUT = 300;
/** kubeadm waits up to 5 min per static pod (UpgradeConfiguration timeouts.upgradeManifests default 5m, A4). */
const APPLY_TIMEOUT = 1500;
/** kubectl drain --timeout for an upgrade (evictions honour PodDisruptionBudgets and grace periods). */
const UPGRADE_DRAIN_WAIT = 300;
/** How long a Node may take to report the new kubelet (and Ready again) after the restart. */
const NODE_WAIT = 300;
/** `kubeadm upgrade node` on a worker: the kubelet-config phase plus its preflight. */
const UPGRADE_NODE_TIMEOUT = 600;

/**
 * Seconds each upgrade script may take on the node (the remote `timeout`; the Pulumi customTimeouts add
 * margin), each the sum of the inner bounds it can reach in a normal bad case.
 */
export const UPGRADE_TIMEOUTS = {
  /** upgrade-check.sh: API wait (180 s) + four bounded kubectl reads (60 s each). */
  versionCheck: 420,
  /**
   * upgrade-control-plane.sh: API waits (2 x 180 s), apt for kubeadm (lock wait + update + install,
   * ~600 s), plan (300 s), apply (1500 s), drain (300 + 30 s), apt for kubelet/kubectl (~300 s), the Node
   * wait (300 s).
   */
  upgradeControlPlane: 3600,
  /** upgrade-drain.sh: API wait (180 s), reads, kubectl drain (300 + 30 s). */
  upgradeDrain: 600,
  /**
   * upgrade-node.sh: apt lock wait (300 s) + update + two installs (~600 s), kubeadm upgrade node (600 s
   * on a worker, 1500 s on a further control plane).
   */
  upgradeNode: 2700,
  /** upgrade-uncordon.sh: API wait (180 s), the Node wait (300 s), uncordon. */
  upgradeUncordon: 600,
} as const;

function targetVars(spec: UpgradeSettings): Record<string, string> {
  const v = spec.kubernetes.version;
  return { K8S_VERSION: v.patch === undefined ? "" : v.raw, K8S_MINOR: v.minorVersion };
}

function aptVars(spec: UpgradeSettings): Record<string, string> {
  const v = spec.kubernetes.version;
  return {
    APT_BASE: spec.mirrors.aptBase,
    APT_VERSION_PATTERN: aptVersionPattern(v),
    INSTALL_CRI_TOOLS: String(needsExplicitCriTools(v.minor)),
    APT_LOCK_TIMEOUT: String(APT_LOCK_TIMEOUT),
  };
}

function requireRole(node: NodeSpec, role: NodeSpec["role"], what: string): void {
  if (node.role !== role) throw new Error(`internal: ${what} runs for a ${role}, not for ${node.name} (${node.role})`);
}

/**
 * On the control plane, before any node's prep: may the running cluster go to kubernetes.version?
 * Reads kube-system/kubeadm-config, every Node's kubeletVersion and the kubeadm package; refuses a
 * skipped minor or a downgrade (components/upgrade-path.ts words, lib/versions.sh) and a new minor while
 * a node is still on an older one; "no cluster yet" when there is none. Changes nothing.
 * Header: NODE_NAME, K8S_VERSION ("1.31.6" or "" when only the minor is set), K8S_MINOR ("1.31"),
 * API_WAIT (seconds). Root, bounded by UPGRADE_TIMEOUTS.versionCheck; one summary line on stdout.
 */
export function versionCheckScript(spec: UpgradeSettings, cp: NodeSpec, opts: VersionCheckOptions = {}): string {
  requireRole(cp, "control-plane", "the version check");
  return composeScript(
    "node/upgrade-check.sh",
    {
      NODE_NAME: cp.name,
      ...targetVars(spec),
      API_WAIT: String(API_WAIT),
      ...(opts.firstRun ? { FIRST_RUN: "true" } : {}),
      ...(opts.endpoint ? { ENDPOINT: opts.endpoint } : {}),
      ...(opts.controlPlanes ? { CONTROL_PLANES: opts.controlPlanes.join(" ") } : {}),
    },
    { tag: `version-check ${cp.name}`, logFd: 2 },
  );
}

export interface VersionCheckOptions {
  /** The step's create (first run next to a possibly running cluster): a version edit is refused. */
  readonly firstRun?: boolean;
  /** The controlPlaneEndpoint the program configures ("host:port"): another one on the cluster is refused. */
  readonly endpoint?: string;
  /** The control-plane names the program configures: removing half or more of the cluster's is refused. */
  readonly controlPlanes?: readonly string[];
}

/**
 * On the control plane, after prep and init: kubeadm package, `kubeadm upgrade plan`, `kubeadm upgrade
 * apply -y v<target>` (unless kubeadm-config and the kube-apiserver manifest are both at the target),
 * drain, kubelet + kubectl packages (held), kubelet restart, wait for the Node at the target, uncordon
 * (only if we cordoned it), ~SSH_USER/.kube/config = admin.conf. Nothing to do on a cluster already there.
 * Header: NODE_NAME, SSH_USER, K8S_VERSION, K8S_MINOR, APT_BASE, APT_VERSION_PATTERN ("1.31.6-*" or
 * "1.31.*"), INSTALL_CRI_TOOLS, APT_LOCK_TIMEOUT, API_WAIT, PLAN_TIMEOUT, APPLY_TIMEOUT, DRAIN_TIMEOUT,
 * NODE_WAIT (seconds). Root, bounded by UPGRADE_TIMEOUTS.upgradeControlPlane; no secrets in or out.
 */
export function upgradeControlPlaneScript(spec: UpgradeSettings, cp: NodeSpec): string {
  requireRole(cp, "control-plane", "the control-plane upgrade");
  return composeScript(
    "node/upgrade-control-plane.sh",
    {
      NODE_NAME: cp.name,
      SSH_USER: spec.ssh.user,
      ...targetVars(spec),
      ...aptVars(spec),
      API_WAIT: String(API_WAIT),
      PLAN_TIMEOUT: String(PLAN_TIMEOUT),
      APPLY_TIMEOUT: String(APPLY_TIMEOUT),
      DRAIN_TIMEOUT: String(UPGRADE_DRAIN_WAIT),
      NODE_WAIT: String(NODE_WAIT),
    },
    { tag: `upgrade ${cp.name}`, logFd: 2 },
  );
}

/**
 * On the control plane, for `worker`, before its upgrade: cordon (marking it
 * kubeadm-cluster.io/upgrade-cordoned=<target>) and drain it; nothing to do when it already reports the
 * target kubelet (and carries no mark) or has not joined. Refuses while the control plane is not at the
 * target. Header: NODE_NAME (the worker), K8S_VERSION, K8S_MINOR, API_WAIT, DRAIN_TIMEOUT (seconds).
 * Root, bounded by UPGRADE_TIMEOUTS.upgradeDrain.
 */
export function upgradeDrainScript(spec: UpgradeSettings, worker: NodeSpec): string {
  // Workers, and further control planes of an HA cluster (kubeadm docs: "Same as the first control plane
  // node but use: sudo kubeadm upgrade node"); never the first control plane, which runs upgrade apply.
  return composeScript(
    "node/upgrade-drain.sh",
    { NODE_NAME: worker.name, ...targetVars(spec), API_WAIT: String(API_WAIT), DRAIN_TIMEOUT: String(UPGRADE_DRAIN_WAIT) },
    { tag: `upgrade-drain ${worker.name}`, logFd: 2 },
  );
}

/**
 * On `worker`, between its drain and its uncordon: kubeadm package, `kubeadm upgrade node`, kubelet +
 * kubectl packages (held), daemon-reload, kubelet restart; nothing to do when not joined or already at
 * the target; resumes through /var/lib/kubeadm-cluster/upgrade-node-pending.
 * Header: NODE_NAME, K8S_VERSION, K8S_MINOR, APT_BASE, APT_VERSION_PATTERN, INSTALL_CRI_TOOLS,
 * APT_LOCK_TIMEOUT, UPGRADE_NODE_TIMEOUT (seconds). Root, bounded by UPGRADE_TIMEOUTS.upgradeNode.
 */
export function upgradeNodeScript(spec: UpgradeSettings, worker: NodeSpec): string {
  // Workers, and further control planes of an HA cluster (kubeadm docs: "Same as the first control plane
  // node but use: sudo kubeadm upgrade node"); never the first control plane, which runs upgrade apply.
  return composeScript(
    "node/upgrade-node.sh",
    // A further control plane's `kubeadm upgrade node` also pulls the control-plane images and replaces
    // etcd and three static pods one by one (each waited for): the apply's budget, not a worker's.
    { NODE_NAME: worker.name, ...targetVars(spec), ...aptVars(spec), UPGRADE_NODE_TIMEOUT: String(worker.role === "control-plane" ? APPLY_TIMEOUT : UPGRADE_NODE_TIMEOUT) },
    { tag: `upgrade ${worker.name}`, logFd: 2 },
  );
}

/**
 * On the control plane, for `worker`, after its upgrade: wait until the Node reports the target kubelet
 * (minor-only: any patch of the minor; Ready again if it was Ready when drained), then uncordon it if
 * our mark is on it and remove the mark. Prints the node's version line.
 * Header: NODE_NAME (the worker), K8S_VERSION, K8S_MINOR, API_WAIT, NODE_WAIT (seconds). Root, bounded
 * by UPGRADE_TIMEOUTS.upgradeUncordon.
 */
export function upgradeUncordonScript(spec: UpgradeSettings, worker: NodeSpec): string {
  // Workers, and further control planes of an HA cluster (kubeadm docs: "Same as the first control plane
  // node but use: sudo kubeadm upgrade node"); never the first control plane, which runs upgrade apply.
  return composeScript(
    "node/upgrade-uncordon.sh",
    { NODE_NAME: worker.name, ...targetVars(spec), API_WAIT: String(API_WAIT), NODE_WAIT: String(NODE_WAIT) },
    { tag: `upgrade-uncordon ${worker.name}`, logFd: 2 },
  );
}

/** Every upgrade script of a cluster, by file name (for the sandbox and the render). */
export function upgradeScripts(spec: UpgradeSettings & Pick<ClusterSpec, "nodes">): Record<string, string> {
  const cp = controlPlaneNode(spec);
  const out: Record<string, string> = {
    [`${cp.name}-version-check.sh`]: versionCheckScript(spec, cp),
    [`${cp.name}-upgrade.sh`]: upgradeControlPlaneScript(spec, cp),
  };
  for (const w of workerNodes(spec)) {
    out[`${w.name}-upgrade-drain.sh`] = upgradeDrainScript(spec, w);
    out[`${w.name}-upgrade.sh`] = upgradeNodeScript(spec, w);
    out[`${w.name}-upgrade-uncordon.sh`] = upgradeUncordonScript(spec, w);
  }
  return out;
}
