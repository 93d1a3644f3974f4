// `npm run bench [-- --sizes 1,10,50,200] [--out bench/results.json]`: measures the render path (the real
// program under the Pulumi mock runtime, then the renderer's formatting) for clusters of existing hosts
// with 1..200 workers, each size in its own child process so peak memory is per size, and prints one
// table: wall time, peak RSS, resources, the critical path in remote steps, the estimated `pulumi up`
// duration (bench-model.ts) sequential vs graph, and how many resources' inputs differ between two
// runs of the same stack (must be 0). Timings are printed as measured; nothing asserts a time.
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PLACEHOLDER_SSH_KEY, REPO_ROOT, StackConfig, renderFiles, runProgram } from "./render";
import { isCommand, sortKeysDeep } from "./render-lib/model";
import { CLOUD_DURATIONS, Estimate, KIND_DURATIONS, SSH_OVERHEAD, STEP_DURATIONS, estimate } from "./bench-model";

const RESULT_MARK = "BENCH-RESULT ";
export const DEFAULT_SIZES = [1, 10, 50, 200];

/** A stack of existing hosts with `workers` workers, generated in memory (no stack file). */
export function benchConfig(workers: number): StackConfig {
  return {
    substitutions: [],
    config: {
      provider: "existing",
      // ipStep 1 keeps 200 workers inside one /24 after firstIp.
      nodeCount: JSON.stringify({ workers, firstIp: "10.10.0.10", ipStep: 1 }),
      kubernetes: JSON.stringify({ version: "1.30.12" }),
      sshPrivateKey: PLACEHOLDER_SSH_KEY,
    },
    secretKeys: ["sshPrivateKey"],
    injected: [{ value: PLACEHOLDER_SSH_KEY, what: "placeholder sshPrivateKey" }],
  };
}

export interface SizeResult {
  readonly workers: number;
  readonly nodes: number;
  readonly resources: number;
  readonly commands: number;
  /** Loading (transpiling) the program's modules, before the clock for programMs starts; the same for every size. */
  readonly loadMs: number;
  /** Program under mocks: every registration, outputs resolved (modules already loaded). */
  readonly programMs: number;
  /** Formatting all files in memory (RUNBOOK, scripts, manifests, graph, plan). */
  readonly renderMs: number;
  /** Peak resident memory of the child process (VmHWM), MiB. */
  readonly peakRssMiB: number;
  readonly criticalPath: readonly string[];
  readonly estimate: Estimate;
  /** `type name` -> sha256 of the inputs (for the re-run diff). */
  readonly inputDigests: Readonly<Record<string, string>>;
}

function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current RSS (a lower bound of the peak)
  }
  return process.memoryUsage().rss / 1024 / 1024;
}

/** One size, in this process (the child). */
export async function measure(workers: number): Promise<SizeResult> {
  const tLoad = performance.now();
  // Load the program's modules first (ts-node transpiles them), so programMs measures the run itself.
  for (const m of ["components/config", "components/cluster/kubeadm-cluster"]) require(path.join(REPO_ROOT, m)); // eslint-disable-line @typescript-eslint/no-require-imports -- timing the load on purpose
  const t0 = performance.now();
  const model = await runProgram("bench", benchConfig(workers));
  const t1 = performance.now();
  const rendered = renderFiles(model);
  const t2 = performance.now();
  const inputDigests: Record<string, string> = {};
  for (const r of model.resources) {
    inputDigests[`${r.type} ${r.name}`] = crypto.createHash("sha256").update(JSON.stringify(sortKeysDeep(r.inputs))).digest("hex");
  }
  return {
    workers,
    nodes: model.nodes.length,
    resources: model.resources.length,
    commands: model.resources.filter(isCommand).length,
    loadMs: t0 - tLoad,
    programMs: t1 - t0,
    renderMs: t2 - t1,
    peakRssMiB: peakRssMiB(),
    criticalPath: rendered.critical.path,
    estimate: estimate(model.resources, model.nodes.map((n) => n.name)),
    inputDigests,
  };
}

/** Runs `measure(workers)` in a fresh Node process (ts-node, like `npm run bench`). */
export function measureInChild(workers: number): Promise<SizeResult> {
  return new Promise((resolve, reject) => {
    const tsNode = require.resolve("ts-node/dist/bin.js");
    const child = childProcess.spawn(process.execPath, [tsNode, "--transpile-only", path.join(__dirname, "bench.ts"), "--child", String(workers)], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) reject(new Error(`bench child for ${workers} workers failed (exit ${code}):\n${err}${out}`));
      else resolve(JSON.parse(line.slice(RESULT_MARK.length)) as SizeResult);
    });
  });
}

/** Resources whose inputs differ between two runs (or exist in only one). */
export function inputDiffs(a: SizeResult, b: SizeResult): string[] {
  const keys = new Set([...Object.keys(a.inputDigests), ...Object.keys(b.inputDigests)]);
  return [...keys].filter((k) => a.inputDigests[k] !== b.inputDigests[k]).sort();
}

export interface BenchResults {
  readonly about: string;
  readonly machine: { readonly node: string; readonly platform: string; readonly cpus: number; readonly cpuModel: string };
  readonly sizes: readonly Omit<SizeResult, "inputDigests">[];
  /** programMs at the largest size / at 10 workers, and the same per resource. */
  readonly scaling?: { readonly from: number; readonly to: number; readonly timeRatio: number; readonly resourceRatio: number; readonly perResourceRatio: number };
  readonly criticalPathConstant: boolean;
  readonly rerun: { readonly workers: number; readonly resourcesCompared: number; readonly differing: number; readonly differingResources: readonly string[] };
  readonly model: unknown;
}

