// shellcheck (the Debian package) on every script under scripts/ (all folders) and on the exact text
// nodes receive (header + script) for the dev and aliyun fixtures, so quoting in generated headers is
// checked too. Missing shellcheck is a failure, not a skip.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { devSpec, aliyunSpec } from "./fixtures";
import { allNodeScripts } from "../components/node/scripts";
import { upgradeScripts, versionCheckScript } from "../components/node/upgrade-scripts";
import { initScript, joinScript, resetScript, undoPrepScript, uploadCertsScript } from "../components/node/scripts";
import { vipScript } from "../components/node/ha-scripts";
import { ClusterSpec, NodeSpec } from "../components/spec";

const ROOT = path.join(__dirname, "..", "scripts");

function shellFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...shellFiles(p));
    else if (e.name.endsWith(".sh") || fs.readFileSync(p, "utf8").startsWith("#!/usr/bin/env bash")) out.push(p);
  }
  return out.sort();
}

function shellcheck(files: string[], cwd: string, extra: string[] = []): { status: number | null; output: string } {
  const r = spawnSync("shellcheck", ["-x", "--format=gcc", ...extra, ...files], { cwd, encoding: "utf8" });
  if (r.error) throw new Error(`shellcheck is not installed (${r.error.message}): apt-get install shellcheck`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test("shellcheck is installed", () => {
  const r = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
  expect({ error: r.error ? `missing: apt-get install shellcheck (${r.error.message})` : undefined, status: r.status }).toEqual({ error: undefined, status: 0 });
});

test("every script under scripts/ passes shellcheck", () => {
  const files = shellFiles(ROOT);
  expect(files.some((f) => f.endsWith(path.join("node", "prep.sh")))).toBe(true);
  // Run per file from its own folder, so `source` directives resolve like they do for a reader.
  const failures = files
    .map((f) => ({ f: path.relative(ROOT, f), r: shellcheck([path.basename(f)], path.dirname(f)) }))
    .filter((x) => x.r.status !== 0)
    .map((x) => `${x.f}:\n${x.r.output}`);
  expect(failures).toEqual([]);
});

/** Three control planes behind keepalived/haproxy (docs/ha.md): the HA scripts allNodeScripts leaves out. */
function haScripts(): Record<string, string> {
  const b = devSpec();
  const cps: NodeSpec[] = [1, 2, 3].map((i) => ({ name: `cp${i}`, role: "control-plane", ip: `192.168.56.1${i}` }));
  const spec: ClusterSpec = { ...b, nodes: [...cps, ...b.nodes.filter((n) => n.role === "worker")], kubernetes: { ...b.kubernetes, nic: undefined, controlPlaneEndpoint: { address: "192.168.56.100", port: 8443, holder: "keepalived-haproxy", vrrpRouterId: 100 } } };
  return {
    "cp1-vip.sh": vipScript(spec, cps[0]),
    "cp2-vip.sh": vipScript(spec, cps[1]),
    "cp1-init.sh": initScript(spec, cps[0]),
    "cp1-upload-certs.sh": uploadCertsScript(),
    "cp2-join.sh": joinScript(spec, cps[1], { tokenStep: "cp2-token", uploadStep: "cp2-upload-certs" }),
    "cp2-reset.sh": resetScript(spec, cps[1]),
    "cp2-undo-prep.sh": undoPrepScript(cps[1], { removePackages: true }),
    "cp1-version-check.sh": versionCheckScript(spec, cps[0], { firstRun: true, endpoint: "192.168.56.100:8443", controlPlanes: cps.map((c) => c.name) }),
  };
}

test.each([
  ["dev", devSpec()],
  ["aliyun", aliyunSpec()],
  ["ha", devSpec()],
])("the composed node scripts for the %s fixture pass shellcheck", (label, spec) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-scripts-"));
  try {
    const scripts = label === "ha" ? haScripts() : { ...allNodeScripts(spec), ...upgradeScripts(spec) };
    expect(Object.keys(scripts).length).toBeGreaterThanOrEqual(8);
    for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, name), text);
    // Every rule applies: headers that carry a literal script (init/join embed the reset script) mark
    // that one line for SC2016 themselves (components/script.ts renderHeader).
    const r = shellcheck(Object.keys(scripts), dir, []);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
