// Nodes in the real world (issue 13), run by the real scripts in Debian sandboxes (test/sandbox/):
// the packages kubeadm's preflight needs, apt locks held by someone else on a fresh image, a reset that
// leaves an existing host's own CNI files and IPv6 firewall alone, undo-prep putting an existing host
// back as it was, and certificate renewal on the control plane.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { hostsScript, initScript, initStdin, joinScript, joinStdin, prepScript, renewCertsScript, resetScript, undoPrepScript } from "../components/node/scripts";
import { PREFLIGHT_BINARY_PACKAGE, kubeadmPreflightExecutables } from "../components/versions";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { diffDigests, RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir, withHeader } from "./sandbox/sandbox";
import { parseDpkgQuery } from "./sandbox/checks";

const gate = sandboxGate("sandbox-lifecycle");
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
const WATCHED = ["/etc", "/var/lib", "/opt", "/usr/lib/systemd", "/root", "/home"];
const NOT_WATCHED = ["/var/lib/apt/lists", "/var/lib/dpkg/lock", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/triggers/Lock", "/etc/ld.so.cache"];
const BACKUP = "/var/lib/kubeadm-cluster-backup";

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-8000)}\n--- stderr ---\n${r.stderr.slice(-8000)}`;
}
function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`script failed: ${show(r)}`);
}

/** Holds a POSIX (fcntl) write lock on FILE for SECONDS, as apt takes its locks; prints "locked PID". */
const HOLD_LOCK_PL = `use Fcntl;
open(my $f, ">>", $ARGV[0]) or die "open: $!";
# struct flock on x86_64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
fcntl($f, F_SETLK, pack("s s x4 q q i x4", F_WRLCK, SEEK_SET, 0, 0, 0)) or die "lock: $!";
$| = 1; print "locked $$\\n";
sleep $ARGV[1];
`;
/** Starts the lock holder in the node (its own session, outliving the call); resolves with its pid. */
async function holdLock(n: SandboxNode, file: string, seconds: number): Promise<number> {
  fs.writeFileSync(path.join(n.root, "tmp/hold-lock.pl"), HOLD_LOCK_PL);
  const r = await n.exec(
    `setsid perl /tmp/hold-lock.pl ${file} ${seconds} >/tmp/hold.out 2>&1 </dev/null & for i in $(seq 100); do grep -q locked /tmp/hold.out && break; sleep 0.1; done; cat /tmp/hold.out`,
  );
  const m = /locked (\d+)/.exec(r.stdout);
  if (!m) throw new Error(`lock holder did not start: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

