// service-rules: the KUBE-SERVICES -> KUBE-SVC -> KUBE-SEP tree from iptables-save output built
// from the seed's kube-proxy rules (002 Q10), read from a file or from a node over ssh.
import * as fs from "fs";
import * as path from "path";
import { runOps, FIXTURES, tempDir } from "./ops/run";
import { stackRules } from "./ops/cluster";

const NAT = path.join(FIXTURES, "iptables", "nat-seed.txt");

test("the seed's test-service: two ports, three endpoints each, p = 0.333 / 0.5 / 1, a third each", async () => {
  const r = await runOps("service-rules", ["--from-file", NAT]);
  expect(r.code).toBe(0);
  const out = r.stdout.split("\n");
  const svc = out.findIndex((l) => l.includes("10.101.163.22:8080/tcp (fileserver) -> KUBE-SVC-YPW4ESSQ7BDH6RZX"));
  expect(svc).toBeGreaterThan(0);
  expect(out.slice(svc + 1, svc + 5)).toEqual([
    "|  |- masquerade unless the source is in 10.244.0.0/16 (KUBE-MARK-MASQ)",
    "|  |- p=0.333  -> KUBE-SEP-B2WJKGR0Q4DNXQXB  DNAT 10.244.1.3:8080  (33.3% of new connections)",
    "|  |- p=0.5    -> KUBE-SEP-RBA7ORS5GEW3O7HL  DNAT 10.244.1.4:8080  (33.3% of new connections)",
    "|  `- p=1      -> KUBE-SEP-SCOROOBPIJ2P6R6Y  DNAT 10.244.1.5:8080  (33.3% of new connections)",
  ]);
  expect(r.stdout).toContain("`- 10.101.163.22:3000/tcp (downloader) -> KUBE-SVC-5DBF63XQ64WV75V6");
  expect(r.stdout).toContain("p=0.5    -> KUBE-SEP-QJP363NGI67SEY4S  DNAT 10.244.1.4:3000");
  // Other Services in the same table stay out of the tree.
  expect(r.stdout).not.toContain("10.96.0.1");
});

test("uneven probabilities give uneven shares, bare comments parse, and a name without namespace means default/", async () => {
  const f = path.join(tempDir("opstest-nat-"), "nat.txt");
  fs.writeFileSync(f, [
    "*nat",
    "-A KUBE-SERVICES -d 10.96.44.5/32 -p tcp -m comment --comment \"default/web cluster IP\" -m tcp --dport 80 -j KUBE-SVC-AAAAAAAAAAAAAAAA",
    "-A KUBE-SVC-AAAAAAAAAAAAAAAA -m comment --comment default/web -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-BBBBBBBBBBBBBBBB",
    "-A KUBE-SVC-AAAAAAAAAAAAAAAA -m comment --comment default/web -j KUBE-SEP-CCCCCCCCCCCCCCCC",
    "-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.1.7:8080",
    "-A KUBE-SEP-CCCCCCCCCCCCCCCC -p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.2.9:8080",
    "COMMIT", ""].join("\n"));
  const r = await runOps("service-rules", ["--from-file", f, "--service", "web"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("`- 10.96.44.5:80/tcp -> KUBE-SVC-AAAAAAAAAAAAAAAA");
  expect(r.stdout).toContain("|- p=0.25   -> KUBE-SEP-BBBBBBBBBBBBBBBB  DNAT 10.244.1.7:8080  (25.0% of new connections)");
  expect(r.stdout).toContain("`- p=1      -> KUBE-SEP-CCCCCCCCCCCCCCCC  DNAT 10.244.2.9:8080  (75.0% of new connections)");
});

test("read over ssh from the control plane by default", async () => {
  const r = await runOps("service-rules", [], { rules: stackRules(), exec: true });
  expect(r.code).toBe(0);
  const ssh = r.calls.filter((c) => c.tool === "ssh");
  expect(ssh.map((c) => [c.host, c.stdin.trim()])).toEqual([["192.168.56.10", "iptables-save -t nat"]]);
  expect(r.stdout).toMatch(/^Service default\/test-service \(iptables-save -t nat, node k8s-control\)$/m);
  expect(r.stdout).toContain("p=0.333  -> KUBE-SEP-2H3DDHMGCONVHAPW  DNAT 10.244.1.3:3000");
});

test("a Service with no rules exits 1 and says what to check", async () => {
  const r = await runOps("service-rules", ["--from-file", NAT, "--service", "kube-system/kube-dns"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/no KUBE-SERVICES rule for Service kube-system\/kube-dns .*is kube-proxy in iptables mode\?/);
});
