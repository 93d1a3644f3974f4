// Flannel as plain objects: the same objects as upstream Documentation/kube-flannel.yml (v0.28.9,
// FACTS §3), with the pod CIDR, backend, images and interface taken from the ClusterSpec instead of
// hand-editing a downloaded file (which users behind the Great Firewall cannot fetch anyway).
import { ClusterSpec } from "../../spec";

/** What flannel needs from the cluster description. */
export type FlannelSettings = Pick<ClusterSpec, "flannel" | "kubernetes">;
import {
  AddonObject,
  ClusterRoleBindingObject,
  ClusterRoleObject,
  ConfigMapObject,
  DaemonSetObject,
  K8sObject,
  NamespaceObject,
  ServiceAccountObject,
} from "./types";

export const FLANNEL_NAMESPACE = "kube-flannel";
const NAME = "flannel";
const CONFIGMAP = "kube-flannel-cfg";
const HEALTHZ_PORT = 8081;

/** The CNI config flannel's init container installs as /etc/cni/net.d/10-flannel.conflist (upstream, unchanged). */
export function flannelCniConf(): string {
  const conf = {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  return JSON.stringify(conf, null, 2) + "\n";
}

/**
 * flanneld's network config. `Network` must equal kubeadm's podSubnet: flannel hands each node a
 * slice of it, and kube-controller-manager allocates node podCIDRs from the same range.
 */
export function flannelNetConf(spec: FlannelSettings): string {
  const conf = { Network: spec.kubernetes.podSubnet, EnableNFTables: false, Backend: { Type: spec.flannel.backend } };
  return JSON.stringify(conf, null, 2) + "\n";
}

/**
 * flanneld arguments. `--iface` pins the NIC carrying node-to-node traffic: on VirtualBox the default
 * route is the NAT NIC, which has 10.0.2.15 on every VM, so without it every node would advertise
 * the same public IP and cross-node pod traffic would go nowhere (flannel troubleshooting.md).
 */
export function flanneldArgs(spec: FlannelSettings): string[] {
  const args = ["--ip-masq", "--kube-subnet-mgr", `--healthz-port=${HEALTHZ_PORT}`];
  if (spec.kubernetes.nic) args.push(`--iface=${spec.kubernetes.nic}`);
  return args;
}

export interface FlannelManifest {
  readonly namespace: NamespaceObject;
  readonly clusterRole: ClusterRoleObject;
  readonly clusterRoleBinding: ClusterRoleBindingObject;
  readonly serviceAccount: ServiceAccountObject;
  readonly configMap: ConfigMapObject;
  readonly daemonSet: DaemonSetObject;
}

/** The flannel objects, by role (the component needs the DaemonSet for `ready`). */
export function flannelManifest(spec: FlannelSettings): FlannelManifest {
  const labels = { "k8s-app": NAME };
  const nodeLabels = { tier: "node", app: NAME };
  const namespace: NamespaceObject = {
    apiVersion: "v1",
    kind: "Namespace",
    // flannel runs with hostNetwork, NET_ADMIN and hostPath volumes: only the privileged level admits it.
    metadata: { name: FLANNEL_NAMESPACE, labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged" } },
  };
  const clusterRole: ClusterRoleObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: NAME, labels },
    rules: [
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
    ],
  };
  const clusterRoleBinding: ClusterRoleBindingObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: NAME, labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NAME },
    subjects: [{ kind: "ServiceAccount", name: NAME, namespace: FLANNEL_NAMESPACE }],
  };
  const serviceAccount: ServiceAccountObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: NAME, namespace: FLANNEL_NAMESPACE, labels },
  };
  const configMap: ConfigMapObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: CONFIGMAP, namespace: FLANNEL_NAMESPACE, labels: { ...nodeLabels, ...labels } },
    data: { "cni-conf.json": flannelCniConf(), "net-conf.json": flannelNetConf(spec) },
  };
  const daemonSet: DaemonSetObject = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "kube-flannel-ds", namespace: FLANNEL_NAMESPACE, labels: { ...nodeLabels, ...labels } },
    spec: {
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: nodeLabels },
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }] }],
              },
            },
          },
          hostNetwork: true,
          priorityClassName: "system-node-critical",
          // Runs on every node, including the tainted control plane and NotReady nodes (it makes them Ready).
          tolerations: [{ operator: "Exists", effect: "NoSchedule" }],
          serviceAccountName: NAME,
          initContainers: [
            {
              name: "install-cni-plugin",
              image: spec.flannel.cniPluginImage,
              command: ["cp"],
              args: ["-f", "/flannel", "/opt/cni/bin/flannel"],
              volumeMounts: [{ name: "cni-plugin", mountPath: "/opt/cni/bin" }],
            },
            {
              name: "install-cni",
              image: spec.flannel.image,
              command: ["/opt/bin/install-conf"],
              args: ["/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
              volumeMounts: [
                { name: "cni", mountPath: "/etc/cni/net.d" },
                { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
              ],
            },
          ],
          containers: [
            {
              name: "kube-flannel",
              image: spec.flannel.image,
              command: ["/opt/bin/flanneld"],
              args: flanneldArgs(spec),
              ports: [{ name: "healthz", containerPort: HEALTHZ_PORT, protocol: "TCP" }],
              livenessProbe: { httpGet: { path: "/healthz", port: "healthz" }, initialDelaySeconds: 10, periodSeconds: 30 },
              readinessProbe: { httpGet: { path: "/readyz", port: "healthz" }, initialDelaySeconds: 5, periodSeconds: 10 },
              resources: { requests: { cpu: "100m", memory: "50Mi" } },
              securityContext: { privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "EVENT_QUEUE_DEPTH", value: "5000" },
                { name: "CONT_WHEN_CACHE_NOT_READY", value: "false" },
              ],
              volumeMounts: [
                { name: "run", mountPath: "/run/flannel" },
                { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                { name: "xtables-lock", mountPath: "/run/xtables.lock" },
              ],
            },
          ],
          volumes: [
            { name: "run", hostPath: { path: "/run/flannel" } },
            { name: "cni-plugin", hostPath: { path: "/opt/cni/bin" } },
            { name: "cni", hostPath: { path: "/etc/cni/net.d" } },
            { name: "flannel-cfg", configMap: { name: CONFIGMAP } },
            { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
          ],
        },
      },
    },
  };
  return { namespace, clusterRole, clusterRoleBinding, serviceAccount, configMap, daemonSet };
}

/** In apply order (namespace first, DaemonSet last). */
export function flannelAddonObjects(spec: FlannelSettings): AddonObject[] {
  if (!spec.flannel.enabled) return [];
  const m = flannelManifest(spec);
  return [m.namespace, m.clusterRole, m.clusterRoleBinding, m.serviceAccount, m.configMap, m.daemonSet];
}

/** For the offline renderer: the objects `pulumi up` applies for flannel ([] when disabled). */
export function flannelObjects(spec: FlannelSettings): K8sObject[] {
  return flannelAddonObjects(spec);
}
