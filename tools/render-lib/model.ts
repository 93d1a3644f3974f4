// What the offline render knows after running the program under mocks: the recorded resources, the
// resolved stack outputs, and which values are secret. Every formatter in render-lib is a pure
// function of this model, so rendering twice gives byte-identical files.
import { RecordedResource } from "../../test/harness";

export const REMOTE_COMMAND = "command:remote:Command";
export const LOCAL_COMMAND = "command:local:Command";

export interface NodeInfo {
  readonly name: string;
  readonly role: string;
  readonly ip: string;
  readonly sshHost?: string;
  readonly sshUser?: string;
  readonly sshPort?: number;
}

export interface RenderModel {
  readonly stack: string;
  readonly resources: readonly RecordedResource[];
  /** Stack outputs, resolved (undefined outputs dropped). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Names of outputs that are secret. */
  readonly secretOutputs: readonly string[];
  /** Cluster nodes in config order (control plane first). */
  readonly nodes: readonly NodeInfo[];
  /** Every secret value the run knows (injected placeholders, mock secrets, secret inputs/outputs). */
  readonly secretValues: readonly { readonly value: string; readonly what: string }[];
  /** The stack file's CHANGE-ME placeholders and the stand-ins the render used (pulumi up refuses them). */
  readonly substitutions?: readonly { readonly key: string; readonly from: string; readonly to: string }[];
}

export function isCommand(r: Pick<RecordedResource, "type">): boolean {
  return r.type === REMOTE_COMMAND || r.type === LOCAL_COMMAND;
}

/** Deterministic key order (deep), arrays kept in order: JSON/YAML output must not depend on insertion order. */
export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeysDeep(o[k]);
  return out;
}

/** Stable comparison of resources: by name, then type. */
export function byNameThenType(a: Pick<RecordedResource, "name" | "type">, b: Pick<RecordedResource, "name" | "type">): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

/**
 * The parent's type, read from the child's URN (`...::<parentType>$<type>::<name>`; the mock runtime
 * encodes the immediate parent's type). Needed because two components may share a name (the control
 * plane's NodePrep and ControlPlane are both named after the node) and `parent` holds only the name.
 */
export function parentType(r: Pick<RecordedResource, "urn">): string | undefined {
  const parts = r.urn.split("::");
  if (parts.length < 4) return undefined;
  const chain = parts[2].split("$");
  return chain.length >= 2 ? chain[chain.length - 2] : undefined;
}

/** Identity of a component (or any resource) for parent lookups: type and name. */
export function resourceKey(type: string, name: string): string {
  return `${type}::${name}`;
}

/** The key of `r`'s parent, or "" for a top-level resource. Falls back to the name alone. */
export function parentKey(r: Pick<RecordedResource, "urn" | "parent">, components: ReadonlyMap<string, unknown>): string {
  if (!r.parent) return "";
  const t = parentType(r);
  if (t && components.has(resourceKey(t, r.parent))) return resourceKey(t, r.parent);
  for (const k of components.keys()) if (k.endsWith(`::${r.parent}`)) return k;
  return "";
}
