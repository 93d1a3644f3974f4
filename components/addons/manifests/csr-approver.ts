// postfinance/kubelet-csr-approver as plain objects. With `serverTLSBootstrap: true` the kubelet
// asks for a new serving certificate at ~70-90 % of the current one's life, and nothing in kubeadm
// approves it: after about a year metrics-server cannot scrape and the HPA stops. The one-shot
// approval at join (scripts/node/approve-serving-cert.sh) covers the first certificate, before this
// Deployment can run.
//
// Upstream (read for these objects; the project's Helm chart and deploy/k8s/, and internal/cmd/cmd.go
// for the settings): ServiceAccount + ClusterRole (CSRs get/list/watch, their approval update, approve
// on the kubelet-serving signer) + ClusterRoleBinding + one Deployment in kube-system that tolerates the
// control-plane taint, runs as 65532 with a read-only root, probes /healthz on 8081. Settings are flags
// or environment variables (ff.WithEnvVars: `-provider-regex` = PROVIDER_REGEX).
//
// What it approves (internal/controller/csr_controller.go, regex_ip_checks.go): only kubelet-serving
// requests from `system:node:<name>` whose CN is that user; every DNS name must start with <name> and
// match PROVIDER_REGEX; every IP must be inside PROVIDER_IP_PREFIXES; anything else is denied. With
// the regex an exact list of this cluster's node names and the prefixes this cluster's node IPs (/32),
// that is the approve script's rule, except that the IP is checked against all nodes' IPs rather than
// the requesting node's own (docs/addons.md says so).
import { ClusterSpec } from "../../spec";
import { ClusterRoleBindingObject, ClusterRoleObject, DeploymentObject, ServiceAccountObject } from "./types";

/** What the approver needs from the cluster description. */
export type CsrApproverSettings = Pick<ClusterSpec, "kubeletCsrApprover" | "nodes">;

export const CSR_APPROVER_NAME = "kubelet-csr-approver";
export const CSR_APPROVER_NAMESPACE = "kube-system";
const LABELS = { app: CSR_APPROVER_NAME };

/** `^(name1|name2)$`: node names are DNS labels ([a-z0-9-]), nothing to escape. */
export function providerRegex(spec: CsrApproverSettings): string {
  return `^(${spec.nodes.map((n) => n.name).join("|")})$`;
}

/** Each node IP as a /32. */
export function providerIpPrefixes(spec: CsrApproverSettings): string {
  return spec.nodes.map((n) => `${n.ip}/32`).join(",");
}

export interface CsrApproverManifest {
  readonly serviceAccount: ServiceAccountObject;
  readonly clusterRole: ClusterRoleObject;
  readonly clusterRoleBinding: ClusterRoleBindingObject;
  readonly deployment: DeploymentObject;
}

export function csrApproverManifest(spec: CsrApproverSettings): CsrApproverManifest {
  const meta = { name: CSR_APPROVER_NAME, namespace: CSR_APPROVER_NAMESPACE, labels: LABELS };
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    clusterRole: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: CSR_APPROVER_NAME, labels: LABELS },
      rules: [
        { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"] },
        { apiGroups: ["certificates.k8s.io"], resources: ["signers"], resourceNames: ["kubernetes.io/kubelet-serving"], verbs: ["approve"] },
      ],
    },
    clusterRoleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: CSR_APPROVER_NAME, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CSR_APPROVER_NAME },
      subjects: [{ kind: "ServiceAccount", name: CSR_APPROVER_NAME, namespace: CSR_APPROVER_NAMESPACE }],
    },
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta,
      spec: {
        // One replica, so no leader election (and no leases permission) is needed.
        replicas: 1,
        selector: { matchLabels: LABELS },
        template: {
          metadata: { labels: LABELS },
          spec: {
            serviceAccountName: CSR_APPROVER_NAME,
            containers: [
              {
                name: CSR_APPROVER_NAME,
                image: spec.kubeletCsrApprover.image,
                args: ["-metrics-bind-address", ":8080", "-health-probe-bind-address", ":8081"],
                env: [
                  { name: "PROVIDER_REGEX", value: providerRegex(spec) },
                  { name: "PROVIDER_IP_PREFIXES", value: providerIpPrefixes(spec) },
                  // Node names are not in the cluster DNS; the regex and the IP prefixes do the checking.
                  { name: "BYPASS_DNS_RESOLUTION", value: "true" },
                ],
                ports: [{ name: "metrics", containerPort: 8080, protocol: "TCP" }],
                livenessProbe: { httpGet: { path: "/healthz", port: 8081 } },
                resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                securityContext: {
                  runAsUser: 65532,
                  runAsNonRoot: true,
                  privileged: false,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
              },
            ],
            // Runs on the control plane too: it must work while the workers are still joining.
            tolerations: [
              { effect: "NoSchedule", key: "node-role.kubernetes.io/master", operator: "Exists" },
              { effect: "NoSchedule", key: "node-role.kubernetes.io/control-plane", operator: "Exists" },
            ],
          },
        },
      },
    },
  };
}

export function csrApproverObjects(spec: CsrApproverSettings): (ServiceAccountObject | ClusterRoleObject | ClusterRoleBindingObject | DeploymentObject)[] {
  if (!spec.kubeletCsrApprover.enabled) return [];
  const m = csrApproverManifest(spec);
  return [m.serviceAccount, m.clusterRole, m.clusterRoleBinding, m.deployment];
}
