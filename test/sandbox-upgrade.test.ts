// Upgrades (issue 16), run by the real node scripts in Debian sandboxes: a 1.30.12 cluster (control
// plane + worker, dev stack) built by hosts/prep/init/join, then taken to 1.31.6 by the scripts
// `pulumi up` runs on the version edit, in the graph's order: version-check, prep (both), init (skips),
// the control plane's upgrade, the worker's drain / upgrade / uncordon. Real apt moves the packages and
// the repository; kubeadm, kubectl and the kubelet are stand-ins over a shared fake API state
// (test/sandbox/standins.ts, docs/sandbox.md). Also: the same scripts on a cluster already at the
// version (nothing to do), a second run, interruptions after `kubeadm upgrade apply` and after
// `kubeadm upgrade node`, the refusals (skip, downgrade), and a worker added after the upgrade.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, NodeSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { hostsScript, initScript, initStdin, joinScript, joinStdin, prepScript } from "../components/node/scripts";
import { upgradeControlPlaneScript, upgradeDrainScript, upgradeNodeScript, upgradeUncordonScript, versionCheckScript } from "../components/node/upgrade-scripts";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { addPod, diffDigests, makeApiState, RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir } from "./sandbox/sandbox";
import { parseDpkgQuery, tomlTable } from "./sandbox/checks";

const gate = sandboxGate("sandbox-upgrade");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) {
  test("sandbox prerequisites (CI must have them)", () => {
    throw new Error(gate.failReason);
  });
}

