// scripts/ops/verify against stand-in kubectl/ssh/pulumi: a healthy cluster passes, each classic
// breakage fails with its check named and a hint, and missing tools stop it before anything runs.
import * as fs from "fs";
import * as path from "path";
import { runOps, Call, tempDir } from "./ops/run";
import { certFacts, clusterRules, stackRules, ClusterState, STACK_OUTPUTS } from "./ops/cluster";

const run = (s: ClusterState = {}, args: string[] = [], extra = {}) =>
  runOps("verify", args, { rules: [...stackRules(), ...clusterRules(s)], ...extra });
const lines = (out: string, prefix: string) => out.split("\n").filter((l) => l.startsWith(prefix));
const sshHosts = (calls: Call[]) => calls.filter((c) => c.tool === "ssh").map((c) => c.host);

test("a healthy cluster passes every check and exits 0", async () => {
  const r = await run();
  expect(r.stderr).not.toMatch(/failed/);
  expect(r.code).toBe(0);
  expect(lines(r.stdout, "FAIL")).toEqual([]);
  const pass = lines(r.stdout, "PASS").join("\n");
  for (const n of ["k8s-control", "k8s-worker"]) {
    expect(pass).toContain(`node ${n} Ready`);
    expect(pass).toMatch(new RegExp(`node ${n} INTERNAL-IP \\S+ = configured node IP`));
    expect(pass).toContain(`flannel Running on ${n}`);
    for (const c of ["br_netfilter", "net.ipv4.ip_forward = 1", "swap off", "containerd active"]) expect(pass).toContain(`${n} ${c}`);
  }
  expect(pass).toContain("kubectl top nodes answers");
  // Certificates are judged on the control plane only (its node-facts carry kubeadm's table).
  expect(pass).toContain("k8s-control certificates: all 14 valid for 30 days or more (first to expire: admin.conf in 364d)");
  expect(pass).not.toContain("k8s-worker certificates");
  expect(pass).toMatch(/Service default\/test-service has ready endpoints: 10\.244\.1\.3/);
  expect(pass).toContain("HPA default/test-hpa sees CPU 3%/40%");
  expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
  // Targets came from the stack: every node over SSH as the stack's user with the stack's key.
  expect(sshHosts(r.calls)).toEqual(["192.168.56.10", "192.168.56.20"]);
  const ssh = r.calls.find((c) => c.tool === "ssh")!;
  expect(ssh.args.join(" ")).toContain("User=ubuntu");
  const keyPath = ssh.args[ssh.args.indexOf("-i") + 1];
  const kubectl = r.calls.find((c) => c.tool === "kubectl")!;
  const kubeconfigPath = kubectl.args[kubectl.args.indexOf("--kubeconfig") + 1];
  // The secret files from the stack are gone once the script exits.
  expect(fs.existsSync(keyPath)).toBe(false);
  expect(fs.existsSync(kubeconfigPath)).toBe(false);
});

test("a node that registered the VirtualBox NAT address fails with the node-ip hint", async () => {
  const r = await run({ workerIp: "10.0.2.15" });
  expect(r.code).toBe(1);
  const out = r.stdout;
  expect(out).toMatch(/^FAIL  node k8s-worker INTERNAL-IP 10\.0\.2\.15 is the VirtualBox NAT address/m);
  const hint = out.split("\n")[out.split("\n").findIndex((l) => l.includes("INTERNAL-IP 10.0.2.15")) + 1];
  expect(hint).toMatch(/^      next: .*--node-ip=192\.168\.56\.20/);
  expect(out).toMatch(/^PASS  node k8s-control INTERNAL-IP 192\.168\.56\.10/m);
  expect(out).toMatch(/^\d+ passed, 1 failed$/m);
});

test("an IP that differs from the configured one fails even when it is not 10.0.2.15", async () => {
  const r = await run({ workerIp: "172.17.0.4" });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/FAIL  node k8s-worker INTERNAL-IP 172\.17\.0\.4 != configured node IP 192\.168\.56\.20/);
});

