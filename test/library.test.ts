// KubeadmCluster as a library: the example program (two clusters plus a user's own objects) runs under
// mocks without collisions, the built package (tsconfig.build.json) loads from its dist/ and finds its
// node scripts, and a bad description is refused before anything is registered.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RecordedResource, engineUrn } from "./harness";

const ROOT = path.join(__dirname, "..");

async function runExample(): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry; the example registers on import
    const h = require("./harness") as typeof import("./harness");
    out = (await h.runMocked({ config: {}, stack: "dev" }, () => require(path.join(ROOT, "examples", "two-clusters", "index.ts")))).resources;
  });
  return out;
}

describe("examples/two-clusters under mocks", () => {
  let recs: RecordedResource[];
  beforeAll(async () => {
    recs = await runExample();
  });

  test("two cluster components, each with its own machines, nodes, provider and add-ons", () => {
    expect(recs.filter((r) => r.type === "kubeadm:index:Cluster").map((r) => r.name).sort()).toEqual(["blue", "green"]);
    for (const c of ["blue", "green"]) {
      expect(recs.filter((r) => r.parent === c).map((r) => r.name)).toEqual(
        expect.arrayContaining([`${c}-machines`, `${c}-node-control`, `${c}-node-worker-1`, `${c}-k8s`, `${c}-flannel`, `${c}-metrics-server`]),
      );
    }
  });

  test("no two resources share a URN, and VM names on the VirtualBox host differ", () => {
    const urns = recs.map((r) => engineUrn(recs, r));
    expect(new Set(urns).size).toBe(urns.length);
    const vmNames = recs.filter((r) => r.type === "command:local:Command").map((r) => (JSON.parse(r.inputs.stdin as string) as { vmName: string }).vmName);
    expect(vmNames.sort()).toEqual(["blue-node-control", "blue-node-worker-1", "green-node-control", "green-node-worker-1"]);
  });

  test("the two Kubernetes providers have distinct identities; add-ons and the user's objects use their own cluster's", () => {
    const providers = recs.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(new Set(providers.map((p) => String(p.inputs.clusterIdentifier))).size).toBe(2);
    for (const o of recs.filter((r) => r.custom && r.type.startsWith("kubernetes:"))) {
      const owner = o.name.startsWith("green-") ? "green-k8s" : "blue-k8s";
      expect({ name: o.name, provider: o.provider }).toEqual({ name: o.name, provider: owner });
    }
    expect(recs.find((r) => r.name === "team-a-settings")?.provider).toBe("blue-k8s");
  });

  test("a library cluster gets no v0.1 aliases (only index.ts adopts v0.1 stacks)", () => {
    expect(recs.filter((r) => r.aliases.length > 0).map((r) => r.name)).toEqual([]);
  });
});

describe("validation happens before anything is registered", () => {
  test("a bad description throws a ConfigError naming every problem, and registers nothing", async () => {
    let err: Error | undefined;
    let recs: RecordedResource[] = [];
    await jest.isolateModulesAsync(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry
      const h = require("./harness") as typeof import("./harness");
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- same registry as the harness
      const { KubeadmCluster } = require("../components") as typeof import("../components");
      recs = (
        await h.runMocked({ config: {} }, () => {
          try {
            new KubeadmCluster("bad", { provider: "existing", nodes: [{ name: "cp", role: "control-plane", ip: "10.0.0.300" }], kubernetes: { version: "1.27" } });
          } catch (e) {
            err = e as Error;
          }
        })
      ).resources;
    });
    expect(err?.name).toBe("ConfigError");
    expect(err?.message).toMatch(/nodes\[0\]\.ip = "10\.0\.0\.300"/);
    expect(err?.message).toMatch(/kubernetes\.version = "1\.27".*unsupported/);
    expect(err?.message).toMatch(/sshPrivateKey: required for provider "existing"/);
    expect(recs).toEqual([]);
  });

  test("two clusters with one clusterName in one program are refused (VM and cloud names would collide)", async () => {
    let err: Error | undefined;
    await jest.isolateModulesAsync(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry
      const h = require("./harness") as typeof import("./harness");
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- same registry as the harness
      const { KubeadmCluster } = require("../components") as typeof import("../components");
      await h.runMocked({ config: {} }, () => {
        const args = { provider: "virtualbox" as const, clusterName: "lab", nodeCount: { workers: 0 }, kubernetes: { version: "1.30" }, demo: { enabled: false }, virtualbox: { imagePath: "/img/u.ova" } };
        new KubeadmCluster("one", args);
        try {
          new KubeadmCluster("two", args);
        } catch (e) {
          err = e as Error;
        }
      });
    });
    expect(err?.message).toMatch(/clusterName "lab" is used by two clusters/);
  });
});

describe("the built package", () => {
  let pkg: string;
  beforeAll(() => {
    // The package as npm would install it: package.json, scripts/ and the built dist/ (node_modules linked).
    pkg = fs.mkdtempSync(path.join(os.tmpdir(), "kubeadm-pulumi-pkg-"));
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(pkg, "package.json"));
    fs.symlinkSync(path.join(ROOT, "scripts"), path.join(pkg, "scripts"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(pkg, "node_modules"));
    const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(ROOT, "tsconfig.build.json"), "--outDir", path.join(pkg, "dist")], {
      encoding: "utf8",
      timeout: 240_000,
    });
    if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`);
  }, 300_000);
  afterAll(() => fs.rmSync(pkg, { recursive: true, force: true }));

  test("main and types exist where package.json says, and the files list ships them and the node scripts", () => {
    const p = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string; types: string; files: string[]; exports: Record<string, unknown> };
    expect(fs.existsSync(path.join(pkg, p.main))).toBe(true);
    expect(fs.readFileSync(path.join(pkg, p.types), "utf8")).toMatch(/KubeadmCluster/);
    for (const f of [p.main, p.types, "scripts/node/prep.sh", "scripts/vm/vbox.js"]) {
      expect(p.files.some((prefix) => f.startsWith(prefix))).toBe(true);
    }
    expect(p.exports["."]).toEqual({ types: `./${p.types}`, default: `./${p.main}` });
  });

  test("the built JavaScript loads and finds the node scripts next to it", () => {
    const r = spawnSync(
      process.execPath,
      ["-e", "const l = require(process.argv[1]); const s = require(process.argv[2]); process.stdout.write(JSON.stringify({ cluster: typeof l.KubeadmCluster, scripts: s.SCRIPTS_DIR }));", path.join(pkg, "dist/components/index.js"), path.join(pkg, "dist/components/node/script.js")],
      { encoding: "utf8", cwd: os.tmpdir() },
    );
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ cluster: "function", scripts: path.join(pkg, "scripts") });
  });

  test("Pulumi runs index.ts, not the library entry (Pulumi.yaml main)", () => {
    // The Node.js language host takes Pulumi.yaml `main` before package.json exports/main
    // (@pulumi/pulumi cmd/run/run.js: `hasEntrypoint = argv._[0] !== "."`).
    expect(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).toMatch(/^main: index\.ts$/m);
  });
});
