// trace-pod-create and strace-summary. The stand-in ssh runs the real remote scripts locally against
// fake node tools (test/ops/nodebin: strace writes a recorded sample and stays attached until
// signalled, pgrep/ss answer like the recorded nodes), so these tests watch real tracer processes
// being started and stopped.
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { runOps, Result, Rule, OPS, FIXTURES, tempDir } from "./ops/run";
import { stackRules } from "./ops/cluster";

const SAMPLES = path.join(FIXTURES, "strace");

/** Alive and not a zombie (a reaped-later tracer is already detached). */
function running(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
function tracerPids(r: Result): { pid: number; comp: string; host: string }[] {
  const f = path.join(r.state, "strace-pids");
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, "utf8").trim().split("\n").map((l) => {
    const [pid, comp, host] = l.split(" ");
    return { pid: Number(pid), comp, host };
  });
}
/** Which remote script an ssh call ran ("trace-start", ...), from its marker comment. */
const remoteStep = (stdin: string) => (stdin.match(/# ops:([a-z-]+)/) ?? [, stdin.trim().split(" ")[0]])[1];
const steps = (r: Result) =>
  r.calls.map((c) => (c.tool === "ssh" ? `ssh ${c.host} ${remoteStep(c.stdin)}` : `${c.tool} ${c.args.filter((a) => !a.startsWith("--kubeconfig") && !a.startsWith("/") && !a.startsWith("--request")).slice(0, 3).join(" ")}`));

function setup(podStates: string[], extra: Rule[] = []) {
  const dir = tempDir("opstest-trace-");
  const admin = path.join(dir, "admin.conf");
  fs.writeFileSync(admin, "apiVersion: v1\n");
  const rules: Rule[] = [
    ...stackRules(),
    ...extra,
    { tool: "kubectl", args: "get pod trace-nginx -o name", code: 1, err: 'Error from server (NotFound): pods "trace-nginx" not found\n' },
    { tool: "kubectl", args: "get pod trace-nginx -o jsonpath", seq: podStates.map((out) => ({ out })) },
    { tool: "kubectl", args: `--kubeconfig ${admin} run trace-nginx --image=docker.io/library/nginx:1.27-alpine`, out: "pod/trace-nginx created\n" },
    { tool: "kubectl", args: "delete pod trace-nginx --ignore-not-found --wait=false", out: 'pod "trace-nginx" deleted\n' },
  ];
  return { dir, admin, rules, args: ["--name", "trace-nginx", "--cp-kubeconfig", admin, "--out", dir, "--timeout", "20"] };
}
const remoteDirsLeft = () => fs.readdirSync("/tmp").filter((d) => /^ops-trace-\d{8}T\d{6}Z-/.test(d));

describe("strace-summary", () => {
  function runFolder(withSockets: boolean): string {
    const dir = tempDir("ops-summary-");
    const layout: Record<string, [string, string]> = { "k8s-control": ["192.168.56.10", "kubectl kube-apiserver kube-scheduler"], "k8s-worker": ["192.168.56.20", "kubelet containerd"] };
    for (const [node, [ip, comps]] of Object.entries(layout)) {
      fs.mkdirSync(path.join(dir, node));
      for (const c of comps.split(" ")) fs.copyFileSync(path.join(SAMPLES, `${c}.trace`), path.join(dir, node, `${c}.trace`));
      if (withSockets) {
        fs.copyFileSync(path.join(SAMPLES, `${ip}.ss-tcp.txt`), path.join(dir, node, "sockets-tcp.txt"));
        fs.copyFileSync(path.join(SAMPLES, `${ip}.ss-unix.txt`), path.join(dir, node, "sockets-unix.txt"));
      }
    }
    return execFileSync("bash", [path.join(OPS, "strace-summary"), dir], { encoding: "utf8" });
  }

  test("first and last timestamps per component come from the traces", () => {
    const out = runFolder(true);
    expect(out).toMatch(/k8s-control +kubectl +10:15:02\.101200 \.\. 10:15:02\.188412 +24 lines/);
    expect(out).toMatch(/k8s-worker +containerd +10:15:01\.970002 \.\. 10:15:09\.970230/);
    expect(out).toMatch(/k8s-control +kube-scheduler +10:15:01\.990004 \.\. 10:15:09\.950332/);
  });

  test("the timeline follows the seed's diagram in time order", () => {
    const out = runFolder(true);
    const timeline = out.slice(out.indexOf("Timeline"));
    const at = (re: RegExp) => {
      const m = timeline.match(re);
      if (!m || m.index === undefined) throw new Error(`missing ${re}\n${timeline}`);
      return m.index;
    };
    const order = [
      /10:15:02\.101200 +k8s-control +kubectl +execve \/usr\/bin\/kubectl/,
      /kubectl +connect to 192\.168\.56\.10:6443 +\(API server :6443\)/,
      /kube-apiserver +accept on \*:6443 from \[::ffff:192\.168\.56\.10\]:51876/,
      /kube-apiserver +first write to etcd :2379 \(4 calls/,
      /kube-scheduler +first read from API server :6443/,
      /kube-scheduler +first write to API server :6443 \(1 call\)/,
      /kubelet +first write on containerd socket \(4 calls/,
      /containerd +execve \/usr\/bin\/containerd-shim-runc-v2/,
      /containerd +execve runc create 8c3e5b1f0a7d/,
      /containerd +execve \/pause/,
      /containerd +execve runc create f41b09d2c6e3/,
      /containerd +execve runc start f41b09d2c6e3/,
      /containerd +execve \/docker-entrypoint\.sh/,
      /kubelet +first write to API server :6443/,
    ].map(at);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // EAGAIN reads are not traffic: kubectl has 2 real reads in the sample, not 3.
    expect(timeline).toMatch(/kubectl +first read from API server :6443 \(2 calls/);
  });

  test("without the ss tables, long-lived sockets are reported as unresolved instead of guessed", () => {
    const out = runFolder(false);
    expect(out).toMatch(/kubelet +first write to socket \(opened before tracing, not in the ss tables\)/);
    expect(out).not.toMatch(/kubelet .*containerd socket/);
    // A connect seen in the trace needs no table.
    expect(out).toMatch(/kubectl +connect to 192\.168\.56\.10:6443 +\(API server :6443\)/);
  });
});

describe("trace-pod-create", () => {
  test("traces, waits for Running, stops every tracer, copies, summarises and deletes the Pod", async () => {
    const s = setup(["", "Pending k8s-worker", "Running k8s-worker"]);
    const r = await runOps("trace-pod-create", s.args, { rules: s.rules, exec: true });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    // Order of actions, per node.
    const order = steps(r).filter((l) => !l.startsWith("pulumi"));
    expect(order).toEqual([
      "kubectl get pod trace-nginx",
      "ssh 192.168.56.10 trace-prepare",
      "ssh 192.168.56.20 trace-prepare",
      "ssh 192.168.56.10 trace-start",
      "ssh 192.168.56.20 trace-start",
      "ssh 192.168.56.10 trace-kubectl",
      "kubectl run trace-nginx --image=docker.io/library/nginx:1.27-alpine",
      "kubectl get pod trace-nginx",
      "kubectl get pod trace-nginx",
      "kubectl get pod trace-nginx",
      "ssh 192.168.56.10 trace-stop",
      "ssh 192.168.56.20 trace-stop",
      "scp -q -r -o",
      "scp -q -r -o",
      "kubectl delete pod trace-nginx",
      "ssh 192.168.56.10 rm",
      "ssh 192.168.56.20 rm",
    ]);
    // The right processes were traced on the right nodes, and none is left attached.
    const tracers = tracerPids(r);
    expect(tracers.map((t) => `${t.host} ${t.comp}`).sort()).toEqual([
      "192.168.56.10 kube-apiserver", "192.168.56.10 kube-scheduler", "192.168.56.20 containerd", "192.168.56.20 kubelet"]);
    for (const t of tracers) expect(running(t.pid)).toBe(false);
    // One local folder named after the run time, per-node traces, summary saved and printed.
    const runs = fs.readdirSync(s.dir).filter((d) => /^trace-pod-create-\d{8}T\d{6}Z$/.test(d));
    expect(runs).toHaveLength(1);
    const run = path.join(s.dir, runs[0]);
    expect(fs.readdirSync(path.join(run, "k8s-control")).filter((f) => f.endsWith(".trace")).sort()).toEqual(["kube-apiserver.trace", "kube-scheduler.trace", "kubectl.trace"]);
    expect(fs.readdirSync(path.join(run, "k8s-worker")).filter((f) => f.endsWith(".trace")).sort()).toEqual(["containerd.trace", "kubelet.trace"]);
    const summary = fs.readFileSync(path.join(run, "summary.txt"), "utf8");
    expect(summary).toMatch(/kubelet +first write on containerd socket/);
    expect(r.stdout).toContain(summary.trim());
    expect(r.stdout).toMatch(/^Pod trace-nginx on k8s-worker, traces in /);
    // kubectl read admin.conf under strace; the client key must not leave the node.
    const kubectlTrace = fs.readFileSync(path.join(run, "k8s-control", "kubectl.trace"), "utf8");
    expect(kubectlTrace).toContain("client-key-data: REDACTED");
    expect(kubectlTrace).not.toContain("LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ");
    expect(fs.statSync(run).mode & 0o077).toBe(0);
    expect(remoteDirsLeft()).toEqual([]);
  });

  test("--on pins the Pod with a nodeSelector and --keep leaves it", async () => {
    const s = setup(["Running k8s-worker"]);
    const rules = s.rules.map((r) => (r.args?.includes(" run trace-nginx") ? { ...r, args: `run trace-nginx .*--overrides=.*"nodeSelector":\\{"kubernetes.io/hostname":"k8s-worker"\\}` } : r));
    const r = await runOps("trace-pod-create", [...s.args, "--on", "k8s-worker", "--keep"], { rules, exec: true });
    expect(r.code).toBe(0);
    expect(r.calls.some((c) => c.tool === "kubectl" && c.args.includes("delete"))).toBe(false);
    expect(r.stderr).toContain("keeping Pod trace-nginx (--keep)");
  });

  test.each([
    ["Ctrl-C (SIGINT to the process group)", "SIGINT" as const, true, 130],
    ["SIGTERM to the script", "SIGTERM" as const, false, 143],
  ])("%s while waiting: tracers stopped, Pod deleted, node folders removed", async (_name, signal, group, code) => {
    const s = setup(["Pending"]);
    const r = await runOps("trace-pod-create", s.args, {
      rules: s.rules,
      exec: true,
      interrupt: { when: (calls) => calls.filter((c) => c.tool === "kubectl" && c.args.join(" ").includes("jsonpath={.status.phase}")).length >= 2, signal, group },
    });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(new RegExp(`caught ${signal} during step "wait for Pod trace-nginx to be Running"`));
    const tracers = tracerPids(r);
    expect(tracers).toHaveLength(4);
    for (const t of tracers) expect(running(t.pid)).toBe(false);
    const after = steps(r).slice(steps(r).lastIndexOf("kubectl get pod trace-nginx") + 1);
    expect(after).toEqual(["ssh 192.168.56.10 trace-stop", "ssh 192.168.56.20 trace-stop", "kubectl delete pod trace-nginx", "ssh 192.168.56.10 rm", "ssh 192.168.56.20 rm"]);
    expect(remoteDirsLeft()).toEqual([]);
  });

  test("a Pod that fails: non-zero exit naming the step, and the same cleanup", async () => {
    const s = setup(["Pending k8s-worker", "Failed k8s-worker"]);
    const r = await runOps("trace-pod-create", s.args, { rules: s.rules, exec: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Pod trace-nginx ended \(Failed k8s-worker\)/);
    for (const t of tracerPids(r)) expect(running(t.pid)).toBe(false);
    expect(r.calls.some((c) => c.tool === "kubectl" && c.args.includes("delete"))).toBe(true);
    expect(fs.readdirSync(s.dir).filter((d) => d.startsWith("trace-pod-create-"))).toEqual([]);
  });

  test("a tracer that cannot attach fails that step and stops the ones already started", async () => {
    const s = setup(["Running k8s-worker"]);
    // On the worker, kubelet's tracer starts, then attaching to containerd fails.
    const r = await runOps("trace-pod-create", s.args, { rules: s.rules, exec: true, env: { FAKE_STRACE_FAIL: "containerd" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/strace for containerd exited at once: strace: attach: ptrace\(PTRACE_SEIZE, 745\): Operation not permitted/);
    expect(r.stderr).toMatch(/starting tracers on k8s-worker failed/);
    // Its PID never reached the local side; the node's tracers.pid still led trace-stop to it.
    const tracers = tracerPids(r);
    expect(tracers.map((t) => t.comp).sort()).toEqual(["kube-apiserver", "kube-scheduler", "kubelet"]);
    for (const t of tracers) expect(running(t.pid)).toBe(false);
    expect(steps(r).filter((l) => l.includes("trace-stop"))).toEqual(["ssh 192.168.56.10 trace-stop", "ssh 192.168.56.20 trace-stop"]);
    expect(r.calls.some((c) => c.tool === "kubectl" && c.args.includes("run"))).toBe(false);
  });

  test("an existing Pod of the same name is refused before anything is attached", async () => {
    const s = setup(["Running k8s-worker"], [{ tool: "kubectl", args: "get pod trace-nginx -o name", out: "pod/trace-nginx\n" }]);
    const r = await runOps("trace-pod-create", s.args, { rules: s.rules, exec: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Pod trace-nginx already exists/);
    expect(r.calls.filter((c) => c.tool === "ssh")).toEqual([]);
  });
});
