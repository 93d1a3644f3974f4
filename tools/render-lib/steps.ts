// Step name -> one-line explanation shown in RUNBOOK.md: why the step exists and which problem from
// the seed runbooks (../shared/seeds, "问题N" = problem N) it prevents. Commands are named
// `<node>-<step>`; the step is what is left after the node name.
import { NodeInfo } from "./model";

export interface StepInfo {
  /** One line: what the step does and why. */
  readonly why: string;
  /** What a secret stdin carries, shown as `<secret: ...>`. */
  readonly stdin?: string;
}

/** Exact step names first, then patterns; keep entries short, they are read next to the script. */
const STEPS: readonly (readonly [RegExp, StepInfo])[] = [
  [/^vm$|^vm-create$|^create-vm$/, { why: "Creates and boots the VirtualBox VM on the Pulumi host as a linked clone of a base VM imported once per image (seed 001 clones its nodes the same way), with NIC1 NAT for the internet and NIC2 host-only for the cluster (a NAT-only lab gives every VM 10.0.2.15 and breaks node IPs, seed 000 §1.2); on update it keeps, adopts or rebuilds the VM by its recorded identity.", stdin: "the VM plan with its cloud-init seed, which holds the VM's SSH host private key" }],
  [/^ssh-ready$/, { why: "The node's first command: keeps dialing until the (booting) machine answers SSH and sudo works, with the machine's boot wait (ssh.connectTimeoutSeconds); every later command uses a short fixed dial policy, so tuning the wait re-runs nothing else." }],
  [/^(vm-)?(wait|ssh|boot|ready|wait-ssh|wait-boot)(-.*)?$/, { why: "Waits until SSH answers and cloud-init has finished, so later apt steps do not race unattended-upgrades for the dpkg lock." }],
  [/^reset$/, { why: "Nothing on create. On destroy, or before the node is set up again on a new machine or for a new cluster: kubeadm reset and the cleanup of seed 000 问题4 (CNI config, iptables, links). Skipped when the VM itself is being deleted, and by the runner when the host does not answer or is another machine." }],
  [/^hosts$/, { why: "Writes one managed /etc/hosts block naming every node (seed 002 step 2), so nodes resolve each other by name; re-run alone when a node is added." }],
  [/^prep$|^node-prep$|^prepare$/, { why: "Prepares the node for kubeadm: hostname, swap off for good, overlay + br_netfilter and the bridge/forwarding sysctls (seed 000 问题5: flannel CrashLoopBackOff without br_netfilter), containerd with SystemdCgroup and the pause image kubeadm expects (seed 000 pause 3.8 vs 3.9 warning), pinned kubelet/kubeadm/kubectl held, images pre-pulled." }],
  [/^init$|^kubeadm-init$/, { why: "kubeadm init from a config on stdin: advertiseAddress = the node IP (not NAT 10.0.2.15), pod subnet for flannel, the bootstrap token; skipped when /etc/kubernetes/admin.conf exists, so a re-run does not re-init.", stdin: "kubeadm InitConfiguration with the bootstrap join token" }],
  [/^ca-hash$/, { why: "Prints sha256 of the cluster CA public key for --discovery-token-ca-cert-hash, so workers verify the API server they join (seed 001 错误7: stale token/hash)." }],
  [/^kubeconfig$/, { why: "Reads /etc/kubernetes/admin.conf for the Kubernetes provider and the `kubeconfig` stack output (secret, never logged)." }],
  [/^(join-)?token$|^token-.*$/, { why: "On the control plane, before this node joins: makes sure the bootstrap token exists and has not expired, so a worker added after the token's TTL still joins (seed 001 错误7).", stdin: "the bootstrap join token" }],
  [/^join$|^kubeadm-join$/, { why: "kubeadm join with a JoinConfiguration on stdin (API endpoint, token, CA hash, node IP); skipped when /etc/kubernetes/kubelet.conf exists. On destroy: drain, delete the node, kubeadm reset and the CNI/iptables cleanup of seed 000 问题4.", stdin: "kubeadm JoinConfiguration with the bootstrap join token" }],
  [/^node-object$/, { why: "Kept only for stacks deployed by v0.1: does nothing on create, update or delete (its old delete, a drain, is removed from the state on the first `up`); the drain step replaces it." }],
  [/^(drain|remove|delete-node)(-.*)?$/, { why: "Nothing on create. On destroy (or scale-down) it drains the worker and deletes its Node object on the control plane while the worker still runs; then the worker's reset step cleans the worker." }],
  [/csr|serving-cert/, { why: "On the control plane: approves this node's kubelet serving-certificate CSR, so metrics-server scrapes kubelets over verified TLS instead of --kubelet-insecure-tls." }],
  [/^(label|taint)(-.*)?$/, { why: "Labels/taints the node as configured." }],
  [/^version-check$/, { why: "On the first control plane, before any node's prep: reads the running cluster's version, every node's kubelet and the installed kubeadm, and refuses a kubernetes.version that skips a minor or goes back, another control-plane endpoint, or removing half the control planes at once (docs/upgrades.md); no cluster yet: nothing to check." }],
  [/^vip$/, { why: "HA on VirtualBox/existing hosts: keepalived holds the control-plane endpoint address on one control plane and moves it on failure; haproxy on every control plane serves it on port 8443 and spreads over every API server (kubeadm's ha-considerations.md). Validated with keepalived -t and haproxy -c before it is written (docs/ha.md)." }],
  [/^upload-certs$/, { why: "HA: on the first control plane, right before this control plane joins, uploads the control-plane certificates to the kubeadm-certs Secret, encrypted with the cluster's certificate key; kubeadm deletes them after 2 hours, so a control plane added weeks later gets a fresh upload.", stdin: "kubeadm InitConfiguration with the certificate key" }],
  [/^upgrade$/, { why: "Runs only when kubernetes.version changes (its update): the kubeadm upgrade of this node (control plane: kubeadm upgrade plan/apply; others: kubeadm upgrade node), kubelet and kubectl at the new version, each step checking what is already done (docs/upgrades.md)." }],
  [/^upgrade-drain$/, { why: "Runs only when kubernetes.version changes: on the control plane, drains this node before its upgrade (cordoned with our annotation, so only what we cordoned is uncordoned)." }],
  [/^upgrade-uncordon$/, { why: "Runs only when kubernetes.version changes: on the control plane, waits for this node Ready at the new version, then uncordons it; the next node's upgrade starts after this." }],
  [/^renew-certs$/, { why: "When kubernetes.certificateRenewal changes: kubeadm certs renew all on this control plane and its static pods restarted (with HA each control plane in turn, one etcd member down at a time); the first control plane's kubeconfig is read again afterwards." }],
  [/^undo-prep$/, { why: "Existing hosts only, nothing on create: on destroy (after the node's reset) puts back what prep changed: files restored, services disabled, kube packages purged unless existing.removeKubePackages is false." }],
];

