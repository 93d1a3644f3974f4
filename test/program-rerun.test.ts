// A second `pulumi up` with no change must change nothing: two runs of the real program produce
// identical inputs for every resource (PULUMI-NOTES §2.6). Each run gets a fresh module registry.
import { RecordedResource } from "./harness";

type Snapshot = { type: string; name: string; inputs: unknown }[];

async function snapshot(stack: string): Promise<Snapshot> {
  let res: RecordedResource[] = [];
  // isolateModulesAsync keeps the fresh registry for the whole async run (index.ts is required after setMocks).
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry per run
    const { runProgram } = require("./program-helpers") as typeof import("./program-helpers");
    res = (await runProgram(stack)).resources;
  });
  return res.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs })).sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
}

test.each(["dev", "aliyun"])("stack %s: two runs give identical inputs for every resource", async (stack) => {
  const a = await snapshot(stack);
  const b = await snapshot(stack);
  expect(a.length).toBeGreaterThan(20);
  expect(b).toEqual(a);
});
