// How the real prep script fails in a Debian sandbox: an unreachable apt base, a Kubernetes patch the
// repository does not have, and a repository whose key does not match its signature. Each must fail
// with the step named, after bounded retries (never hang), and leave apt usable.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { prepScript } from "../components/node/scripts";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos, withForeignKey } from "./sandbox/repos";
import { RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir } from "./sandbox/sandbox";

const gate = sandboxGate("sandbox-failure");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) {
  test("sandbox prerequisites (CI must have them)", () => {
    throw new Error(gate.failReason);
  });
}

/** Nothing listens on port 9 of the node's own loopback (its network namespace has nothing else). */
const UNREACHABLE = "http://127.0.0.1:9/";
/** A generous bound, not a benchmark: the script's retries are finite (4 tries, 3+6+12 s apart). */
const BOUND_MS = 120_000;

function withBase(s: ClusterSpec, aptBase: string): ClusterSpec {
  return { ...s, mirrors: { ...s.mirrors, aptBase } };
}

d("node scripts in a Debian sandbox: failure paths", () => {
  let work: string;
  let repos: Repos;
  const nodes: SandboxNode[] = [];
  let unreachable: RunResult;
  let missingPatch: RunResult;
  let foreignKey: RunResult;
  let nUnreachable: SandboxNode;
  let nMissing: SandboxNode;
  let nForeign: SandboxNode;

  let base: BaseCache;
  // The first run on a machine builds the Debian root (debootstrap, 40-90 s): its own, larger bound.
  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);

  beforeAll(async () => {
    work = sandboxWorkDir("fail");
    repos = buildRepos(work, base);
    const foreign = withForeignKey(repos, work);
    [nUnreachable, nMissing, nForeign] = await Promise.all([
      SandboxNode.create("unreachable", work, base, repos),
      SandboxNode.create("missing-patch", work, base, repos),
      SandboxNode.create("foreign-key", work, base, foreign),
    ]);
    nodes.push(nUnreachable, nMissing, nForeign);
    const dev = devSpec();
    const cp = controlPlaneNode(dev);
    const w = workerNodes(dev)[0];
    // Three fresh nodes, in parallel: each installs containerd, then hits its failure.
    [unreachable, missingPatch, foreignKey] = await Promise.all([
      nUnreachable.run(prepScript(withBase(dev, UNREACHABLE), cp), { timeoutSec: 300 }),
      nMissing.run(prepScript(withBase(devSpec({}, "1.30.99"), SANDBOX_APT_BASE), w), { timeoutSec: 300 }),
      nForeign.run(prepScript(withBase(dev, SANDBOX_APT_BASE), w), { timeoutSec: 300 }),
    ]);
  }, 170_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test("unreachable apt base: fails naming the step and the URL, after 4 bounded tries, well under the bound", () => {
    expect(unreachable.timedOut).toBe(false);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.ms).toBeLessThan(BOUND_MS);
    expect(unreachable.stderr).toContain(`FAILED [prep k8s-control] kubernetes apt repository: download ${UNREACHABLE}v1.30/deb/Release.key failed`);
    expect(unreachable.stderr.match(/attempt \d\/4 failed/g)).toHaveLength(3);
    expect(unreachable.stderr).toMatch(/gave up after 4 attempts/);
  });

  test("unreachable apt base: no half-written repository line is left to break apt on the node", async () => {
    expect(nUnreachable.exists("/etc/apt/sources.list.d/kubernetes.list")).toBe(false);
    const u = await nUnreachable.exec("apt-get -q update");
    expect(u.code).toBe(0);
  });

  test("a patch the repository lacks (1.30.99): fails with a clear message, installs no Kubernetes package", async () => {
    expect(missingPatch.code).not.toBe(0);
    expect(missingPatch.timedOut).toBe(false);
    expect(missingPatch.stderr).toContain(`FAILED [prep k8s-worker] kubelet kubeadm kubectl 1.30.99-*: no kubeadm version matching 1.30.99-* in ${SANDBOX_APT_BASE}v1.30/deb/`);
    const q = await nMissing.exec("dpkg-query -W -f '${db:Status-Status}\\n' kubeadm 2>/dev/null || true");
    expect(q.stdout.trim()).not.toBe("installed");
  });

  test("a repository signed by another key than its Release.key: real apt refuses it and prep fails at that step", async () => {
    expect(foreignKey.code).not.toBe(0);
    expect(foreignKey.timedOut).toBe(false);
    expect(foreignKey.stderr).toMatch(/FAILED \[prep k8s-worker\] kubelet kubeadm kubectl 1\.30\.12-\*: apt-get update failed/);
    expect(`${foreignKey.stdout}${foreignKey.stderr}`).toMatch(/NO_PUBKEY|not signed/);
    expect(foreignKey.ms).toBeLessThan(BOUND_MS);
    const q = await nForeign.exec("command -v kubeadm || echo absent");
    expect(q.stdout.trim()).toBe("absent");
  });
});
