// A canned healthy two-node cluster (the seed lab: k8s-control 192.168.56.10, k8s-worker
// 192.168.56.20) as stand-in rules, for the ops tests to start from and break one thing at a time.
import { Rule } from "./run";

export const STACK_OUTPUTS = {
  apiEndpoint: "192.168.56.10:6443",
  demoServiceClusterIp: "10.101.163.22",
  kubeconfig: "[secret]",
  sshPrivateKey: "[secret]",
  nodes: [
    { name: "k8s-control", role: "control-plane", ip: "192.168.56.10", sshHost: "192.168.56.10", sshUser: "ubuntu" },
    { name: "k8s-worker", role: "worker", ip: "192.168.56.20", sshHost: "192.168.56.20", sshUser: "ubuntu" },
  ],
};

export const KUBECONFIG_TEXT = "apiVersion: v1\nkind: Config\nclusters: []\n";
export const PRIVATE_KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKEKEY\n-----END OPENSSH PRIVATE KEY-----\n";

export function stackRules(outputs: object = STACK_OUTPUTS): Rule[] {
  return [
    { tool: "pulumi", args: "stack output --json$", out: JSON.stringify(outputs, null, 2) },
    { tool: "pulumi", args: "stack output kubeconfig --show-secrets", out: KUBECONFIG_TEXT },
    { tool: "pulumi", args: "stack output sshPrivateKey --show-secrets", out: PRIVATE_KEY_TEXT },
  ];
}

export const HEALTHY_FACTS = [
  "br_netfilter=module",
  "bridge_nf_call_iptables=1",
  "ip_forward=1",
  "swap_devices=0",
  "containerd=active",
  "kubelet=active",
].join("\n") + "\n";

/**
 * `kubeadm certs check-expiration` on the control plane as node-facts.sh passes it on ("cert|" lines),
 * in kubeadm's layout (node-facts.md §4, a real >= 1.29 cluster): RESIDUAL TIME per certificate,
 * overridable per name ("12d", "<invalid>", "!MISSING!").
 */
export function certFacts(residual: Record<string, string> = {}): string {
  const certs: [string, string][] = [
    ["admin.conf", "ca"], ["apiserver", "ca"], ["apiserver-etcd-client", "etcd-ca"], ["apiserver-kubelet-client", "ca"],
    ["controller-manager.conf", "ca"], ["etcd-healthcheck-client", "etcd-ca"], ["etcd-peer", "etcd-ca"], ["etcd-server", "etcd-ca"],
    ["front-proxy-client", "front-proxy-ca"], ["scheduler.conf", "ca"], ["super-admin.conf", "ca"],
  ];
  const pad = (x: string, n: number) => x.padEnd(n);
  const lines = [`${pad("CERTIFICATE", 27)}${pad("EXPIRES", 25)}${pad("RESIDUAL TIME", 16)}${pad("CERTIFICATE AUTHORITY", 24)}EXTERNALLY MANAGED`];
  for (const [name, ca] of certs) {
    const r = residual[name] ?? "364d";
    lines.push(r === "!MISSING!" ? `!MISSING! ${name}` : `${pad(name, 27)}${pad("Jan 23, 2027 10:41 UTC", 25)}${pad(r, 16)}${pad(ca, 24)}no`);
  }
  lines.push("", `${pad("CERTIFICATE AUTHORITY", 24)}${pad("EXPIRES", 25)}${pad("RESIDUAL TIME", 16)}EXTERNALLY MANAGED`);
  for (const ca of ["ca", "etcd-ca", "front-proxy-ca"]) lines.push(`${pad(ca, 24)}${pad("Jan 21, 2036 10:41 UTC", 25)}${pad(residual[ca] ?? "9y", 16)}no`);
  return lines.map((l) => `cert|${l}`).join("\n") + "\n";
}

export interface ClusterState {
  workerIp?: string;
  workerReady?: string;
  flannelWorker?: { phase: string; ready: string };
  facts?: Record<string, string>;
  topFails?: boolean;
  hpaCurrent?: string;
  /** RESIDUAL TIME overrides for the control plane's certificates (certFacts). */
  certs?: Record<string, string>;
  /** Replaces the control plane's cert lines (e.g. a cert_error= line). */
  certText?: string;
  /** The control plane's SSH address (default the stack's 192.168.56.10). */
  cpHost?: string;
}

export function clusterRules(s: ClusterState = {}): Rule[] {
  const fw = s.flannelWorker ?? { phase: "Running", ready: "true" };
  return [
    {
      tool: "kubectl",
      args: "get nodes -o jsonpath",
      out: `k8s-control|True|192.168.56.10\nk8s-worker|${s.workerReady ?? "True"}|${s.workerIp ?? "192.168.56.20"}\n`,
    },
    {
      tool: "kubectl",
      args: "-n kube-flannel get pods -l app=flannel",
      out: `k8s-control|kube-flannel-ds-tjm6m|Running|true\nk8s-worker|kube-flannel-ds-sgk4s|${fw.phase}|${fw.ready}\n`,
    },
    s.topFails
      ? { tool: "kubectl", args: "top nodes", code: 1, err: "error: Metrics API not available\n" }
      : {
          tool: "kubectl",
          args: "top nodes",
          out: "NAME          CPU(cores)   CPU%   MEMORY(bytes)   MEMORY%\nk8s-control   52m          2%     1382Mi          37%\nk8s-worker    19m          0%     943Mi           25%\n",
        },
    {
      tool: "kubectl",
      args: "get endpointslices -l kubernetes.io/service-name=test-service",
      out: "10.244.1.3\ttrue\n10.244.1.4\ttrue\n10.244.1.5\ttrue\n",
    },
    {
      tool: "kubectl",
      args: "get hpa test-hpa",
      out: `${s.hpaCurrent ?? "3"}|40|the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)`,
    },
    {
      tool: "ssh",
      host: s.cpHost ?? "192.168.56.10",
      stdin: "ops:node-facts",
      out: facts(s) + (s.certText ?? certFacts(s.certs)),
    },
    {
      tool: "ssh",
      stdin: "ops:node-facts",
      out: facts(s),
    },
  ];
}

function facts(s: ClusterState): string {
  return Object.entries(s.facts ?? {}).reduce(
        (text, [k, v]) => text.replace(new RegExp(`^${k}=.*$`, "m"), `${k}=${v}`),
        HEALTHY_FACTS,
      );
}