test("flannel in CrashLoopBackOff (phase Running, not ready) and a missing br_netfilter both fail", async () => {
  const r = await run({ flannelWorker: { phase: "Running", ready: "false" }, facts: { br_netfilter: "missing", bridge_nf_call_iptables: "missing" } });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/FAIL  flannel Running on k8s-worker \(kube-flannel-ds-sgk4s: Running ready=false\)\n      next: kubectl -n kube-flannel logs kube-flannel-ds-sgk4s/);
  expect(r.stdout).toMatch(/FAIL  k8s-control br_netfilter loaded\n      next: .*modprobe br_netfilter/);
});

test("swap on, ip_forward off, containerd down, no metrics and an <unknown> HPA target each fail", async () => {
  const r = await run({ facts: { swap_devices: "1", ip_forward: "0", containerd: "inactive" }, topFails: true, hpaCurrent: "" });
  expect(r.code).toBe(1);
  const fails = lines(r.stdout, "FAIL").join("\n");
  expect(fails).toContain("k8s-worker swap off (1 swap devices active)");
  expect(fails).toContain("k8s-worker net.ipv4.ip_forward = 0");
  expect(fails).toContain("k8s-worker containerd active (inactive)");
  expect(fails).toContain("kubectl top nodes: error: Metrics API not available");
  expect(fails).toMatch(/HPA default\/test-hpa CPU target is <unknown>/);
});

test("flags win over the stack: --node and --user change where SSH goes, --kubeconfig skips the stack's", async () => {
  const kc = path.join(tempDir("opstest-kc-"), "kubeconfig");
  fs.writeFileSync(kc, "apiVersion: v1\n");
  const r = await run({ cpHost: "203.0.113.6" }, ["--kubeconfig", kc, "--node", "k8s-worker=203.0.113.7", "--node", "k8s-control=203.0.113.6", "--user", "root"]);
  expect(r.code).toBe(0);
  expect(sshHosts(r.calls).sort()).toEqual(["203.0.113.6", "203.0.113.7"]);
  expect(r.calls.filter((c) => c.tool === "ssh").every((c) => c.args.includes("User=root"))).toBe(true);
  expect(r.calls.some((c) => c.tool === "pulumi" && c.args.includes("kubeconfig"))).toBe(false);
  expect(r.calls.filter((c) => c.tool === "kubectl").every((c) => c.args.includes(kc))).toBe(true);
  // The stack still supplies the configured IPs the INTERNAL-IP check compares with.
  expect(r.stdout).toContain("INTERNAL-IP 192.168.56.20 = configured node IP");
});

test("without the stack or flags it says what to pass", async () => {
  const r = await runOps("verify", [], { without: ["pulumi"], rules: clusterRules() });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/pulumi CLI not on PATH/);
  expect(r.stderr).toMatch(/no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG/);
  expect(r.calls.filter((c) => c.tool === "kubectl" || c.tool === "ssh")).toEqual([]);
});

test("env targets work without pulumi: KUBECONFIG, OPS_NODES, OPS_SSH_USER", async () => {
  const kc = path.join(tempDir("opstest-kc-"), "kubeconfig");
  fs.writeFileSync(kc, "apiVersion: v1\n");
  const r = await runOps("verify", ["--no-demo"], {
    without: ["pulumi"],
    rules: clusterRules(),
    env: { KUBECONFIG: kc, OPS_NODES: "k8s-control=192.168.56.10 k8s-worker=192.168.56.20", OPS_SSH_USER: "zhennan" },
  });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("INTERNAL-IP 192.168.56.20 (no configured IP to compare; add --node-ip k8s-worker=IP)");
  expect(r.calls.filter((c) => c.tool === "ssh").every((c) => c.args.includes("User=zhennan"))).toBe(true);
  expect(r.stdout).not.toContain("test-service");
});