const at = (version: string, extraWorkers: NodeSpec[] = []): ClusterSpec => {
  const s = devSpec({}, version);
  return { ...s, nodes: [...s.nodes, ...extraWorkers], mirrors: { ...s.mirrors, aptBase: SANDBOX_APT_BASE } };
};
const OLD = at("1.30.12");
const NEW = at("1.31.6");
const cpSpec = controlPlaneNode(OLD);
const wSpec = workerNodes(OLD)[0];
const w2Spec: NodeSpec = { name: "k8s-worker2", role: "worker", ip: "192.168.56.21" };
const TOKEN = "abcdef.0123456789abcdef";
const HASH = `sha256:${"ab".repeat(32)}`;
const WATCHED = ["/etc", "/var/lib", "/opt", "/usr/lib/systemd", "/root", "/home"];
const NOT_WATCHED = ["/var/lib/apt/lists", "/var/lib/dpkg/lock", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/triggers/Lock", "/etc/ld.so.cache", "/var/cache"];

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-8000)}\n--- stderr ---\n${r.stderr.slice(-8000)}`;
}
function expectOk(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`script failed: ${show(r)}`);
  return r;
}
async function ok(p: Promise<RunResult>): Promise<RunResult> {
  return expectOk(await p);
}

/** A cluster of sandbox nodes sharing one fake API state. */
interface Cluster {
  api: string;
  cp: SandboxNode;
  ws: SandboxNode[];
}

/** The fake API's view of a node. */
function apiNode(api: string, name: string) {
  const dir = path.join(api, "nodes", name);
  const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8").trim() : undefined);
  const ann = fs.existsSync(path.join(dir, "annotations")) ? fs.readdirSync(path.join(dir, "annotations")) : [];
  return { version: read("kubeletVersion"), ready: read("ready"), unschedulable: fs.existsSync(path.join(dir, "unschedulable")), annotations: ann };
}
const clusterVersion = (api: string) => /^kubernetesVersion: (\S+)$/m.exec(fs.readFileSync(path.join(api, "kubeadm-config", "ClusterConfiguration"), "utf8"))?.[1];

/** hosts + prep (in parallel) + init + join at `spec`'s version: the existing scripts, as `pulumi up` runs them. */
async function buildCluster(spec: ClusterSpec, c: Cluster): Promise<void> {
  const nodes = [c.cp, ...c.ws];
  const specs = [controlPlaneNode(spec), ...workerNodes(spec)];
  await Promise.all(nodes.map(async (n, i) => {
    await ok(n.run(hostsScript(spec)));
    await ok(n.run(prepScript(spec, specs[i])));
  }));
  await ok(c.cp.run(initScript(spec, specs[0]), { stdin: initStdin(spec, specs[0], TOKEN, [specs[0].ip]) }));
  for (let i = 1; i < nodes.length; i++) await ok(nodes[i].run(joinScript(spec, specs[i], { tokenStep: `${specs[i].name}-token` }), { stdin: joinStdin(spec, specs[i], TOKEN, HASH, `${specs[0].ip}:6443`) }));
}

/** The whole upgrade sequence of the graph for `spec` (version-check, preps, init, cp upgrade, each worker). */
async function upgradeSequence(spec: ClusterSpec, c: Cluster): Promise<Record<string, RunResult>> {
  const cpS = controlPlaneNode(spec);
  const wSs = workerNodes(spec);
  const out: Record<string, RunResult> = {};
  out.check = await ok(c.cp.run(versionCheckScript(spec, cpS)));
  const preps = await Promise.all([c.cp, ...c.ws].map((n, i) => ok(n.run(prepScript(spec, i === 0 ? cpS : wSs[i - 1])))));
  preps.forEach((r, i) => (out[`prep-${i}`] = r));
  out.init = await ok(c.cp.run(initScript(spec, cpS), { stdin: initStdin(spec, cpS, TOKEN, [cpS.ip]) }));
  out.cp = await ok(c.cp.run(upgradeControlPlaneScript(spec, cpS)));
  for (let i = 0; i < c.ws.length; i++) {
    out[`drain-${i}`] = await ok(c.cp.run(upgradeDrainScript(spec, wSs[i])));
    out[`node-${i}`] = await ok(c.ws[i].run(upgradeNodeScript(spec, wSs[i])));
    out[`uncordon-${i}`] = await ok(c.cp.run(upgradeUncordonScript(spec, wSs[i])));
  }
  return out;
}

async function dpkg(n: SandboxNode): Promise<Map<string, string>> {
  return parseDpkgQuery((await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl cri-tools")).stdout);
}

d("upgrades in Debian sandboxes: 1.30.12 -> 1.31.6, the kubeadm way", () => {
  let work: string;
  let base: BaseCache;
  let repos: Repos;
  const all: SandboxNode[] = [];
  const node = async (name: string, api: string) => {
    const n = await SandboxNode.create(name, work, base, repos, api);
    all.push(n);
    return n;
  };
  const t0 = Date.now();

  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);
  beforeAll(() => {
    work = sandboxWorkDir("upgrade");
    repos = buildRepos(work, base);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(all.map((n) => n.destroy()));
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
    console.log(`sandbox-upgrade: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 60_000);

  describe("a two-node cluster, upgraded", () => {
    const c = {} as Cluster;
    let beforeInit: RunResult;
    let fresh: Record<string, RunResult>;
    let freshUpgrades: string[];
    let up: Record<string, RunResult>;
    let again: Record<string, RunResult>;
    let changedAgain: string[];
    let apiBefore: string;
    beforeAll(async () => {
      c.api = makeApiState(work, "a");
      [c.cp, ...c.ws] = await Promise.all([node(cpSpec.name, c.api), node(wSpec.name, c.api)]);
      // A brand-new cluster: the version check runs before anything is installed.
      beforeInit = await c.cp.run(versionCheckScript(OLD, cpSpec));
      await buildCluster(OLD, c);
      // What runs in the cluster: a bare Pod (the demo's testpod), a Deployment's pod, DaemonSet pods, a
      // static pod's mirror.
      addPod(c.api, "default", "testpod", wSpec.name);
      addPod(c.api, "default", "web-1", wSpec.name, "ReplicaSet");
      addPod(c.api, "kube-system", "kube-proxy-w", wSpec.name, "DaemonSet");
      addPod(c.api, "kube-system", "kube-proxy-c", cpSpec.name, "DaemonSet");
      addPod(c.api, "kube-system", "coredns-1", cpSpec.name, "ReplicaSet");
      addPod(c.api, "kube-system", `kube-apiserver-${cpSpec.name}`, cpSpec.name, "Node", "mirror-hash");
      // The same upgrade scripts at the cluster's own version (a new cluster, or a worker added): nothing to do.
      c.cp.clearCalls();
      c.ws[0].clearCalls();
      fresh = await upgradeSequence(OLD, c);
      freshUpgrades = [...c.cp.calls("kubeadm"), ...c.ws[0].calls("kubeadm")].filter((x) => x.startsWith("upgrade"));
      // The version edit.
      c.cp.clearCalls();
      c.ws[0].clearCalls();
      up = await upgradeSequence(NEW, c);
      // The same `pulumi up` again: nothing to do anywhere, nothing changes.
      const before = [c.cp, ...c.ws].map((n) => n.digest(WATCHED, NOT_WATCHED));
      apiBefore = JSON.stringify([apiNode(c.api, cpSpec.name), apiNode(c.api, wSpec.name), clusterVersion(c.api)]);
      again = await upgradeSequence(NEW, c);
      changedAgain = [c.cp, ...c.ws].flatMap((n, i) => diffDigests(before[i], n.digest(WATCHED, NOT_WATCHED)).map((x) => `${n.name}: ${x}`));
    }, 400_000);

    test("before init, the version check finds no cluster", () => {
      expectOk(beforeInit);
      expect(beforeInit.stdout).toBe("no cluster yet\n");
    });

    test("at the cluster's own version every upgrade step says it has nothing to do, and no kubeadm upgrade runs", () => {
      expect(fresh.check.stdout).toMatch(/cluster at v1\.30\.12, 2 node\(s\): 1\.30\.12 needs no upgrade/);
      expect(fresh.cp.stdout).toBe(`control plane ${cpSpec.name} at v1.30.12: nothing to do\n`);
      expect(fresh["drain-0"].stdout).toBe(`${wSpec.name}: kubelet v1.30.12: nothing to do\n`);
      expect(fresh["node-0"].stdout).toBe(`${wSpec.name}: kubelet, kubeadm, kubectl at 1.30.12-1.1: nothing to do\n`);
      expect(fresh["uncordon-0"].stdout).toMatch(/^k8s-worker: kubelet v1\.30\.12, Ready=True: nothing to do$/m);
      expect(freshUpgrades).toEqual([]);
    });

    test("version-check allows the minor upgrade and prints one summary line", () => {
      expect(up.check.stdout).toBe("cluster at v1.30.12, 2 node(s): minor upgrade to 1.31.6 allowed\n");
    });

    test("prep on the cluster's nodes prepares the upgrade and leaves the packages to the upgrade step", () => {
      for (const k of ["prep-0", "prep-1"]) expect(up[k].stdout).toMatch(/kube packages stay at kubeadm 1\.30\.12-1\.1, kubelet 1\.30\.12-1\.1: k8s-\S+-upgrade upgrades them to 1\.31\.6-\*/);
      expect(up["prep-0"].stdout).toMatch(/kubeadm here is 1\.30: the v1\.31\.6 control-plane images are pulled by kubeadm upgrade apply/);
      expect(up["prep-0"].stdout).toMatch(/containerd restarted \(config changed\)/);
    });

    test("kubeadm upgrade plan, then apply -y v1.31.6, exactly once on the control plane; upgrade node once on the worker", () => {
      const cpCalls = c.cp.calls("kubeadm").filter((x) => x.startsWith("upgrade"));
      expect(cpCalls).toEqual(["upgrade plan v1.31.6", "upgrade apply -y v1.31.6"]);
      expect(c.ws[0].calls("kubeadm").filter((x) => x.startsWith("upgrade"))).toEqual(["upgrade node"]);
      expect(up.cp.stderr).toContain('[upgrade/successful] SUCCESS! Your cluster was upgraded to "v1.31.6". Enjoy!');
      expect(up.cp.stdout).toBe(`control plane ${cpSpec.name} upgraded to v1.31.6\n`);
      expect(up["node-0"].stdout).toBe(`${wSpec.name}: kubelet, kubeadm, kubectl upgraded to 1.31.6-1.1; kubelet restarted\n`);
      expect(up["uncordon-0"].stdout).toBe(`${wSpec.name}: kubelet v1.31.6, Ready=True, schedulable\n`);
      // The worker was drained from the control plane: kubectl's calls were recorded there.
      expect(c.cp.calls("kubectl").filter((x) => / drain /.test(` ${x} `))).toHaveLength(2);
    });

    test("the static pods and kube-system/kubeadm-config are at v1.31.6; the leaf certificates were renewed", () => {
      expect(clusterVersion(c.api)).toBe("v1.31.6");
      expect(c.cp.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).toMatch(/image: registry\.k8s\.io\/kube-apiserver:v1\.31\.6$/m);
      expect(c.cp.read("/etc/kubernetes/manifests/etcd.yaml")).toMatch(/image: registry\.k8s\.io\/etcd:3\.5\.15-0$/m);
      expect(up.cp.stderr).toMatch(/Renewed the certificates/);
    });

    test("packages at 1.31.6-1.1 and held on both nodes, the apt source is v1.31, containerd's sandbox image is pause:3.10", async () => {
      for (const n of [c.cp, ...c.ws]) {
        const p = await dpkg(n);
        for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.31.6-1.1 installed");
        expect((await n.exec("apt-mark showhold")).stdout.trim().split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
        expect(n.read("/etc/apt/sources.list.d/kubernetes.list")).toBe(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${SANDBOX_APT_BASE}v1.31/deb/ /\n`);
        const dump = await ok(n.exec("containerd --config /etc/containerd/config.toml config dump"));
        expect(tomlTable(dump.stdout, 'plugins."io.containerd.grpc.v1.cri"')?.get("sandbox_image")).toBe('"registry.k8s.io/pause:3.10"');
      }
    });

    test("both nodes Ready, schedulable, kubelet v1.31.6, no mark left; the bare pod was deleted (and named), the rest moved or stayed", () => {
      for (const name of [cpSpec.name, wSpec.name]) expect(apiNode(c.api, name)).toEqual({ version: "v1.31.6", ready: "True", unschedulable: false, annotations: [] });
      expect(fs.existsSync(path.join(c.api, "pods/default/testpod"))).toBe(false);
      expect(up["drain-0"].stderr).toMatch(/k8s-worker: deleting bare pod default\/testpod \(it declares no controller/);
      expect(up["drain-0"].stderr).toMatch(/Warning: .*deleting Pods that declare no controller: default\/testpod/);
      expect(up["drain-0"].stderr).not.toMatch(/deleting bare pod kube-system/);
      expect(up.cp.stderr).not.toMatch(/deleting bare pod/); // the mirror pod is not a bare pod
      expect(fs.existsSync(path.join(c.api, "pods/kube-system/kube-proxy-w"))).toBe(true);
      expect(fs.existsSync(path.join(c.api, `pods/kube-system/kube-apiserver-${cpSpec.name}`))).toBe(true);
    });

    test("the SSH user's ~/.kube/config is the (renewed) admin.conf; kubeadm reset was never called", () => {
      expect(c.cp.read("/home/ubuntu/.kube/config")).toBe(c.cp.read("/etc/kubernetes/admin.conf"));
      expect(up.cp.stderr).toMatch(/\/home\/ubuntu\/\.kube\/config: written \(admin\.conf\)/);
      for (const n of [c.cp, ...c.ws]) expect(n.calls("kubeadm").filter((x) => x.startsWith("reset"))).toEqual([]);
    });

    test("the second run: every step says nothing to do, no kubeadm upgrade runs, nothing changes", () => {
      expect(again.check.stdout).toBe("cluster at v1.31.6, 2 node(s): 1.31.6 needs no upgrade\n");
      expect(again.cp.stdout).toBe(`control plane ${cpSpec.name} at v1.31.6: nothing to do\n`);
      expect(again["drain-0"].stdout).toBe(`${wSpec.name}: kubelet v1.31.6: nothing to do\n`);
      expect(again["node-0"].stdout).toBe(`${wSpec.name}: kubelet, kubeadm, kubectl at 1.31.6-1.1: nothing to do\n`);
      expect(again["uncordon-0"].stdout).toMatch(/nothing to do/);
      const upgrades = [...c.cp.calls("kubeadm"), ...c.ws[0].calls("kubeadm")].filter((x) => x.startsWith("upgrade"));
      expect(upgrades).toEqual(["upgrade plan v1.31.6", "upgrade apply -y v1.31.6", "upgrade node"]); // from the first run only
      expect(changedAgain).toEqual([]);
      expect(JSON.stringify([apiNode(c.api, cpSpec.name), apiNode(c.api, wSpec.name), clusterVersion(c.api)])).toBe(apiBefore);
    });

    test("a downgrade (1.31.6 -> 1.30.12) is refused by the version check and by prep, with the same words, and changes nothing", async () => {
      const before = [c.cp, ...c.ws].map((n) => n.digest(WATCHED, NOT_WATCHED));
      const check = await c.cp.run(versionCheckScript(OLD, cpSpec));
      const prep = await c.ws[0].run(prepScript(OLD, wSpec));
      for (const r of [check, prep]) {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/kubernetes\.version 1\.30\.12 is older than 1\.31\.6, which .* runs: kubeadm cannot downgrade a cluster\. Set kubernetes\.version back to 1\.31\.6 \(or newer\)/);
      }
      expect(check.stderr).toMatch(/which the cluster runs/);
      expect(prep.stderr).toMatch(/which node k8s-worker runs/);
      expect([c.cp, ...c.ws].flatMap((n, i) => diffDigests(before[i], n.digest(WATCHED, NOT_WATCHED)))).toEqual([]);
    }, 60_000);

    test("a worker added after the upgrade: prep installs 1.31.6, and its drain, upgrade and uncordon have nothing to do", async () => {
      const spec = at("1.31.6", [w2Spec]);
      const w2 = await node(w2Spec.name, c.api);
      const drainBefore = await ok(c.cp.run(upgradeDrainScript(spec, w2Spec)));
      await ok(w2.run(prepScript(spec, w2Spec)));
      const nodeBefore = await ok(w2.run(upgradeNodeScript(spec, w2Spec)));
      await ok(w2.run(joinScript(spec, w2Spec, { tokenStep: `${w2Spec.name}-token` }), { stdin: joinStdin(spec, w2Spec, TOKEN, HASH, `${cpSpec.ip}:6443`) }));
      const p = await dpkg(w2);
      for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.31.6-1.1 installed");
      expect(drainBefore.stdout).toBe(`${w2Spec.name}: not joined yet: nothing to do\n`);
      expect(nodeBefore.stdout).toBe(`${w2Spec.name}: not joined yet: nothing to do\n`);
      const drain = await ok(c.cp.run(upgradeDrainScript(spec, w2Spec)));
      const up2 = await ok(w2.run(upgradeNodeScript(spec, w2Spec)));
      const unc = await ok(c.cp.run(upgradeUncordonScript(spec, w2Spec)));
      expect(drain.stdout).toBe(`${w2Spec.name}: kubelet v1.31.6: nothing to do\n`);
      expect(up2.stdout).toBe(`${w2Spec.name}: kubelet, kubeadm, kubectl at 1.31.6-1.1: nothing to do\n`);
      expect(unc.stdout).toMatch(/nothing to do/);
      expect(w2.calls("kubeadm").filter((x) => x.startsWith("upgrade"))).toEqual([]);
      expect(apiNode(c.api, w2Spec.name)).toEqual({ version: "v1.31.6", ready: "True", unschedulable: false, annotations: [] });
    }, 120_000);
  });

  describe("interrupted upgrades resume (kubernetes.version minor-only: 1.31)", () => {
    const c = {} as Cluster;
    let cpDied: RunResult;
    let cpLate: RunResult;
    let applyCallsAfterLate = 0;
    let cpResumed: RunResult;
    let halfDone: RunResult;
    let wDied: RunResult;
    let wResumed: RunResult;
    let userCordon: { drain: RunResult; uncordon: RunResult };
    beforeAll(async () => {
      c.api = makeApiState(work, "b");
      [c.cp, ...c.ws] = await Promise.all([node("b-control", c.api), node("b-worker", c.api)]);
      // The same names as the dev stack, in their own sandbox cluster.
      const spec0 = (v: string) => {
        const s = at(v);
        return { ...s, nodes: [{ ...s.nodes[0], name: "b-control" }, { ...s.nodes[1], name: "b-worker" }] } as ClusterSpec;
      };
      const OLDb = spec0("1.30.12");
      // Minor-only ("1.31"): the control plane resolves the newest 1.31 patch in the repository (1.31.6).
      const NEWb = spec0("1.31");
      const [cpS, wS] = NEWb.nodes;
      await buildCluster(OLDb, c);
      await ok(c.cp.run(versionCheckScript(NEWb, cpS)));
      await Promise.all([ok(c.cp.run(prepScript(NEWb, cpS))), ok(c.ws[0].run(prepScript(NEWb, wS)))]);
      c.cp.clearCalls();
      c.ws[0].clearCalls();
      // The control plane's `kubeadm upgrade apply` does its work and then fails (exit 1): not finished.
      fs.writeFileSync(path.join(c.cp.root, "sandbox-log/die-after-apply"), "");
      cpDied = await c.cp.run(upgradeControlPlaneScript(NEWb, cpS));
      // The next run applies again (an apply that did not exit 0 may have stopped before its late phases),
      // this time successfully, and then dies later, at the kubelet's daemon-reload.
      fs.writeFileSync(path.join(c.cp.root, "sandbox-log/fail-daemon-reload"), "");
      cpLate = await c.cp.run(upgradeControlPlaneScript(NEWb, cpS));
      applyCallsAfterLate = c.cp.calls("kubeadm").filter((x) => x.startsWith("upgrade apply")).length;
      cpResumed = await c.cp.run(upgradeControlPlaneScript(NEWb, cpS));
      // A half-done apply: the static pods are new but kube-system/kubeadm-config still says v1.30.12.
      fs.writeFileSync(path.join(c.api, "kubeadm-config/ClusterConfiguration"), fs.readFileSync(path.join(c.api, "kubeadm-config/ClusterConfiguration"), "utf8").replace("v1.31.6", "v1.30.12"));
      halfDone = await c.cp.run(upgradeControlPlaneScript(NEWb, cpS));
      // The worker: cordoned by its user before the upgrade; its upgrade dies right after `kubeadm upgrade node`.
      expectOk(await c.cp.exec("kubectl --kubeconfig /etc/kubernetes/admin.conf cordon b-worker"));
      const drain = await c.cp.run(upgradeDrainScript(NEWb, wS));
      fs.writeFileSync(path.join(c.ws[0].root, "sandbox-log/die-after-upgrade-node"), "");
      wDied = await c.ws[0].run(upgradeNodeScript(NEWb, wS));
      wResumed = await c.ws[0].run(upgradeNodeScript(NEWb, wS));
      userCordon = { drain, uncordon: await c.cp.run(upgradeUncordonScript(NEWb, wS)) };
    }, 300_000);

    test("the control plane: an apply that failed is run again; once an apply finished, a run that died later never runs it again", async () => {
      expect(cpDied.code).not.toBe(0);
      expect(cpDied.stderr).toMatch(/FAILED \[upgrade b-control\] kubeadm upgrade apply v1\.31\.6: kubeadm upgrade apply v1\.31\.6 failed or timed out/);
      expect(cpDied.stderr).toMatch(/kubernetes\.version 1\.31: the newest patch in the repository is 1\.31\.6/);
      // The failed apply left its mark: the next run applies again.
      expect(cpLate.code).not.toBe(0);
      expect(cpLate.stderr).toMatch(/kubeadm upgrade apply v1\.31\.6 started earlier but never finished/);
      expect(cpLate.stderr).toMatch(/applied: the cluster runs v1\.31\.6/);
      expect(cpLate.stderr).toMatch(/FAILED \[upgrade b-control\] kubelet kubectl 1\.31\.6: systemctl daemon-reload failed/);
      expect(applyCallsAfterLate).toBe(2);
      expectOk(cpResumed);
      expect(cpResumed.stderr).toMatch(/already applied: kubeadm-config and the kube-apiserver manifest are at v1\.31\.6; not run again/);
      expect(cpResumed.stdout).toBe("control plane b-control upgraded to v1.31.6\n");
      expect((await dpkg(c.cp)).get("kubelet")).toBe("1.31.6-1.1 installed");
      expect(apiNode(c.api, "b-control")).toEqual({ version: "v1.31.6", ready: "True", unschedulable: false, annotations: [] });
    });

    test("a half-done apply (manifests new, kubeadm-config old) is run again", () => {
      expectOk(halfDone);
      expect(halfDone.stderr).toMatch(/half-done apply \(manifests at v1\.31\.6, kubeadm-config at v1\.30\.12\): running it again/);
      expect(c.cp.calls("kubeadm").filter((x) => x.startsWith("upgrade apply"))).toEqual(["upgrade apply -y v1.31.6", "upgrade apply -y v1.31.6", "upgrade apply -y v1.31.6"]);
      expect(clusterVersion(c.api)).toBe("v1.31.6");
      expect(halfDone.stderr).toMatch(/no drain needed/);
    });

    test("the worker: the run that died after `kubeadm upgrade node` fails; the next one runs it again and upgrades the kubelet", async () => {
      expect(wDied.code).not.toBe(0);
      expect(wDied.stderr).toMatch(/FAILED \[upgrade b-worker\] kubeadm upgrade node/);
      expectOk(wResumed);
      expect(c.ws[0].calls("kubeadm").filter((x) => x.startsWith("upgrade"))).toEqual(["upgrade node", "upgrade node"]);
      const p = await dpkg(c.ws[0]);
      for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.31.6-1.1 installed");
      expect(c.ws[0].exists("/var/lib/kubeadm-cluster/upgrade-node-pending")).toBe(false);
      expect(c.ws[0].calls("systemctl")).toContain("restart kubelet");
    });

    test("a node its user had cordoned is drained but not marked, and stays cordoned after the upgrade", () => {
      expectOk(userCordon.drain);
      expect(userCordon.drain.stderr).toMatch(/b-worker: cordoned by someone else before the upgrade: it stays cordoned afterwards/);
      expectOk(userCordon.uncordon);
      expect(userCordon.uncordon.stdout).toMatch(/b-worker: kubelet v1\.31\.6, Ready=True, cordoned \(not by us\)/);
      expect(apiNode(c.api, "b-worker")).toEqual({ version: "v1.31.6", ready: "True", unschedulable: true, annotations: [] });
      expect(c.cp.calls("kubectl").filter((x) => x.includes("uncordon b-worker"))).toEqual([]);
    });
  });

  describe("refusals before anything changes", () => {
    const cS: NodeSpec = { ...cpSpec, name: "c-control" };
    let n: SandboxNode;
    let check: RunResult;
    let prep: RunResult;
    let changed: string[];
    beforeAll(async () => {
      const api = makeApiState(work, "c");
      n = await node(cS.name, api);
      const old = { ...at("1.28.9"), nodes: [cS] } as ClusterSpec;
      await ok(n.run(prepScript(old, cS)));
      await ok(n.run(initScript(old, cS), { stdin: initStdin(old, cS, TOKEN, [cS.ip]) }));
      const before = n.digest(WATCHED, NOT_WATCHED);
      check = await n.run(versionCheckScript(OLD, cS));
      prep = await n.run(prepScript(OLD, cS));
      changed = diffDigests(before, n.digest(WATCHED, NOT_WATCHED));
    }, 200_000);

    test("a 1.28.9 control plane given 1.30.12: the version check refuses the skipped minor, naming 1.28.9 and the path", () => {
      expect(check.code).not.toBe(0);
      expect(check.stderr).toContain(
        "kubernetes.version 1.30.12 skips 1.29: the cluster runs 1.28.9 and kubeadm upgrades one minor at a time. Set kubernetes.version to 1.29.x, run pulumi up, then the next minor (1.29 -> 1.30).",
      );
    });

    test("prep on that node refuses with the same words, before changing anything", () => {
      expect(prep.code).not.toBe(0);
      expect(prep.stderr).toContain(
        `FAILED [prep ${cS.name}] version: kubernetes.version 1.30.12 skips 1.29: node ${cS.name} runs 1.28.9 and kubeadm upgrades one minor at a time. Set kubernetes.version to 1.29.x, run pulumi up, then the next minor (1.29 -> 1.30).`,
      );
      expect(changed).toEqual([]);
    });

    test("the kubeadm stand-in enforces kubeadm's version policy with its texts (what the scripts never reach)", async () => {
      const skip = await n.exec("kubeadm upgrade apply -y v1.30.12");
      expect(skip.code).not.toBe(0);
      expect(skip.stderr).toContain('Specified version to upgrade to "v1.30.12" is too high; kubeadm can upgrade only 1 minor version at a time');
      expect(skip.stderr).toContain('Specified version to upgrade to "v1.30.12" is at least one minor release higher than the kubeadm minor release (30 > 28). Such an upgrade is not supported');
      expect(skip.stderr).toMatch(/Please fix the misalignments highlighted above and try upgrading again/);
      const newerPatch = await n.exec("kubeadm upgrade plan v1.28.10");
      expect(newerPatch.code).toBe(0); // plan only shows; apply would need --force (skippable)
      const apply = await n.exec("kubeadm upgrade apply -y v1.28.10");
      expect(apply.stderr).toMatch(/is higher than the kubeadm version "v1\.28\.9"\. Upgrade kubeadm first[\s\S]*Can be bypassed if you pass the --force flag/);
      const prompt = await n.exec("kubeadm upgrade apply v1.28.9 </dev/null");
      expect(prompt.stderr).toMatch(/won't proceed; the user didn't answer \(Y\|y\) in order to continue/);
      expect(n.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).toMatch(/kube-apiserver:v1\.28\.9$/m);
    });
  });
});

