// Offline render: `npm run render -- --stack <name> [--out <dir>] [--stack-file <path>] [--upgrade-from <version>]`.
// Runs the real program (index.ts) under the Pulumi mock runtime with the stack's config and writes
// what `pulumi up` would run and apply: RUNBOOK.md, nodes/<node>/NN-step.sh, manifests/*.yaml,
// graph.mmd, plan.json. Nothing is written unless everything succeeded (temp dir + rename).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, RecordedResource, runMocked, valueOf } from "../test/harness";
import { KnownSecret, Substitution, placeholderCall, placeholderState, substitutePlaceholders } from "./render-lib/placeholders";
import { NodeInfo, RenderModel, isCommand } from "./render-lib/model";
import { StepPlan, deleteFile, planSteps, stdinFileName, stepNotes } from "./render-lib/commands";
import { CriticalPath, criticalPath } from "./render-lib/graph";
import { groupManifests, isKubernetesObject, manifestYaml } from "./render-lib/manifests";
import { mermaidGraph } from "./render-lib/mermaid";
import { planJson } from "./render-lib/plan";
import { runbookMarkdown } from "./render-lib/runbook";
import { scriptFile } from "./render-lib/scripts";
import { Leak, SecretScanner, orderSecrets, secretValuesFromInputs } from "./render-lib/secrets";
import { upgradeFiles, upgradeSteps } from "./render-lib/upgrade";
import { UpgradePlan, upgradePlan } from "../components/upgrade-path";
import { spawnSync } from "child_process";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** Stands in for the SSH key a user sets later (`pulumi config set --secret sshPrivateKey`). */
export const PLACEHOLDER_SSH_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nrender-placeholder-not-a-real-key-set-sshPrivateKey-as-a-secret\n-----END OPENSSH PRIVATE KEY-----\n";

/** Bad stack config (the program's ConfigError) or a missing stack file: exit 1, nothing written. */
export class RenderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderConfigError";
  }
}

export interface RenderOptions {
  readonly stack: string;
  /** Stack file; default `<repo>/Pulumi.<stack>.yaml`. */
  readonly stackFile?: string;
  /** Output directory; default `out/<stack>` under the current directory. */
  readonly out?: string;
  /** The version the cluster runs: also write what `pulumi up` runs to upgrade it to the stack's version. */
  readonly upgradeFrom?: string;
}

export interface StackConfig {
  /** Keys without the project prefix, values as the program reads them (strings, objects as JSON). */
  readonly config: Record<string, string>;
  readonly secretKeys: string[];
  /** Placeholder values injected for secrets, with what they stand for. */
  readonly injected: KnownSecret[];
  /** The stack file's CHANGE-ME values and what the render used instead. */
  readonly substitutions: Substitution[];
}

interface ConfigModule {
  pulumiConfigMapFromStackFile(p: string): Record<string, string>;
  stackFileSecretKeys(p: string): string[];
}

/**
 * Reads the stack file the way `pulumi up` would (components/config/), replacing encrypted values
 * (`secure:`) with placeholders: the render never decrypts anything. A stack of existing hosts without
 * sshPrivateKey gets a placeholder key (the user sets the real one as a secret later); VirtualBox and
 * Aliyun stacks without one render the generated key pair, as `pulumi up` would create it.
 */
