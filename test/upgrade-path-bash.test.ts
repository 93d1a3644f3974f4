// scripts/node/lib/versions.sh is the bash twin of components/upgrade-path.ts checkUpgradePath: the node
// scripts apply it to the versions they read on the node (prep, upgrade-check, upgrade-control-plane).
// This test runs the bash function (plain bash, no sandbox) over a matrix of (installed, target, where)
// and asserts the same verdict and the same message as the TypeScript function: it keeps the two in sync.
import { spawnSync } from "child_process";
import * as path from "path";
import { checkUpgradePath, UpgradeCheck } from "../components/upgrade-path";
import { parseKubernetesVersion } from "../components/versions";
import { composeScript } from "../components/node/script";

const LIB = path.join(__dirname, "..", "scripts", "node", "lib", "versions.sh");

/** Runs check_upgrade_path for every case in one bash; returns "rc\tkind\trefusal" per case. */
function bashVerdicts(cases: readonly (readonly [string, string, string])[]): UpgradeCheck[] {
  const body = cases
    .map(([a, b, c]) => {
      const q = (s: string) => `'${s.replace(/'/g, `'"'"'`)}'`;
      return `rc=0; check_upgrade_path ${q(a)} ${q(b)} ${q(c)} || rc=$?; printf '%s\\t%s\\t%s\\n' "$rc" "$UPGRADE_KIND" "$UPGRADE_REFUSAL"`;
    })
    .join("\n");
  const r = spawnSync("bash", ["-c", `set -euo pipefail\nsource ${LIB}\n${body}`], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  if (r.status !== 0) throw new Error(`bash failed: ${r.stderr}`);
  return r.stdout
    .trimEnd()
    .split("\n")
    .map((line) => {
      const [rc, kind, message] = line.split("\t");
      if (rc === "0") return { ok: true, kind: kind as "none" | "patch" | "minor" };
      if (rc === "1") return { ok: false, message };
      throw new Error(`unexpected rc ${rc}: ${message}`);
    });
}

const INSTALLED = ["1.28.9", "v1.28.9", "1.28.9-1.1", "1.29.0", "1.30.12", "1.30.12-1.1", "v1.30.12", "1.30.13", "1.31.0", "1.31.6-1.1", "1.31.7", "1.32.3", "1.35.1", "1.30.012"];
const TARGETS = ["1.28", "1.28.9", "1.28.10", "1.29", "1.29.15", "1.30", "1.30.0", "1.30.11", "1.30.12", "1.30.13", "1.31", "1.31.6", "1.31.7", "1.32.3", "1.33", "1.35.0", "v1.31.6"];
const WHERES = ["the cluster", "node k8s-worker", "the control plane k8s-master"];

describe("lib/versions.sh check_upgrade_path agrees with components/upgrade-path.ts checkUpgradePath", () => {
  const cases: [string, string, string][] = [];
  INSTALLED.forEach((a, i) => TARGETS.forEach((b, j) => cases.push([a, b, WHERES[(i + j) % WHERES.length]])));

  test(`the same verdict and message for all ${INSTALLED.length * TARGETS.length} (installed, target) pairs`, () => {
    const got = bashVerdicts(cases);
    const want = cases.map(([a, b, c]) => checkUpgradePath(a, parseKubernetesVersion(b)!, c));
    const diffs = cases.map((c, i) => ({ c, want: want[i], got: got[i] })).filter((x) => JSON.stringify(x.want) !== JSON.stringify(x.got));
    expect(diffs).toEqual([]);
    // The matrix covers every verdict and both refusals.
    const kinds = new Set(want.map((w) => (w.ok ? w.kind : /downgrade/.test(w.message) ? "downgrade" : "skip")));
    expect([...kinds].sort()).toEqual(["downgrade", "minor", "none", "patch", "skip"]);
  });

  test("upgrade_path prints the verdict, or the refusal on stderr with exit 1; an unreadable version is exit 2", () => {
    const run = (args: string) => spawnSync("bash", ["-c", `source ${LIB}; upgrade_path ${args}`], { encoding: "utf8" });
    expect(run("1.30.12 1.31.6 'the cluster'").stdout).toBe("minor\n");
    expect(run("1.30.12-1.1 1.30.13 'node x'").stdout).toBe("patch\n");
    const skip = run("1.28.9 1.30.12 'the cluster'");
    expect(skip.status).toBe(1);
    expect(skip.stdout).toBe("");
    expect(skip.stderr.trim()).toBe((checkUpgradePath("1.28.9", parseKubernetesVersion("1.30.12")!, "the cluster") as { message: string }).message);
    const bad = run("1.30 1.31.6 'the cluster'");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/internal: installed version "1.30" is not x.y.z/);
    expect(run("1.30.1 1.31.x 'the cluster'").status).toBe(2);
  });

  test("the library is inlined by composeScript like lib/apt.sh", () => {
    const text = composeScript("node/upgrade-check.sh", { NODE_NAME: "n", K8S_VERSION: "1.31.6", K8S_MINOR: "1.31", API_WAIT: 1 }, { tag: "t", logFd: 2 });
    expect(text).toContain("# --- library (scripts/node/lib/versions.sh) ---");
    expect(text).toContain("check_upgrade_path() {");
    expect(text).not.toMatch(/^source .*lib\/versions\.sh/m);
  });
});
