// `npm run render -- --upgrade-from <version>`: what `pulumi up` runs when kubernetes.version goes from
// <version> (what the cluster runs) to the stack's version. The program is rendered at both versions;
// the rule model (transition.ts) says which resources the edit updates, and they are written in the
// order the engine runs them (waves: a wave starts when everything it depends on is done; the steps of
// one wave run in parallel). Pure: model in, files out.
import { RecordedResource } from "../../test/harness";
import { UpgradePlan } from "../../components/upgrade-path";
import { Step, StepPlan, stepNotes } from "./commands";
import { isCommand } from "./model";
import { scriptFile } from "./scripts";
import { Planned, planTransition } from "./transition";

export interface UpgradeStep {
  /** 1-based wave: steps of one wave run in parallel, a wave after everything it waits for. */
  readonly wave: number;
  readonly resource: RecordedResource;
  readonly action: Planned["action"];
  /** Rendered file under upgrade/ (commands only). */
  readonly file?: string;
  readonly step?: Step;
}

/** Resources a version edit changes, in engine order (waves over the dependency graph). */
export function upgradeSteps(before: readonly RecordedResource[], after: readonly RecordedResource[]): UpgradeStep[] {
  const plan = planTransition(before, after);
  const changed = after.filter((r) => r.custom && ["update", "replace", "create"].includes(plan.get(`${r.type}::${r.name}`)?.action ?? ""));
  const changedNames = new Set(changed.map((r) => r.name));
  const byName = new Map(after.map((r) => [r.name, r]));
  // What a resource waits for: its dependencies and, for a Kubernetes object, its provider.
  const depsOf = (n: string): string[] => {
    const r = byName.get(n);
    return r ? [...r.dependsOn, ...(r.provider ? [r.provider] : [])] : [];
  };
  // Wave of a changed resource: 1 + the highest wave among changed resources it depends on (transitively).
  const wave = new Map<string, number>();
  const waveOf = (name: string, seen = new Set<string>()): number => {
    const known = wave.get(name);
    if (known !== undefined) return known;
    let w = 0;
    const stack = depsOf(name);
    const visited = new Set<string>(seen);
    while (stack.length) {
      const d = stack.pop() as string;
      if (visited.has(d)) continue;
      visited.add(d);
      if (changedNames.has(d) && d !== name) w = Math.max(w, waveOf(d, new Set([...seen, name])));
      else stack.push(...depsOf(d));
    }
    wave.set(name, w + 1);
    return w + 1;
  };
  return changed
    .map((r) => ({ wave: waveOf(r.name), resource: r, action: (plan.get(`${r.type}::${r.name}`) as Planned).action }))
    .sort((a, b) => a.wave - b.wave || after.indexOf(a.resource) - after.indexOf(b.resource));
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** Files under upgrade/ (one script per changed command, named by wave) and the RUNBOOK section. */
export function upgradeFiles(plan: UpgradePlan, steps: readonly UpgradeStep[], commands: StepPlan): { files: Map<string, string>; section: string } {
  const stepOf = new Map<string, Step>();
  for (const list of commands.byNode.values()) for (const s of list) stepOf.set(s.resource.name, s);
  const files = new Map<string, string>();
  const rows: string[] = [];
  for (const u of steps) {
    const r = u.resource;
    const s = stepOf.get(r.name);
    const where = s?.local ? "the Pulumi host" : s?.runsOn ? `${s.runsOn} (for ${s.node})` : s?.node ?? "-";
    if (isCommand(r) && s) {
      // The engine runs `update` when set, else `create` (pulumi-command commandController.go Update).
      const cmd = s.update ?? s.create;
      const kind = s.update ? "update" : "create";
      const what = s.del && !s.update && !s.create ? "nothing on update (cleanup: its stored script changes)" : cmd ? `its ${kind} script` : "nothing";
      if (cmd) {
        const file = `upgrade/${pad(u.wave)}-${s.node ?? "local"}-${s.step}.sh`;
        files.set(file, scriptFile(cmd.script, [`Upgrade ${plan.from} -> ${plan.to}, wave ${u.wave}: ${u.action} of ${r.name} runs ${what}.`, ...stepNotes(s, kind)]));
        rows.push(`| ${u.wave} | \`${s.node ?? "-"}\` \`${s.step}\` | ${where} | ${u.action}: ${what} | \`${file}\` |`);
      } else {
        rows.push(`| ${u.wave} | \`${s.node ?? "-"}\` \`${s.step}\` | ${where} | ${u.action}: ${what} | |`);
      }
    } else {
      const kind = String((r.inputs as Record<string, unknown>).kind ?? r.type);
      rows.push(`| ${u.wave} | ${kind} \`${r.name}\` | API server | ${u.action} (server-side apply) | |`);
    }
  }
  const section = [
    `## Upgrade: kubernetes.version ${plan.from} -> ${plan.to} (${plan.kind})`,
    "",
    "Rendered with `--upgrade-from`: what `pulumi up` runs after you change `kubernetes.version` on a cluster that runs " +
      `${plan.from}. Steps of one wave run in parallel; a wave starts when the steps it waits for are done. Every script checks ` +
      "what is already done, so `pulumi up` after a failure continues where it stopped. Nothing is replaced and no node is reset.",
    "",
    "Phases:",
    "",
    ...plan.phases.map((p, i) => `${i + 1}. ${p}`),
    "",
    ...(plan.changes.length
      ? ["What follows the version:", "", "| what | before | after |", "|---|---|---|", ...plan.changes.map((c) => `| ${c.what} | ${c.from} | ${c.to} |`), ""]
      : []),
    "| wave | step | runs on | what `pulumi up` does | script |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  return { files, section };
}
