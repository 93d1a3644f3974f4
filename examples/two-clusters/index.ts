// Example: KubeadmCluster used as a library. Two small VirtualBox clusters side by side on one host
// (a "blue" and a "green" lab), and on the first one some objects of your own, deployed through the
// cluster's Kubernetes provider once its nodes have joined.
//
// Run it for real: `npm run build` in the repository root, then here `npm install`, `pulumi stack init
// dev`, `pulumi config set imagePath /abs/path/ubuntu-22.04-server-cloudimg-amd64.ova`, `pulumi up`.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { KubeadmCluster, KubeadmClusterArgs } from "kubeadm-pulumi";

const config = new pulumi.Config();
const imagePath = config.get("imagePath") ?? "/home/user/images/ubuntu-22.04-server-cloudimg-amd64.ova";

/** One control plane and one worker on the host-only network, add-ons on, the course demo off. */
function lab(firstIp: string): KubeadmClusterArgs {
  return {
    provider: "virtualbox",
    nodeCount: { workers: 1, firstIp, namePrefix: "node" },
    kubernetes: { version: "1.30" },
    demo: { enabled: false },
    virtualbox: { imagePath },
  };
}

// Each cluster's name prefixes its VM names and every resource name, so the two never collide.
export const blue = new KubeadmCluster("blue", lab("192.168.56.110"));
export const green = new KubeadmCluster("green", lab("192.168.56.130"));

// Your own objects on the blue cluster: pass its provider, as with any Kubernetes cluster.
const ns = new k8s.core.v1.Namespace("team-a", { metadata: { name: "team-a" } }, { provider: blue.provider });
new k8s.core.v1.ConfigMap(
  "team-a-settings",
  { metadata: { name: "settings", namespace: ns.metadata.name }, data: { greeting: "hello from blue" } },
  { provider: blue.provider },
);

export const blueKubeconfig = blue.kubeconfig;
export const greenKubeconfig = green.kubeconfig;
export const endpoints = { blue: blue.apiEndpoint, green: green.apiEndpoint };
