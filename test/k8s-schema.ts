// Validates Kubernetes objects against the Kubernetes API schema, as shipped by `kubernetes-models`
// (4.5.x, CommonJS; generated from the upstream OpenAPI spec).
//
// Two layers, because kubernetes-models alone is not strict enough:
//  1. `new Kind(obj).validate()`: the generated AJV validator checks types, enums, required fields.
//     It does NOT reject unknown properties (verified: `imagee`, `selectr`, `lables` all pass), so a
//     misspelled field would silently be dropped by the API server instead of failing a test.
//  2. A strict walk of the same package's TypeScript declarations (IDaemonSet, IContainer, ...): every
//     property of the object must be declared on the interface at that path (maps such as labels or
//     ConfigMap data are index signatures and accept any key). Done with the TypeScript compiler API
//     (typescript is a devDependency), so it follows the exact same schema source as layer 1.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as ts from "typescript";

export interface SchemaObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/** `kubernetes-models/<apiVersion>/<Kind>`: the package's own layout ("v1", "apps/v1", "rbac.authorization.k8s.io/v1"). */
function modelModule(apiVersion: string, kind: string): string {
  if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z]+$/.test(kind)) {
    throw new Error(`not a Kubernetes apiVersion/kind: ${apiVersion} ${kind}`);
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function label(obj: SchemaObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${obj.kind} ${ns}${obj.metadata?.name ?? "<no name>"}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Layer 1: the generated schema validator (types, enums, required). Throws with the failing paths. */
export function validateTypes(obj: SchemaObject): void {
  const mod = modelModule(obj.apiVersion, obj.kind);
  let cls: ModelClass | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- module chosen at run time by apiVersion/kind
    cls = (require(mod) as Record<string, ModelClass>)[obj.kind];
  } catch {
    cls = undefined;
  }
  if (!cls) throw new Error(`${label(obj)}: no schema for ${obj.apiVersion}/${obj.kind} in kubernetes-models`);
  try {
    new cls(obj).validate();
  } catch (e) {
    throw new Error(`${label(obj)}: schema validation failed: ${(e as Error).message}`);
  }
}

// ---- Layer 2: unknown-field check against the declarations -------------------------------------

let program: ts.Program | undefined;
const roots = new Set<string>();

function declarationFile(mod: string): string {
  const js = require.resolve(mod);
  return js.replace(/\.js$/, ".d.ts");
}

/** The interface `I<Kind>` of the model, from a (cached) TypeScript program over the model's .d.ts. */
function modelType(apiVersion: string, kind: string): { checker: ts.TypeChecker; type: ts.Type } {
  const file = declarationFile(modelModule(apiVersion, kind));
  if (!roots.has(file) || !program) {
    roots.add(file);
    program = ts.createProgram({
      rootNames: [...roots],
      options: { noEmit: true, skipLibCheck: true, types: [], lib: ["lib.es2020.d.ts"], moduleResolution: ts.ModuleResolutionKind.Node10 },
      oldProgram: program,
    });
  }
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(file);
  const modSym = sf && checker.getSymbolAtLocation(sf);
  const iface = modSym && checker.getExportsOfModule(modSym).find((s) => s.name === `I${kind}`);
  if (!iface) throw new Error(`no interface I${kind} in ${path.basename(file)}`);
  return { checker, type: checker.getDeclaredTypeOfSymbol(iface) };
}

function objectMembers(checker: ts.TypeChecker, type: ts.Type): ts.Type[] {
  const t = checker.getNonNullableType(type);
  const parts = t.isUnion() ? t.types : [t];
  return parts.filter((p) => (p.flags & ts.TypeFlags.Object) !== 0 || (p.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0);
}

function walk(checker: ts.TypeChecker, value: unknown, type: ts.Type, at: string, errors: string[]): void {
  if (value === null || typeof value !== "object") return; // scalars: layer 1 checks their types
  const members = objectMembers(checker, type);
  if (members.length === 0) return; // layer 1 reports the type mismatch
  if (members.some((m) => (m.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0)) return; // free-form
  if (Array.isArray(value)) {
    const arr = members.find((m) => checker.isArrayType(m));
    if (!arr) return;
    const elem = checker.getTypeArguments(arr as ts.TypeReference)[0];
    value.forEach((v, i) => walk(checker, v, elem, `${at}[${i}]`, errors));
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    let found: ts.Type | undefined;
    for (const m of members) {
      const prop = m.getProperty(key);
      if (prop) {
        found = checker.getTypeOfSymbol(prop);
        break;
      }
      const index = checker.getIndexTypeOfType(m, ts.IndexKind.String);
      if (index) {
        found = index;
        break;
      }
    }
    if (!found) {
      const known = [...new Set(members.flatMap((m) => checker.getPropertiesOfType(m).map((p) => p.name)))].sort();
      errors.push(`${at}.${key}: unknown field (known: ${known.join(", ")})`);
      continue;
    }
    walk(checker, v, found, `${at}.${key}`, errors);
  }
}

/** Layer 2: every field must exist in the schema at its path. Returns the unknown fields found. */
export function unknownFields(obj: SchemaObject): string[] {
  const { checker, type } = modelType(obj.apiVersion, obj.kind);
  const errors: string[] = [];
  walk(checker, obj, type, "", errors);
  return errors;
}

/**
 * Validates one object: its apiVersion/kind exist in the Kubernetes API, field types/enums/required
 * fields match (kubernetes-models), and it has no field the schema does not declare. Throws otherwise.
 */
export function validateObject(obj: SchemaObject): void {
  validateTypes(obj);
  const unknown = unknownFields(obj);
  if (unknown.length) throw new Error(`${label(obj)}: ${unknown.join("; ")}`);
}

// ---- Upstream reference manifests (read for comparison only, never copied into the repo) --------

/** ../shared/reference beside the checkout (CI has it too). */
export const REFERENCE_DIR = path.resolve(__dirname, "..", "..", "shared", "reference");

export interface ReferenceObject extends SchemaObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/**
 * The Kubernetes objects of an upstream manifest in ../shared/reference (kustomize Kustomization
 * documents and empty documents skipped). Fails clearly when the directory is missing.
 */
export function readReferenceManifest(file: string): ReferenceObject[] {
  const full = path.join(REFERENCE_DIR, file);
  if (!fs.existsSync(full)) {
    throw new Error(`upstream reference manifest ${full} is missing: these tests compare against ../shared/reference beside the checkout`);
  }
  return yaml
    .loadAll(fs.readFileSync(full, "utf8"))
    .filter((d): d is ReferenceObject => !!d && typeof d === "object" && (d as SchemaObject).kind !== "Kustomization");
}

/** "Kind namespace/name" keys, sorted: compares which objects two manifests contain. */
export function kindNameSet(objs: readonly SchemaObject[]): string[] {
  return objs.map((o) => `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`).sort();
}

/** The one object of that kind and name (throws listing what exists). */
export function findObject<T = SchemaObject>(objs: readonly SchemaObject[], kind: string, name: string): T {
  const hits = objs.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (hits.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${hits.length} in: ${kindNameSet(objs).join(", ")}`);
  return hits[0] as unknown as T;
}

/** Deep copy through JSON (what kubectl/YAML would see: drops undefined, normalizes readonly types). */
export function plain<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