export async function runBench(sizes: readonly number[], log: (s: string) => void = () => undefined): Promise<BenchResults> {
  const results: SizeResult[] = [];
  const rerunSize = sizes.includes(10) ? 10 : sizes[0];
  let again: SizeResult | undefined;
  for (const n of sizes) {
    log(`measuring ${n} worker(s) ...`);
    results.push(await measureInChild(n));
    if (n === rerunSize && !again) {
      // Right after the first run, so the comparison sees the same code and the same stack.
      log(`re-running ${n} worker(s) to compare inputs ...`);
      again = await measureInChild(n);
    }
  }
  if (!again) throw new Error("internal: no re-run");
  const first = results.find((r) => r.workers === rerunSize) as SizeResult;
  const diffs = inputDiffs(first, again);
  const base = results.find((r) => r.workers === 10);
  const top = results[results.length - 1];
  const steps = (r: SizeResult): string => r.criticalPath.map((p) => p.replace(/^(k8s-worker-)\d+-/, "$1N-")).join(">");
  return {
    about: "npm run bench: the program under Pulumi mocks for existing hosts with N workers; see docs/performance.md",
    machine: { node: process.version, platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?" },
    sizes: results.map(({ inputDigests: _d, ...rest }) => rest),
    scaling:
      base && top && top !== base
        ? {
            from: base.workers,
            to: top.workers,
            timeRatio: top.programMs / base.programMs,
            resourceRatio: top.resources / base.resources,
            perResourceRatio: top.programMs / top.resources / (base.programMs / base.resources),
          }
        : undefined,
    criticalPathConstant: results.every((r) => r.criticalPath.length === results[0].criticalPath.length && steps(r) === steps(results[0])),
    rerun: { workers: rerunSize, resourcesCompared: Object.keys(first.inputDigests).length, differing: diffs.length, differingResources: diffs },
    model: { sshOverhead: SSH_OVERHEAD, steps: STEP_DURATIONS, kinds: KIND_DURATIONS, cloud: CLOUD_DURATIONS },
  };
}

function fmtDuration(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

export function table(b: BenchResults): string {
  const lines = [
    "| workers | resources | load (ms) | program (ms) | render (ms) | peak RSS (MiB) | critical path (remote steps) | est. sequential runbook | est. pulumi up (graph) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of b.sizes) {
    lines.push(
      `| ${r.workers} | ${r.resources} | ${r.loadMs.toFixed(0)} | ${r.programMs.toFixed(0)} | ${r.renderMs.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${r.criticalPath.length} | ${fmtDuration(r.estimate.sequentialSeconds)} | ${fmtDuration(r.estimate.graphSeconds)} |`,
    );
  }
  lines.push("");
  if (b.scaling) {
    lines.push(
      `time at ${b.scaling.to} workers / time at ${b.scaling.from}: ${b.scaling.timeRatio.toFixed(2)} for ${b.scaling.resourceRatio.toFixed(2)}x the resources (per resource: ${b.scaling.perResourceRatio.toFixed(2)}; 1 = linear)`,
    );
  }
  lines.push(`critical path the same for every size: ${b.criticalPathConstant ? "yes" : "NO"} (${b.sizes[0]?.criticalPath.join(" -> ")})`);
  lines.push(`resources whose inputs differ between two runs of the ${b.rerun.workers}-worker stack: ${b.rerun.differing} of ${b.rerun.resourcesCompared}${b.rerun.differing ? ` (${b.rerun.differingResources.join(", ")})` : ""}`);
  lines.push(`machine: ${b.machine.cpuModel}, ${b.machine.cpus} CPUs, Node ${b.machine.node}`);
  return lines.join("\n");
}

function parseSizes(s: string): number[] {
  const sizes = s.split(",").map((x) => Number(x.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 0 || n > 1000)) throw new Error(`--sizes: expected whole numbers 0..1000 separated by commas, got ${s}`);
  return sizes;
}

async function main(argv: readonly string[]): Promise<number> {
  process.env.PULUMI_ERROR_OUTPUT_STRING = "true";
  const i = argv.indexOf("--child");
  if (i >= 0) {
    const r = await measure(Number(argv[i + 1]));
    process.stdout.write(`${RESULT_MARK}${JSON.stringify(r)}\n`);
    return 0;
  }
  let sizes = DEFAULT_SIZES;
  let out = path.join(REPO_ROOT, "bench", "results.json");
  for (let j = 0; j < argv.length; j++) {
    if (argv[j] === "--sizes") sizes = parseSizes(argv[++j] ?? "");
    else if (argv[j] === "--out") out = path.resolve(argv[++j] ?? "");
    else throw new Error(`unknown argument ${argv[j]} (usage: npm run bench -- [--sizes 1,10,50,200] [--out bench/results.json])`);
  }
  const b = await runBench(sizes, (s) => process.stderr.write(`${s}\n`));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(b, null, 2)}\n`);
  const rel = path.relative(process.cwd(), out);
  process.stdout.write(`${table(b)}\nwrote ${rel.startsWith("..") ? out : rel}\n`);
  return b.criticalPathConstant && b.rerun.differing === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
