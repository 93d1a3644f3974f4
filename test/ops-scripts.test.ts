// Every operator script: shellcheck-clean, answers --help, rejects unknown flags with exit 2, and
// the node-facts probe prints every fact verify judges.
import * as fs from "fs";
import * as path from "path";
import { execFileSync, spawnSync } from "child_process";
import { OPS, FIXTURES } from "./ops/run";

const TOOLS = ["verify", "trace-pod-create", "hpa-load", "reset-node", "service-rules", "pod-network"];
const REMOTE = fs.readdirSync(path.join(OPS, "remote")).map((f) => path.join(OPS, "remote", f));
const NODEBIN = fs.readdirSync(path.join(FIXTURES, "nodebin")).map((f) => path.join(FIXTURES, "nodebin", f));

test("shellcheck -x finds nothing in scripts/ops and the node stand-ins", () => {
  const files = [...TOOLS, "strace-summary", "lib.sh"].map((f) => path.join(OPS, f)).concat(REMOTE, NODEBIN);
  const r = spawnSync("shellcheck", ["-x", "-s", "bash", ...files], { encoding: "utf8", cwd: OPS });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
});

test("every tool is executable with the shebang and strict mode the project requires", () => {
  for (const f of [...TOOLS, "strace-summary"]) {
    const p = path.join(OPS, f);
    expect(fs.statSync(p).mode & 0o111).not.toBe(0);
    const text = fs.readFileSync(p, "utf8");
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toMatch(/^set -E?euo pipefail$/m);
  }
});

test.each(TOOLS)("%s --help prints usage and the target flags; an unknown flag exits 2", (tool) => {
  const help = spawnSync("bash", [path.join(OPS, tool), "--help"], { encoding: "utf8" });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(new RegExp(`^Usage: ${tool} `));
  expect(help.stdout).toContain("--kubeconfig FILE");
  expect(help.stdout).toContain("--node NAME=HOST");
  const bad = spawnSync("bash", [path.join(OPS, tool), "--frobnicate"], { encoding: "utf8" });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("--frobnicate");
});

test("node-facts prints each fact verify reads, in key=value form", () => {
  const out = execFileSync("bash", [path.join(OPS, "remote", "node-facts.sh")], { encoding: "utf8" });
  const facts = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2)));
  expect(Object.keys(facts).sort()).toEqual(["br_netfilter", "bridge_nf_call_iptables", "containerd", "ip_forward", "kubelet", "swap_devices"]);
  expect(facts.br_netfilter).toMatch(/^(module|builtin|missing)$/);
  expect(facts.ip_forward).toMatch(/^(0|1|missing)$/);
  expect(facts.swap_devices).toMatch(/^\d+$/);
});
