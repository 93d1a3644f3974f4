// plan.json: every registered resource with its inputs, secrets replaced by "[secret]" (the whole
// top-level input when any part of it is secret), plus the stack outputs. Stable order, no timestamps.
import { RecordedResource } from "../../test/harness";
import { RenderModel, byNameThenType, sortKeysDeep } from "./model";

export const SECRET_MARK = "[secret]";

export interface PlanResource {
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly dependsOn: string[];
  readonly inputs: Record<string, unknown>;
  readonly secretInputs: string[];
}

export function planResource(r: RecordedResource): PlanResource {
  const inputs: Record<string, unknown> = {};
  for (const k of Object.keys(r.inputs).sort()) {
    if (r.inputs[k] === undefined) continue;
    inputs[k] = r.secretInputs.includes(k) ? SECRET_MARK : sortKeysDeep(r.inputs[k]);
  }
  return { type: r.type, name: r.name, parent: r.parent, dependsOn: [...r.dependsOn].sort(), inputs, secretInputs: [...r.secretInputs].sort() };
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