export function loadStackConfig(stackFile: string): StackConfig {
  if (!fs.existsSync(stackFile)) throw new RenderConfigError(`stack file ${stackFile} not found`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, only when a stack file is rendered
  const cfg = require(path.join(REPO_ROOT, "components", "config")) as ConfigModule;
  let map: Record<string, string>;
  let secure: string[];
  try {
    map = cfg.pulumiConfigMapFromStackFile(stackFile);
    secure = cfg.stackFileSecretKeys(stackFile);
  } catch (e) {
    throw new RenderConfigError((e as Error).message);
  }
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) if (k.startsWith(`${PROJECT}:`)) config[k.slice(PROJECT.length + 1)] = v;
  const secretKeys = secure.filter((k) => k.startsWith(`${PROJECT}:`)).map((k) => k.slice(PROJECT.length + 1));
  const injected: KnownSecret[] = [];
  const placeholder = (k: string): string => (k === "sshPrivateKey" ? PLACEHOLDER_SSH_KEY : `render-placeholder-secret-${k}`);
  for (const k of secretKeys) {
    config[k] = placeholder(k);
    injected.push({ value: config[k], what: `config ${k}` });
  }
  if (config.provider === "existing" && config.sshPrivateKey === undefined) {
    config.sshPrivateKey = PLACEHOLDER_SSH_KEY;
    secretKeys.push("sshPrivateKey");
    injected.push({ value: PLACEHOLDER_SSH_KEY, what: "placeholder sshPrivateKey" });
  }
  const sub = substitutePlaceholders(config);
  return { config: sub.config, secretKeys, injected, substitutions: sub.substitutions };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out resolving ${what}`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

function isConfigError(e: unknown): boolean {
  return e instanceof Error && (e.name === "ConfigError" || e.constructor?.name === "ConfigError");
}

/**
 * Runs index.ts under mocks (once per process / jest module registry) and collects the model.
 * Throws RenderConfigError for bad config.
 */
export async function runProgram(stack: string, sc: StackConfig, program = path.join(REPO_ROOT, "index.ts")): Promise<RenderModel> {
  const mockSecrets: KnownSecret[] = [];
  let exportsObj: Record<string, unknown> = {};
  let result;
  try {
    result = await runMocked(
      { config: sc.config, secretKeys: sc.secretKeys, stack, state: placeholderState(mockSecrets), call: placeholderCall },
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program is a CommonJS module whose import has side effects (registrations)
      () => { exportsObj = require(program) as Record<string, unknown>; return exportsObj; },
    );
  } catch (e) {
    if (isConfigError(e)) throw new RenderConfigError((e as Error).message);
    throw e;
  }
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  const secrets: KnownSecret[] = [...sc.injected, ...mockSecrets];
  for (const k of Object.keys(exportsObj).sort()) {
    if (k === "__esModule" || exportsObj[k] === undefined) continue;
    const o = pulumi.output(exportsObj[k]);
    const [value, secret] = await withTimeout(Promise.all([valueOf(o), pulumi.isSecret(o)]), 30000, `stack output ${k}`);
    if (value === undefined) continue;
    outputs[k] = value;
    if (secret) {
      secretOutputs.push(k);
      if (typeof value === "string") secrets.push({ value, what: `stack output ${k}` });
    }
  }
  for (const v of secretValuesFromInputs(result.resources)) secrets.push({ value: v, what: "a secret input" });
  const nodes: NodeInfo[] = Array.isArray(outputs.nodes)
    ? (outputs.nodes as Record<string, unknown>[]).map((n) => ({
        name: String(n.name),
        role: String(n.role),
        ip: String(n.ip),
        sshHost: n.sshHost === undefined ? undefined : String(n.sshHost),
        sshUser: n.sshUser === undefined ? undefined : String(n.sshUser),
        sshPort: n.sshPort === undefined ? undefined : Number(n.sshPort),
      }))
    : [];
  return { stack, resources: result.resources, outputs, secretOutputs, nodes, secretValues: orderSecrets(secrets), substitutions: sc.substitutions };
}

export interface Rendered {
  /** Relative path -> content. */
  readonly files: ReadonlyMap<string, string>;
  readonly critical: CriticalPath;
  readonly steps: StepPlan;
  /** Secret values found (and replaced) in rendered text: each is a program bug. */
  readonly leaks: readonly Leak[];
}

/** The stack config with `kubernetes.version` replaced (the block is JSON, as the program reads it). */
export function withVersion(config: Record<string, string>, version: string): Record<string, string> {
  let block: Record<string, unknown> = {};
  try {
    block = JSON.parse(config.kubernetes ?? "{}") as Record<string, unknown>;
  } catch {
    throw new RenderConfigError("kubernetes: not an object in the stack file");
  }
  return { ...config, kubernetes: JSON.stringify({ ...block, version }) };
}

/** The stack's kubernetes.version, as written. */
export function stackVersion(config: Record<string, string>): string {
  try {
    const v = (JSON.parse(config.kubernetes ?? "{}") as Record<string, unknown>).version;
    if (typeof v === "string") return v;
  } catch {
    // reported below
  }
  throw new RenderConfigError("kubernetes.version: required (a quoted string such as \"1.31.6\")");
}

/** What the upgrade section needs: the plan and the program's resources at the old version. */
export interface UpgradeInput {
  readonly plan: UpgradePlan;
  readonly before: readonly RecordedResource[];
}

/** Pure: the model -> every file's content. */
export function renderFiles(model: RenderModel, upgrade?: UpgradeInput): Rendered {
  const steps = planSteps(model);
  // Delete-only commands (the node cleanups) run nothing on create: they take no time on `pulumi up`.
  const runsOnCreate = new Set(model.resources.filter((r) => isCommand(r) && r.inputs.create !== undefined).map((r) => r.name));
  const weighted = criticalPath(steps.graph, (n) => (runsOnCreate.has(n) ? 1 : 0));
  const critical: CriticalPath = { path: weighted.path.filter((n) => runsOnCreate.has(n)), length: weighted.length };
  const manifests = groupManifests(model.resources);
  const files = new Map<string, string>();
  for (const list of steps.byNode.values()) {
    for (const s of list) {
      // A delete-only step (e.g. node-object) has no create script; its delete script is still written.
      if (s.createSecret) files.set(s.file, scriptFile("# The command is secret; it is not shown.\n", stepNotes(s, "create")));
      else if (s.create) files.set(s.file, scriptFile(s.create.script, stepNotes(s, "create")));
      if (s.stdinPlain !== undefined) files.set(`${path.posix.dirname(s.file)}/${stdinFileName(s)}`, s.stdinPlain);
      if (s.del) files.set(deleteFile(s), scriptFile(s.del.script, stepNotes(s, "delete")));
      if (s.update) files.set(deleteFile(s).replace("/delete/", "/update/"), scriptFile(s.update.script, stepNotes(s, "update")));
    }
  }
  for (const [stem, objs] of manifests) files.set(`manifests/${stem}.yaml`, manifestYaml(stem, objs));
  files.set("graph.mmd", mermaidGraph(model.resources));
  files.set("plan.json", planJson(model));
  let runbook = runbookMarkdown(model, steps, critical, manifests);
  if (upgrade) {
    const u = upgradeFiles(upgrade.plan, upgradeSteps(upgrade.before, model.resources), steps);
    for (const [f, t] of u.files) files.set(f, t);
    runbook = `${runbook.trimEnd()}\n\n${u.section}`;
  }
  files.set("RUNBOOK.md", runbook);

  const leaks: Leak[] = [];
  const cleaned = new Map<string, string>();
  const scanner = new SecretScanner(model.secretValues);
  for (const [f, text] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const r = scanner.scrub(f, text);
    leaks.push(...r.leaks);
    cleaned.set(f, r.text);
  }
  return { files: cleaned, critical, steps, leaks };
}

/** Writes all files into a temp dir beside `out`, then swaps it in: never a half-written directory. */
export function writeAtomically(out: string, files: ReadonlyMap<string, string>): void {
  const target = path.resolve(out);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`));
  try {
    for (const [rel, text] of files) {
      const p = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
    }
    if (fs.existsSync(target)) {
      const old = `${tmp}.old`;
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export interface RenderResult extends Rendered {
  readonly model: RenderModel;
  readonly out: string;
}

export async function render(opts: RenderOptions): Promise<RenderResult> {
  const stackFile = path.resolve(opts.stackFile ?? path.join(REPO_ROOT, `Pulumi.${opts.stack}.yaml`));
  const out = path.resolve(opts.out ?? path.join("out", opts.stack));
  const sc = loadStackConfig(stackFile);
  const upgrade = opts.upgradeFrom === undefined ? undefined : upgradeInput(stackFile, opts.stack, sc, opts.upgradeFrom);
  const model = await runProgram(opts.stack, sc);
  const rendered = renderFiles(model, upgrade);
  writeAtomically(out, rendered.files);
  return { ...rendered, model, out };
}

/**
 * The upgrade plan (refusing a skip or a downgrade with the message `pulumi up` gives) and the program's
 * resources at the old version, from a child process (tools/render-model.ts).
 */
function upgradeInput(stackFile: string, stack: string, sc: StackConfig, from: string): UpgradeInput {
  let plan: UpgradePlan;
  try {
    plan = upgradePlan(from, stackVersion(sc.config));
  } catch (e) {
    throw new RenderConfigError((e as Error).message);
  }
  const child = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "render-model.ts"), stackFile, stack, from], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (child.status !== 0) throw new RenderConfigError(`rendering the stack at kubernetes.version ${from} failed: ${(child.stderr || String(child.error)).trim()}`);
  return { plan, before: JSON.parse(child.stdout) as RecordedResource[] };
}

