// Entry point for `pulumi up`: validate the stack config (all problems reported before anything is
// created), build the cluster graph, export what users need. Everything else lives in components/.
import { readClusterSpec } from "./components/config";
import { buildCluster } from "./components/cluster/kubeadm-cluster";

const spec = readClusterSpec();
const cluster = buildCluster(spec);

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
