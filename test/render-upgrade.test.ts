// `npm run render -- --upgrade-from <version>` (issue 16), run as a user runs it: the dev stack edited to
// 1.31.6, rendered as an upgrade from 1.30.12, writes the upgrade scripts in the order `pulumi up` runs
// them and a RUNBOOK section; a skipped minor or a downgrade is refused with the message `pulumi up`
// gives, and nothing is written; no secret reaches a file; every upgrade script passes shellcheck.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const TS_NODE = require.resolve("ts-node/dist/bin.js");

function render(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = childProcess.spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(ROOT, "tools", "render.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-upgrade-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Pulumi.dev.yaml with kubernetes.version set to `v` (the user's edit). */
function stackAt(v: string): string {
  const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
  if (!/version: "1\.30\.12"/.test(text)) throw new Error("Pulumi.dev.yaml no longer pins 1.30.12; update this test");
  const f = path.join(tmp, `Pulumi.dev-${v}.yaml`);
  fs.writeFileSync(f, text.replace(/version: "1\.30\.12"/, `version: "${v}"`));
  return f;
}

describe("dev stack edited to 1.31.6, rendered as an upgrade from 1.30.12", () => {
  const out = path.join(tmp, "up");
  let run: ReturnType<typeof render>;
  let files: string[];
  beforeAll(() => {
    run = render(["--stack", "dev", "--stack-file", stackAt("1.31.6"), "--upgrade-from", "1.30.12", "--out", out]);
    files = fs.existsSync(path.join(out, "upgrade")) ? fs.readdirSync(path.join(out, "upgrade")).sort() : [];
  }, 120_000);

  test("exits 0, names the upgrade scripts, warns about no secret", () => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^upgrade: \d+ scripts in upgrade\//m);
  });

  test("the scripts, in the order pulumi up runs them: check, prep, control plane, then the worker's drain, upgrade, uncordon", () => {
    const pos = (step: string) => {
      const i = files.findIndex((f) => f.endsWith(`-${step}.sh`));
      if (i < 0) throw new Error(`no ${step} in ${files.join(", ")}`);
      return Number(files[i].slice(0, 2));
    };
    expect(pos("k8s-control-version-check")).toBe(1);
    expect(pos("k8s-control-prep")).toBeGreaterThan(pos("k8s-control-version-check"));
    expect(pos("k8s-worker-prep")).toBe(pos("k8s-control-prep"));
    expect(pos("k8s-control-upgrade")).toBeGreaterThan(pos("k8s-control-prep"));
    expect(pos("k8s-worker-upgrade-drain")).toBeGreaterThan(pos("k8s-control-upgrade"));
    expect(pos("k8s-worker-upgrade")).toBeGreaterThan(pos("k8s-worker-upgrade-drain"));
    expect(pos("k8s-worker-upgrade-uncordon")).toBeGreaterThan(pos("k8s-worker-upgrade"));
    // Nothing that resets or re-creates a node is part of a version edit.
    expect(files.filter((f) => /reset|drain-node|undo/.test(f))).toEqual([]);
  });

  test("each script says where it runs and what the engine does", () => {
    const drain = fs.readFileSync(path.join(out, "upgrade", files.find((f) => f.endsWith("-k8s-worker-upgrade-drain.sh")) as string), "utf8");
    expect(drain).toMatch(/^# Upgrade 1\.30\.12 -> 1\.31\.6, wave \d+: update of kubeadm-k8s-worker-upgrade-drain runs its update script\./m);
    expect(drain).toMatch(/on k8s-control \(for k8s-worker\) over SSH/);
  });

  test("RUNBOOK.md ends with the upgrade section: phases, what follows the version, the ordered table", () => {
    const rb = fs.readFileSync(path.join(out, "RUNBOOK.md"), "utf8");
    const section = rb.slice(rb.indexOf("## Upgrade: kubernetes.version 1.30.12 -> 1.31.6 (minor)"));
    expect(section.length).toBeGreaterThan(100);
    expect(section).toContain("| kubeadm config API (configs written for later joins) | kubeadm.k8s.io/v1beta3 | kubeadm.k8s.io/v1beta4 |");
    expect(section).toContain("| containerd sandbox (pause) image tag | 3.9 | 3.10 |");
    expect(section).toMatch(/\| \d+ \| Deployment `kubeadm-metrics-server-deploy-metrics-server` \| API server \| update/);
    for (const f of files) expect(section).toContain(`upgrade/${f}`);
  });

  test("every upgrade script passes shellcheck", () => {
    const r = childProcess.spawnSync("shellcheck", ["-s", "bash", ...files.map((f) => path.join(out, "upgrade", f))], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});

test.each([
  ["1.29.4", "skips 1.30"],
  ["1.32.1", "cannot downgrade"],
])("--upgrade-from %s to 1.31.6 is refused with the rule's message, and nothing is written", (from, words) => {
  const out = path.join(tmp, `refused-${from}`);
  const r = render(["--stack", "dev", "--stack-file", stackAt("1.31.6"), "--upgrade-from", from, "--out", out]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(words);
  expect(fs.existsSync(out)).toBe(false);
}, 60_000);
