// Mock harness: runs a Pulumi program under pulumi.runtime.setMocks and records every registered
// resource from the raw RegisterResource request (type, name, parent, inputs, which inputs are secret,
// dependencies, and the options mocks otherwise hide: deleteBeforeReplace, additionalSecretOutputs,
// deletedWith, provider, customTimeouts). Tests and the offline render both use it.
//
// Relies on SDK internals (the mock monitor's registerResource and its protobuf request), verified
// against @pulumi/pulumi 3.248 (see ../shared/PULUMI-NOTES.md §2.4).
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";

export const PROJECT = "kubeadm-cluster";

/** Key that marks a secret value in serialized Pulumi objects. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VAL = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly custom: boolean;
  /** Parent resource name ("" for the stack). */
  readonly parent: string;
  /** Names of the resources this one depends on (explicit dependsOn + outputs it consumes). */
  readonly dependsOn: string[];
  /** Inputs with secrets unwrapped (the real values: tests may look for leaks). */
  readonly inputs: Record<string, unknown>;
  /** Top-level input keys whose value is, or contains, a secret. */
  readonly secretInputs: string[];
  /** Provider resource name, when one was given explicitly (or inherited). */
  readonly provider?: string;
  readonly deleteBeforeReplace: boolean;
  readonly additionalSecretOutputs: string[];
  readonly deletedWith?: string;
  readonly replaceOnChanges: string[];
  readonly ignoreChanges: string[];
  readonly customTimeouts?: { create?: string; update?: string; delete?: string };
  /** Aliases given as full URNs (what KubeadmCluster's v0.1 adoption sends). */
  readonly aliases: string[];
  readonly retainOnDelete: boolean;
  /** Names of the resources whose replacement replaces this one (`replaceWith`). */
  readonly replaceWith: string[];
  /** Per input key, the names of the resources its value came from (the engine's property dependencies). */
  readonly propertyDependencies: Record<string, string[]>;
}

export interface MockState {
  (args: pulumi.runtime.MockResourceArgs): Record<string, unknown> | undefined;
}

/** Deterministic fake id/hex derived from a name (no randomness: renders must be byte-identical). */
export function fakeHex(seed: string, len = 64): string {
  let out = "";
  let i = 0;
  while (out.length < len) out += crypto.createHash("sha256").update(`${seed}#${i++}`).digest("hex");
  return out.slice(0, len);
}

function containsSecret(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  if ((v as Record<string, unknown>)[SECRET_SIG] === SECRET_VAL) return true;
  return Object.values(v as Record<string, unknown>).some(containsSecret);
}

/** Removes Pulumi's secret wrappers, keeping the values. Unknowns become "<unknown>". */
export function unwrapSecrets(v: unknown): unknown {
  if (v === UNKNOWN) return "<unknown>";
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (o[SECRET_SIG] === SECRET_VAL) return unwrapSecrets(o.value);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = unwrapSecrets(o[k]);
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw protobuf request (SDK internal)
function propertyDependencies(req: any): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- protobuf map entries
  req.getPropertydependenciesMap().forEach((v: any, k: string) => {
    out[k] = Array.from(new Set<string>((v.getUrnsList() as string[]).map(nameFromUrn))).sort();
  });
  return out;
}

function nameFromUrn(urn: string): string {
  if (!urn) return "";
  const i = urn.lastIndexOf("::");
  return i >= 0 ? urn.slice(i + 2) : urn;
}

/**
 * Default outputs for resources whose outputs the program reads. Values are deterministic placeholders
 * that have the real format (the CA hash is 64 hex, the token parts are [a-z0-9]).
 */
