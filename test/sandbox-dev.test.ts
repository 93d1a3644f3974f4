// The dev stack's two nodes (k8s-control 192.168.56.10, k8s-worker 192.168.56.20, Kubernetes 1.30.12)
// prepared, initialised/joined and reset by the real node scripts, executed by real bash/apt/dpkg/sed/
// sysctl/containerd in throwaway Debian roots (test/sandbox/sandbox.ts says what is real and what is
// a stand-in). Each script runs twice: the second run must succeed, change no file and say so.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { devSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { caHashScript, hostsScript, initScript, initStdin, joinScript, joinStdin, kubeconfigScript, prepScript, resetScript, tokenScript, tokenStdin } from "../components/node/scripts";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { diffDigests, RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir } from "./sandbox/sandbox";
import { parseDpkgQuery, tomlTable } from "./sandbox/checks";
import { LOG_DIR } from "./sandbox/standins";

const gate = sandboxGate("sandbox-dev");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) {
  test("sandbox prerequisites (CI must have them)", () => {
    throw new Error(gate.failReason);
  });
}

const spec: ClusterSpec = { ...devSpec(), mirrors: { ...devSpec().mirrors, aptBase: SANDBOX_APT_BASE } };
const cpSpec = controlPlaneNode(spec);
const wSpec = workerNodes(spec)[0];
const TOKEN = "abcdef.0123456789abcdef";

