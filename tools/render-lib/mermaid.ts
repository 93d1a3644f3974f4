// The resource graph as a Mermaid flowchart: components are subgraphs (nested like the Pulumi
// parent tree), custom resources are nodes, an edge A --> B means B waits for A (dependsOn/data);
// a dotted edge P -.-> B means B is created through provider P.
import { RecordedResource } from "../../test/harness";
import { byNameThenType, isCommand, parentKey, resourceKey } from "./model";

function label(text: string): string {
  // Mermaid string labels: escape what would end the string or be read as markup.
  return text.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
}

function shortType(type: string): string {
  const parts = type.split(":");
  return parts[parts.length - 1] || type;
}

export function mermaidGraph(resources: readonly RecordedResource[]): string {
  const sorted = [...resources].sort(byNameThenType);
  const id = new Map<RecordedResource, string>();
  sorted.forEach((r, i) => id.set(r, `${r.custom ? "r" : "c"}${i}`));
  const byName = new Map<string, RecordedResource[]>();
  for (const r of sorted) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const children = new Map<string, RecordedResource[]>();
  const components = new Map(sorted.filter((r) => !r.custom).map((r) => [resourceKey(r.type, r.name), r]));
  for (const r of sorted) {
    const p = parentKey(r, components);
    children.set(p, [...(children.get(p) ?? []), r]);
  }

  const lines = ["flowchart LR"];
  const emit = (parent: string, indent: string, seen: Set<string>): void => {
    for (const r of children.get(parent) ?? []) {
      const rid = id.get(r) as string;
      if (!r.custom) {
        const key = resourceKey(r.type, r.name);
        if (seen.has(key)) continue; // defensive: a malformed parent cycle must not recurse forever
        seen.add(key);
        lines.push(`${indent}subgraph ${rid}["${label(`${r.name} (${shortType(r.type)})`)}"]`);
        emit(key, `${indent}  `, seen);
        lines.push(`${indent}end`);
      } else {
        const shape = isCommand(r) ? [`["`, `"]`] : [`("`, `")`];
        lines.push(`${indent}${rid}${shape[0]}${label(r.name)}<br/>${label(shortType(r.type))}${shape[1]}`);
      }
    }
  };
  emit("", "  ", new Set());

  const edges = new Set<string>();
  for (const r of sorted) {
    for (const d of r.dependsOn) {
      for (const from of byName.get(d) ?? []) if (from !== r) edges.add(`  ${id.get(from)} --> ${id.get(r)}`);
    }
    // A Kubernetes object waits for its provider (the kubeconfig) even when no dependsOn says so.
    if (r.provider && !r.dependsOn.includes(r.provider)) {
      for (const from of byName.get(r.provider) ?? []) if (from !== r && from.type.startsWith("pulumi:providers:")) edges.add(`  ${id.get(from)} -.-> ${id.get(r)}`);
    }
  }
  lines.push(...[...edges].sort());
  return `${lines.join("\n")}\n`;
}
