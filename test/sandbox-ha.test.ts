// A highly available control plane (issue 17), run by the real node scripts in Debian sandboxes: three
// control planes and a worker on one LAN (a bridge between their network namespaces) sharing one fake
// API state. Debian 12's real keepalived and haproxy hold the endpoint (vip.sh): VRRP between the
// control planes moves the address when the master's health check fails, haproxy spreads over fake API
// servers (openssl s_server answering /healthz on 6443). kubeadm is the stand-in (test/sandbox/bin/
// kubeadm-ha.sh): certificate upload with its 2 h expiry, control-plane joins one learner at a time,
// etcd members, kubeadm reset removing its member. The scripts are the exact builders' output, run in
// the graph's order. See docs/sandbox.md "HA" and docs/ha.md.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, ControlPlaneEndpointSpec, NodeSpec } from "../components/spec";
import {
  caHashScript,
  drainNodeScript,
  hostsScript,
  initScript,
  initStdin,
  joinScript,
  joinStdin,
  parseCaCertHash,
  prepScript,
  resetScript,
  tokenScript,
  tokenStdin,
  undoPrepScript,
  uploadCertsScript,
  uploadCertsStdin,
} from "../components/node/scripts";
import { certSans, controlPlaneEndpointOf } from "../components/node/kubeadm-config";
import { vipScript } from "../components/node/ha-scripts";
import { haproxyCfg, keepalivedConf, checkApiserverScript, VIP_MANAGED_MARK } from "../components/node/vip-config";
import { versionCheckScript } from "../components/node/upgrade-scripts";
import { vrrpRouterId } from "../components/config/ha";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { diffDigests, makeApiState, RunResult, SANDBOX_APT_BASE, SandboxLan, SandboxNode, sandboxWorkDir, withHeader } from "./sandbox/sandbox";

const gate = sandboxGate("sandbox-ha");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) {
  test("sandbox prerequisites (CI must have them)", () => {
    throw new Error(gate.failReason);
  });
}

