// The kubelet-csr-approver add-on (issue 13) held to its upstream: the RBAC, arguments, probe, security
// context and tolerations of postfinance/kubelet-csr-approver's own manifests, every setting a flag the
// program really reads (a misspelt variable is silently ignored), and the approval rule narrowed to
// this cluster's nodes: the same rule as scripts/node/approve-serving-cert.sh.
import { csrApproverManifest, csrApproverObjects, providerIpPrefixes, providerRegex } from "../components/addons/manifests/csr-approver";
import { CSR_APPROVER_IMAGE } from "../components/versions";
import { validateObject, SchemaObject } from "./k8s-schema";
import { devSpec } from "./fixtures";
import { ClusterSpec } from "../components/spec";

/**
 * What upstream ships, read in postfinance/kubelet-csr-approver (notes: /work/notes/node-facts.md §3):
 *   - ClusterRole: charts/kubelet-csr-approver/templates/clusterrole.yaml @0a20837d and
 *     deploy/k8s/clusterrole.yaml @830e5bf3; the leases rule only `{{- if .Values.leaderElection }}`;
 *   - Deployment: the chart's deployment.yaml @0424e3d5 and values.yaml @03db2cb2 (args, probe,
 *     securityContext, tolerations of the master and control-plane taints);
 *   - settings: internal/cmd/cmd.go (`ff.Parse(fs, os.Args[1:], ff.WithEnvVars())`: each flag is also
 *     the environment variable of its name upper-cased with "-" -> "_").
 */
const UPSTREAM = {
  rules: [
    { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"] },
    { apiGroups: ["certificates.k8s.io"], resources: ["signers"], resourceNames: ["kubernetes.io/kubelet-serving"], verbs: ["approve"] },
  ],
  leaderElectionRule: { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "get", "update"] },
  args: ["-metrics-bind-address", ":8080", "-health-probe-bind-address", ":8081"],
  livenessProbe: { httpGet: { path: "/healthz", port: 8081 } },
  securityContext: { runAsUser: 65532, runAsNonRoot: true, privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
  toleratedTaints: ["node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane"],
  flags: [
    "level", "metrics-bind-address", "health-probe-bind-address", "leader-election", "provider-regex", "max-expiration-sec",
    "bypass-dns-resolution", "bypass-hostname-check", "ignore-non-system-node", "allowed-dns-names", "provider-ip-prefixes",
  ],
};

const spec: ClusterSpec = (() => {
  const d = devSpec();
  return { ...d, nodes: [...d.nodes, { name: "k8s-worker-2", role: "worker", ip: "192.168.56.21" }] };
})();
/** The plain shape of what the test reads (the object types allow Pulumi inputs; these are plain values). */
interface Container {
  image: string;
  args: string[];
  env: { name: string; value: string }[];
  livenessProbe: unknown;
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
}
interface Deployment {
  spec: { replicas: number; template: { spec: { containers: Container[]; tolerations: { key: string; effect: string }[] } } };
}
const m = csrApproverManifest(spec);
const deployment = JSON.parse(JSON.stringify(m.deployment)) as Deployment;
const container = deployment.spec.template.spec.containers[0];

test("the ClusterRole has exactly upstream's rules; no leases rule, as upstream without leader election (one replica)", () => {
  expect(m.clusterRole.rules).toEqual(UPSTREAM.rules);
  expect(m.clusterRole.rules).not.toContainEqual(UPSTREAM.leaderElectionRule);
  expect(deployment.spec.replicas).toBe(1);
  expect(container.args).not.toContain("-leader-election");
});

test("arguments, liveness probe, security context and control-plane tolerations as upstream", () => {
  expect(container.args).toEqual(UPSTREAM.args);
  expect(container.livenessProbe).toEqual(UPSTREAM.livenessProbe);
  expect(container.securityContext).toMatchObject(UPSTREAM.securityContext);
  // Upstream writes "all"; Kubernetes' documented form is "ALL" (both drop every capability).
  expect(container.securityContext.capabilities.drop.map((c) => c.toUpperCase())).toEqual(["ALL"]);
  const tolerated = deployment.spec.template.spec.tolerations.filter((t) => t.effect === "NoSchedule").map((t) => t.key);
  expect(tolerated.sort()).toEqual([...UPSTREAM.toleratedTaints].sort());
});

test("every environment variable is one of the program's flags (a misspelt one, like MAX_EXPIRATION_SECONDS, would be ignored)", () => {
  const known = new Set(UPSTREAM.flags.map((f) => f.toUpperCase().replace(/-/g, "_")));
  for (const e of container.env ?? []) expect({ env: e.name, known: known.has(e.name) }).toEqual({ env: e.name, known: true });
  expect(container.env.map((e) => e.name)).toEqual(expect.arrayContaining(["PROVIDER_REGEX", "PROVIDER_IP_PREFIXES"]));
});

test("the rule is this cluster's nodes only: the regex accepts exactly their names, the prefixes exactly their IPs", () => {
  // Go's regexp (RE2) and JavaScript agree on this pattern: anchors, alternation, DNS-label characters.
  const re = new RegExp(providerRegex(spec));
  for (const n of spec.nodes) expect(re.test(n.name)).toBe(true);
  for (const other of ["k8s-worker-3", "k8s-worker-2.evil", "xk8s-control", "k8s-control.example.com"]) expect({ other, ok: re.test(other) }).toEqual({ other, ok: false });
  expect(providerIpPrefixes(spec).split(",")).toEqual(spec.nodes.map((n) => `${n.ip}/32`));
});

test("the image is the pinned upstream release unless configured; off when metrics-server skips kubelet TLS", () => {
  expect(container.image).toBe(spec.kubeletCsrApprover.image);
  expect(CSR_APPROVER_IMAGE).toMatch(/^ghcr\.io\/postfinance\/kubelet-csr-approver:v1\.2\.\d+$/);
  expect(csrApproverObjects({ ...spec, kubeletCsrApprover: { ...spec.kubeletCsrApprover, enabled: false } })).toEqual([]);
});

test("every object passes the Kubernetes schema", () => {
  for (const o of csrApproverObjects(spec)) validateObject(o as unknown as SchemaObject);
});