export function summary(r: RenderResult, cwd = process.cwd()): string {
  const commands = r.model.resources.filter(isCommand).length;
  const objects = r.model.resources.filter((x: RecordedResource) => isKubernetesObject(x)).length;
  const relative = path.relative(cwd, r.out);
  const rel = relative === "" ? "." : relative.startsWith("..") ? r.out : relative;
  const scripts = [...r.files.keys()].filter((f) => f.startsWith("nodes/") && f.endsWith(".sh") && !f.includes("/delete/")).length;
  const subs = r.model.substitutions ?? [];
  const upgradeCount = [...r.files.keys()].filter((f) => f.startsWith("upgrade/")).length;
  return [
    ...subs.map((s) => `note: ${s.key}: the stack file's placeholder "${s.from}" is rendered as "${s.to}"; set your own value before \`pulumi up\` (it refuses the placeholder)`),
    `stack ${r.model.stack}: ${r.model.nodes.length} nodes, ${r.model.resources.length} resources (${commands} commands, ${objects} Kubernetes objects)`,
    `critical path: ${r.critical.path.length} steps: ${r.critical.path.join(" -> ")}`,
    `wrote ${rel}/: RUNBOOK.md, nodes/ (${scripts} scripts), manifests/ (${[...r.files.keys()].filter((f) => f.startsWith("manifests/")).length} files), graph.mmd, plan.json`,
    ...(upgradeCount > 0 ? [`upgrade: ${upgradeCount} scripts in upgrade/, in the order \`pulumi up\` runs them (RUNBOOK.md, last section)`] : []),
  ].join("\n");
}