const IFACE = "lan0"; // not kubernetes.nic: vip.sh finds the interface that carries the node's IP
const VIP = "192.168.56.100";
const ENDPOINT: ControlPlaneEndpointSpec = { address: VIP, port: 8443, holder: "keepalived-haproxy", vrrpRouterId: vrrpRouterId(VIP) };
const CPS: NodeSpec[] = [
  { name: "ha-cp1", role: "control-plane", ip: "192.168.56.11" },
  { name: "ha-cp2", role: "control-plane", ip: "192.168.56.12" },
  { name: "ha-cp3", role: "control-plane", ip: "192.168.56.13" },
];
const W: NodeSpec = { name: "ha-w1", role: "worker", ip: "192.168.56.21" };
const OWNER: NodeSpec = { name: "ha-owner", role: "control-plane", ip: "192.168.57.31" };
function specWith(nodes: NodeSpec[], endpoint: ControlPlaneEndpointSpec = ENDPOINT, version = "1.30.12"): ClusterSpec {
  const b = devSpec({}, version);
  return { ...b, nodes, kubernetes: { ...b.kubernetes, nic: undefined, controlPlaneEndpoint: endpoint }, mirrors: { ...b.mirrors, aptBase: SANDBOX_APT_BASE } };
}
const SPEC = specWith([...CPS, W]);
/** The same stack before the two control planes were added (one control plane with the endpoint). */
const SPEC1 = specWith([CPS[0], W]);
const TOKEN = "hatokn.0123456789abcdef";
const KEY = crypto.randomBytes(32).toString("hex");
const EPOINT = controlPlaneEndpointOf(SPEC, CPS[0]);
const WATCHED = ["/etc", "/var/lib", "/opt", "/usr/lib/systemd", "/root", "/home"];
const NOT_WATCHED = ["/var/lib/apt/lists", "/var/lib/dpkg/lock", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/triggers/Lock", "/etc/ld.so.cache", "/var/cache"];
const ENDPOINT_FILES = ["/etc/keepalived", "/etc/haproxy"];

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-8000)}\n--- stderr ---\n${r.stderr.slice(-8000)}`;
}
function expectOk(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`script failed: ${show(r)}`);
  return r;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `probe` until it returns a value accepted by `done` or `ms` pass; returns the last value and the wait. */
async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<{ value: T; waited: number }> {
  const t0 = Date.now();
  let v = await probe();
  while (!done(v) && Date.now() - t0 < ms) {
    await sleep(250);
    v = await probe();
  }
  return { value: v, waited: Date.now() - t0 };
}

d("an HA control plane in Debian sandboxes: keepalived + haproxy for real, kubeadm's HA steps as stand-ins", () => {
  let work: string;
  let base: BaseCache;
  let repos: Repos;
  let lan: SandboxLan;
  let api: string;
  const nodes: SandboxNode[] = [];
  const [cp1, cp2, cp3, w1] = [0, 1, 2, 3].map(() => ({}) as { n: SandboxNode });
  let fresh2: Map<string, string>; // ha-cp2 as created: undo-prep must give it back
  const USER_DB = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"];
  const fresh2Text: Record<string, string> = {};
  /** Every script run of the file, for the "never in any output" checks. */
  const outputs: { label: string; r: RunResult }[] = [];
  async function run(x: { n: SandboxNode }, script: string, label: string, stdin?: string): Promise<RunResult> {
    const r = await x.n.run(script, { stdin, label });
    outputs.push({ label: `${x.n.name} ${label}`, r });
    return r;
  }
  const ok = async (p: Promise<RunResult>) => expectOk(await p);
  /** The control planes holding the endpoint address on their LAN interface. */
  async function holders(): Promise<string[]> {
    const out: string[] = [];
    for (const x of [cp1, cp2, cp3]) {
      const r = await x.n.exec(`ip -4 -o addr show dev ${IFACE}`);
      if (r.stdout.includes(` ${VIP}/`)) out.push(x.n.name);
    }
    return out;
  }
  const curlEndpoint = (from: { n: SandboxNode }) => from.n.exec(`curl -fsk --max-time 5 https://${VIP}:8443/healthz`);
  const t0 = Date.now();

  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);
  beforeAll(async () => {
    work = sandboxWorkDir("ha");
    repos = buildRepos(work, base);
    api = makeApiState(work, "ha");
    lan = await SandboxLan.create();
    const made = await Promise.all([...CPS, W].map((s) => SandboxNode.create(s.name, work, base, repos, api)));
    nodes.push(...made);
    [cp1.n, cp2.n, cp3.n, w1.n] = made;
    fresh2 = cp2.n.digest(WATCHED, NOT_WATCHED);
    for (const f of [...USER_DB, "/var/lib/dpkg/triggers/File", "/etc/hosts"]) fresh2Text[f] = cp2.n.read(f) ?? "";
    for (const [i, s] of [...CPS, W].entries()) await lan.attach(made[i], IFACE, `${s.ip}/24`);
    // A fake API server on each control plane: TLS on 6443, /healthz and /readyz answer "ok" (openssl
    // s_server -WWW serves files of its working directory), so keepalived's check script (/healthz through
    // haproxy) and haproxy's checks (/readyz) pass.
    for (const x of [cp1, cp2, cp3]) {
      expectOk(
        await x.n.exec(
          "mkdir -p /srv/fake-api && cd /srv/fake-api && echo ok > healthz && echo ok > readyz && " +
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem -subj /CN=fake-apiserver -days 1 2>/dev/null && " +
            "(setsid openssl s_server -accept 6443 -cert cert.pem -key key.pem -WWW -quiet </dev/null >/dev/null 2>&1 &)",
        ),
      );
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
    if (lan) await lan.destroy();
    if (repos) destroyRepos(repos);
    if (work && process.env.KUBEADM_SANDBOX_KEEP !== "1") fs.rmSync(work, { recursive: true, force: true });
    console.log(`sandbox-ha: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 60_000);

  describe("the endpoint: vip.sh with Debian 12's keepalived and haproxy", () => {
    let garbledPeer: RunResult;
    let garbledHaproxy: RunResult;
    let afterGarbled: Map<string, string>;
    let afterGarbled2: Map<string, string>;
    let single: RunResult;
    const three: RunResult[] = [];
    const again: RunResult[] = [];
    let changedAgain: string[];
    let callsAgain: string[][];
    let firstHolders: { value: string[]; waited: number };
    let cp1Calls: string[];
    beforeAll(async () => {
      await Promise.all([cp1, cp2, cp3, w1].map(async (x, i) => {
        await ok(run(x, hostsScript(SPEC), "hosts"));
        await ok(run(x, prepScript(SPEC, [...CPS, W][i]), "prep"));
      }));
      // A broken file is refused by its own tool before anything is written (the packages come in first).
      garbledPeer = await run(cp1, vipScript(SPEC, CPS[0]).replace("\n    192.168.56.12\n", "\n    192.168.56.1x2\n"), "vip (garbled peer)");
      afterGarbled = cp1.n.digest(ENDPOINT_FILES);
      garbledHaproxy = await run(cp1, vipScript(SPEC, CPS[0]).replace(/check check-ssl verify none/g, "chek check-ssl verify none"), "vip (garbled haproxy)");
      afterGarbled2 = cp1.n.digest(ENDPOINT_FILES);
      // The stack had one control plane (with the endpoint); then two were added: cp1's peer list changes.
      single = await run(cp1, vipScript(SPEC1, CPS[0]), "vip (one control plane)");
      cp1.n.clearCalls();
      three.push(...(await Promise.all([cp1, cp2, cp3].map((x, i) => run(x, vipScript(SPEC, CPS[i]), "vip")))));
      cp1Calls = cp1.n.calls("systemctl");
      firstHolders = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[0].name, 20_000);
      const before = [cp1, cp2, cp3].map((x) => x.n.digest(WATCHED, NOT_WATCHED));
      for (const x of [cp1, cp2, cp3]) x.n.clearCalls();
      again.push(...(await Promise.all([cp1, cp2, cp3].map((x, i) => run(x, vipScript(SPEC, CPS[i]), "vip again")))));
      changedAgain = [cp1, cp2, cp3].flatMap((x, i) => diffDigests(before[i], x.n.digest(WATCHED, NOT_WATCHED)).map((c) => `${x.n.name}: ${c}`));
      callsAgain = [cp1, cp2, cp3].map((x) => x.n.calls("systemctl"));
    }, 400_000);

    test("Debian 12's packages: keepalived 2.2.7 and haproxy 2.6, installed from the local Debian repository and recorded for undo-prep", async () => {
      const v = await cp1.n.exec("keepalived --version 2>&1 | head -n1; haproxy -v | head -n1; dpkg-query -W -f '${Package} ${Version}\\n' keepalived haproxy");
      expect(v.stdout).toMatch(/^Keepalived v2\.2\.7 /m);
      expect(v.stdout).toMatch(/^HAProxy version 2\.6\.\d+/m);
      expect(cp1.n.read("/var/lib/kubeadm-cluster-backup/packages-installed")).toMatch(/^haproxy$[\s\S]*^keepalived$/m);
      expect(cp1.n.read("/var/lib/kubeadm-cluster-backup/units/keepalived")).toBe("enabled=no active=no\n");
      expect(cp1.n.read("/var/lib/kubeadm-cluster-backup/units/haproxy")).toBe("enabled=no active=no\n");
    });

    test("the generated files for 3 control planes pass the real `keepalived -t` and `haproxy -c` (exit 0; script_user root does not end -t with SIGTERM on 2.2.7)", async () => {
      fs.writeFileSync(path.join(cp1.n.root, "tmp/haproxy.cfg"), haproxyCfg(SPEC));
      const h = await cp1.n.exec("haproxy -c -f /tmp/haproxy.cfg");
      expect({ code: h.code, out: h.stdout }).toEqual({ code: 0, out: "Configuration file is valid\n" });
      for (const s of [...CPS.map((c) => ({ spec: SPEC, node: c })), { spec: SPEC1, node: CPS[0] }]) {
        fs.writeFileSync(path.join(cp1.n.root, "tmp/keepalived.conf"), keepalivedConf(s.spec, s.node).split("@VIP_INTERFACE@").join(IFACE));
        const k = await cp1.n.exec("keepalived -t -l -f /tmp/keepalived.conf");
        expect({ node: s.node.name, peers: s.spec.nodes.length, code: k.code, out: k.stdout + k.stderr }).toEqual({ node: s.node.name, peers: s.spec.nodes.length, code: 0, out: "" });
      }
      // Without the check script in place -t says so and exits 5: vip.sh tests with a copy of it.
      const noScript = await cp1.n.exec("sed 's#/etc/keepalived/check_apiserver.sh#/etc/keepalived/missing.sh#' /tmp/keepalived.conf > /tmp/k2.conf; keepalived -t -l -f /tmp/k2.conf");
      expect(noScript.code).toBe(5);
      expect(noScript.stdout + noScript.stderr).toMatch(/Disabling track script check_apiserver since not found/);
    });

    test("a garbled peer line or haproxy keyword is refused by vip.sh with the tool's words, before any file is written", () => {
      expect(garbledPeer.code).not.toBe(0);
      expect(garbledPeer.stderr).toMatch(/keepalived -t: .*malformed unicast peer address\[192\.168\.56\.1x2\]/);
      expect(garbledPeer.stderr).toMatch(/FAILED \[vip ha-cp1\] validate: keepalived -t rejects the generated keepalived\.conf \(exit 5, output above\); nothing was written/);
      expect(garbledHaproxy.code).not.toBe(0);
      expect(garbledHaproxy.stderr).toMatch(/haproxy -c: .*unknown keyword 'chek'/);
      expect(garbledHaproxy.stderr).toMatch(/FAILED \[vip ha-cp1\] validate: haproxy -c rejects the generated haproxy\.cfg/);
      for (const r of [garbledPeer, garbledHaproxy]) expect(r.stderr).not.toMatch(/: written/);
      expect(afterGarbled2).toEqual(afterGarbled);
      expect(afterGarbled.has("/etc/keepalived/keepalived.conf")).toBe(false);
      expect(afterGarbled.has("/etc/keepalived/check_apiserver.sh")).toBe(false);
      expect(afterGarbled.has("/etc/haproxy/haproxy.cfg")).toBe(true); // the package's own
    });

    test("the interface is the one that carries the node's IP (lan0), written into keepalived.conf", () => {
      expect(single.stderr).toMatch(/192\.168\.56\.11 is on lan0/);
      const conf = cp1.n.read("/etc/keepalived/keepalived.conf")!;
      expect(conf.split("\n")[0]).toBe(VIP_MANAGED_MARK);
      expect(conf).toMatch(/^  interface lan0$/m);
      expect(conf).toMatch(/^    192\.168\.56\.100\/32 dev lan0$/m);
      expect(conf).not.toContain("@VIP_INTERFACE@");
      expect(cp1.n.read("/etc/keepalived/check_apiserver.sh")).toBe(`${checkApiserverScript(SPEC)}\n`);
    });

    test("two control planes added: cp1's files are rewritten and both services reloaded; cp2 and cp3 start theirs", () => {
      expectOk(single);
      for (const r of three) expectOk(r);
      expect(three[0].stderr).toMatch(/\/etc\/keepalived\/keepalived\.conf: written/);
      expect(three[0].stderr).toMatch(/\/etc\/haproxy\/haproxy\.cfg: written/);
      expect(three[0].stderr).toMatch(/\/etc\/keepalived\/check_apiserver\.sh: unchanged/);
      expect(three[0].stderr).toMatch(/haproxy reloaded \(its file changed\)/);
      expect(three[0].stderr).toMatch(/keepalived reloaded \(its file changed\)/);
      expect(cp1Calls.filter((c) => /^(restart|reload|start|stop) /.test(c))).toEqual(["reload haproxy", "reload keepalived"]);
      for (const r of three.slice(1)) {
        expect(r.stderr).toMatch(/haproxy started/);
        expect(r.stderr).toMatch(/keepalived started/);
      }
      expect(cp1.n.read("/etc/haproxy/haproxy.cfg")).toBe(`${haproxyCfg(SPEC)}\n`);
    });

    test("the second run writes nothing and restarts nothing", () => {
      for (const r of again) {
        expectOk(r);
        expect(r.stderr).not.toMatch(/: written/);
        expect(r.stderr).toMatch(/haproxy running, file unchanged: not restarted/);
        expect(r.stderr).toMatch(/keepalived running, file unchanged: not restarted/);
      }
      expect(changedAgain).toEqual([]);
      for (const c of callsAgain) expect(c.filter((x) => /^(restart|reload|start|stop|enable|disable) /.test(x))).toEqual([]);
    });

    test("VRRP: the first control plane holds the address; the endpoint answers from the worker through haproxy", async () => {
      expect(firstHolders.value).toEqual([CPS[0].name]);
      for (const x of [cp1, cp2, cp3]) expect((await x.n.exec("ss -ltn")).stdout).toMatch(/:8443\b/);
      const r = await curlEndpoint(w1);
      expect({ code: r.code, out: r.stdout }).toEqual({ code: 0, out: "ok\n" });
    });

    test("failover: haproxy stopped on the master, its check fails and the address moves to cp2 (and back once it is healthy)", async () => {
      expectOk(await cp1.n.exec("systemctl stop haproxy"));
      const moved = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[1].name, 40_000);
      const through = await curlEndpoint(w1);
      expectOk(await cp1.n.exec("systemctl start haproxy"));
      const back = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[0].name, 40_000);
      console.log(`sandbox-ha: failover after ${moved.waited} ms (check interval 3 s x fall 3), back after ${back.waited} ms (rise 2)`);
      expect(moved.value).toEqual([CPS[1].name]);
      expect({ code: through.code, out: through.stdout }).toEqual({ code: 0, out: "ok\n" });
      expect(back.value).toEqual([CPS[0].name]);
      expect(cp2.n.read("/sandbox-log/keepalived.out")).toMatch(/Entering MASTER STATE/);
    }, 120_000);
  });

  describe("kubeadm: init with --upload-certs, two control-plane joins one after another, a worker through the endpoint", () => {
    let init: RunResult;
    let hash: string;
    const steps: Record<string, RunResult> = {};
    let first: Record<string, RunResult>;
    let calls: string[];
    let beforeAgain: Map<string, string>[];
    let changedAgain: string[];
    let callsAgain: string[];
    let membersBefore: string[];
    /** The graph's steps for one further control plane: upload-certs and token on cp1, then its join. */
    async function joinControlPlane(x: { n: SandboxNode }, node: NodeSpec, tag: string): Promise<RunResult> {
      steps[`${tag} upload-certs`] = await run(cp1, uploadCertsScript(), "upload-certs", uploadCertsStdin(SPEC, CPS[0], KEY));
      steps[`${tag} token`] = await run(cp1, tokenScript(SPEC), "token", tokenStdin(TOKEN));
      return run(x, joinScript(SPEC, node, { tokenStep: `${node.name}-token`, uploadStep: `${node.name}-upload-certs` }), "join", joinStdin(SPEC, node, TOKEN, hash, EPOINT, KEY));
    }
    /** Everything `pulumi up` runs for this cluster, in the graph's order. */
    async function everything(): Promise<void> {
      await Promise.all([cp1, cp2, cp3, w1].map(async (x, i) => {
        await ok(run(x, hostsScript(SPEC), "hosts"));
        await ok(run(x, prepScript(SPEC, [...CPS, W][i]), "prep"));
        if (i < 3) await ok(run(x, vipScript(SPEC, CPS[i]), "vip"));
      }));
      init = await ok(run(cp1, initScript(SPEC, CPS[0]), "init", initStdin(SPEC, CPS[0], TOKEN, certSans(CPS[0], undefined, VIP), KEY)));
      hash = parseCaCertHash((await ok(run(cp1, caHashScript(), "ca-hash"))).stdout);
      steps["cp2 join"] = await ok(joinControlPlane(cp2, CPS[1], "cp2"));
      steps["cp3 join"] = await ok(joinControlPlane(cp3, CPS[2], "cp3"));
      steps["w1 token"] = await ok(run(cp1, tokenScript(SPEC), "token", tokenStdin(TOKEN)));
      steps["w1 join"] = await ok(run(w1, joinScript(SPEC, W, { tokenStep: `${W.name}-token` }), "join", joinStdin(SPEC, W, TOKEN, hash, EPOINT)));
    }
    const apiCalls = () =>
      (fs.readFileSync(path.join(api, "kubeadm-calls.log"), "utf8").trim().split("\n"))
        .filter((l) => / (init|join|reset)\b/.test(l))
        .map((l) => l.replace(/--config \S+/g, "--config <file>"));
    const members = () => fs.readdirSync(path.join(api, "etcd", "members")).sort();

    beforeAll(async () => {
      await everything();
      calls = apiCalls();
      first = { ...steps };
      const firstInit = init;
      membersBefore = members();
      beforeAgain = [cp1, cp2, cp3, w1].map((x) => x.n.digest(WATCHED, NOT_WATCHED));
      // The same `pulumi up` again (every step's script run again): nothing changes on any node.
      await everything();
      changedAgain = [cp1, cp2, cp3, w1].flatMap((x, i) => diffDigests(beforeAgain[i], x.n.digest(WATCHED, NOT_WATCHED)).map((c) => `${x.n.name}: ${c}`));
      callsAgain = apiCalls().slice(calls.length);
      init = firstInit;
    }, 400_000);

    test("kubeadm runs in the graph's order: init --upload-certs on cp1, then per control plane an upload on cp1 and its join, then the worker", () => {
      expect(calls).toEqual([
        "ha-cp1 init --config <file> --upload-certs",
        "ha-cp1 init phase upload-certs --upload-certs --config <file>",
        "ha-cp2 join --config <file>",
        "ha-cp1 init phase upload-certs --upload-certs --config <file>",
        "ha-cp3 join --config <file>",
        "ha-w1 join --config <file>",
      ]);
      expect(first["cp2 upload-certs"].stdout).toBe('control-plane certificates uploaded to kube-system/kubeadm-certs (valid for 2 hours)\n');
    });

    test("the certificate key is never on a command line and never in any script's output (kubeadm prints it; the scripts mask it)", () => {
      const argv = nodes.flatMap((n) => [...n.calls("kubeadm"), ...n.calls("kubectl")]).join("\n") + fs.readFileSync(path.join(api, "kubeadm-calls.log"), "utf8");
      expect(argv).not.toContain(KEY);
      const leaked = outputs.filter((o) => `${o.r.stdout}${o.r.stderr}`.includes(KEY)).map((o) => o.label);
      expect(leaked).toEqual([]);
      expect(init.stderr).toMatch(/\[upload-certs\] Using certificate key:\n<certificate-key>/);
      expect(first["cp3 upload-certs"].stderr).toMatch(/<certificate-key>/);
      for (const o of outputs) expect(`${o.r.stdout}${o.r.stderr}`).not.toContain(TOKEN);
    });

    test("etcd has the three control planes as members; each control plane is labelled and has ~/.kube/config = its admin.conf", () => {
      expect(membersBefore).toEqual(CPS.map((c) => c.name));
      expect(fs.readdirSync(path.join(api, "etcd", "learners"))).toEqual([]);
      for (const [i, x] of [cp1, cp2, cp3].entries()) {
        expect(fs.existsSync(path.join(api, "nodes", CPS[i].name, "labels", "node-role.kubernetes.io%control-plane"))).toBe(true);
        expect(x.n.read("/home/ubuntu/.kube/config")).toBe(x.n.read("/etc/kubernetes/admin.conf"));
        expect(x.n.read("/etc/kubernetes/pki/ca.crt")).toBe(cp1.n.read("/etc/kubernetes/pki/ca.crt"));
        expect(x.n.read("/etc/kubernetes/manifests/etcd.yaml")).toMatch(/image: registry\.k8s\.io\/etcd:/);
      }
      expect(cp2.n.read("/etc/kubernetes/admin.conf")).toMatch(new RegExp(`server: https://${EPOINT.replace(/\./g, "\\.")}$`, "m"));
      expect(fs.existsSync(path.join(api, "nodes", W.name, "labels"))).toBe(false);
      expect(first["cp2 join"].stderr).toMatch(/\/home\/ubuntu\/\.kube\/config: written/);
    });

    test("a second run of everything changes nothing: no init, no join, the same etcd members", () => {
      expect(changedAgain).toEqual([]);
      expect(callsAgain).toEqual(["ha-cp1 init phase upload-certs --upload-certs --config <file>", "ha-cp1 init phase upload-certs --upload-certs --config <file>"]);
      expect(members()).toEqual(membersBefore);
      expect(steps["cp2 join"].stderr).toMatch(/already joined, skipping/);
    });
  });

  describe("the version check's topology refusals (upgrade-check.sh: FIRST_RUN, ENDPOINT, CONTROL_PLANES)", () => {
    const r: Record<string, RunResult> = {};
    let changed: string[];
    let apiBefore: string;
    const apiView = () => JSON.stringify([fs.readFileSync(path.join(api, "kubeadm-config", "ClusterConfiguration"), "utf8"), fs.readdirSync(path.join(api, "nodes")), fs.readdirSync(path.join(api, "etcd", "members"))]);
    beforeAll(async () => {
      const before = cp1.n.digest(WATCHED, NOT_WATCHED);
      apiBefore = apiView();
      const check = (label: string, spec: ClusterSpec, opts: Parameters<typeof versionCheckScript>[2]) => run(cp1, versionCheckScript(spec, CPS[0], opts), label);
      r.firstRunNewPatch = await check("version-check first run 1.30.13", specWith([...CPS, W], ENDPOINT, "1.30.13"), { firstRun: true, endpoint: EPOINT, controlPlanes: CPS.map((c) => c.name) });
      r.firstRunSame = await check("version-check first run", SPEC, { firstRun: true, endpoint: EPOINT, controlPlanes: CPS.map((c) => c.name) });
      r.otherEndpoint = await check("version-check other endpoint", SPEC, { endpoint: "192.168.56.101:8443", controlPlanes: CPS.map((c) => c.name) });
      r.dropTwo = await check("version-check drop two", SPEC, { endpoint: EPOINT, controlPlanes: [CPS[0].name] });
      r.dropOne = await check("version-check drop one", SPEC, { endpoint: EPOINT, controlPlanes: [CPS[0].name, CPS[1].name] });
      changed = diffDigests(before, cp1.n.digest(WATCHED, NOT_WATCHED));
      // The node list reordered (cp2 first), or cp1 dropped: the check runs on cp2, which joined.
      r.notInitNode = await run(cp2, versionCheckScript(SPEC, CPS[1], { endpoint: EPOINT, controlPlanes: [CPS[1].name, CPS[0].name, CPS[2].name] }), "version-check on cp2");
    }, 120_000);

    test("FIRST_RUN with another version than the cluster's is refused with the way out; with the same version it passes", () => {
      expect(r.firstRunNewPatch.code).not.toBe(0);
      expect(r.firstRunNewPatch.stderr).toContain(
        "kubernetes.version 1.30.13 differs from the v1.30.12 the cluster runs, in the first pulumi up that sets up the upgrade steps (a stack deployed before they existed). Set kubernetes.version to 1.30.12, run pulumi up once, then change it.",
      );
      expectOk(r.firstRunSame);
      expect(r.firstRunSame.stdout).toBe("cluster at v1.30.12, 4 node(s): 1.30.12 needs no upgrade\n");
    });

    test("a controlPlaneEndpoint other than kubeadm-config's is refused", () => {
      expect(r.otherEndpoint.code).not.toBe(0);
      expect(r.otherEndpoint.stderr).toContain(`the cluster's controlPlaneEndpoint is ${EPOINT}, the configuration gives 192.168.56.101:8443: kubeadm cannot move a running cluster`);
      expect(r.firstRunSame.stderr).toContain(`controlPlaneEndpoint ${EPOINT}: as configured`);
    });

    test("removing 2 of the 3 control planes in one up is refused; removing 1 passes", () => {
      expect(r.dropTwo.code).not.toBe(0);
      expect(r.dropTwo.stderr).toContain("removing 2 of 3 control planes (ha-cp2 ha-cp3) in one pulumi up would leave etcd without a majority of its members");
      expectOk(r.dropOne);
      expect(r.dropOne.stderr).toContain("control planes: 3 now, removing ha-cp3");
    });

    test("a first control plane that did not run init (a reordered list, or the init node removed) is refused", () => {
      expect(r.notInitNode.code).not.toBe(0);
      expect(r.notInitNode.stderr).toContain(`${CPS[1].name} is listed first among the control planes but did not run kubeadm init`);
    });

    test("none of them changes anything on the node or in the cluster", () => {
      expect(changed).toEqual([]);
      expect(apiView()).toBe(apiBefore);
    });
  });

  describe("removing a control plane (drain on cp1, reset on it) and adding it back after its uploaded certificates expired", () => {
    let moved: { value: string[]; waited: number };
    let drain: RunResult;
    let reset: RunResult;
    let afterReset: { value: string[]; waited: number };
    let resetAgain: RunResult;
    let vipBack: RunResult;
    let expired: RunResult;
    let rejoin: RunResult;
    let hashForRejoin = "";
    let membersAfterRemoval: string[];
    let unitsAfterReset: string;
    const members = () => fs.readdirSync(path.join(api, "etcd", "members")).sort();
    beforeAll(async () => {
      // cp3 holds the address when it goes: cp1 and cp2's checks fail while their haproxy is stopped.
      for (const x of [cp1, cp2]) expectOk(await x.n.exec("systemctl stop haproxy"));
      moved = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[2].name, 40_000);
      drain = await run(cp1, drainNodeScript(CPS[2]), "drain");
      reset = await run(cp3, resetScript(SPEC, CPS[2]), "reset");
      afterReset = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[0].name, 10_000);
      membersAfterRemoval = members();
      unitsAfterReset = (await cp3.n.exec("for u in keepalived haproxy; do systemctl is-active $u; systemctl is-enabled $u; done; ss -ltn | grep -c ':8443 ' || true")).stdout;
      resetAgain = await run(cp3, resetScript(SPEC, CPS[2]), "reset again");
      for (const x of [cp1, cp2]) expectOk(await x.n.exec("systemctl start haproxy"));
      // Added back three hours after the last upload: kubeadm has deleted the kubeadm-certs Secret.
      fs.writeFileSync(path.join(api, "clock-offset"), String(3 * 3600));
      vipBack = await run(cp3, vipScript(SPEC, CPS[2]), "vip (added back)");
      await ok(run(cp1, tokenScript(SPEC), "token", tokenStdin(TOKEN)));
      const hash = parseCaCertHash((await ok(run(cp1, caHashScript(), "ca-hash"))).stdout);
      hashForRejoin = hash;
      const joinIt = () => run(cp3, joinScript(SPEC, CPS[2], { tokenStep: `${CPS[2].name}-token`, uploadStep: `${CPS[2].name}-upload-certs` }), "join", joinStdin(SPEC, CPS[2], TOKEN, hash, EPOINT, KEY));
      expired = await joinIt();
      await ok(run(cp1, uploadCertsScript(), "upload-certs", uploadCertsStdin(SPEC, CPS[0], KEY)));
      rejoin = await joinIt();
    }, 240_000);

    test("the drain on cp1 removes cp3's etcd member (by peer URL), then its Node; the reset on cp3 then finds no member of its own: two members left", () => {
      expectOk(drain);
      expect(drain.stderr).toMatch(/drained/);
      expect(drain.stderr).toMatch(new RegExp(`etcd member [0-9a-f]+ \\(https://${CPS[2].ip.replace(/\./g, "\\.")}:2380\\) removed`));
      expect(drain.stderr.indexOf("etcd member")).toBeLessThan(drain.stderr.indexOf("node object deleted"));
      expectOk(reset);
      expect(membersAfterRemoval).toEqual([CPS[0].name, CPS[1].name]);
    });

    test("reset releases the endpoint first: keepalived and haproxy stopped and disabled, the address moves at once (priority 0)", () => {
      expect(moved.value).toEqual([CPS[2].name]);
      expect(reset.stdout).toMatch(/stop keepalived \(control-plane endpoint released\): done/);
      expect(reset.stdout).toMatch(/stop haproxy \(control-plane endpoint released\): done/);
      expect(reset.stdout.indexOf("control-plane endpoint released")).toBeLessThan(reset.stdout.indexOf("kubeadm reset"));
      expect(unitsAfterReset).toBe("inactive\ndisabled\ninactive\ndisabled\n0\n");
      expect(afterReset.value).toEqual([CPS[0].name]);
      expect(cp1.n.read("/sandbox-log/keepalived.out")).toMatch(/received priority 0 advertisement/i);
      expect(cp3.n.exists("/etc/keepalived/keepalived.conf")).toBe(true); // the files stay for undo-prep
    });

    test("a second reset finds the endpoint services already stopped and disabled", () => {
      expectOk(resetAgain);
      expect(resetAgain.stdout).toMatch(/keepalived: not running/);
      expect(resetAgain.stdout).toMatch(/haproxy: not enabled/);
    });

    test("vip.sh on the re-added node: files unchanged, services started and enabled again", () => {
      expectOk(vipBack);
      expect(vipBack.stderr).not.toMatch(/: written/);
      expect(vipBack.stderr).toMatch(/haproxy started/);
      expect(vipBack.stderr).toMatch(/keepalived started/);
      expect(fs.lstatSync(path.join(cp3.n.root, "etc/systemd/system/multi-user.target.wants/keepalived.service")).isSymbolicLink()).toBe(true);
      expect(vipBack.stderr).not.toMatch(/enable .* failed/);
    });

    test("its join three hours after the last upload fails at once with join.sh's message; after upload-certs runs again it joins", () => {
      expect(expired.code).not.toBe(0);
      expect(expired.stderr).toMatch(/Secret "kubeadm-certs" was not found in the "kube-system" Namespace\. This Secret might have expired/);
      expect(expired.stderr).toContain(
        "FAILED [join ha-cp3] kubeadm join: the control-plane certificates uploaded by ha-cp3-upload-certs have expired (kubeadm deletes them two hours after an upload) or were uploaded with another key",
      );
      expect(expired.ms).toBeLessThan(15_000); // no reset-and-retry: retrying cannot bring them back
      expectOk(rejoin);
      expect(members()).toEqual(CPS.map((c) => c.name));
      expect(cp3.n.read("/home/ubuntu/.kube/config")).toBe(cp3.n.read("/etc/kubernetes/admin.conf"));
    });

    // LOCAL_API_WAIT 3 s instead of 90: the fake API server answers at once or never.
    const joinCp3Again = (label: string, endpoint = EPOINT) =>
      run(cp3, withHeader(joinScript(SPEC, CPS[2], { tokenStep: `${CPS[2].name}-token`, uploadStep: `${CPS[2].name}-upload-certs` }), "LOCAL_API_WAIT", "3"), label, joinStdin(SPEC, CPS[2], TOKEN, hashForRejoin, endpoint, KEY));
    const kubeadmSteps = () => cp3.n.calls("kubeadm").filter((c) => c.startsWith("reset") || c.startsWith("join")).map((c) => c.split(" ")[0]);
    const units = async () => (await cp3.n.exec("for u in keepalived haproxy; do systemctl is-active $u; systemctl is-enabled $u; done")).stdout;

    test("a working control plane without the join marker (joined by an older join.sh) is left alone: its own API server answers, label and taint are ensured, the marker is written", async () => {
      expectOk(await cp3.n.exec("rm -f /var/lib/kubeadm-cluster/join-complete"));
      cp3.n.clearCalls();
      const again = await joinCp3Again("join, no marker, healthy");
      expectOk(again);
      expect(again.stderr).toContain(`no join marker, but https://${CPS[2].ip}:6443 answers /readyz (its etcd member votes): joined`);
      expect(kubeadmSteps()).toEqual([]);
      expect(cp3.n.calls("kubectl").filter((c) => /^(label|taint) node /.test(c.replace(/^(--\S+ \S+ )*/, "")) || / (label|taint) node /.test(c)).length).toBe(2);
      expect(members()).toEqual(CPS.map((c) => c.name));
      expect(cp3.n.exists("/var/lib/kubeadm-cluster/join-complete")).toBe(true);
    });

    test("no marker, and neither the node's own API server nor the endpoint answers (quorum lost, machines booting): nothing is reset, the join fails saying so", async () => {
      expectOk(await cp3.n.exec("rm -f /var/lib/kubeadm-cluster/join-complete /srv/fake-api/readyz"));
      cp3.n.clearCalls();
      try {
        // An endpoint that does not answer, as when the whole control plane is down.
        const r = await joinCp3Again("join, no marker, nothing answers", "192.168.56.99:8443");
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`cannot tell whether ${CPS[2].name}'s control-plane join finished`);
        expect(r.stderr).toContain("Nothing was changed");
        expect(kubeadmSteps()).toEqual([]);
        expect(members()).toEqual(CPS.map((c) => c.name));
        expect(cp3.n.exists("/etc/kubernetes/kubelet.conf")).toBe(true);
      } finally {
        expectOk(await cp3.n.exec("echo ok > /srv/fake-api/readyz"));
      }
    }, 120_000);

    test("a control-plane join that died with its etcd member still a learner (no ready API of its own, the endpoint answers) is reset, its Node deleted, and joined again; the endpoint services stay or come back", async () => {
      // As if the last join had died in control-plane-join/etcd, before the learner was promoted: the
      // node's API server cannot serve. And as if a reset run by Pulumi had stopped haproxy before.
      expectOk(await cp3.n.exec("rm -f /var/lib/kubeadm-cluster/join-complete /srv/fake-api/readyz"));
      fs.renameSync(path.join(api, "etcd", "members", CPS[2].name), path.join(api, "etcd", "learners", CPS[2].name));
      expectOk(await cp3.n.exec("systemctl stop haproxy; systemctl disable haproxy"));
      cp3.n.clearCalls();
      let again: RunResult;
      try {
        again = await joinCp3Again("join after a half-done one");
      } finally {
        expectOk(await cp3.n.exec("echo ok > /srv/fake-api/readyz"));
      }
      expectOk(again);
      expect(again.stderr).toContain("reset the half-done control-plane join");
      // The reset first (it removes the learner while the Node exists), the Node deleted (kubeadm join
      // refuses a Ready Node of the same name), then exactly one join.
      expect(kubeadmSteps()).toEqual(["reset", "join"]);
      expect(again.stderr).toContain(`Node ${CPS[2].name} deleted from the cluster`);
      expect(again.stderr).not.toContain("already exists in the cluster");
      expect(members()).toEqual(CPS.map((c) => c.name));
      expect(fs.readdirSync(path.join(api, "etcd", "learners"))).toEqual([]);
      expect(cp3.n.exists("/var/lib/kubeadm-cluster/join-complete")).toBe(true);
      // vip.sh does not run again before this join: the reset kept keepalived, the join started haproxy again.
      expect(again.stdout + again.stderr).toMatch(/keepalived: kept running \(a join follows this reset\)/);
      expect(again.stderr).toContain("haproxy: enabled and started again (the control-plane endpoint)");
      expect(await units()).toBe("active\nenabled\nactive\nenabled\n");
    }, 120_000);

    test("etcd admits one learner at a time: a control-plane join while another member is still a learner is refused", async () => {
      fs.writeFileSync(path.join(api, "etcd", "learners", "someone-else"), "https://192.168.56.99:2380\n");
      // Past kubelet-start, which refuses a Ready Node of the same name (this node's is Ready).
      const ready = path.join(api, "nodes", CPS[2].name, "ready");
      fs.writeFileSync(ready, "False\n");
      try {
        const r = await cp3.n.exec(`kubeadm join --config /sandbox-log/kubeadm-join-config.yaml`);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("etcdserver: too many learner members in cluster");
      } finally {
        fs.rmSync(path.join(api, "etcd", "learners", "someone-else"));
        fs.writeFileSync(ready, "True\n");
      }
    });
  });

  describe("destroy on an existing host: cp2 drained, reset and given back by undo-prep", () => {
    let undo: RunResult;
    let undo2: RunResult;
    let diff: string[];
    let diffSecond: string[];
    let endpointAfter: { value: string[]; waited: number };
    beforeAll(async () => {
      await ok(run(cp1, drainNodeScript(CPS[1]), "drain"));
      await ok(run(cp2, resetScript(SPEC, CPS[1]), "reset"));
      endpointAfter = await waitFor(holders, (h) => h.length === 1 && h[0] === CPS[0].name, 10_000);
      undo = await run(cp2, undoPrepScript(CPS[1], { removePackages: true, restoreSwap: true }), "undo-prep");
      const after = cp2.n.digest(WATCHED, NOT_WATCHED);
      diff = diffDigests(fresh2, after);
      undo2 = await run(cp2, undoPrepScript(CPS[1], { removePackages: true, restoreSwap: true }), "undo-prep again");
      diffSecond = diffDigests(after, cp2.n.digest(WATCHED, NOT_WATCHED));
    }, 240_000);

    test("after vip, init, join, reset and undo-prep only prep's known differences remain, plus the user database haproxy's purge rewrote", () => {
      expectOk(undo);
      const expected: Record<string, string> = {
        // As in sandbox-lifecycle's undo-prep test (prep's own): the hostname stays by design, the hosts
        // block is removed in place, dpkg's and apt's bookkeeping is rewritten by every install and purge.
        "changed /etc/hostname": "hostname kept",
        "changed /etc/hosts": "block removed in place (same content, asserted)",
        "changed /var/lib/dpkg/status": "dpkg database",
        "changed /var/lib/dpkg/status-old": "dpkg database backup",
        "added /var/lib/apt/extended_states": "apt's auto-installed marks",
        "changed /var/lib/apt": "lists extended_states",
        // haproxy's postinst adds the system user and group haproxy (adduser --system) and its postrm
        // removes them on purge (deluser/delgroup --system): the same content again (asserted), rewritten,
        // with the tools' backup files (passwd- & co) left behind.
        "changed /etc/passwd": "haproxy user added and removed",
        "changed /etc/passwd-": "backup",
        "changed /etc/group": "haproxy group added and removed",
        "changed /etc/group-": "backup",
        "changed /etc/shadow": "haproxy user added and removed",
        "changed /etc/shadow-": "backup",
        "changed /etc/gshadow": "haproxy group added and removed",
        "changed /etc/gshadow-": "backup",
        // dpkg rewrites its file-trigger interests when packages that declare some come and go (same content, asserted).
        "changed /var/lib/dpkg/triggers/File": "dpkg trigger interests",
      };
      const same = JSON.stringify(diff) === JSON.stringify(Object.keys(expected).sort());
      expect({ diff, undo: same ? "" : show(undo) }).toEqual({ diff: Object.keys(expected).sort(), undo: "" });
      for (const f of USER_DB) expect({ f, text: cp2.n.read(f) }).toEqual({ f, text: fresh2Text[f] });
      expect(cp2.n.read("/var/lib/dpkg/triggers/File")).toBe(fresh2Text["/var/lib/dpkg/triggers/File"]);
      expect(cp2.n.read("/etc/hosts")).toBe(fresh2Text["/etc/hosts"]);
      for (const f of ["/etc/keepalived", "/etc/haproxy", "/var/lib/kubeadm-cluster-backup"]) expect(cp2.n.exists(f)).toBe(false);
    });

    test("keepalived and haproxy are purged with the rest; the endpoint stays with cp1; a second undo-prep changes nothing", async () => {
      expect(undo.stdout).toMatch(/purged: .*haproxy/);
      expect(undo.stdout).toMatch(/purged: .*keepalived/);
      const q = (await cp2.n.exec("dpkg-query -W -f '${Package} ${db:Status-Status}\\n' keepalived haproxy 2>/dev/null; true")).stdout;
      expect(q).not.toMatch(/ installed$/m);
      expect(undo.stdout).toMatch(/keepalived: not installed any more: nothing to put back/);
      expect(endpointAfter.value).toEqual([CPS[0].name]);
      expectOk(undo2);
      expect(diffSecond).toEqual([]);
    });
  });

  describe("undo-prep with the defaults on a host whose owner runs haproxy of their own", () => {
    let o: SandboxNode;
    let ownerCfg: Map<string, string>;
    let vip: RunResult;
    let reset: RunResult;
    let undo: RunResult;
    let servedDuring: RunResult;
    let servedAfter: RunResult;
    const SPECO = specWith([OWNER], { address: "192.168.57.100", port: 8443, holder: "keepalived-haproxy", vrrpRouterId: vrrpRouterId("192.168.57.100") });
    const OWN_CFG = "global\n  daemon\n\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\nfrontend own\n  bind *:9000\n  http-request return status 200 content-type text/plain string owner\n";
    beforeAll(async () => {
      o = await SandboxNode.create(OWNER.name, work, base, repos);
      nodes.push(o);
      expectOk(await o.exec(`ip link add ${IFACE} type veth peer name ${IFACE}-peer && ip addr add ${OWNER.ip}/24 dev ${IFACE} && ip link set ${IFACE} up && ip link set ${IFACE}-peer up`));
      // The owner's haproxy, from long ago, enabled and running.
      expectOk(await o.exec("apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy >/dev/null", 300));
      fs.writeFileSync(path.join(o.root, "etc/haproxy/haproxy.cfg"), OWN_CFG);
      expectOk(await o.exec("touch -d '2024-01-02 03:04:05' /etc/haproxy/haproxy.cfg && systemctl enable haproxy && systemctl start haproxy"));
      ownerCfg = o.digest(["/etc/haproxy/haproxy.cfg"]);
      vip = await o.run(vipScript(SPECO, OWNER), { label: "vip" });
      servedDuring = await o.exec("curl -s --max-time 3 http://127.0.0.1:9000/ || echo none");
      reset = await o.run(resetScript(SPECO, OWNER), { label: "reset" });
      undo = await o.run(undoPrepScript(OWNER), { label: "undo-prep" });
      servedAfter = await o.exec("for i in $(seq 20); do curl -s --max-time 3 http://127.0.0.1:9000/ && exit 0; sleep 0.5; done; echo none");
    }, 300_000);

    test("vip.sh takes over the owner's haproxy (its file saved first); reset stops and disables it", () => {
      expectOk(vip);
      expect(o.read("/var/lib/kubeadm-cluster-backup/units/haproxy")).toBeUndefined(); // used up by undo-prep
      expect(servedDuring.stdout).toBe("none\n");
      expectOk(reset);
      expect(reset.stdout).toMatch(/stop haproxy \(control-plane endpoint released\): done/);
    });

    test("undo-prep puts the owner's haproxy.cfg back byte for byte with its time, enables and starts haproxy again; keepalived is stopped, disabled, its files gone, its package kept", async () => {
      expectOk(undo);
      expect(o.digest(["/etc/haproxy/haproxy.cfg"])).toEqual(ownerCfg);
      expect(undo.stdout).toMatch(/\/etc\/haproxy\/haproxy\.cfg: original restored/);
      expect(undo.stdout).toMatch(/haproxy: enabled again \(it was before\)/);
      expect(undo.stdout).toMatch(/haproxy: running again with its own configuration/);
      expect(servedAfter.stdout).toBe("owner");
      expect(undo.stdout).toMatch(/keepalived: disabled \(it was not enabled before\)/);
      const st = (await o.exec("systemctl is-active keepalived; systemctl is-enabled keepalived; dpkg-query -W -f '${db:Status-Status}' keepalived")).stdout;
      expect(st).toBe("inactive\ndisabled\ninstalled");
      for (const f of ["/etc/keepalived/keepalived.conf", "/etc/keepalived/check_apiserver.sh"]) expect(o.exists(f)).toBe(false);
      expect(o.read("/var/lib/kubeadm-cluster-backup/packages-installed")).toMatch(/^keepalived$/m);
      expect(o.read("/var/lib/kubeadm-cluster-backup/packages-installed")).not.toMatch(/^haproxy$/m);
    });
  });
});
