// Steps that any later `pulumi up` may run again, long after the first one (an input change re-runs a
// command's create: pulumi-command remote/commandController.go Update), must succeed then too:
//   - approve-serving-cert an hour later: the controller-manager has deleted the approved CSR
//     (approvedExpiration = 1 h), so the script must recognise a kubelet that already serves a
//     certificate signed by the cluster CA, and still refuse one that does not;
//   - token, run by two workers at once: the second create of the same token's Secret fails with
//     AlreadyExists, which is success when the token is there and valid;
//   - init again on a control plane that lost admin.conf: refused, never a reset (etcd stays);
//   - a join retried by a later `up` after the token's TTL (its token step does not run again): once
//     kubeadm join failed and cluster-info has no signature for the token, stops naming the step to replace;
//   - apt after a run killed inside dpkg: the interrupted dpkg is finished first (real apt refuses otherwise).
// Real bash/openssl in a Debian root; the kubelet's TLS endpoint is a real `openssl s_server` on the
// node IP inside the node's network namespace.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { approveServingCertScript, initScript, initStdin, joinScript, joinStdin, prepScript, tokenScript, tokenStdin } from "../components/node/scripts";
import { sandboxGate } from "./sandbox/prereqs";
import { BaseCache, ensureBaseCache } from "./sandbox/cache";
import { buildRepos, destroyRepos, Repos } from "./sandbox/repos";
import { RunResult, SANDBOX_APT_BASE, SandboxNode, sandboxWorkDir } from "./sandbox/sandbox";

const gate = sandboxGate("sandbox-rerun");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) test("sandbox prerequisites (CI must have them)", () => { throw new Error(gate.failReason); });

const spec: ClusterSpec = { ...devSpec(), mirrors: { ...devSpec().mirrors, aptBase: SANDBOX_APT_BASE } };
const cpSpec = controlPlaneNode(spec);
const wSpec = workerNodes(spec)[0];
const TOKEN = "abcdef.0123456789abcdef";

function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}

/** The approve script with a short wait (the real one waits minutes for a CSR). */
function approveQuick(seconds: number): string {
  const s = approveServingCertScript(wSpec);
  const out = s.replace(/^APPROVE_TIMEOUT='\d+'$/m, `APPROVE_TIMEOUT='${seconds}'`);
  if (out === s) throw new Error("APPROVE_TIMEOUT not found in the header");
  return out;
}