/** What the idempotency check compares: config, package state, CNI/kubelet dirs; not logs or apt's lists. */
const WATCHED = ["/etc", "/var/lib", "/opt", "/usr/lib/systemd", "/root", "/home"];
const NOT_WATCHED = ["/var/lib/apt/lists", "/var/lib/dpkg/lock", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/triggers/Lock", "/etc/ld.so.cache"];

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-6000)}\n--- stderr ---\n${r.stderr.slice(-6000)}`;
}
function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`script failed: ${show(r)}`);
}

d("node scripts in a Debian sandbox: dev stack (1.30.12, default mirrors)", () => {
  let work: string;
  let base: BaseCache;
  let repos: Repos;
  let cp: SandboxNode;
  let w: SandboxNode;
  /** A third node whose config names only the minor ("1.30"). */
  let m: SandboxNode;
  let minorOnly: RunResult;
  const first = new Map<string, RunResult>();
  const second = new Map<string, RunResult>();
  const firstCalls = new Map<string, string[]>();
  const secondCalls = new Map<string, string[]>();
  const changedOnRerun = new Map<string, string[]>();
  let hostIpForward: string;

  // The first run on a machine builds the Debian root (debootstrap, 40-90 s): its own, larger bound.
  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);

  beforeAll(async () => {
    hostIpForward = fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    work = sandboxWorkDir("dev");
    repos = buildRepos(work, base);
    [cp, w, m] = await Promise.all([
      SandboxNode.create(cpSpec.name, work, base, repos),
      SandboxNode.create(wSpec.name, work, base, repos),
      SandboxNode.create("minor-only", work, base, repos),
    ]);
    // First prep on both nodes in parallel, as `pulumi up` does; then the second run.
    const minorSpec: ClusterSpec = { ...devSpec({}, "1.30"), mirrors: spec.mirrors };
    await Promise.all([
      m.run(prepScript(minorSpec, wSpec)).then((r) => (minorOnly = r)),
      ...[cp, w].map(async (n) => {
        const node = n === cp ? cpSpec : wSpec;
        first.set(n.name, await n.run(prepScript(spec, node)));
        firstCalls.set(n.name, n.calls("systemctl"));
        n.clearCalls();
        const before = n.digest(WATCHED, NOT_WATCHED);
        second.set(n.name, await n.run(prepScript(spec, node)));
        secondCalls.set(n.name, n.calls("systemctl"));
        changedOnRerun.set(n.name, diffDigests(before, n.digest(WATCHED, NOT_WATCHED)));
      }),
    ]);
  }, 170_000);

  afterAll(async () => {
    await Promise.all([cp?.destroy(), w?.destroy(), m?.destroy()]);
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const nodes = () => [
    { n: cp, s: cpSpec },
    { n: w, s: wSpec },
  ];

  test("prep succeeds on both fresh nodes and reports every step", () => {
    for (const { n } of nodes()) {
      const r = first.get(n.name)!;
      expectOk(r);
      expect(r.stdout).toContain(`==> [prep ${n.name}] done`);
      expect(r.stderr).not.toMatch(/FAILED/);
    }
  });

  test("hostname is the node name (file and kernel, inside the node's UTS namespace only)", async () => {
    for (const { n, s } of nodes()) {
      expect(n.read("/etc/hostname")).toBe(`${s.name}\n`);
      expect((await n.exec("hostname")).stdout.trim()).toBe(s.name);
    }
    expect(os.hostname()).not.toBe(cpSpec.name);
  });

  test("swap entries in fstab are commented out, other lines kept", () => {
    for (const { n } of nodes()) {
      const fstab = n.read("/etc/fstab")!;
      expect(fstab).toMatch(/^#\/swap\.img\s+none\s+swap\s/m);
      expect(fstab).not.toMatch(/^\/swap\.img/m);
      expect(fstab).toMatch(/^LABEL=cloudimg-rootfs\s+\/\s+ext4/m);
    }
  });

  test("modules-load.d and sysctl.d files exist and the sysctls are applied in the node's network namespace", async () => {
    for (const { n } of nodes()) {
      expect(n.read("/etc/modules-load.d/k8s.conf")?.split("\n")).toEqual(expect.arrayContaining(["overlay", "br_netfilter"]));
      const conf = n.read("/etc/sysctl.d/k8s.conf")!;
      for (const k of ["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.ipv4.ip_forward"]) expect(conf).toMatch(new RegExp(`^${k.replace(/\./g, "\\.")}\\s*=\\s*1$`, "m"));
      const r = await n.exec("sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables");
      expect(r.stdout.trim().split("\n")).toEqual(["1", "1", "1"]);
    }
    // After a reboot systemd-sysctl applies /etc/sysctl.d: in a brand-new network namespace (all
    // defaults, ip_forward 0), `sysctl --system` from the written files must turn forwarding on.
    const boot = await cp.exec("unshare --net sh -c 'a=$(sysctl -n net.ipv4.ip_forward); sysctl --system >/dev/null 2>&1; echo $a $(sysctl -n net.ipv4.ip_forward)'");
    expect(boot.stdout.trim()).toBe("0 1");
    // The host's own forwarding setting is untouched: the writes happened in the nodes' namespaces.
    expect(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(hostIpForward);
  });

  test("containerd accepts the generated config: systemd cgroups, pause 3.9, certs.d config_path", async () => {
    for (const { n } of nodes()) {
      const dump = await n.exec("containerd --config /etc/containerd/config.toml config dump");
      expectOk(dump);
      // Debian 12 ships containerd 1.6: config version 2 tables [FACTS §1.3].
      const cri = 'plugins."io.containerd.grpc.v1.cri"';
      expect(tomlTable(dump.stdout, `${cri}.containerd.runtimes.runc.options`)?.get("SystemdCgroup")).toBe("true");
      expect(tomlTable(dump.stdout, cri)?.get("sandbox_image")).toBe('"registry.k8s.io/pause:3.9"');
      expect(tomlTable(dump.stdout, `${cri}.registry`)?.get("config_path")).toBe('"/etc/containerd/certs.d"');
      // No disabled CRI plugin (the containerd.io packaging trap, FACTS §1.2).
      expect(dump.stdout).not.toMatch(/disabled_plugins\s*=\s*\[[^\]]*cri/);
    }
  });

  test("crictl talks to containerd's socket", () => {
    for (const { n } of nodes()) {
      const y = n.read("/etc/crictl.yaml")!;
      expect(y).toMatch(/^runtime-endpoint: unix:\/\/\/run\/containerd\/containerd\.sock$/m);
      expect(y).toMatch(/^image-endpoint: unix:\/\/\/run\/containerd\/containerd\.sock$/m);
    }
  });

  test("kubelet gets the host-only address as node-ip (not the NAT address)", () => {
    for (const { n, s } of nodes()) expect(n.read("/etc/default/kubelet")).toBe(`KUBELET_EXTRA_ARGS=--node-ip=${s.ip}\n`);
  });

  test("the Kubernetes repo line and key: pkgs.k8s.io layout, signed-by the fetched key", () => {
    for (const { n } of nodes()) {
      expect(n.read("/etc/apt/sources.list.d/kubernetes.list")).toBe(`deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${SANDBOX_APT_BASE}v1.30/deb/ /\n`);
      // The keyring is the dearmored Release.key of the repo (binary OpenPGP, not ASCII armor).
      const key = fs.readFileSync(path.join(n.root, "etc/apt/keyrings/kubernetes-apt-keyring.gpg"));
      expect(key.subarray(0, 5).toString("latin1")).not.toBe("-----");
      expect(key.length).toBeGreaterThan(50);
    }
  });

  test("kubelet, kubeadm, kubectl installed at exactly 1.30.12-1.1 (the repo also has .11 and .13) and held", async () => {
    for (const { n } of nodes()) {
      const q = await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl cri-tools kubernetes-cni containerd");
      expectOk(q);
      const p = parseDpkgQuery(q.stdout);
      for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.30.12-1.1 installed");
      expect(p.get("cri-tools")).toBe("1.30.1-1.1 installed"); // kubeadm 1.30 depends on it
      expect(p.get("kubernetes-cni")).toBe("1.4.0-1.1 installed");
      expect(p.get("containerd")).toMatch(/ installed$/);
      const held = await n.exec("apt-mark showhold");
      expect(held.stdout.trim().split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
    }
  });

  test("first run restarts containerd once and enables containerd and kubelet (systemctl stand-in)", () => {
    for (const { n } of nodes()) {
      const calls = firstCalls.get(n.name)!;
      expect(calls.filter((c) => c === "restart containerd")).toHaveLength(1);
      expect(calls).toContain("enable containerd");
      expect(calls).toContain("enable kubelet");
    }
  });

  test("pre-pull: the control plane pulls with kubeadm for v1.30.12, the worker pulls pause, kube-proxy and flannel", () => {
    const pulls = cp.calls("kubeadm").filter((c) => c.startsWith("config images pull"));
    // The prep log was cleared between runs: these are the second run's calls (it pre-pulls again, cheaply).
    expect(pulls.length).toBeGreaterThanOrEqual(1);
    const cfg = cp.read("/sandbox-log/kubeadm-config-config.yaml") ?? "";
    expect(cfg).toMatch(/kubernetesVersion: v?1\.30\.12/);
    expect(cfg).toMatch(/imageRepository: registry\.k8s\.io/);
    const crictl = w.calls("crictl").filter((c) => c.startsWith("pull "));
    expect(crictl).toEqual(
      expect.arrayContaining(["pull registry.k8s.io/pause:3.9", "pull registry.k8s.io/kube-proxy:v1.30.12", `pull ${spec.flannel.image}`, `pull ${spec.flannel.cniPluginImage}`]),
    );
  });

  test("idempotency: the second prep succeeds, changes no file, does not restart containerd and says unchanged", () => {
    for (const { n } of nodes()) {
      const r = second.get(n.name)!;
      expectOk(r);
      expect(changedOnRerun.get(n.name)).toEqual([]);
      expect(secondCalls.get(n.name)).not.toContain("restart containerd");
      expect(r.stdout).not.toMatch(/: written$/m);
      expect(r.stdout).toMatch(/\/etc\/containerd\/config\.toml: unchanged/);
      expect(r.stdout).toMatch(/already at 1\.30\.12-\*: unchanged/);
      expect(r.stdout).toMatch(/not restarted/);
    }
  });

  test("a minor-only version (1.30) installs the newest patch of the minor and pre-pulls that version's images", async () => {
    expectOk(minorOnly);
    const p = parseDpkgQuery((await m.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl")).stdout);
    for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.30.13-1.1 installed");
    // The version placeholder in the pre-pull list is replaced by the installed kubeadm's version.
    expect(m.calls("crictl")).toContain("pull registry.k8s.io/kube-proxy:v1.30.13");
    expect(m.calls("crictl").join("\n")).not.toMatch(/KUBEADM_VERSION|PLACEHOLDER|\$\{/i);
  });

  test("/etc/hosts: one managed block with both nodes after three runs, original lines kept", async () => {
    for (const { n } of nodes()) {
      const runs = [await n.run(hostsScript(spec))];
      const before = n.digest(["/etc"]);
      for (let i = 0; i < 2; i++) runs.push(await n.run(hostsScript(spec)));
      runs.forEach(expectOk);
      expect(diffDigests(before, n.digest(["/etc"]))).toEqual([]);
      expect(runs[0].stdout).toMatch(/updated/);
      expect(runs[1].stdout).toMatch(/unchanged/);
      expect(runs[2].stdout).toMatch(/unchanged/);
      const hosts = n.read("/etc/hosts")!;
      expect(hosts.match(/# BEGIN kubeadm-cluster/g)).toHaveLength(1);
      expect(hosts.match(/# END kubeadm-cluster/g)).toHaveLength(1);
      expect(hosts).toMatch(/^192\.168\.56\.10 k8s-control$/m);
      expect(hosts).toMatch(/^192\.168\.56\.20 k8s-worker$/m);
      expect(hosts).toMatch(/^127\.0\.0\.1 localhost$/m);
    }
    // Scaling out: a third node replaces the block (still one), it does not append a second one.
    const bigger: ClusterSpec = { ...spec, nodes: [...spec.nodes, { name: "k8s-worker2", role: "worker", ip: "192.168.56.21" }] };
    const r = await cp.run(hostsScript(bigger));
    expectOk(r);
    const hosts = cp.read("/etc/hosts")!;
    expect(hosts.match(/# BEGIN kubeadm-cluster/g)).toHaveLength(1);
    expect(hosts).toMatch(/^192\.168\.56\.21 k8s-worker2$/m);
    expect(hosts).toMatch(/^192\.168\.56\.20 k8s-worker$/m);
  }, 60_000);

  describe("init, join, CA hash, reset", () => {
    let init1: RunResult;
    let init2: RunResult;
    let join1: RunResult;
    let join2: RunResult;
    let initChanged: string[];
    let joinChanged: string[];
    beforeAll(async () => {
      cp.clearCalls();
      w.clearCalls();
      const cfg = initStdin(spec, cpSpec, TOKEN, [cpSpec.ip]);
      init1 = await cp.run(initScript(spec, cpSpec), { stdin: cfg });
      let before = cp.digest(WATCHED, NOT_WATCHED);
      init2 = await cp.run(initScript(spec, cpSpec), { stdin: cfg });
      initChanged = diffDigests(before, cp.digest(WATCHED, NOT_WATCHED));
      const jcfg = joinStdin(spec, wSpec, TOKEN, `sha256:${"ab".repeat(32)}`, `${cpSpec.ip}:6443`);
      join1 = await w.run(joinScript(spec, wSpec, { tokenStep: `${wSpec.name}-token` }), { stdin: jcfg });
      before = w.digest(WATCHED, NOT_WATCHED);
      join2 = await w.run(joinScript(spec, wSpec, { tokenStep: `${wSpec.name}-token` }), { stdin: jcfg });
      joinChanged = diffDigests(before, w.digest(WATCHED, NOT_WATCHED));
    }, 120_000);

    test("init runs kubeadm init once with the config from stdin; the rerun skips it", () => {
      expectOk(init1);
      expectOk(init2);
      const inits = cp.calls("kubeadm").filter((c) => c.startsWith("init"));
      expect(inits).toHaveLength(1);
      expect(inits[0]).toMatch(/^init --config \S+$/); // the token is not on the command line
      expect(cp.read("/sandbox-log/kubeadm-init-config.yaml")).toContain("advertiseAddress: 192.168.56.10");
      expect(init2.stderr).toMatch(/already done, skipping/);
      expect(initChanged).toEqual([]);
    });

    test("the bootstrap token never appears in init's output (kubeadm prints it; the script masks it)", () => {
      for (const r of [init1, init2]) expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
      expect(init1.stderr).toContain("<bootstrap-token>");
    });

    test("init copies admin.conf to the SSH user's ~/.kube/config, owned by that user, mode 600", () => {
      const st = fs.statSync(path.join(cp.root, "home/ubuntu/.kube/config"));
      expect(st.mode & 0o777).toBe(0o600);
      expect(cp.read("/home/ubuntu/.kube/config")).toBe(cp.read("/etc/kubernetes/admin.conf"));
      const passwd = cp.read("/etc/passwd")!;
      const uid = Number(/^ubuntu:x:(\d+):/m.exec(passwd)![1]);
      expect(st.uid).toBe(uid);
    });

    test("ca-hash prints the SHA-256 of the CA's public key (checked against Node's crypto)", async () => {
      const r = await cp.run(caHashScript());
      expectOk(r);
      const pem = cp.read("/etc/kubernetes/pki/ca.crt")!;
      const spki = new crypto.X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
      expect(r.stdout.trim()).toBe(crypto.createHash("sha256").update(spki).digest("hex"));
    });

    test("kubeconfig prints admin.conf", async () => {
      const r = await cp.run(kubeconfigScript());
      expectOk(r);
      expect(r.stdout).toBe(cp.read("/etc/kubernetes/admin.conf"));
    });

    test("token: leaves a valid token alone, extends an expiring or expired one, creates a missing one with the TTL, never prints the secret or passes it as an argument", async () => {
      const secret = TOKEN.split(".")[1];
      const manifest = () => cp.read(`${LOG_DIR}/secrets/bootstrap-token-abcdef.yaml`) ?? "";
      // The token table's row 24 h from now: "24h" in the stand-in's table, or "23h" once a second has passed.
      const extendedRow = new RegExp(`^${TOKEN.replace(".", "\\.")} 2[34]h\n$`);
      // No kubeadm or kubectl call (recorded argv) carries the secret; checked before each clearCalls.
      const noSecretInArgv = () => {
        for (const tool of ["kubeadm", "kubectl"]) expect(cp.calls(tool).filter((c) => c.includes(secret))).toEqual([]);
      };
      cp.clearCalls();
      const valid = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expectOk(valid);
      expect(valid.stderr).toMatch(/bootstrap token abcdef: valid \(ttl 23h\): unchanged/);
      expect(cp.calls("kubectl").filter((c) => c.startsWith("create"))).toEqual([]);
      // Valid, but expiring before the joins after this step could start (1 h left, prep alone may take
      // that long): extended in place, not deleted, as nodes may be joining with it right now.
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} 1h\n`);
      const expiring = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expectOk(expiring);
      expect(expiring.stderr).toMatch(/bootstrap token abcdef: was expiring \(ttl 1h\), extended to ttl 24h/);
      const patch = cp.calls("kubectl").find((c) => c.includes(" patch "));
      expect(patch).toMatch(/^-n kube-system --request-timeout=20s patch secret bootstrap-token-abcdef --type merge -p \{"stringData":\{"expiration":"(\S+)"\}\}$/);
      expect(Math.abs(Date.parse(/"expiration":"(\S+?)"/.exec(patch!)![1]) - (Date.now() + 24 * 3600_000))).toBeLessThan(10 * 60_000);
      expect(cp.calls("kubeadm").filter((c) => c.startsWith("token delete"))).toEqual([]);
      expect(cp.read(`${LOG_DIR}/tokens`)).toMatch(extendedRow);
      // Expired: kubeadm token list shows TTL <invalid> until the cleaner removes it. Extended as well,
      // never deleted: another join's token step may be extending or re-creating it at the same moment.
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} <invalid>\n`);
      noSecretInArgv();
      cp.clearCalls();
      const expired = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expectOk(expired);
      expect(expired.stderr).toMatch(/bootstrap token abcdef: was expired, extended to ttl 24h/);
      expect(cp.calls("kubeadm").filter((c) => c.startsWith("token delete"))).toEqual([]);
      expect(cp.calls("kubectl").filter((c) => c.includes(" patch "))).toHaveLength(1);
      expect(cp.calls("kubectl").filter((c) => c.includes("create"))).toEqual([]);
      expect(cp.read(`${LOG_DIR}/tokens`)).toMatch(extendedRow);
      // Missing (the cleaner removed it): created as its Secret on kubectl's stdin; kubeadm token create
      // takes the token only as an argument.
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), "");
      noSecretInArgv();
      cp.clearCalls();
      const missing = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expectOk(missing);
      expect(missing.stderr).toMatch(/was missing, created with ttl 24h/);
      expect(cp.calls("kubectl")).toContain("--request-timeout=20s create -f -");
      expect(cp.calls("kubeadm").filter((c) => c.startsWith("token create"))).toEqual([]);
      const secretDoc = yaml.load(manifest()) as { type: string; metadata: { name: string; namespace: string }; stringData: Record<string, string> };
      expect(secretDoc).toMatchObject({
        type: "bootstrap.kubernetes.io/token",
        metadata: { name: "bootstrap-token-abcdef", namespace: "kube-system" },
        stringData: {
          "token-id": "abcdef",
          "token-secret": secret,
          "usage-bootstrap-authentication": "true",
          "usage-bootstrap-signing": "true",
          "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
        },
      });
      // 24 h from when the step ran (RFC 3339, UTC), as kubeadm computes it from the TTL.
      expect(secretDoc.stringData.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(secretDoc.stringData.expiration) - (Date.now() + 24 * 3600_000))).toBeLessThan(10 * 60_000);
      // tokenTtl "0": a token that never expires has no expiration at all (kubeadm sets one only for TTL > 0).
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), "");
      const forever = await cp.run(tokenScript({ kubernetes: { ...spec.kubernetes, tokenTtl: "0" } }), { stdin: tokenStdin(TOKEN) });
      expectOk(forever);
      expect((yaml.load(manifest()) as { stringData: Record<string, string> }).stringData).not.toHaveProperty("expiration");
      expect(cp.read(`${LOG_DIR}/tokens`)).toBe(`${TOKEN} <forever>\n`);
      for (const r of [valid, expiring, expired, missing, forever]) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
      noSecretInArgv();
      // A malformed stdin is refused before anything runs.
      const bad = await cp.run(tokenScript(spec), { stdin: "not-a-token\n" });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/FAILED \[token\]/);
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} 23h\n`);
    });

    test("join runs kubeadm join once with the config from stdin; the rerun skips it", () => {
      expectOk(join1);
      expectOk(join2);
      const joins = w.calls("kubeadm").filter((c) => c.startsWith("join"));
      expect(joins).toHaveLength(1);
      expect(joins[0]).toMatch(/^join --config \S+$/);
      expect(join2.stderr).toMatch(/already joined, skipping/);
      expect(joinChanged).toEqual([]);
      expect(`${join1.stdout}${join1.stderr}${join2.stdout}${join2.stderr}`).not.toContain(TOKEN);
    });

    test("reset removes flannel's CNI config and state, kubelet state, kubeadm's files (and etcd + ~/.kube on the control plane); a second reset succeeds", async () => {
      for (const { n, s } of nodes()) {
        // What flannel and the kubelet leave on a running node.
        expectOk(
          await n.exec(
            "mkdir -p /etc/cni/net.d /var/lib/cni/flannel /var/lib/cni/networks/cbr0 /var/lib/kubelet/pods/x && echo '{}' > /etc/cni/net.d/10-flannel.conflist && echo x > /var/lib/cni/flannel/abc && echo x > /var/lib/kubelet/pods/x/f",
          ),
        );
        n.clearCalls();
        const r1 = await n.run(resetScript(spec, s));
        const r2 = await n.run(resetScript(spec, s));
        expectOk(r1);
        expectOk(r2);
        expect(n.calls("kubeadm").filter((c) => c.startsWith("reset"))).toHaveLength(2);
        expect(n.calls("kubeadm").every((c) => !c.startsWith("reset") || /(^| )(-f|--force)( |$)/.test(c))).toBe(true);
        // flannel's conflist goes; the directory and the kubernetes-cni package's keep file stay.
        expect(fs.readdirSync(path.join(n.root, "etc/cni/net.d"))).toEqual([".kubernetes-cni-keep"]);
        expect(n.exists("/var/lib/cni")).toBe(false);
        // kubelet state goes; the kubelet package's own .kubelet-keep is put back.
        expect(fs.readdirSync(path.join(n.root, "var/lib/kubelet"))).toEqual([".kubelet-keep"]);
        expect(n.exists("/etc/kubernetes/kubelet.conf")).toBe(false);
        expect(n.exists("/var/lib/kubeadm-cluster")).toBe(false);
        if (s.role === "control-plane") {
          expect(n.exists("/etc/kubernetes/admin.conf")).toBe(false);
          expect(n.exists("/var/lib/etcd")).toBe(false);
          expect(n.exists("/home/ubuntu/.kube")).toBe(false);
        }
        expect(r1.stdout).toMatch(/node reset complete/);
        expect(r2.stdout).toMatch(/node reset complete/);
      }
    }, 60_000);

    test("reset deletes the cni0 and flannel.1 links and flushes iptables (real links and rules in the node's network namespace)", async () => {
      // Flannel's leftovers, made for real in the node's own network namespace.
      const setup = await w.exec(
        [
          "ip link add cni0 type bridge",
          "ip link add flannel.1 type vxlan id 1 dstport 8472 dev lo",
          "iptables -t nat -N KUBE-SERVICES",
          "iptables -t nat -A KUBE-SERVICES -j RETURN",
          "iptables -N FLANNEL-FWD",
          "iptables -A FORWARD -s 10.244.0.0/16 -j FLANNEL-FWD",
          "iptables -P FORWARD DROP",
        ].join(" && "),
      );
      expectOk(setup);
      expect((await w.exec("ip -o link show")).stdout).toMatch(/cni0/);
      const r = await w.run(resetScript(spec, wSpec));
      expectOk(r);
      const links = await w.exec("ip -o link show");
      expect(links.stdout).not.toMatch(/cni0|flannel\.1/);
      const rules = await w.exec("iptables-save");
      expectOk(rules);
      expect(rules.stdout).not.toMatch(/KUBE-SERVICES|FLANNEL-FWD/);
      expect(rules.stdout).toMatch(/^:FORWARD ACCEPT/m);
    }, 60_000);

    test("after a reset, prep runs again cleanly (a deleted node can be re-created in place)", async () => {
      const r = await w.run(prepScript(spec, wSpec));
      expectOk(r);
      expect(r.stdout).toContain(`==> [prep ${wSpec.name}] done`);
    }, 60_000);

    test("a new patch in the config (1.30.13) upgrades the held packages in place and keeps the kubelet node-ip", async () => {
      const up: ClusterSpec = { ...devSpec({}, "1.30.13"), mirrors: spec.mirrors };
      cp.clearCalls();
      const r = await cp.run(prepScript(up, cpSpec));
      expectOk(r);
      const p = parseDpkgQuery((await cp.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl")).stdout);
      for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toBe("1.30.13-1.1 installed");
      expect((await cp.exec("apt-mark showhold")).stdout.trim().split("\n").sort()).toEqual(["kubeadm", "kubectl", "kubelet"]);
      // /etc/default/kubelet is a conffile of the kubelet package: the upgrade must not put back its default.
      expect(cp.read("/etc/default/kubelet")).toBe(`KUBELET_EXTRA_ARGS=--node-ip=${cpSpec.ip}\n`);
      expect(cp.calls("systemctl")).not.toContain("restart containerd");
    }, 60_000);
  });
});
