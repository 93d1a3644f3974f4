// plan.json: every registered resource with its inputs, secrets replaced by "[secret]" (the whole
// top-level input when any part of it is secret), plus the stack outputs. Stable order, no timestamps.
import { RecordedResource } from "../../test/harness";
import { RenderModel, byNameThenType, sortKeysDeep } from "./model";

export const SECRET_MARK = "[secret]";

/** The resource options that decide what a later `up` or `destroy` does to the resource (docs/lifecycle.md). */
export interface PlanOptions {
  readonly ignoreChanges?: string[];
  readonly replaceOnChanges?: string[];
  readonly replaceWith?: string[];
  readonly deleteBeforeReplace?: boolean;
  readonly deletedWith?: string;
  readonly customTimeouts?: { create?: string; update?: string; delete?: string };
  readonly aliases?: string[];
  readonly retainOnDelete?: boolean;
}

export interface PlanResource {
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly dependsOn: string[];
  readonly inputs: Record<string, unknown>;
  readonly secretInputs: string[];
  /** Only the options that are set. */
  readonly options: PlanOptions;
}

export function planOptions(r: RecordedResource): PlanOptions {
  const o: Record<string, unknown> = {};
  if (r.ignoreChanges.length) o.ignoreChanges = [...r.ignoreChanges].sort();
  if (r.replaceOnChanges.length) o.replaceOnChanges = [...r.replaceOnChanges].sort();
  if (r.replaceWith.length) o.replaceWith = [...r.replaceWith];
  if (r.deleteBeforeReplace) o.deleteBeforeReplace = true;
  if (r.deletedWith) o.deletedWith = r.deletedWith;
  const ct = r.customTimeouts;
  if (ct && (ct.create || ct.update || ct.delete)) o.customTimeouts = sortKeysDeep(ct);
  if (r.aliases.length) o.aliases = [...r.aliases];
  if (r.retainOnDelete) o.retainOnDelete = true;
  return o as PlanOptions;
}

export function planResource(r: RecordedResource): PlanResource {
  const inputs: Record<string, unknown> = {};
  for (const k of Object.keys(r.inputs).sort()) {
    if (r.inputs[k] === undefined) continue;
    inputs[k] = r.secretInputs.includes(k) ? SECRET_MARK : sortKeysDeep(r.inputs[k]);
  }
  return { type: r.type, name: r.name, parent: r.parent, dependsOn: [...r.dependsOn].sort(), inputs, secretInputs: [...r.secretInputs].sort(), options: planOptions(r) };
}

export function planJson(model: RenderModel): string {
  const outputs: Record<string, unknown> = {};
  for (const k of Object.keys(model.outputs).sort()) outputs[k] = model.secretOutputs.includes(k) ? SECRET_MARK : sortKeysDeep(model.outputs[k]);
  const plan = {
    stack: model.stack,
    resources: [...model.resources].sort(byNameThenType).map(planResource),
    outputs,
    secretOutputs: [...model.secretOutputs].sort(),
  };
  return `${JSON.stringify(plan, null, 2)}\n`;
}
