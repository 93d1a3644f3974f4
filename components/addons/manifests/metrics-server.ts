// metrics-server as plain objects: the objects of the released components.yaml (kustomize
// manifests/base + the release overlay, which adds `k8s-app: metrics-server` to every object and
// selector), for v0.7.x and v0.8.x (FACTS §4; reference manifests v0.7.2 and v0.8.1).
import { ClusterSpec } from "../../spec";

/** What metrics-server needs from the cluster description. */
export type MetricsServerSettings = Pick<ClusterSpec, "metricsServer">;
import {
  AddonObject,
  APIServiceObject,
  ClusterRoleBindingObject,
  ClusterRoleObject,
  DeploymentObject,
  K8sObject,
  RoleBindingObject,
  ServiceAccountObject,
  ServiceObject,
} from "./types";

export const METRICS_SERVER_NAMESPACE = "kube-system";
const NAME = "metrics-server";
/** The release overlay's commonLabels: on every object, the Deployment selector and the Service selector. */
const LABELS = { "k8s-app": NAME };

export interface MetricsServerRelease {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/**
 * Parses "v0.8.1". Only the 0.7.x and 0.8.x layouts are modelled (those are the reference manifests,
 * and versions.ts picks one of them for every supported minor); 0.9+ keeps the 0.8 layout as far as
 * FACTS §4.2 shows (same args, probes, security context), below 0.7 is refused.
 */
export function parseMetricsServerVersion(version: string): MetricsServerRelease {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version.trim());
  if (!m) throw new Error(`metricsServer.version: expected a release like "v0.8.1", got ${JSON.stringify(version)}`);
  const r = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  if (r.major === 0 && r.minor < 7) {
    throw new Error(`metricsServer.version ${version}: releases before v0.7.0 are not supported (use v0.7.2 for Kubernetes 1.28-1.30)`);
  }
  return r;
}

/** v0.8.0 added `appProtocol: https` to the Service port (the only difference between the 0.7.2 and 0.8.1 manifests). */
export function serviceHasAppProtocol(r: MetricsServerRelease): boolean {
  return r.major > 0 || r.minor >= 8;
}

/**
 * metrics-server arguments. Upstream's five, plus `--kubelet-insecure-tls` only when asked for: by
 * default the kubelets get CA-signed serving certificates (serverTLSBootstrap + approved CSRs), so
 * metrics-server can verify them; the insecure flag (the seed runbook's shortcut) is for labs only.
 */
export function metricsServerArgs(spec: MetricsServerSettings): string[] {
  return [
    "--cert-dir=/tmp",
    "--secure-port=10250",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--kubelet-use-node-status-port",
    ...(spec.metricsServer.kubeletInsecureTls ? ["--kubelet-insecure-tls"] : []),
    "--metric-resolution=15s",
  ];
}

export interface MetricsServerManifest {
  readonly serviceAccount: ServiceAccountObject;
  readonly aggregatedReader: ClusterRoleObject;
  readonly clusterRole: ClusterRoleObject;
  readonly authReader: RoleBindingObject;
  readonly authDelegator: ClusterRoleBindingObject;
  readonly clusterRoleBinding: ClusterRoleBindingObject;
  readonly service: ServiceObject;
  readonly deployment: DeploymentObject;
  readonly apiService: APIServiceObject;
}

export function metricsServerManifest(spec: MetricsServerSettings): MetricsServerManifest {
  const release = parseMetricsServerVersion(spec.metricsServer.version);
  const ns = METRICS_SERVER_NAMESPACE;
  const subjects = [{ kind: "ServiceAccount", name: NAME, namespace: ns }];
  const serviceAccount: ServiceAccountObject = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: ns, labels: LABELS } };
  const aggregatedReader: ClusterRoleObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: {
      name: "system:aggregated-metrics-reader",
      // Aggregated into the built-in view/edit/admin roles, so those users can run `kubectl top`.
      labels: {
        ...LABELS,
        "rbac.authorization.k8s.io/aggregate-to-view": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
      },
    },
    rules: [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
  };
  const clusterRole: ClusterRoleObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "system:metrics-server", labels: LABELS },
    rules: [
      { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
    ],
  };
  const authReader: RoleBindingObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "metrics-server-auth-reader", namespace: ns, labels: LABELS },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" },
    subjects,
  };
  const authDelegator: ClusterRoleBindingObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "metrics-server:system:auth-delegator", labels: LABELS },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
    subjects,
  };
  const clusterRoleBinding: ClusterRoleBindingObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "system:metrics-server", labels: LABELS },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:metrics-server" },
    subjects,
  };
  const service: ServiceObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: NAME, namespace: ns, labels: LABELS },
    spec: {
      selector: LABELS,
      ports: [
        {
          name: "https",
          port: 443,
          protocol: "TCP",
          targetPort: "https",
          ...(serviceHasAppProtocol(release) ? { appProtocol: "https" } : {}),
        },
      ],
    },
  };
  const deployment: DeploymentObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: NAME, namespace: ns, labels: LABELS },
    spec: {
      selector: { matchLabels: LABELS },
      // Never drop below one serving replica during a rollout: the metrics API (and the HPA) depend on it.
      strategy: { rollingUpdate: { maxUnavailable: 0 } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: NAME,
          volumes: [{ name: "tmp-dir", emptyDir: {} }],
          priorityClassName: "system-cluster-critical",
          containers: [
            {
              name: NAME,
              image: spec.metricsServer.image,
              imagePullPolicy: "IfNotPresent",
              args: metricsServerArgs(spec),
              resources: { requests: { cpu: "100m", memory: "200Mi" } },
              ports: [{ name: "https", containerPort: 10250, protocol: "TCP" }],
              readinessProbe: {
                httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" },
                periodSeconds: 10,
                failureThreshold: 3,
                initialDelaySeconds: 20,
              },
              livenessProbe: { httpGet: { path: "/livez", port: "https", scheme: "HTTPS" }, periodSeconds: 10, failureThreshold: 3 },
              securityContext: {
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: 1000,
                allowPrivilegeEscalation: false,
                seccompProfile: { type: "RuntimeDefault" },
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "tmp-dir", mountPath: "/tmp" }],
            },
          ],
          nodeSelector: { "kubernetes.io/os": "linux" },
        },
      },
    },
  };
  const apiService: APIServiceObject = {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: {
      name: "v1beta1.metrics.k8s.io",
      labels: LABELS,
      // Pulumi has no built-in readiness check for APIService; wait until the aggregator reports the
      // metrics API Available, so whatever depends on it (the demo's HPA) starts with metrics working.
      annotations: { "pulumi.com/waitFor": "condition=Available" },
    },
    spec: {
      service: { name: NAME, namespace: ns },
      group: "metrics.k8s.io",
      version: "v1beta1",
      insecureSkipTLSVerify: true,
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  };
  return { serviceAccount, aggregatedReader, clusterRole, authReader, authDelegator, clusterRoleBinding, service, deployment, apiService };
}

/** In the order of the released components.yaml (and `kubectl apply` output in the seed runbook). */
export function metricsServerAddonObjects(spec: MetricsServerSettings): AddonObject[] {
  if (!spec.metricsServer.enabled) return [];
  const m = metricsServerManifest(spec);
  return [m.serviceAccount, m.aggregatedReader, m.clusterRole, m.authReader, m.authDelegator, m.clusterRoleBinding, m.service, m.deployment, m.apiService];
}

/** For the offline renderer: the objects `pulumi up` applies for metrics-server ([] when disabled). */
export function metricsServerObjects(spec: MetricsServerSettings): K8sObject[] {
  return metricsServerAddonObjects(spec);
}
