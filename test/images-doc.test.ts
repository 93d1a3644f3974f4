// docs/images.md against what the program really deploys: every container image of every Kubernetes
// object of the dev (default profile) and aliyun (china profile) stacks has its row, in the right
// column, and every image the table names is one the program uses; the China column agrees with the
// config's own reachability rule.
import * as fs from "fs";
import * as path from "path";
import { RecordedResource } from "./harness";
import { chinaPullProblem } from "../components/config/images";
import { MIRROR_PROFILES } from "../components/config/mirrors";

const DOC = fs.readFileSync(path.join(__dirname, "..", "docs", "images.md"), "utf8");

async function run(stack: string): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    out = (await h.runProgram(stack)).resources;
  });
  return out;
}

/** Every `image:` value inside the inputs of the program's Kubernetes objects. */
function deployedImages(recs: readonly RecordedResource[]): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k === "image" && typeof x === "string") found.add(x);
        else walk(x);
      }
    }
  };
  for (const r of recs.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) walk(r.inputs);
  return [...found].sort();
}

/** The add-on table: for each row, the image in the default and china columns. */
function tableRows(): { what: string; def: string; china: string }[] {
  const section = DOC.slice(DOC.indexOf("## Add-ons"), DOC.indexOf("## Kubernetes itself"));
  return section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| what") && !l.startsWith("|---"))
    .map((l) => l.split("|").map((c) => c.trim()))
    .map((c) => ({ what: c[1], def: c[3].replace(/`/g, ""), china: c[4].replace(/`/g, "") }));
}

describe("docs/images.md", () => {
  let dev: string[];
  let china: string[];
  beforeAll(async () => {
    dev = deployedImages(await run("dev"));
    china = deployedImages(await run("aliyun"));
  });

  test("every image the dev stack deploys is in the default column, and every default entry is deployed (or the ops load image)", () => {
    const rows = tableRows();
    expect(dev.length).toBeGreaterThanOrEqual(6);
    expect(dev.filter((i) => !rows.some((r) => r.def === i))).toEqual([]);
    expect(rows.filter((r) => !r.what.includes("hpa-load") && !dev.includes(r.def)).map((r) => r.def)).toEqual([]);
  });

  test("every image the aliyun (china) stack deploys is in the china column, and every china entry is deployed (or the ops load image)", () => {
    const rows = tableRows();
    expect(china.filter((i) => !rows.some((r) => r.china === i))).toEqual([]);
    expect(rows.filter((r) => !r.what.includes("hpa-load") && !china.includes(r.china)).map((r) => r.china)).toEqual([]);
  });

  test("nothing the china stack deploys comes from a registry unreachable in China without an allow-listed mirror", () => {
    for (const image of china) expect({ image, problem: chinaPullProblem(image, MIRROR_PROFILES.china) }).toEqual({ image, problem: undefined });
    // And the default column shows why those rows needed your own registry.
    const rows = tableRows();
    for (const r of rows.filter((x) => x.china.includes("aliyuncs.com/change-me"))) expect(chinaPullProblem(r.def, MIRROR_PROFILES.china)).toBeDefined();
  });
});
