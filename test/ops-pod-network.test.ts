// pod-network: pods' eth0@ifN matched to host veths, from recorded `ip -o` output of a lab worker
// (the seed 002 Q6 devices on the VirtualBox addressing) and pod names from kubectl.
import { runOps } from "./ops/run";
import { stackRules } from "./ops/cluster";

const PODS = [
  "10.244.1.2\tdefault/testpod\tk8s-worker",
  "10.244.1.3\tdefault/test-deployment-754f9f879-pzlv7\tk8s-worker",
  "192.168.56.20\tkube-flannel/kube-flannel-ds-sgk4s\tk8s-worker",
  "10.244.0.5\tkube-system/coredns-55cb58b774-jdj9j\tk8s-control",
].join("\n") + "\n";

test("each pod's eth0@ifN is paired with host link N, its bridge and netns", async () => {
  const r = await runOps("pod-network", ["--on", "k8s-worker"], {
    rules: [...stackRules(), { tool: "kubectl", args: "get pods -A -o jsonpath", out: PODS }],
    exec: true,
  });
  expect(r.code).toBe(0);
  const row = (pod: string) => r.stdout.split("\n").find((l) => l.trim().startsWith(pod))?.trim().split(/\s+/);
  expect(row("default/testpod")).toEqual(["default/testpod", "10.244.1.2", "2:", "eth0@if6", "6:", "veth05dbc1b4@if2", "cni0", "cni-a4de7ab4-a30f-f2fc-e527-9f01229125dc"]);
  expect(row("default/test-deployment-754f9f879-pzlv7")).toEqual(["default/test-deployment-754f9f879-pzlv7", "10.244.1.3", "2:", "eth0@if7", "7:", "veth6b1f2c3a@if2", "cni0", "cni-5f0e2c71-9b1d-0a44-6e2d-3c8b7d1e0f52"]);
  expect(r.stdout).toMatch(/4: +flannel\.1 +10\.244\.1\.0\/32 +VXLAN device/);
  expect(r.stdout).toMatch(/5: +cni0 +10\.244\.1\.1\/24 +bridge/);
  expect(r.stdout).toMatch(/3: +enp0s8 +192\.168\.56\.20\/24/);
  // Veths are listed as pod rows, not as node devices; a pod on another node is not listed.
  expect(r.stdout).not.toMatch(/^\s+6: +veth05dbc1b4/m);
  expect(r.stdout).not.toContain("coredns");
  expect(r.stdout).not.toContain("peer mismatch");
  expect(r.calls.filter((c) => c.tool === "ssh").map((c) => c.host)).toEqual(["192.168.56.20"]);
});
