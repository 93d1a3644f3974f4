// hpa-load against stand-in kubectl: load pods are created with one run label, the HPA is watched
// until it scales, and the load pods are deleted by that label on success, timeout and interrupt.
import { runOps, Result, Rule, Call } from "./ops/run";
import { stackRules } from "./ops/cluster";

const SVC: Rule = { tool: "kubectl", args: "-n default get svc test-service -o jsonpath", out: "10.101.163.22 8080" };
const hpa = (...states: string[]): Rule => ({ tool: "kubectl", args: "-n default get hpa test-hpa -o jsonpath", seq: states.map((out) => ({ out })) });
const RUN: Rule = { tool: "kubectl", args: "-n default run hpa-load-", out: "" };
const DELETE: Rule = { tool: "kubectl", args: "-n default delete pod -l ops.kubeadm.io/hpa-load=", out: "" };

const runs = (r: Result) => r.calls.filter((c) => c.tool === "kubectl" && c.args.includes("run"));
const deletes = (r: Result) => r.calls.filter((c) => c.tool === "kubectl" && c.args.includes("delete"));
const label = (c: Call) => c.args.find((a) => a.startsWith("--labels="))!.slice("--labels=".length);

test("N load pods hit the Service's cluster IP, the HPA scales up, the load is removed", async () => {
  const r = await runOps("hpa-load", ["-n", "3", "--interval", "1"], {
    rules: [...stackRules(), SVC, RUN, DELETE, hpa("3|3||40", "3|3|12|40", "3|5|95|40")],
  });
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  expect(runs(r)).toHaveLength(3);
  const lbl = label(runs(r)[0]);
  expect(lbl).toMatch(/^ops\.kubeadm\.io\/hpa-load=\d{6}-\d+$/);
  for (const c of runs(r)) {
    expect(label(c)).toBe(lbl);
    expect(c.args).toContain("--image=docker.io/library/busybox:1.36");
    expect(c.args).toContain("--restart=Never");
    expect(c.args[c.args.length - 1]).toMatch(/while sleep 0\.01; do wget -q -O \/dev\/null http:\/\/10\.101\.163\.22:8080\/; done/);
  }
  // Deleted once, by the run label, after the scale-up was seen.
  expect(deletes(r).map((c) => c.args.join(" "))).toEqual([expect.stringContaining(`delete pod -l ${lbl} --ignore-not-found --wait=false`)]);
  expect(r.stdout).toMatch(/replicas=3 desired=3 cpu=<unknown>\/40%  \(before load\)/);
  expect(r.stdout).toMatch(/replicas=3 desired=5 cpu=95%\/40%/);
  expect(r.stderr).toContain("scaled up from 3 to 5");
});

test("--watch-scale-down follows the HPA back to where it started", async () => {
  const r = await runOps("hpa-load", ["-n", "1", "--interval", "1", "--watch-scale-down", "--port", "3000"], {
    rules: [...stackRules(), SVC, RUN, DELETE, hpa("3|3|1|40", "4|4|80|40", "4|4|0|40", "4|3|0|40", "3|3|0|40")],
  });
  expect(r.code).toBe(0);
  expect(runs(r)[0].args.join(" ")).toContain("http://10.101.163.22:3000/");
  expect(r.stderr).toContain("back to 3 replicas");
  // The load went before the scale-down watch began.
  const del = r.calls.findIndex((c) => c.args.includes("delete"));
  const hpaReads = r.calls.map((c, i) => (c.args.includes("hpa") ? i : -1)).filter((i) => i >= 0);
  expect(hpaReads.filter((i) => i > del).length).toBeGreaterThanOrEqual(2);
});

test("no scale-up before the timeout: exit 1 with the next thing to check, load removed", async () => {
  const r = await runOps("hpa-load", ["-n", "2", "--interval", "1", "--timeout", "2"], {
    rules: [...stackRules(), SVC, RUN, DELETE, hpa("3|3||40")],
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/no scale-up within 2s: check `kubectl -n default describe hpa test-hpa`/);
  expect(deletes(r)).toHaveLength(1);
});

test.each([
  ["SIGINT to the process group (Ctrl-C)", "SIGINT" as const, true, 130],
  ["SIGTERM to the script", "SIGTERM" as const, false, 143],
])("%s while watching deletes the load pods", async (_n, signal, group, code) => {
  const r = await runOps("hpa-load", ["-n", "2", "--interval", "1", "--timeout", "60"], {
    rules: [...stackRules(), SVC, RUN, DELETE, hpa("3|3|10|40")],
    interrupt: { when: (calls) => calls.filter((c) => c.args.includes("hpa")).length >= 2, signal, group },
  });
  expect(r.code).toBe(code);
  expect(runs(r)).toHaveLength(2);
  expect(deletes(r)).toHaveLength(1);
  expect(deletes(r)[0].args.join(" ")).toContain(`-l ${label(runs(r)[0])}`);
});

test("an interrupt while the pods are still being created deletes the ones already made", async () => {
  const r = await runOps("hpa-load", ["-n", "5", "--interval", "1"], {
    rules: [...stackRules(), SVC, DELETE, hpa("3|3|10|40"), { tool: "kubectl", args: "run hpa-load-", out: "", sleep: 0.3 }],
    interrupt: { when: (calls) => calls.filter((c) => c.args.includes("run")).length >= 2, signal: "SIGINT", group: true },
  });
  expect(r.code).toBe(130);
  expect(runs(r).length).toBeLessThan(5);
  expect(deletes(r)).toHaveLength(1);
});

test("a missing demo Service stops before any load pod is created", async () => {
  const r = await runOps("hpa-load", [], {
    rules: [...stackRules(), { tool: "kubectl", args: "get svc test-service", code: 1, err: 'Error from server (NotFound): services "test-service" not found\n' }],
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/Service default\/test-service not found: is the demo deployed/);
  expect(runs(r)).toHaveLength(0);
});