d("re-running steps later: approve-serving-cert, token, a retried join", () => {
  let base: BaseCache;
  let repos: Repos;
  let work: string;
  let cp: SandboxNode;
  /** A worker that has not joined, for join.sh's token check. */
  let w: SandboxNode;
  const CLUSTER_INFO = "/srv/fake-api/api/v1/namespaces/kube-public/configmaps/cluster-info";
  /** cluster-info as the API server returns it, signed for the given token ids (kubeadm reads jws-kubeconfig-<id>). */
  const clusterInfo = (ids: string[]) =>
    JSON.stringify({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "cluster-info", namespace: "kube-public" }, data: { kubeconfig: "apiVersion: v1\nkind: Config\n", ...Object.fromEntries(ids.map((id) => [`jws-kubeconfig-${id}`, "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..sig"])) } });
  const join = () => w.run(joinScript(spec, wSpec, { tokenStep: "kubeadm-k8s-worker-token" }), { stdin: joinStdin(spec, wSpec, TOKEN, `sha256:${"ab".repeat(32)}`, `${cpSpec.ip}:6443`) });

  beforeAll(() => {
    base = ensureBaseCache();
  }, 600_000);

  beforeAll(async () => {
    work = sandboxWorkDir("rerun");
    repos = buildRepos(work, base);
    cp = await SandboxNode.create(cpSpec.name, work, base, repos);
    for (const r of [await cp.run(prepScript(spec, cpSpec)), await cp.run(initScript(spec, cpSpec), { stdin: initStdin(spec, cpSpec, TOKEN, [cpSpec.ip]) })]) {
      if (r.code !== 0) throw new Error(show(r));
    }
    // The worker's IP lives in this namespace too, so the control plane can dial <worker IP>:10250.
    const ip = await cp.exec(`ip addr add ${wSpec.ip}/32 dev lo`);
    if (ip.code !== 0) throw new Error(show(ip));
    w = await SandboxNode.create(wSpec.name, work, base, repos);
    // The control plane's API server, as far as this check sees it: TLS on <cp IP>:6443 in the worker's
    // namespace (openssl s_server -WWW serves the files of its working directory). kubeadm is a recorder.
    const setup = [
      "set -euo pipefail",
      `ip link set lo up && ip addr add ${cpSpec.ip}/32 dev lo`,
      "mkdir -p /srv/fake-api/api/v1/namespaces/kube-public/configmaps && cd /srv/fake-api",
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem -subj /CN=fake-apiserver -days 1 2>/dev/null",
      `(setsid openssl s_server -accept ${cpSpec.ip}:6443 -cert cert.pem -key key.pem -WWW -quiet </dev/null >/dev/null 2>&1 &)`,
      `for i in $(seq 50); do (exec 3<>/dev/tcp/${cpSpec.ip}/6443) 2>/dev/null && exit 0; sleep 0.1; done; exit 1`,
    ].join("\n");
    const r = await w.exec(setup, 60);
    if (r.code !== 0) throw new Error(show(r));
    fs.mkdirSync(path.join(w.root, "usr/local/sbin"), { recursive: true });
    // kubeadm records its calls; `join` fails as discovery does without a signature while /tmp/join-fails exists.
    const kubeadm = [
      "#!/bin/sh",
      'mkdir -p /sandbox-log; echo "$*" >> /sandbox-log/kubeadm.log',
      'if [ "$1" = join ] && [ -f /tmp/join-fails ]; then echo "error execution phase preflight: couldn\'t validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID \\"abcdef\\"" >&2; exit 1; fi',
      'if [ "$1" = join ]; then echo "This node has joined the cluster"; fi',
    ].join("\n");
    fs.writeFileSync(path.join(w.root, "usr/local/sbin/kubeadm"), `${kubeadm}\n`, { mode: 0o755 });
  }, 240_000);

  afterAll(async () => {
    await cp?.destroy();
    await w?.destroy();
    if (repos) destroyRepos(repos);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  /** A kubelet serving certificate for the worker, signed by `caDir`'s key, served on <worker IP>:10250. */
  async function serveKubeletCert(signer: "cluster" | "other"): Promise<() => Promise<void>> {
    const ca = signer === "cluster" ? "/etc/kubernetes/pki" : "/tmp/other-ca";
    const script = [
      "set -euo pipefail",
      "cd /tmp",
      signer === "other" ? "mkdir -p /tmp/other-ca && openssl req -x509 -newkey rsa:2048 -nodes -keyout /tmp/other-ca/ca.key -out /tmp/other-ca/ca.crt -subj /CN=other -days 1 2>/dev/null" : "true",
      "openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr -subj /CN=system:node:k8s-worker 2>/dev/null",
      `printf 'subjectAltName=DNS:${wSpec.name},IP:${wSpec.ip}\\n' > san.ext`,
      `openssl x509 -req -in kubelet.csr -CA ${ca}/ca.crt -CAkey ${ca}/ca.key -CAcreateserial -out kubelet.crt -days 1 -extfile san.ext 2>/dev/null`,
      `nohup openssl s_server -accept ${wSpec.ip}:10250 -cert kubelet.crt -key kubelet.key -quiet >/tmp/s_server.log 2>&1 &`,
      "echo $! > /tmp/s_server.pid",
      // Ready when it accepts.
      `for i in $(seq 50); do (exec 3<>/dev/tcp/${wSpec.ip}/10250) 2>/dev/null && exit 0; sleep 0.1; done; exit 1`,
    ].join("\n");
    const r = await cp.exec(script, 60);
    if (r.code !== 0) throw new Error(show(r));
    return async () => {
      await cp.exec("kill $(cat /tmp/s_server.pid) 2>/dev/null; rm -f /tmp/s_server.pid; true");
    };
  }

  test("an hour later (no CSR left): a kubelet serving a cluster-signed certificate for its IP is success, with nothing approved", async () => {
    const stop = await serveKubeletCert("cluster");
    try {
      cp.clearCalls();
      const r = await cp.run(approveQuick(5));
      expect({ code: r.code, out: r.stderr }).toEqual({ code: 0, out: expect.stringMatching(/already serves a certificate signed by the cluster CA/) });
      expect(cp.calls("kubectl").filter((c) => c.includes("certificate approve"))).toEqual([]);
    } finally {
      await stop();
    }
  }, 60_000);

  test("a kubelet whose certificate another CA signed is not taken as approved: the script waits for a CSR and fails", async () => {
    const stop = await serveKubeletCert("other");
    try {
      const r = await cp.run(approveQuick(3));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no kubernetes\.io\/kubelet-serving request from system:node:k8s-worker within 3s/);
    } finally {
      await stop();
    }
  }, 60_000);

  test("no kubelet answering and no CSR: fails after the bound, saying what it waited for", async () => {
    const r = await cp.run(approveQuick(2));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/within 2s \(is the kubelet running with serverTLSBootstrap: true\?\)/);
  }, 60_000);

  /** kubectl on the control plane runs `action` (sh) for calls with the verb `verb`, the real one otherwise. */
  function shimKubectl(verb: string, action: string): void {
    const shim = ["#!/bin/sh", `case " $* " in *" ${verb} "*) ${action} ;; esac`, 'exec /usr/bin/kubectl "$@"'].join("\n");
    fs.writeFileSync(path.join(cp.root, "usr/local/sbin/kubectl"), `${shim}\n`, { mode: 0o755 });
  }
  const unshimKubectl = () => fs.rmSync(path.join(cp.root, "usr/local/sbin/kubectl"), { force: true });

  test("token: another worker's token step created the token between our list and our create; that is success", async () => {
    // The token exists (created by the other worker); our first `token list` ran just before that.
    fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} 23h\n`);
    const shim = [
      "#!/bin/sh",
      "# Hides the token from the first `token list`, as if it had been created right after it.",
      'if [ "$1 $2" = "token list" ] && [ ! -e /tmp/listed-once ]; then touch /tmp/listed-once; echo "TOKEN TTL EXPIRES USAGES DESCRIPTION"; exit 0; fi',
      'exec /usr/bin/kubeadm "$@"',
    ].join("\n");
    fs.writeFileSync(path.join(cp.root, "usr/local/sbin/kubeadm"), `${shim}\n`, { mode: 0o755 });
    try {
      cp.clearCalls();
      const r = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: expect.stringMatching(/bootstrap token abcdef: created meanwhile by another join \(valid/) });
      // Our create was refused (AlreadyExists), which is fine: the token is there and valid.
      expect(cp.calls("kubectl")).toContain("--request-timeout=20s create -f -");
      expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
    } finally {
      fs.rmSync(path.join(cp.root, "usr/local/sbin/kubeadm"), { force: true });
    }
  }, 60_000);

  test("init on a control plane that finished init but lost admin.conf refuses instead of resetting (etcd stays)", async () => {
    const moved = await cp.exec("mv /etc/kubernetes/admin.conf /tmp/admin.conf.saved && test -d /var/lib/etcd/member");
    expect(moved.code).toBe(0);
    try {
      cp.clearCalls();
      const r = await cp.run(initScript(spec, cpSpec), { stdin: initStdin(spec, cpSpec, TOKEN, [cpSpec.ip]) });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/finished kubeadm init before .* but \/etc\/kubernetes\/admin\.conf is missing; not resetting/);
      expect(cp.calls("kubeadm").filter((c) => c.startsWith("reset") || c.startsWith("init"))).toEqual([]);
      expect((await cp.exec("test -d /var/lib/etcd/member")).code).toBe(0);
    } finally {
      await cp.exec("mv /tmp/admin.conf.saved /etc/kubernetes/admin.conf");
    }
  }, 60_000);

  test("apt after a killed dpkg run: dpkg --configure -a finishes it first, then the install proceeds", async () => {
    const lib = (n: string) => fs.readFileSync(path.join(__dirname, "..", "scripts", "node", "lib", `${n}.sh`), "utf8");
    const script = [
      "#!/usr/bin/env bash",
      "SCRIPT_TAG='dpkg-recover test'",
      "LOG_FD='2'",
      "APT_LOCK_TIMEOUT='30'",
      lib("prelude").replace(/^#!.*\n/, ""),
      lib("apt").replace(/^#!.*\n/, ""),
      // What dpkg leaves when it is killed while writing its status: a journal entry in updates/.
      "mkdir -p /var/lib/dpkg/updates && : > /var/lib/dpkg/updates/0001",
      // apt refuses while dpkg is "interrupted" (apt-pkg/deb/debsystem.cc: pending updates/ entries).
      "apt-get check >/tmp/before.log 2>&1 && echo before-ok || { grep -q \"dpkg was interrupted\" /tmp/before.log && echo before-refused; }",
      "apt_install procps",
      "apt-get check >/dev/null 2>&1 && echo after-check-ok",
    ].join("\n");
    const r = await cp.run(`${script}\n`);
    expect({ code: r.code, err: r.stderr.slice(-2000) }).toEqual({ code: 0, err: expect.stringContaining("dpkg was interrupted by an earlier run: dpkg --configure -a") });
    expect(r.stdout).toContain("before-refused");
    expect(r.stdout.trim().split("\n").pop()).toBe("after-check-ok");
  }, 120_000);

  test("token: an expired token the cleaner removes while it is being extended is created again; a patch the API refuses fails", async () => {
    try {
      // The cleaner deletes the expired Secret just before our patch: NotFound, then missing, then created.
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} <invalid>\n`);
      shimKubectl("patch", ': > /sandbox-log/tokens; echo \'Error from server (NotFound): secrets "bootstrap-token-abcdef" not found\' >&2; exit 1');
      const removed = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expect({ code: removed.code, err: removed.stderr }).toEqual({ code: 0, err: expect.stringContaining("bootstrap token abcdef: was expired, created with ttl 24h") });
      expect(cp.read("/sandbox-log/tokens")).toMatch(/^abcdef\.0123456789abcdef 2[34]h\n$/);
      // The API refuses the patch and the token is still there, expired: an error, nothing deleted.
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} <invalid>\n`);
      shimKubectl("patch", 'echo "Error from server (Forbidden)" >&2; exit 1');
      const refused = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/FAILED \[token\] .*could not extend bootstrap token abcdef \(was expired, now expired\): kubectl patch secret failed/);
      expect(cp.read("/sandbox-log/tokens")).toBe(`${TOKEN} <invalid>\n`);
    } finally {
      unshimKubectl();
      fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), `${TOKEN} 23h\n`);
    }
  }, 60_000);

  test("token: a create that fails for another reason is still a failure", async () => {
    fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), "");
    shimKubectl("create", 'echo "The connection to the server 10.0.0.1:6443 was refused" >&2; exit 1');
    try {
      const r = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/FAILED \[token\] .*creating the bootstrap token Secret \(kubectl create\) failed and the token is missing/);
    } finally {
      unshimKubectl();
    }
  }, 60_000);

  test("a failed join whose token has no signature in cluster-info stops after one attempt, naming the token step to replace; the token is never printed", async () => {
    fs.writeFileSync(path.join(w.root, CLUSTER_INFO), clusterInfo(["zzzzzz"]));
    fs.writeFileSync(path.join(w.root, "tmp/join-fails"), "");
    w.clearCalls();
    const r = await join();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FAILED \[join k8s-worker\] kubeadm join: kubeadm join failed and the bootstrap token abcdef is not signed in the cluster's cluster-info: it expired or was deleted since kubeadm-k8s-worker-token ran .*replace that step: pulumi up --replace <URN of kubeadm-k8s-worker-token>/);
    // One attempt: a retry cannot bring the token back.
    expect(w.calls("kubeadm")).toEqual([expect.stringMatching(/^join --config \S+$/)]);
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN.split(".")[1]);
  }, 60_000);

  test("a failed join whose token is signed, or an endpoint that answers with something else, is retried as before (the token is not blamed)", async () => {
    fs.writeFileSync(path.join(w.root, "tmp/join-fails"), "");
    for (const served of [clusterInfo(["zzzzzz", "abcdef"]), undefined]) {
      // openssl s_server -WWW answers 200 with an error text for a file it does not have.
      if (served) fs.writeFileSync(path.join(w.root, CLUSTER_INFO), served);
      else fs.rmSync(path.join(w.root, CLUSTER_INFO), { force: true });
      w.clearCalls();
      const r = await join();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("kubeadm join failed; resetting and retrying once in 20s");
      expect(r.stderr).toMatch(/FAILED \[join k8s-worker\] kubeadm join: kubeadm join failed twice/);
      expect(r.stderr).not.toContain("is not signed");
      expect(w.calls("kubeadm").filter((c) => c.startsWith("join"))).toHaveLength(2);
    }
  }, 180_000);

  test("a join that succeeds does not ask cluster-info at all", async () => {
    fs.rmSync(path.join(w.root, "tmp/join-fails"), { force: true });
    fs.writeFileSync(path.join(w.root, CLUSTER_INFO), clusterInfo(["zzzzzz"]));
    w.clearCalls();
    const r = await join();
    expect({ code: r.code, err: r.stderr.slice(-3000) }).toEqual({ code: 0, err: expect.not.stringContaining("cluster-info") });
    expect(w.calls("kubeadm")).toEqual([expect.stringMatching(/^join --config \S+$/)]);
  }, 60_000);
});