export function defaultMockState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const inputs = args.inputs as Record<string, unknown>;
  switch (args.type) {
    case "random:index/randomString:RandomString":
    case "random:index/randomPassword:RandomPassword": {
      const length = Number(inputs.length ?? 16);
      const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
      const hex = fakeHex(`random:${args.name}`, length * 2);
      let result = "";
      for (let i = 0; i < length; i++) result += alphabet[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % alphabet.length];
      return { ...inputs, result };
    }
    case "random:index/randomBytes:RandomBytes": {
      const hex = fakeHex(`random-bytes:${args.name}`, Number(inputs.length ?? 32) * 2);
      return { ...inputs, hex, base64: Buffer.from(hex, "hex").toString("base64") };
    }
    case "random:index/randomId:RandomId": {
      // hex is lowercase, 2 characters per byte (terraform-provider-random resource_id.go: hex.EncodeToString).
      const hex = fakeHex(`random-id:${args.name}`, Number(inputs.byteLength ?? 8) * 2);
      return { ...inputs, hex, b64Std: Buffer.from(hex, "hex").toString("base64"), b64Url: Buffer.from(hex, "hex").toString("base64url"), dec: BigInt(`0x${hex}`).toString() };
    }
    case "tls:index/privateKey:PrivateKey": {
      // The public key line has the algorithm's real type and blob prefix (what parsers look at).
      const algorithm = String(inputs.algorithm ?? "ED25519");
      const [type, prefix] =
        algorithm === "ECDSA" ? ["ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY"] : algorithm === "RSA" ? ["ssh-rsa", "AAAAB3NzaC1yc2EAAAADAQAB"] : ["ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAI"];
      return {
        ...inputs,
        privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\nplaceholder-${args.name}\n-----END OPENSSH PRIVATE KEY-----\n`,
        // As the provider gives it: "<type> <base64>\n", no comment (x/crypto/ssh MarshalAuthorizedKey).
        publicKeyOpenssh: `${type} ${prefix}${fakeHex(args.name, algorithm === "ECDSA" ? 86 : 43)}\n`,
      };
    }
    case "command:remote:Command":
    case "command:local:Command":
      return { ...inputs, stdout: mockCommandStdout(args.name), stderr: "" };
    default:
      return { ...inputs };
  }
}

/**
 * stdout for commands whose output the program parses, chosen by name suffix, so the same mock
 * serves tests and the render: `*-ca-hash` prints a hex digest, `*-kubeconfig` a kubeconfig,
 * `*-vm` (VirtualBox create) a VM UUID.
 */
export function mockCommandStdout(name: string): string {
  if (name.endsWith("-ca-hash")) return fakeHex(`ca:${name}`);
  if (name.endsWith("-kubeconfig"))
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- cluster:",
      "    certificate-authority-data: PLACEHOLDER",
      "    server: https://192.0.2.1:6443",
      "  name: kubernetes",
      "contexts:",
      "- context: {cluster: kubernetes, user: kubernetes-admin}",
      "  name: kubernetes-admin@kubernetes",
      "current-context: kubernetes-admin@kubernetes",
      "users:",
      "- name: kubernetes-admin",
      "  user: {client-certificate-data: PLACEHOLDER, client-key-data: PLACEHOLDER}",
    ].join("\n");
  const h = fakeHex(`id:${name}`, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface RunResult<T> {
  readonly value: T;
  readonly resources: RecordedResource[];
  /** Resolves an Output to its value (under mocks, not preview). */
  readonly invokes: { token: string; inputs: Record<string, unknown> }[];
}

export interface RunOptions {
  /** Stack config, keys without the project prefix, values as strings (objects JSON-encoded). */
  readonly config: Readonly<Record<string, string>>;
  /** Keys (without prefix) that are secret config. */
  readonly secretKeys?: readonly string[];
  readonly stack?: string;
  /** Extra or overriding mock outputs; return undefined to fall back to the default. */
  readonly state?: MockState;
  /** Answers for invokes (data sources); return undefined to get {}. */
  readonly call?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
}

/** Resolves an Output's value (the apply runs under mocks when not in preview). */
export function valueOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(o as pulumi.Input<T>).apply((v) => { resolve(v as T); return v; }));
}

/**
 * Sets mocks and config, runs `program`, waits until every registration finished, and returns what was
 * registered. Call at most once per jest module registry (use jest.isolateModules for a second run).
 */
export async function runMocked<T>(opts: RunOptions, program: () => T | Promise<T>): Promise<RunResult<T>> {
  const recs: RecordedResource[] = [];
  const invokes: { token: string; inputs: Record<string, unknown> }[] = [];
  const stack = opts.stack ?? "test";
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const over = opts.state?.(args);
        const state = over ?? defaultMockState(args);
        return { id: args.id || `${args.name}-id`, state };
      },
      call: (args) => {
        const inputs = args.inputs as Record<string, unknown>;
        invokes.push({ token: args.token, inputs });
        return opts.call?.(args.token, inputs) ?? {};
      },
    },
    PROJECT,
    stack,
    false,
  );
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config)) config[`${PROJECT}:${k}`] = v;
  pulumi.runtime.setAllConfig(config, (opts.secretKeys ?? []).map((k) => `${PROJECT}:${k}`));

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mock monitor is an SDK internal with no public type
  const mon: any = pulumi.runtime.getMonitor();
  const orig = mon.registerResource.bind(mon);
  const pending: Promise<void>[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw protobuf request/callback (SDK internal)
  mon.registerResource = (req: any, cb: any) => {
    let done: () => void = () => undefined;
    pending.push(new Promise<void>((r) => (done = r)));
    const rawInputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const secretInputs = Object.keys(rawInputs).filter((k) => containsSecret(rawInputs[k])).sort();
    const ct = req.getCustomtimeouts();
    const provider: string = req.getProvider() ?? "";
    const parentUrn: string = req.getParent() ?? "";
    return orig(req, (err: unknown, resp: { getUrn(): string }) => {
      try {
        const urn = resp ? resp.getUrn() : "";
        recs.push({
          type: req.getType(),
          name: req.getName(),
          urn,
          custom: req.getCustom(),
          parent: parentUrn.includes("pulumi:pulumi:Stack") ? "" : nameFromUrn(parentUrn),
          dependsOn: Array.from(new Set<string>((req.getDependenciesList() as string[]).map(nameFromUrn))).sort(),
          inputs: unwrapSecrets(rawInputs) as Record<string, unknown>,
          secretInputs,
          provider: provider ? nameFromUrn(provider.split("::").slice(0, -1).join("::")) : undefined,
          deleteBeforeReplace: req.getDeletebeforereplace(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          deletedWith: req.getDeletedwith() ? nameFromUrn(req.getDeletedwith()) : undefined,
          replaceOnChanges: req.getReplaceonchangesList(),
          ignoreChanges: req.getIgnorechangesList(),
          customTimeouts: ct ? { create: ct.getCreate() || undefined, update: ct.getUpdate() || undefined, delete: ct.getDelete() || undefined } : undefined,
          // eslint-disable-next-line @typescript-eslint/no-explicit-any -- protobuf Alias messages (SDK internal)
          aliases: (req.getAliasesList() as any[]).map((a) => a.getUrn()).filter((u: string) => u !== "").sort(),
          retainOnDelete: req.getRetainondelete(),
          replaceWith: (req.getReplaceWithList() as string[]).map(nameFromUrn).sort(),
          propertyDependencies: propertyDependencies(req),
        });
      } finally {
        cb(err, resp);
        done();
      }
    });
  };

  const value = await program();
  // Registrations chain on outputs; keep waiting until no new ones appear.
  let seen = -1;
  while (seen !== pending.length) {
    seen = pending.length;
    await Promise.all(pending);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { value, resources: recs, invokes };
}

/** Finds exactly one recorded resource by name (throws with the known names otherwise). */
export function byName(recs: readonly RecordedResource[], name: string): RecordedResource {
  const found = recs.filter((r) => r.name === name);
  if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}; names: ${recs.map((r) => r.name).join(", ")}`);
  return found[0];
}

export function byType(recs: readonly RecordedResource[], type: string): RecordedResource[] {
  return recs.filter((r) => r.type === type);
}

/** Transitive dependency check: does `from` (by name) depend on `to`, through dependsOn edges? */
export function dependsTransitively(recs: readonly RecordedResource[], from: string, to: string): boolean {
  const map = new Map(recs.map((r) => [r.name, r.dependsOn]));
  const seen = new Set<string>();
  const stack = [...(map.get(from) ?? [])];
  while (stack.length) {
    const n = stack.pop() as string;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(map.get(n) ?? []));
  }
  return false;
}

/**
 * The URN the real engine gives `r`: mock URNs name only the immediate parent's type, the engine
 * chains every ancestor's type (`urn:pulumi:<stack>::<project>::<A>$<B>$<type>::<name>`).
 */
export function engineUrn(recs: readonly RecordedResource[], r: RecordedResource): string {
  const parentTypeOf = (x: RecordedResource): string | undefined => {
    const chain = x.urn.split("::")[2]?.split("$") ?? [];
    return chain.length > 1 ? chain[chain.length - 2] : undefined;
  };
  const chain = (x: RecordedResource): string[] => {
    const pt = parentTypeOf(x);
    if (!x.parent || !pt) return [x.type];
    const p = recs.find((y) => y.type === pt && y.name === x.parent);
    if (!p) throw new Error(`no recorded parent ${pt} ${x.parent} of ${x.name}`);
    return [...chain(p), x.type];
  };
  const [, stackAndProject] = /^urn:pulumi:([^:]+::[^:]+)::/.exec(r.urn) ?? [];
  return `urn:pulumi:${stackAndProject}::${chain(r).join("$")}::${r.name}`;
}