/** Splits `<node>-<step>` using the longest matching node name; undefined when no node matches. */
export function splitCommandName(name: string, nodes: readonly Pick<NodeInfo, "name">[], clusterPrefixes: readonly string[] = []): { node: string; step: string } | undefined {
  // Resources inside a KubeadmCluster are named `<clusterName>-<node>-<step>`.
  const prefix = clusterPrefixes.find((p) => name.startsWith(`${p}-`));
  const rest = prefix === undefined ? name : name.slice(prefix.length + 1);
  let best: string | undefined;
  for (const n of nodes) if (rest.startsWith(`${n.name}-`) && (!best || n.name.length > best.length)) best = n.name;
  return best === undefined ? undefined : { node: best, step: rest.slice(best.length + 1) };
}

/** The first comment line of a script's body (after the generated header): scripts open with what they do. */
export function scriptSummary(script: string): string | undefined {
  const lines = script.split("\n");
  let i = 0;
  const end = lines.findIndex((l) => l.startsWith("# --- end of generated header"));
  if (end >= 0) i = end + 1;
  else if (lines[0]?.startsWith("#!")) i = 1;
  const out: string[] = [];
  for (; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === "" && out.length === 0) continue;
    if (!l.startsWith("#") || l.startsWith("#!")) break;
    if (/^#\s*shellcheck\s/.test(l)) continue;
    out.push(l.replace(/^#+\s?/, ""));
    break;
  }
  const text = out.join(" ").replace(/\s+/g, " ").trim();
  return text === "" ? undefined : text;
}

export function stepInfo(step: string, script?: string): StepInfo {
  for (const [re, info] of STEPS) if (re.test(step)) return info;
  return { why: (script && scriptSummary(script)) ?? `Step \`${step}\` (no explanation recorded in tools/render-lib/steps.ts).` };
}
