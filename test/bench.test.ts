// `npm run bench` on small sizes, run as a separate process like a user runs it. Asserts only the
// structural facts (never a time): the critical path does not grow with the number of workers, two
// runs of the same stack give identical inputs, and the output file has what docs/performance.md reads.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { BenchResults } from "../tools/bench";

const ROOT = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
const outFile = path.join(tmp, "results.json");
let run: { status: number | null; stdout: string; stderr: string };
let results: BenchResults;

beforeAll(() => {
  const r = childProcess.spawnSync(
    process.execPath,
    [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(ROOT, "tools", "bench.ts"), "--sizes", "1,10,50", "--out", outFile],
    { cwd: ROOT, encoding: "utf8", timeout: 300000 },
  );
  run = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  results = JSON.parse(fs.readFileSync(outFile, "utf8")) as BenchResults;
}, 320000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it("exits 0 and prints one table row per size", () => {
  expect({ status: run.status, stderr: run.stderr.split("\n").filter((l) => l && !l.startsWith("measuring") && !l.startsWith("re-running")) }).toEqual({ status: 0, stderr: [] });
  for (const n of [1, 10, 50]) expect(run.stdout).toMatch(new RegExp(`^\\| ${n} \\| \\d+ \\|`, "m"));
});

it("measures every size, with more resources for more workers", () => {
  expect(results.sizes.map((s) => s.workers)).toEqual([1, 10, 50]);
  expect(results.sizes.map((s) => s.nodes)).toEqual([2, 11, 51]);
  const counts = results.sizes.map((s) => s.resources);
  expect(counts[1]).toBeGreaterThan(counts[0]);
  expect(counts[2]).toBeGreaterThan(counts[1]);
  for (const s of results.sizes) expect(s.peakRssMiB).toBeGreaterThan(0);
});

it("the critical path in remote steps is the same for 1, 10 and 50 workers", () => {
  const lengths = results.sizes.map((s) => s.criticalPath.length);
  expect(lengths[0]).toBeGreaterThanOrEqual(4); // at least prep -> init -> ... -> join
  expect(lengths).toEqual([lengths[0], lengths[0], lengths[0]]);
  expect(results.criticalPathConstant).toBe(true);
  // So the modelled `pulumi up` time stays flat while the manual runbook grows with every worker.
  const graph = results.sizes.map((s) => s.estimate.graphSeconds);
  expect(graph).toEqual([graph[0], graph[0], graph[0]]);
  const seq = results.sizes.map((s) => s.estimate.sequentialSeconds);
  expect(seq[1]).toBeGreaterThan(seq[0]);
  expect(seq[2]).toBeGreaterThan(seq[1]);
  expect(seq[0]).toBeGreaterThanOrEqual(graph[0]);
});

it("two runs of the same stack register identical inputs for every resource", () => {
  expect(results.rerun.workers).toBe(10);
  expect(results.rerun.resourcesCompared).toBe(results.sizes[1].resources);
  expect(results.rerun.differingResources).toEqual([]);
  expect(results.rerun.differing).toBe(0);
});