interface Args {
  stack: string;
  out?: string;
  stackFile?: string;
  upgradeFrom?: string;
}

const USAGE = "npm run render -- [--stack dev] [--out out/<stack>] [--stack-file Pulumi.<stack>.yaml] [--upgrade-from <version the cluster runs, e.g. 1.30.12>]";

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { stack: "dev" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new RenderConfigError(`${a} needs a value`);
      return v;
    };
    if (a === "--stack" || a === "-s") args.stack = next();
    else if (a === "--out" || a === "-o") args.out = next();
    else if (a === "--stack-file") args.stackFile = next();
    else if (a === "--upgrade-from") args.upgradeFrom = next();
    else if (a === "--help" || a === "-h") throw new RenderConfigError(`usage: ${USAGE}`);
    else throw new RenderConfigError(`unknown argument ${a} (usage: ${USAGE})`);
  }
  return args;
}

async function main(): Promise<number> {
  process.env.PULUMI_ERROR_OUTPUT_STRING = "true"; // an Output in a template literal must fail, not render junk
  try {
    const r = await render(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${summary(r)}\n`);
    for (const l of r.leaks) process.stderr.write(`warning: a secret (${l.what}) appeared in ${l.file}; replaced there, fix the program\n`);
    return 0;
  } catch (e) {
    if (e instanceof RenderConfigError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`render failed: ${(e as Error).stack ?? String(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  // Exit explicitly: the mock runtime may keep handles open after the program finished.
  main().then((code) => process.exit(code), (e) => { process.stderr.write(`${String(e)}\n`); process.exit(2); });
}