test("a missing kubectl or ssh is named with how to get it, before anything runs", async () => {
  const r = await run({}, [], { without: ["kubectl", "ssh"] });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/missing prerequisite:\n  kubectl \(install kubectl: https:\/\/kubernetes\.io/);
  expect(r.stderr).toMatch(/  ssh \(install an OpenSSH client/);
  expect(r.calls).toEqual([]);
});

test("the stack's node list is what is checked when a node never registered", async () => {
  const outputs = { ...STACK_OUTPUTS, nodes: [...STACK_OUTPUTS.nodes, { name: "k8s-worker2", role: "worker", ip: "192.168.56.21", sshHost: "192.168.56.21", sshUser: "ubuntu" }] };
  const r = await runOps("verify", [], { rules: [...stackRules(outputs), ...clusterRules()] });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/FAIL  node k8s-worker2 registered in the cluster/);
});

test("--no-ssh still compares INTERNAL-IPs with the stack's node IPs and never uses ssh", async () => {
  const r = await run({ workerIp: "10.0.2.15" }, ["--no-ssh"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("PASS  node k8s-control INTERNAL-IP 192.168.56.10 = configured node IP");
  expect(r.stdout).toContain("--node-ip=192.168.56.20");
  expect(r.calls.filter((c) => c.tool === "ssh" || (c.tool === "pulumi" && c.args.includes("sshPrivateKey")))).toEqual([]);
});

describe("control-plane certificates (kubeadm certs check-expiration over SSH)", () => {
  test("a certificate with less than 30 days left is a WARN with the renewal hint; verify still exits 0", async () => {
    const r = await run({ certs: { apiserver: "12d", "front-proxy-client": "47h" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WARN  k8s-control certificate apiserver expires in 12 days \(kubeadm: 12d\)\n      next: on k8s-control: sudo kubeadm certs renew all, then restart the control-plane static pods \(scripts\/node\/renew-certs\.sh does both\)/m);
    expect(r.stdout).toMatch(/^WARN  k8s-control certificate front-proxy-client expires in 1 days \(kubeadm: 47h\)/m);
    expect(r.stdout).not.toMatch(/certificates: all/);
    expect(r.stdout).toMatch(/^\d+ passed, 2 warnings, 0 failed$/m);
  });

  test("an expired certificate (kubeadm prints <invalid>) or a missing one is a FAIL", async () => {
    const r = await run({ certs: { "admin.conf": "<invalid>", "etcd-server": "!MISSING!" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL  k8s-control certificate admin\.conf expired \(kubeadm: <invalid>\)$/m);
    expect(r.stdout).toMatch(/^FAIL  k8s-control certificate etcd-server missing \(kubeadm: !MISSING!\)$/m);
    expect(r.stdout).toMatch(/^\d+ passed, 2 failed$/m);
  });

  test("a CA close to its end counts too; exactly 30 days passes", async () => {
    const r = await run({ certs: { "etcd-ca": "29d", apiserver: "30d" } });
    expect(r.stdout).toMatch(/^WARN  k8s-control certificate etcd-ca expires in 29 days/m);
    expect(r.stdout).not.toMatch(/certificate apiserver/);
  });

  test("kubeadm failing on the control plane is a FAIL naming the command", async () => {
    const r = await run({ certText: "cert_error=kubeadm certs check-expiration failed: error reading /etc/kubernetes/pki\n" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL  k8s-control certificate expiry: kubeadm certs check-expiration failed: error reading/m);
  });

  test("the table node-facts.sh forwards is kubeadm's own layout", () => {
    const t = certFacts();
    expect(t.split("\n")[0]).toMatch(/^cert\|CERTIFICATE\s+EXPIRES\s+RESIDUAL TIME\s+CERTIFICATE AUTHORITY\s+EXTERNALLY MANAGED$/);
    expect(t).toMatch(/^cert\|apiserver\s+Jan 23, 2027 10:41 UTC\s+364d\s+ca\s+no$/m);
  });
});
