// The offline render (`npm run render`) on the real stacks, run as a separate process exactly as a
// user runs it: the files exist, every script passes shellcheck, every manifest passes the Kubernetes
// schema, plan.json lists what the program registers, two renders are byte-identical, no secret value
// reaches a file, and bad config fails with the key named and leaves nothing behind.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { defaultMockState, mockCommandStdout, runMocked, PROJECT } from "./harness";
import { validateObject, SchemaObject } from "./k8s-schema";

const ROOT = path.resolve(__dirname, "..");
const TS_NODE = require.resolve("ts-node/dist/bin.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function renderProcess(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = childProcess.spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(ROOT, "tools", "render.ts"), ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

interface PlanJson {
  stack: string;
  resources: { type: string; name: string; parent: string; dependsOn: string[]; inputs: Record<string, unknown>; secretInputs: string[] }[];
  outputs: Record<string, unknown>;
  secretOutputs: string[];
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-test-"));
const out = (name: string): string => path.join(tmp, name);
const runs: Record<string, Run> = {};

beforeAll(async () => {
  const broken = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace(/version: "1\.30\.12"/, 'version: "1.99"');
  expect(broken).toContain('version: "1.99"'); // the edit below must really break something
  fs.writeFileSync(out("Pulumi.broken.yaml"), broken);
  const [dev, dev2, aliyun, ha, bad, missing] = await Promise.all([
    renderProcess(["--stack", "dev", "--out", out("dev")]),
    renderProcess(["--stack", "dev", "--out", out("dev-again")]),
    renderProcess(["--stack", "aliyun", "--out", out("aliyun")]),
    renderProcess(["--stack", "ha", "--out", out("ha")]),
    renderProcess(["--stack", "broken", "--stack-file", out("Pulumi.broken.yaml"), "--out", out("bad/broken")]),
    renderProcess(["--stack", "nosuchstack", "--out", out("missing/x")]),
  ]);
  Object.assign(runs, { dev, dev2, aliyun, ha, bad, missing });
}, 180000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NODE_COUNT: Record<string, number> = { dev: 2, aliyun: 2, ha: 5 };

describe.each(["dev", "aliyun", "ha"])("render of stack %s", (stack) => {
  const dir = (): string => out(stack);
  const plan = (): PlanJson => JSON.parse(fs.readFileSync(path.join(dir(), "plan.json"), "utf8")) as PlanJson;

  it("succeeds and prints node count, resource count, the critical path and where the files are", () => {
    const r = runs[stack];
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`${NODE_COUNT[stack]} nodes, \\d+ resources`));
    expect(r.stdout).toMatch(/critical path: \d+ steps: .*-prep -> .*-init -> .*-join/);
    expect(r.stdout).toContain(dir());
  });

  it("writes RUNBOOK.md, graph.mmd, plan.json, one manifest per add-on and scripts for every node", () => {
    const files = listFiles(dir());
    for (const f of ["RUNBOOK.md", "graph.mmd", "plan.json", "manifests/flannel.yaml", "manifests/metrics-server.yaml", "manifests/demo.yaml"]) expect(files).toContain(f);
    const nodes = plan().outputs.nodes as { name: string }[];
    expect(nodes.length).toBe(NODE_COUNT[stack]);
    for (const n of nodes) {
      const scripts = files.filter((f) => f.startsWith(`nodes/${n.name}/`) && /^nodes\/[^/]+\/\d\d-[a-z0-9-]+(\.local)?\.sh$/.test(f));
      expect(scripts.some((f) => f.endsWith("-prep.sh"))).toBe(true);
      // Numbered in execution order: prep before init/join on the same node.
      const idx = (step: string): number => scripts.findIndex((f) => f.endsWith(`-${step}.sh`));
      const second = scripts.some((f) => f.endsWith("-init.sh")) ? "init" : "join";
      expect(idx("prep")).toBeLessThan(idx(second));
    }
    const runbook = fs.readFileSync(path.join(dir(), "RUNBOOK.md"), "utf8");
    for (const n of nodes) expect(runbook).toContain(`## Node \`${n.name}\``);
    expect(fs.readFileSync(path.join(dir(), "graph.mmd"), "utf8")).toMatch(/^flowchart LR\n[\s\S]*subgraph [\s\S]*-->/);
  });

  it("every rendered script passes shellcheck", () => {
    const which = childProcess.spawnSync("shellcheck", ["--version"]);
    expect(which.error).toBeUndefined(); // shellcheck is required (apt-get install shellcheck)
    const scripts = listFiles(dir()).filter((f) => f.endsWith(".sh"));
    expect(scripts.length).toBeGreaterThan(4);
    const r = childProcess.spawnSync("shellcheck", ["-x", ...scripts], { cwd: dir(), encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("every manifest passes the Kubernetes schema", () => {
    let n = 0;
    for (const f of listFiles(dir()).filter((x) => x.startsWith("manifests/"))) {
      for (const doc of yaml.loadAll(fs.readFileSync(path.join(dir(), f), "utf8"))) {
        if (!doc) continue;
        n++;
        expect(() => validateObject(doc as SchemaObject)).not.toThrow();
      }
    }
    const k8sResources = plan().resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:yaml"));
    expect(n).toBe(k8sResources.length);
  });

  it("never writes a secret value: generated key, join token, kubeconfig", () => {
    const p = plan();
    const secrets: string[] = [];
    for (const r of p.resources) {
      if (r.type === "tls:index/privateKey:PrivateKey") {
        const s = defaultMockState({ type: r.type, name: r.name, inputs: {} } as never) as Record<string, string>;
        secrets.push(s.privateKeyOpenssh, s.privateKeyOpenssh.split("\n")[1]);
      }
      if (r.type === "random:index/randomBytes:RandomBytes") {
        // The HA certificate key.
        secrets.push(String((defaultMockState({ type: r.type, name: r.name, inputs: { length: r.inputs.length } } as never) as Record<string, unknown>).hex));
      }
      if (r.type === "random:index/randomPassword:RandomPassword") {
        const pw = String((defaultMockState({ type: r.type, name: r.name, inputs: { length: r.inputs.length } } as never) as Record<string, unknown>).result);
        secrets.push(pw);
        for (const id of p.resources.filter((x) => x.type === "random:index/randomString:RandomString")) {
          const idv = String((defaultMockState({ type: id.type, name: id.name, inputs: { length: id.inputs.length } } as never) as Record<string, unknown>).result);
          secrets.push(`${idv}.${pw}`);
        }
      }
    }
    const cp = (p.outputs.nodes as { name: string; role: string }[]).find((n) => n.role === "control-plane")?.name;
    secrets.push(mockCommandStdout(`${cp}-kubeconfig`));
    expect(secrets.filter((s) => s && s.length >= 8).length).toBeGreaterThanOrEqual(3);
    for (const f of listFiles(dir())) {
      const text = fs.readFileSync(path.join(dir(), f), "utf8");
      for (const s of secrets) expect({ f, leaked: text.includes(s) }).toEqual({ f, leaked: false });
    }
    expect(p.secretOutputs).toContain("kubeconfig");
    expect(p.outputs.kubeconfig).toBe("[secret]");
    // The renderer also replaces and reports any secret it finds in a non-secret place (a program bug).
    expect(runs[stack].stderr).not.toMatch(/secret/);
  });
});

describe("the HA stack's RUNBOOK shows the HA path", () => {
  it("keepalived/haproxy before init and joins; each further control plane: certificates uploaded on the first, then its control-plane join", () => {
    const rb = fs.readFileSync(path.join(out("ha"), "RUNBOOK.md"), "utf8");
    const section = (node: string): string => {
      const start = rb.indexOf(`## Node \`${node}\``);
      const next = rb.indexOf("\n## ", start + 1);
      return rb.slice(start, next < 0 ? undefined : next);
    };
    const cp1 = section("k8s-cp-1");
    expect(cp1.indexOf("`vip`")).toBeGreaterThan(0);
    expect(cp1.indexOf("`vip`")).toBeLessThan(cp1.indexOf("`init`"));
    expect(cp1).toContain("UPLOAD_CERTS='true'");
    for (const n of ["k8s-cp-2", "k8s-cp-3"]) {
      const s = section(n);
      expect(s).toMatch(/`upload-certs` \(runs on `k8s-cp-1`\)/);
      expect(s).toContain("CONTROL_PLANE='true'");
      expect(s).toContain("<secret: kubeadm InitConfiguration with the certificate key>");
    }
    expect(section("k8s-worker-1")).not.toMatch(/### \d+\. `upload-certs`/);
  });
});

describe("render determinism and the plan", () => {
  it("rendering the same stack twice gives byte-identical files", () => {
    const a = listFiles(out("dev"));
    expect(listFiles(out("dev-again"))).toEqual(a);
    for (const f of a) expect({ f, same: fs.readFileSync(path.join(out("dev"), f)).equals(fs.readFileSync(path.join(out("dev-again"), f))) }).toEqual({ f, same: true });
  });

  it("plan.json lists exactly the resources the program registers under mocks", async () => {
    const plan = JSON.parse(fs.readFileSync(path.join(out("dev"), "plan.json"), "utf8")) as PlanJson;
    // An independent run of the same program with the same stack config, straight through the harness.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- config.ts is loaded inside the isolated registry
    const cfg = require("../components/config") as { pulumiConfigMapFromStackFile(p: string): Record<string, string> };
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(cfg.pulumiConfigMapFromStackFile(path.join(ROOT, "Pulumi.dev.yaml")))) config[k.replace(`${PROJECT}:`, "")] = v;
    let names: string[] = [];
    await new Promise<void>((resolve, reject) => {
      jest.isolateModules(() => {
        runMocked({ config, stack: "dev" }, () => require("../index"))
          .then((r) => { names = r.resources.map((x) => `${x.type} ${x.name}`).sort(); resolve(); }, reject);
      });
    });
    expect(names.length).toBeGreaterThan(20);
    expect(plan.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(names);
    // No secret value in plan inputs: secret inputs are replaced whole.
    for (const r of plan.resources) for (const k of r.secretInputs) expect(r.inputs[k]).toBe("[secret]");
  }, 120000);
});

describe("bad configuration", () => {
  it("fails like `pulumi up` would, naming the key, and writes nothing", () => {
    const r = runs.bad;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("kubeadm-cluster:kubernetes.version");
    expect(r.stderr).toContain("Invalid stack configuration");
    expect(r.stdout).toBe("");
    // Neither the target nor a temp directory beside it.
    expect(fs.existsSync(out("bad")) ? fs.readdirSync(out("bad")) : []).toEqual([]);
  });

  it("a missing stack file is an error, not an empty render", () => {
    expect(runs.missing.code).toBe(1);
    expect(runs.missing.stderr).toMatch(/Pulumi\.nosuchstack\.yaml not found/);
    expect(fs.existsSync(out("missing"))).toBe(false);
  });
});
