// The command graph: which remote/local commands must finish before which, derived from the recorded
// dependsOn edges (a command that waits on a non-command resource, e.g. the Kubernetes provider or a
// random token, inherits that resource's own command dependencies). Used for the per-node execution
// order, the critical path in the summary, and the duration estimate of the benchmark.
import { RecordedResource } from "../../test/harness";
import { isCommand } from "./model";

export interface CommandGraph {
  /** Command names, topologically ordered (ties by name). */
  readonly order: readonly string[];
  /** command name -> names of the commands it directly waits for (sorted). */
  readonly preds: ReadonlyMap<string, readonly string[]>;
}

/** Builds the command-only DAG. Names are unique among commands (they are `<node>-<step>`). */
export function commandGraph(resources: readonly RecordedResource[]): CommandGraph {
  const byName = new Map<string, RecordedResource[]>();
  for (const r of resources) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const commands = resources.filter(isCommand).map((r) => r.name);
  const commandSet = new Set(commands);

  // Memoised: the commands reachable from a non-command resource without passing another command.
  const viaCache = new Map<string, Set<string>>();
  const reach = (name: string, visiting: Set<string>): Set<string> => {
    const cached = viaCache.get(name);
    if (cached) return cached;
    const out = new Set<string>();
    if (visiting.has(name)) return out;
    visiting.add(name);
    for (const r of byName.get(name) ?? []) {
      for (const d of r.dependsOn) {
        if (d === name) continue;
        if (commandSet.has(d)) out.add(d);
        else for (const c of reach(d, visiting)) out.add(c);
      }
    }
    visiting.delete(name);
    viaCache.set(name, out);
    return out;
  };

  const preds = new Map<string, string[]>();
  for (const c of commands) {
    const direct = new Set<string>();
    const rec = (byName.get(c) ?? []).find(isCommand);
    for (const d of rec?.dependsOn ?? []) {
      if (d === c) continue;
      if (commandSet.has(d)) direct.add(d);
      else for (const x of reach(d, new Set([c]))) direct.add(x);
    }
    direct.delete(c);
    preds.set(c, [...direct].sort());
  }
  return { order: topoOrder(commands, preds), preds };
}

/** Kahn's algorithm, always taking the alphabetically first ready node: deterministic. */
export function topoOrder(names: readonly string[], preds: ReadonlyMap<string, readonly string[]>): string[] {
  const nameSet = new Set(names);
  const remaining = new Map<string, number>();
  const succs = new Map<string, string[]>();
  for (const n of names) {
    const ps = (preds.get(n) ?? []).filter((p) => nameSet.has(p));
    remaining.set(n, ps.length);
    for (const p of ps) succs.set(p, [...(succs.get(p) ?? []), n]);
  }
  const ready = names.filter((n) => remaining.get(n) === 0).sort();
  const out: string[] = [];
  while (ready.length) {
    const n = ready.shift() as string;
    out.push(n);
    for (const s of succs.get(n) ?? []) {
      const left = (remaining.get(s) ?? 0) - 1;
      remaining.set(s, left);
      if (left === 0) {
        ready.push(s);
        ready.sort();
      }
    }
  }
  // A cycle cannot come from Pulumi (it would deadlock), but never drop a command silently.
  const done = new Set(out);
  for (const n of [...names].sort()) if (!done.has(n)) out.push(n);
  return out;
}

export interface CriticalPath {
  /** Command names from first to last. */
  readonly path: readonly string[];
  /** Sum of weights along the path (= steps when every weight is 1). */
  readonly length: number;
}

/**
 * Longest chain through the command DAG. `weight` gives a command's cost (1 = count steps; the
 * benchmark passes modelled seconds). Ties are broken by name so the answer is stable.
 */
export function criticalPath(g: CommandGraph, weight: (name: string) => number = () => 1): CriticalPath {
  const best = new Map<string, { len: number; prev?: string }>();
  for (const n of g.order) {
    let len = 0;
    let prev: string | undefined;
    for (const p of g.preds.get(n) ?? []) {
      const b = best.get(p);
      if (b && (b.len > len || (b.len === len && prev !== undefined && p < prev))) {
        len = b.len;
        prev = p;
      }
    }
    best.set(n, { len: len + weight(n), prev });
  }
  let end: string | undefined;
  let endLen = 0;
  for (const n of [...g.order].sort()) {
    const b = best.get(n);
    if (b && b.len > endLen) {
      end = n;
      endLen = b.len;
    }
  }
  const path: string[] = [];
  for (let cur = end; cur !== undefined; cur = best.get(cur)?.prev) path.unshift(cur);
  return { path, length: endLen };
}
