// Steps that any later `pulumi up` may run again, long after the first one (an input change re-runs a
// command's create: pulumi-command remote/commandController.go Update), must succeed then too:
//   - approve-serving-cert an hour later: the controller-manager has deleted the approved CSR
//     (approvedExpiration = 1 h), so the script must recognise a kubelet that already serves a
//     certificate signed by the cluster CA, and still refuse one that does not;
//   - token, run by two workers at once: the second `kubeadm token create <same token>` fails with
//     "already exists", which is success when the token is there and valid;
//   - init again on a control plane that lost admin.conf: refused, never a reset (etcd stays);
//   - apt after a run killed inside dpkg: the interrupted dpkg is finished first (real apt refuses otherwise).
// Real bash/openssl in a Debian root; the kubelet's TLS endpoint is a real `openssl s_server` on the
// node IP inside the node's network namespace.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, controlPlaneNode, workerNodes } from "../components/spec";
import { approveServingCertScript, initScript, initStdin, prepScript, tokenScript, tokenStdin } from "../components/node/scripts";
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

d("re-running steps later: approve-serving-cert and token", () => {
  let base: BaseCache;
  let repos: Repos;
  let work: string;
  let cp: SandboxNode;

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
  }, 240_000);

  afterAll(async () => {
    await cp?.destroy();
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
      expect(cp.calls("kubeadm")).toContain(`token create ${TOKEN} --ttl 24h`);
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

  test("token: a create that fails for another reason is still a failure", async () => {
    fs.writeFileSync(path.join(cp.root, "sandbox-log/tokens"), "");
    const shim = ["#!/bin/sh", 'if [ "$1 $2" = "token create" ]; then echo "error: connection refused" >&2; exit 1; fi', 'exec /usr/bin/kubeadm "$@"'].join("\n");
    fs.writeFileSync(path.join(cp.root, "usr/local/sbin/kubeadm"), `${shim}\n`, { mode: 0o755 });
    try {
      const r = await cp.run(tokenScript(spec), { stdin: tokenStdin(TOKEN) });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/FAILED \[token\] .*kubeadm token create failed and the token is missing/);
    } finally {
      fs.rmSync(path.join(cp.root, "usr/local/sbin/kubeadm"), { force: true });
    }
  }, 60_000);
});
