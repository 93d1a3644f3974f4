// The china mirror profile (the Aliyun runbook: Kubernetes 1.28.9, Aliyun apt repo, Aliyun image
// repository, DaoCloud registry mirrors) run by the real prep script in a Debian sandbox: the apt line,
// the exact package version, containerd's sandbox image and the hosts.toml files it writes.
import * as fs from "fs";
import * as path from "path";
import { aliyunSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode } from "../components/spec";
import { prepScript } from "../components/node/scripts";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { diffDigests, RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir } from "./sandbox/sandbox";
import { parseDpkgQuery, tomlTable } from "./sandbox/checks";

const gate = sandboxGate("sandbox-china");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) {
  test("sandbox prerequisites (CI must have them)", () => {
    throw new Error(gate.failReason);
  });
}

const spec: ClusterSpec = { ...aliyunSpec(), mirrors: { ...aliyunSpec().mirrors, aptBase: SANDBOX_APT_BASE } };
const node = controlPlaneNode(spec); // k8s-master 172.16.1.10

function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`script failed (exit ${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
}

d("node scripts in a Debian sandbox: china mirror profile (1.28.9)", () => {
  let work: string;
  let repos: Repos;
  let n: SandboxNode;
  let first: RunResult;
  let second: RunResult;
  let changed: string[];

  let base: BaseCache;
  // The first run on a machine builds the Debian root (debootstrap, 40-90 s): its own, larger bound.
  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);

  beforeAll(async () => {
    work = sandboxWorkDir("china");
    repos = buildRepos(work, base);
    n = await SandboxNode.create(node.name, work, base, repos);
    first = await n.run(prepScript(spec, node));
    const before = n.digest(["/etc", "/var/lib", "/opt"], ["/var/lib/apt/lists", "/etc/ld.so.cache"]);
    second = await n.run(prepScript(spec, node));
    changed = diffDigests(before, n.digest(["/etc", "/var/lib", "/opt"], ["/var/lib/apt/lists", "/etc/ld.so.cache"]));
  }, 170_000);

  afterAll(async () => {
    await n?.destroy();
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test("prep succeeds twice; the second run changes no file", () => {
    expectOk(first);
    expectOk(second);
    expect(changed).toEqual([]);
  });

  test("apt line for the 1.28 repository of the configured base; 1.28.9-1.1 installed (not 1.28.10) and held", async () => {
    expect(n.read("/etc/apt/sources.list.d/kubernetes.list")).toBe(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${SANDBOX_APT_BASE}v1.28/deb/ /\n`);
    const q = await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl");
    const p = parseDpkgQuery(q.stdout);
    for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.28.9-1.1 installed");
    expect((await n.exec("apt-mark showhold")).stdout.trim().split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
  });

  test("containerd's sandbox image comes from the Aliyun repository (pause 3.9 for 1.28), config accepted by containerd", async () => {
    const dump = await n.exec("containerd --config /etc/containerd/config.toml config dump");
    expectOk(dump);
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    expect(tomlTable(dump.stdout, cri)?.get("sandbox_image")).toBe('"registry.aliyuncs.com/google_containers/pause:3.9"');
    expect(tomlTable(dump.stdout, `${cri}.registry`)?.get("config_path")).toBe('"/etc/containerd/certs.d"');
    expect(tomlTable(dump.stdout, `${cri}.containerd.runtimes.runc.options`)?.get("SystemdCgroup")).toBe("true");
  });

  test("one hosts.toml per mirrored registry: upstream server plus the DaoCloud mirror with pull/resolve", () => {
    const expected: Record<string, [string, string]> = {
      "docker.io": ["https://registry-1.docker.io", "https://docker.m.daocloud.io"],
      "ghcr.io": ["https://ghcr.io", "https://ghcr.m.daocloud.io"],
      "registry.k8s.io": ["https://registry.k8s.io", "https://k8s.m.daocloud.io"],
    };
    expect(fs.readdirSync(path.join(n.root, "etc/containerd/certs.d")).sort()).toEqual(Object.keys(expected).sort());
    for (const [reg, [server, mirror]] of Object.entries(expected)) {
      const t = n.read(`/etc/containerd/certs.d/${reg}/hosts.toml`)!;
      expect(t).toMatch(new RegExp(`^server = "${server.replace(/\./g, "\\.")}"$`, "m"));
      const host = tomlTable(t, `host."${mirror}"`);
      expect(host?.get("capabilities")).toBe('["pull", "resolve"]');
    }
  });

  test("the control plane pre-pulls from the Aliyun image repository", () => {
    const cfg = n.read("/sandbox-log/kubeadm-config-config.yaml") ?? "";
    expect(cfg).toMatch(/imageRepository: registry\.aliyuncs\.com\/google_containers/);
    expect(cfg).toMatch(/kubernetesVersion: v?1\.28\.9/);
  });

  test("a mirror removed from the config: its hosts.toml goes away on the next run, the others stay", async () => {
    const rest = Object.fromEntries(Object.entries(spec.mirrors.registryMirrors).filter(([r]) => r !== "ghcr.io"));
    const fewer: ClusterSpec = { ...spec, mirrors: { ...spec.mirrors, registryMirrors: rest } };
    const r = await n.run(prepScript(fewer, node));
    expectOk(r);
    expect(n.exists("/etc/containerd/certs.d/ghcr.io")).toBe(false);
    expect(n.exists("/etc/containerd/certs.d/docker.io/hosts.toml")).toBe(true);
    expect(r.stdout).toMatch(/ghcr\.io\/hosts\.toml: removed/);
  }, 60_000);
});
