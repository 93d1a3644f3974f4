// reset-node sends scripts/node/reset.sh (the file Pulumi runs on delete) with a ROLE/SSH_USER
// header (and the shared prelude inlined) over ssh, after a confirmation. The stand-in ssh never executes
// it here (no exec mode).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { runOps, Rule, REPO, Call } from "./ops/run";
import { stackRules } from "./ops/cluster";

const RESET = fs.readFileSync(path.join(REPO, "scripts", "node", "reset.sh"), "utf8");
const PRELUDE = fs.readFileSync(path.join(REPO, "scripts", "node", "lib", "prelude.sh"), "utf8");
const SSH_OK: Rule = { tool: "ssh", stdin: "node reset complete", out: "==> [reset] node reset complete\n" };
const sshCalls = (calls: Call[]) => calls.filter((c) => c.tool === "ssh");

test("without --yes it asks, and anything but \"yes\" changes nothing", async () => {
  for (const input of ["no\n", ""]) {
    const r = await runOps("reset-node", ["k8s-worker"], { rules: [...stackRules(), SSH_OK], input });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/This wipes Kubernetes from:\n  k8s-worker \(192\.168\.56\.20, worker\)/);
    expect(r.stderr).toContain("not confirmed; nothing was changed");
    expect(sshCalls(r.calls)).toEqual([]);
  }
});

test("after \"yes\", the worker gets scripts/node/reset.sh with ROLE=worker and the stack's SSH user", async () => {
  const r = await runOps("reset-node", ["k8s-worker"], { rules: [...stackRules(), SSH_OK], input: "yes\n" });
  expect(r.code).toBe(0);
  const [call] = sshCalls(r.calls);
  expect(call.host).toBe("192.168.56.20");
  const [shebang, role, user, ...rest] = call.stdin.split("\n");
  expect(shebang).toBe("#!/usr/bin/env bash");
  expect(role).toBe("ROLE=worker");
  expect(user).toBe("SSH_USER=ubuntu");
  // The body is the node lifecycle's reset script itself, not a copy of its steps, with the shared
  // prelude inlined where reset.sh sources it (a script read from stdin has no lib/ folder beside it).
  expect(rest.slice(0, 2)).toEqual(["SCRIPT_TAG=reset\\ k8s-worker", "LOG_FD=1"]);
  const body = rest.slice(2).join("\n");
  expect(body).not.toMatch(/^source /m);
  expect(body).toContain(PRELUDE.slice(PRELUDE.indexOf("set -euo pipefail")).trim());
  const resetBody = RESET.slice(RESET.indexOf("\n") + 1).split("\n").filter((l) => !/lib\/prelude\.sh/.test(l)).join("\n");
  expect(body.replace(PRELUDE.slice(PRELUDE.indexOf("set -euo pipefail")), "").replace(/\n+/g, "\n").trim()).toBe(resetBody.replace(/\n+/g, "\n").trim());
  expect(spawnSync("bash", ["-n"], { input: call.stdin }).status).toBe(0);
  expect(call.remote).toBe("sudo -n bash -s --");
  expect(r.stdout).toContain("node reset complete");
});

test("--yes skips the prompt; the control plane gets ROLE=control-plane", async () => {
  const r = await runOps("reset-node", ["--yes", "k8s-control"], { rules: [...stackRules(), SSH_OK] });
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain("Type \"yes\"");
  expect(sshCalls(r.calls)[0].stdin.split("\n")[1]).toBe("ROLE=control-plane");
});

test("with only --node and no cluster access the role must be given", async () => {
  const args = ["--no-stack", "--node", "k8s-worker=192.168.56.20", "--yes", "k8s-worker"];
  const refused = await runOps("reset-node", args, { rules: [SSH_OK] });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain("pass --role control-plane|worker");
  const ok = await runOps("reset-node", [...args, "--role", "worker", "--user", "zhennan"], { rules: [SSH_OK] });
  expect(ok.code).toBe(0);
  expect(sshCalls(ok.calls)[0].stdin.split("\n").slice(1, 3)).toEqual(["ROLE=worker", "SSH_USER=zhennan"]);
});

test("--delete-node drains and deletes the Node before the reset; a failed reset exits 1", async () => {
  const r = await runOps("reset-node", ["--yes", "--delete-node", "k8s-worker"], {
    rules: [...stackRules(),
      { tool: "kubectl", args: "drain k8s-worker --ignore-daemonsets", out: "node/k8s-worker drained\n" },
      { tool: "kubectl", args: "delete node k8s-worker", out: 'node "k8s-worker" deleted\n' },
      { tool: "ssh", stdin: "node reset complete", code: 124, err: "" }],
  });
  expect(r.code).toBe(1);
  expect(r.calls.filter((c) => c.tool !== "pulumi").map((c) => (c.tool === "ssh" ? "ssh" : c.args.slice(3, 5).join(" ")))).toEqual([
    "drain k8s-worker", "delete node", "ssh"]);
  expect(r.stderr).toMatch(/reset of k8s-worker failed \(exit 124\)/);
});

test("an unknown node name is refused with the known ones", async () => {
  const r = await runOps("reset-node", ["--yes", "k8s-wrker"], { rules: [...stackRules(), SSH_OK] });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("unknown node 'k8s-wrker' (known: k8s-control k8s-worker)");
});