d("node lifecycle in a Debian sandbox: packages, apt locks, reset on a shared host, undo-prep, certificates", () => {
  let work: string;
  let base: BaseCache;
  let repos: Repos;
  const nodes: SandboxNode[] = [];
  const node = async (name: string) => {
    const n = await SandboxNode.create(name, work, base, repos);
    nodes.push(n);
    return n;
  };

  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);
  beforeAll(() => {
    work = sandboxWorkDir("lifecycle");
    repos = buildRepos(work, base);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  describe("the executables kubeadm's preflight checks", () => {
    let n: SandboxNode;
    let missingBefore: string;
    let first: RunResult;
    let second: RunResult;
    let changed: string[];
    beforeAll(async () => {
      n = await node("pkgs");
      missingBefore = (await n.exec("for b in conntrack ethtool socat; do command -v $b >/dev/null || echo missing $b; done")).stdout;
      first = await n.run(prepScript(spec, wSpec));
      const before = n.digest(WATCHED, NOT_WATCHED);
      second = await n.run(prepScript(spec, wSpec));
      changed = diffDigests(before, n.digest(WATCHED, NOT_WATCHED));
    }, 170_000);

    test("a root without conntrack, ethtool and socat gets them from apt; ebtables, which iptables provides, is not installed again", async () => {
      // The test means something: the fresh root lacks them (as the kubelet .deb no longer pulls them in).
      expect(missingBefore.trim().split("\n")).toEqual(["missing conntrack", "missing ethtool", "missing socat"]);
      expectOk(first);
      expect(first.stdout).toMatch(/^ {4}installed: containerd conntrack ethtool socat$/m);
      const q = parseDpkgQuery((await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' conntrack ethtool socat ebtables 2>/dev/null; true")).stdout);
      for (const p of ["conntrack", "ethtool", "socat"]) expect(q.get(p)).toMatch(/ installed$/);
      expect(q.get("ebtables") ?? "not-installed").not.toMatch(/ installed$/);
      // Recorded for undo-prep, dependencies included (socat pulls libwrap0).
      const rec = n.read(`${BACKUP}/packages-installed`)!.trim().split("\n");
      expect(rec).toEqual(expect.arrayContaining(["conntrack", "ethtool", "socat", "libwrap0", "containerd", "kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni"]));
    });

    test("afterwards every executable kubeadm 1.30's preflight names is on PATH, from the package components/versions.ts says", async () => {
      const pre = kubeadmPreflightExecutables(30);
      for (const bin of [...pre.errors, ...pre.warnings]) {
        // Resolve alternatives (ebtables -> ebtables-nft) and ask dpkg which package owns the file;
        // merged /usr: dpkg may have registered /sbin/x for /usr/sbin/x, so match on "bin/<name>".
        const r = await n.exec(`p="$(command -v ${bin})" && f="$(readlink -f "$p")" && dpkg -S "*bin/$(basename "$f")" | awk -F': ' -v n="bin/$(basename "$f")" 'substr($2, length($2) - length(n) + 1) == n { print $1 }' | head -n1`);
        const expected = bin === "ebtables" ? "iptables" : PREFLIGHT_BINARY_PACKAGE[bin];
        expect({ bin, pkg: r.stdout.trim() }).toEqual({ bin, pkg: expected });
      }
    });

    test("the second prep installs nothing, changes nothing", () => {
      expectOk(second);
      expect(second.stdout).toMatch(/the node's executables already installed/);
      expect(second.stdout).not.toMatch(/newly installed/);
      expect(changed).toEqual([]);
    });
  });

  describe("apt locks held by another process on a fresh image", () => {
    let waited: RunResult;
    let gaveUp: RunResult;
    let aptSays: RunResult;
    let pidWaited: number;
    let pidHeld: number;
    beforeAll(async () => {
      const [a, b] = await Promise.all([node("lock-released"), node("lock-held")]);
      // a: the lists lock (apt-get update's, which DPkg::Lock::Timeout does not cover) is released after 8 s.
      pidWaited = await holdLock(a, "/var/lib/apt/lists/lock", 8);
      // b: never released within the test; prep's bound is 6 s through the header variable.
      pidHeld = await holdLock(b, "/var/lib/apt/lists/lock", 600);
      aptSays = await b.exec("apt-get -q update");
      [waited, gaveUp] = await Promise.all([
        a.run(withHeader(prepScript(spec, wSpec), "APT_LOCK_TIMEOUT", "120")),
        b.run(withHeader(prepScript(spec, wSpec), "APT_LOCK_TIMEOUT", "6"), { timeoutSec: 120 }),
      ]);
    }, 170_000);

    test("the holder is a real apt lock: apt-get update itself refuses and names it", () => {
      expect(aptSays.code).not.toBe(0);
      expect(aptSays.stderr).toContain(`Could not get lock /var/lib/apt/lists/lock. It is held by process ${pidHeld} (perl)`);
    });

    test("a lock released after a few seconds: prep waits for it, says so, and succeeds", () => {
      expectOk(waited);
      expect(waited.stdout).toContain(`waiting (up to 120s) for apt locks: /var/lib/apt/lists/lock held by pid ${pidWaited} (perl /tmp/hold-lock.pl /var/lib/apt/lists/lock 8)`);
      const m = /apt locks free: waited (\d+)s/.exec(waited.stdout);
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(3);
      expect(waited.stdout).not.toMatch(/attempt \d\/3 failed/);
    });

    test("a lock never released: prep gives up after the bound, naming the holder's pid and command", () => {
      expect(gaveUp.code).not.toBe(0);
      expect(gaveUp.timedOut).toBe(false);
      expect(gaveUp.stderr).toContain(`FAILED [prep ${wSpec.name}] base packages: apt-lock: gave up after 6s: /var/lib/apt/lists/lock held by pid ${pidHeld} (perl /tmp/hold-lock.pl /var/lib/apt/lists/lock 600)`);
      expect(gaveUp.ms).toBeLessThan(60_000);
    });
  });

  describe("reset on an existing host: other CNI configs, package files and the IPv6 firewall stay", () => {
    let n: SandboxNode;
    let r1: RunResult;
    let r2: RunResult;
    let keepBefore: Map<string, string>;
    let ip6After: string;
    let dpkgVerify: RunResult;
    beforeAll(async () => {
      n = await node("shared-host");
      expectOk(await n.run(prepScript(spec, wSpec)));
      expectOk(await n.run(joinScript(spec, wSpec, { tokenStep: `${wSpec.name}-token` }), { stdin: joinStdin(spec, wSpec, TOKEN, `sha256:${"ab".repeat(32)}`, `${cpSpec.ip}:6443`) }));
      // What flannel, containerd's CNI calls and kube-proxy leave on a node, next to the host's own
      // things: a podman network (its conflist, host-local leases and libcni cache) and an IPv6 firewall.
      const setup = await n.exec(
        [
          "mkdir -p /etc/cni/net.d /var/lib/cni/flannel /var/lib/cni/networks/cbr0 /var/lib/cni/networks/podman /var/lib/cni/results /run/flannel",
          `echo '{"name":"cbr0"}' > /etc/cni/net.d/10-flannel.conflist`,
          `echo '{"name":"podman"}' > /etc/cni/net.d/87-podman-bridge.conflist`,
          "echo x > /var/lib/cni/flannel/0123abcd",
          "echo 0123abcd > /var/lib/cni/networks/cbr0/10.244.1.2",
          "echo 4567 > /var/lib/cni/networks/podman/10.88.0.2",
          "echo '{}' > /var/lib/cni/results/cbr0-0123abcd-eth0",
          "echo '{}' > /var/lib/cni/results/cni-loopback-0123abcd-lo",
          "echo '{}' > /var/lib/cni/results/podman-4567-eth0",
          "printf 'FLANNEL_NETWORK=10.244.0.0/16\\nFLANNEL_SUBNET=10.244.1.1/24\\n' > /run/flannel/subnet.env",
          "cp /opt/cni/bin/bridge /opt/cni/bin/flannel",
          // kube-proxy's IPv6 proxier and the kubelet's chains (single-stack cluster, ip6tables works)
          "ip6tables -t nat -N KUBE-SERVICES",
          "ip6tables -t nat -N KUBE-POSTROUTING",
          "ip6tables -t nat -A PREROUTING -m comment --comment 'kubernetes service portals' -j KUBE-SERVICES",
          "ip6tables -t nat -A POSTROUTING -m comment --comment 'kubernetes postrouting rules' -j KUBE-POSTROUTING",
          "ip6tables -t nat -A KUBE-POSTROUTING -j RETURN",
          "ip6tables -N KUBE-FIREWALL",
          "ip6tables -A KUBE-FIREWALL -m comment --comment 'block incoming localnet connections' -j DROP",
          "ip6tables -A INPUT -j KUBE-FIREWALL",
          "ip6tables -t mangle -N KUBE-KUBELET-CANARY",
          // the host's own IPv6 firewall
          "ip6tables -N HOST-FW",
          "ip6tables -A HOST-FW -p tcp --dport 22 -j ACCEPT",
          "ip6tables -A INPUT -j HOST-FW",
          "ip6tables -P INPUT DROP",
        ].join(" && "),
      );
      expectOk(setup);
      keepBefore = n.digest(["/var/lib/kubelet/.kubelet-keep", "/etc/kubernetes/manifests/.kubelet-keep", "/etc/cni/net.d/.kubernetes-cni-keep"]);
      expect(keepBefore.size).toBe(3);
      r1 = await n.run(resetScript(spec, wSpec));
      ip6After = (await n.exec("ip6tables-save")).stdout;
      dpkgVerify = await n.exec("dpkg --verify kubelet kubeadm kubernetes-cni");
      r2 = await n.run(resetScript(spec, wSpec));
    }, 170_000);

    test("flannel's CNI files go; another CNI's conflist, leases and cache stay", () => {
      expectOk(r1);
      for (const gone of ["/etc/cni/net.d/10-flannel.conflist", "/var/lib/cni/flannel", "/var/lib/cni/networks/cbr0", "/var/lib/cni/results/cbr0-0123abcd-eth0", "/var/lib/cni/results/cni-loopback-0123abcd-lo", "/run/flannel", "/opt/cni/bin/flannel"]) {
        expect({ gone, exists: n.exists(gone) }).toEqual({ gone, exists: false });
      }
      expect(n.read("/etc/cni/net.d/87-podman-bridge.conflist")).toBe('{"name":"podman"}\n');
      expect(n.read("/var/lib/cni/networks/podman/10.88.0.2")).toBe("4567\n");
      expect(n.read("/var/lib/cni/results/podman-4567-eth0")).toBe("{}\n");
      expect(n.exists("/opt/cni/bin/bridge")).toBe(true);
      expect(r1.stdout).toMatch(/kept CNI files that are not flannel's: \/etc\/cni\/net\.d\/87-podman-bridge\.conflist/);
    });

    test("the kube packages' own files (.kubelet-keep, .kubernetes-cni-keep) are back, unchanged; dpkg misses nothing", () => {
      expect(n.digest([...keepBefore.keys()])).toEqual(keepBefore);
      expect(dpkgVerify.stdout).not.toMatch(/missing/);
      expect(r1.stdout).toMatch(/put back \/var\/lib\/kubelet\/\.kubelet-keep/);
      expect(r1.stdout).toMatch(/put back \/etc\/kubernetes\/manifests\/\.kubelet-keep/);
    });

    test("ip6tables: kube-proxy's and the kubelet's KUBE-* chains and the jumps to them go; the host's IPv6 firewall stays as it was", () => {
      expect(ip6After).not.toMatch(/KUBE-/);
      expect(ip6After).toMatch(/^:INPUT DROP/m);
      expect(ip6After).toMatch(/^:HOST-FW - /m);
      expect(ip6After).toMatch(/^-A HOST-FW -p tcp -m tcp --dport 22 -j ACCEPT$/m);
      expect(ip6After).toMatch(/^-A INPUT -j HOST-FW$/m);
      expect(r1.stdout).toMatch(/ip6tables: removed 4 KUBE-\*\/FLANNEL-\* chains and 3 rules jumping to them; other IPv6 rules kept/);
    });

    test("a second reset succeeds and finds nothing of flannel's or kube-proxy's left", () => {
      expectOk(r2);
      expect(r2.stdout).toMatch(/ip6tables: no KUBE-\*\/FLANNEL-\* chains/);
      expect(r2.stdout).not.toMatch(/removed \/etc\/cni|removed \/var\/lib\/cni|removed \/run\/flannel/);
      expect(r2.stdout).toMatch(/node reset complete/);
    });
  });

  describe("undo-prep: the existing host goes back to what it was", () => {
    let n: SandboxNode;
    let before: Map<string, string>;
    let hostsBefore: string;
    let fstabBefore: string;
    let undo1: RunResult;
    let undo2: RunResult;
    let diff: string[];
    let diffSecond: string[];
    let packagesBefore: string;
    let packagesAfter: string;
    const packages = async (n: SandboxNode) => (await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n'")).stdout;
    beforeAll(async () => {
      n = await node("undo");
      packagesBefore = await packages(n);
      hostsBefore = n.read("/etc/hosts")!;
      fstabBefore = n.read("/etc/fstab")!;
      before = n.digest(WATCHED, NOT_WATCHED);
      // What `pulumi up` and `pulumi destroy` run on an existing control-plane host, in order.
      expectOk(await n.run(hostsScript(spec)));
      expectOk(await n.run(prepScript(spec, cpSpec)));
      expectOk(await n.run(initScript(spec, cpSpec), { stdin: initStdin(spec, cpSpec, TOKEN, [cpSpec.ip]) }));
      expectOk(await n.run(resetScript(spec, cpSpec)));
      undo1 = await n.run(undoPrepScript(cpSpec, { removePackages: true, restoreSwap: true }));
      const after = n.digest(WATCHED, NOT_WATCHED);
      diff = diffDigests(before, after);
      packagesAfter = await packages(n);
      undo2 = await n.run(undoPrepScript(cpSpec, { removePackages: true, restoreSwap: true }));
      diffSecond = diffDigests(after, n.digest(WATCHED, NOT_WATCHED));
    }, 170_000);

    test("after prep, init, reset and undo-prep only these differences from the fresh host remain, each for a reason", () => {
      expectOk(undo1);
      const expected: Record<string, string> = {
        // The hostname prep set stays by design (undo-prep.sh says why and prints the command to restore it).
        "changed /etc/hostname": "hostname kept",
        // /etc/hosts: the cluster block is removed in place; the content is the original again (asserted
        // below), only the modification time is new (hosts.sh keeps no copy of the original).
        "changed /etc/hosts": "block removed in place",
        // dpkg's own bookkeeping: rewritten by every install and purge (the same package set again, asserted below).
        "changed /var/lib/dpkg/status": "dpkg database",
        "changed /var/lib/dpkg/status-old": "dpkg database backup",
        // apt creates its auto-installed marks with the first install that pulls a dependency; after the
        // purge it marks no package (asserted below), and its folder lists it.
        "added /var/lib/apt/extended_states": "apt's auto-installed marks",
        "changed /var/lib/apt": "lists extended_states",
      };
      // Exactly these: nothing unexplained is left, and nothing listed here is missing.
      const same = JSON.stringify(diff) === JSON.stringify(Object.keys(expected).sort());
      expect({ diff, undo: same ? "" : show(undo1) }).toEqual({ diff: Object.keys(expected).sort(), undo: "" });
      expect(n.read("/var/lib/apt/extended_states")).not.toMatch(/^Package:/m);
      expect(packagesAfter).toBe(packagesBefore);
      expect(n.read("/etc/hosts")).toBe(hostsBefore);
      expect(n.read("/etc/fstab")).toBe(fstabBefore);
      expect(n.read("/etc/hostname")).toBe(`${cpSpec.name}\n`);
      expect(undo1.stdout).toMatch(/hostname k8s-control kept \(it was ubuntu before prep\); to restore it: sudo hostnamectl set-hostname ubuntu/);
    });

    test("packages: the kube packages and everything prep installed are purged; nothing else", async () => {
      const q = (await n.exec("dpkg-query -W -f '${Package} ${db:Status-Status}\\n' kubelet kubeadm kubectl cri-tools kubernetes-cni containerd runc conntrack socat ethtool 2>/dev/null; true")).stdout;
      expect(q).not.toMatch(/ installed$/m);
      expect(undo1.stdout).toMatch(/purged: kubelet kubeadm kubectl cri-tools kubernetes-cni /);
      expect((await n.exec("apt-mark showhold")).stdout.trim()).toBe("");
    });

    test("each step says what it did: swap back on in fstab, files restored or removed, the record removed", () => {
      expect(undo1.stdout).toMatch(/\/etc\/fstab: the original again \(1 swap line\(s\) uncommented\)/);
      expect(undo1.stdout).toMatch(/\/etc\/containerd\/config\.toml: original restored/);
      expect(undo1.stdout).toMatch(/\/etc\/apt\/sources\.list\.d\/kubernetes\.list: removed \(prep created it\)/);
      expect(undo1.stdout).toMatch(/\/etc\/hosts: cluster nodes block removed/);
      expect(undo1.stdout).toMatch(/kernel modules and running sysctl values are left as they are/);
      expect(undo1.stdout).toMatch(/\/var\/lib\/kubeadm-cluster-backup: everything undone, removed/);
    });

    test("a second undo-prep changes nothing and says so", () => {
      expectOk(undo2);
      expect(diffSecond).toEqual([]);
      expect(undo2.stdout).toMatch(/no record in \/var\/lib\/kubeadm-cluster-backup/);
      expect(undo2.stdout).not.toMatch(/restored|: removed|purged|uncommented/);
    });
  });

  describe("undo-prep with the defaults on a host that had files of its own", () => {
    let n: SandboxNode;
    let userFiles: Map<string, string>;
    let undo: RunResult;
    beforeAll(async () => {
      n = await node("undo-keep");
      // The owner's own crictl.yaml and modules-load.d/k8s.conf, from long ago.
      expectOk(await n.exec("printf 'runtime-endpoint: unix:///run/crio/crio.sock\\n' > /etc/crictl.yaml && mkdir -p /etc/modules-load.d && printf 'overlay\\n' > /etc/modules-load.d/k8s.conf && touch -d '2024-01-02 03:04:05' /etc/crictl.yaml /etc/modules-load.d/k8s.conf"));
      userFiles = n.digest(["/etc/crictl.yaml", "/etc/modules-load.d/k8s.conf"]);
      expectOk(await n.run(prepScript(spec, wSpec)));
      // The owner edits a file prep wrote, after prep: undo-prep must leave that edit alone.
      expectOk(await n.exec("echo 'net.ipv4.conf.all.rp_filter = 1' >> /etc/sysctl.d/k8s.conf"));
      expectOk(await n.run(resetScript(spec, wSpec)));
      undo = await n.run(undoPrepScript(wSpec));
    }, 170_000);

    test("the owner's files come back byte for byte with their times; an edited file of prep's is left as is", () => {
      expectOk(undo);
      expect(n.read("/etc/crictl.yaml")).toBe("runtime-endpoint: unix:///run/crio/crio.sock\n");
      expect(n.digest([...userFiles.keys()])).toEqual(userFiles);
      expect(n.read("/etc/sysctl.d/k8s.conf")).toMatch(/rp_filter = 1/);
      expect(undo.stdout).toMatch(/\/etc\/sysctl\.d\/k8s\.conf: changed since prep wrote it: left as is/);
    });

    test("packages stay (unheld), swap stays off, and the record keeps what is still in place", async () => {
      const p = parseDpkgQuery((await n.exec("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' kubelet kubeadm kubectl")).stdout);
      for (const k of ["kubelet", "kubeadm", "kubectl"]) expect(p.get(k)).toMatch(/ installed$/);
      expect((await n.exec("apt-mark showhold")).stdout.trim()).toBe("");
      expect(n.read("/etc/fstab")).toMatch(/^#\/swap\.img/m);
      expect(undo.stdout).toMatch(/swap stays off \(RESTORE_SWAP=false\)/);
      expect(undo.stdout).toMatch(/packages kept \(REMOVE_PACKAGES=false\)/);
      expect(n.exists(`${BACKUP}/packages-installed`)).toBe(true);
      expect(n.exists(`${BACKUP}/files/etc/fstab`)).toBe(true);
      expect(n.exists(`${BACKUP}/files/etc/sysctl.d/k8s.conf`)).toBe(false);
    });
  });

  describe("renew-certs on the control plane", () => {
    let n: SandboxNode;
    let r1: RunResult;
    let r2: RunResult;
    let recovered: RunResult;
    let fresh: RunResult;
    let freshCalls: string[];
    let manifestsBefore: Map<string, string>;
    const snap = (n: SandboxNode) => ({ ca: n.read("/etc/kubernetes/pki/ca.crt"), apiserver: n.read("/etc/kubernetes/pki/apiserver.crt"), admin: n.read("/etc/kubernetes/admin.conf") });
    let s0: ReturnType<typeof snap>;
    let s1: ReturnType<typeof snap>;
    let s2: ReturnType<typeof snap>;
    let userConfigAfter2: string | undefined;
    beforeAll(async () => {
      n = await node("certs");
      expectOk(await n.run(prepScript(spec, cpSpec)));
      expectOk(await n.run(initScript(spec, cpSpec), { stdin: initStdin(spec, cpSpec, TOKEN, [cpSpec.ip]) }));
      manifestsBefore = n.digest(["/etc/kubernetes/manifests"]);
      s0 = snap(n);
      // A further control plane's renewal step, created right after its join: nothing to renew.
      n.clearCalls();
      fresh = await n.run(renewCertsScript(spec, cpSpec, { freshHours: 24 }));
      freshCalls = n.calls("kubeadm");
      n.clearCalls();
      const script = withHeader(renewCertsScript(spec, cpSpec), "STATIC_POD_WAIT", "1");
      // The first run with the guard, on certificates written two days ago: they are renewed. (The
      // guard reads the file's time: kubeadm gives every certificate the CA's NotBefore.)
      expectOk(await n.exec("touch -d '2 days ago' /etc/kubernetes/pki/apiserver.crt"));
      r1 = await n.run(withHeader(renewCertsScript(spec, cpSpec, { freshHours: 24 }), "STATIC_POD_WAIT", "1"));
      s1 = snap(n);
      r2 = await n.run(script);
      s2 = snap(n);
      userConfigAfter2 = n.read("/home/ubuntu/.kube/config");
      // An earlier run died with two manifests out of the kubelet's directory.
      expectOk(await n.exec("mkdir -p /var/lib/kubeadm-cluster/renew-certs/manifests && mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/manifests/kube-apiserver.yaml /var/lib/kubeadm-cluster/renew-certs/manifests/"));
      recovered = await n.run(script);
    }, 170_000);

    test("FRESH_HOURS: certificates issued less than that ago are left alone (no renewal, no restart); the state is unchanged", () => {
      expectOk(fresh);
      expect(fresh.stderr).toMatch(/less than 24 h ago, a fresh join\): nothing to renew/);
      expect(freshCalls.filter((c) => c.startsWith("certs renew"))).toEqual([]);
      expect(fresh.stderr).not.toMatch(/moved out of/);
      // The same guard on certificates written two days ago renews (r1 below).
      expect(r1.stderr).not.toMatch(/nothing to renew/);
      expect(r1.stderr).toMatch(/kubeadm certs renew all/);
    });

    test("each run renews every certificate from the same CAs and restarts the static pods by moving their manifests out and back", () => {
      expectOk(r1);
      expectOk(r2);
      expect(n.calls("kubeadm").filter((c) => c === "certs renew all")).toHaveLength(3);
      expect(s1.ca).toBe(s0.ca);
      expect(s2.ca).toBe(s0.ca);
      expect(s1.apiserver).not.toBe(s0.apiserver);
      expect(s2.apiserver).not.toBe(s1.apiserver);
      expect(s1.admin).not.toBe(s0.admin);
      for (const r of [r1, r2]) {
        expect(r.stderr).toMatch(/moved out of \/etc\/kubernetes\/manifests: etcd\.yaml kube-apiserver\.yaml kube-controller-manager\.yaml kube-scheduler\.yaml; waiting 1s/);
        expect(r.stderr).toMatch(/back in \/etc\/kubernetes\/manifests: etcd\.yaml kube-apiserver\.yaml kube-controller-manager\.yaml kube-scheduler\.yaml/);
        // The node's own API server (with HA, admin.conf names the endpoint, which other members answer).
        expect(r.stderr).toContain(`API server https://${cpSpec.ip}:6443 answers /readyz`);
      }
      expect(n.calls("kubectl").some((c) => c.includes(`--server https://${cpSpec.ip}:6443`) && c.includes("get --raw /readyz"))).toBe(true);
      // The manifests are back, unchanged (mv keeps content and times), and the holding place is gone.
      expect(n.digest(["/etc/kubernetes/manifests"])).toEqual(manifestsBefore);
      expect(n.exists("/var/lib/kubeadm-cluster/renew-certs/manifests")).toBe(false);
    });

    test("the SSH user's ~/.kube/config is the renewed admin.conf", () => {
      expect(userConfigAfter2).toBe(s2.admin);
      expect(n.read("/home/ubuntu/.kube/config")).toBe(n.read("/etc/kubernetes/admin.conf"));
      expect(r1.stderr).toMatch(/\/home\/ubuntu\/\.kube\/config: written \(the renewed admin\.conf\)/);
    });

    test("the new expiry table goes to stderr: a year for the certificates, ten for the CAs", () => {
      for (const r of [r1, r2]) {
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(/^CERTIFICATE\s+EXPIRES\s+RESIDUAL TIME\s+CERTIFICATE AUTHORITY\s+EXTERNALLY MANAGED$/m);
        expect(r.stderr).toMatch(/^apiserver\s+\w{3} \d{2}, \d{4} \d{2}:\d{2} UTC\s+364d\s+ca\s+no$/m);
        expect(r.stderr).toMatch(/^ca\s+\w{3} \d{2}, \d{4} \d{2}:\d{2} UTC\s+9y\s+no$/m);
      }
    });

    test("a run interrupted with manifests out of place puts them back first", () => {
      expectOk(recovered);
      expect(recovered.stderr).toMatch(/manifests left out by an interrupted run: putting them back first/);
      expect(n.digest(["/etc/kubernetes/manifests"])).toEqual(manifestsBefore);
    });
  });
});
