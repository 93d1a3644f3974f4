// Entry point for `pulumi up`: read the stack config (every problem reported before anything is
// created), build the cluster as one KubeadmCluster component, export what users need.
import { readClusterArgs } from "./components/cluster/read-args";
import { KubeadmCluster } from "./components/cluster/kubeadm-cluster";

const args = readClusterArgs();
// Stacks of this program were deployed by v0.1 with every resource at the top: keep their URNs.
const cluster = new KubeadmCluster(args.clusterName ?? "kubeadm", { ...args, adoptV1Stack: true });

/** admin kubeconfig (secret): `pulumi stack output kubeconfig --show-secrets > kubeconfig`. */
export const kubeconfig = cluster.kubeconfig;
/** https://<address>:6443 */
export const apiEndpoint = cluster.apiEndpoint;
/** Every node: name, role, Kubernetes node IP, and how to SSH to it. */
export const nodes = cluster.nodes;
/** ClusterIP of the demo Service test-service (undefined when demo.enabled is false). */
export const demoServiceClusterIp = cluster.demoServiceClusterIp;
/** Secret; present only when the program generated the SSH key pair (no sshPrivateKey configured). */
export const sshPrivateKey = cluster.sshPrivateKey;
/** Ready-to-paste commands to use the cluster. */
export const kubectlHint =
  "pulumi stack output kubeconfig --show-secrets > kubeconfig && chmod 600 kubeconfig && " +
  "KUBECONFIG=./kubeconfig kubectl get nodes -o wide";
