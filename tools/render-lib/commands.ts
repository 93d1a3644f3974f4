// Every command resource as a runbook step: which node it belongs to, its position in that node's
// order, the script it runs (unwrapped from the remoteBash wrapper) and the file it is written to.
import { RecordedResource } from "../../test/harness";
import { CommandGraph, commandGraph } from "./graph";
import { LOCAL_COMMAND, NodeInfo, RenderModel, isCommand } from "./model";
import { UnwrappedCommand, unwrapCommand } from "./scripts";
import { shellQuote } from "../../components/node/script";
import { StepInfo, splitCommandName, stepInfo } from "./steps";
import { CLUSTER_TYPE } from "../../components/cluster/v1-urns";

export interface Step {
  readonly resource: RecordedResource;
  /** Node name, or undefined for a command that belongs to no node (runs on the Pulumi host). */
  readonly node?: string;
  /** Step name (`prep`, `init`, ...), or the whole resource name when there is no node. */
  readonly step: string;
  /** 1-based position in the node's (or the Pulumi host's) order. */
  readonly index: number;
  readonly local: boolean;
  /** Relative path of the create script, e.g. `nodes/k8s-control/02-prep.sh`. */
  readonly file: string;
  readonly create?: UnwrappedCommand;
  readonly del?: UnwrappedCommand;
  readonly update?: UnwrappedCommand;
  /** The create command itself is secret (never expected; shown as a placeholder). */
  readonly createSecret: boolean;
  /** `<secret: ...>` description when stdin is secret. */
  readonly stdinSecret?: string;
  /** Generated (random) resources the step depends on: where the secret in its stdin comes from. */
  readonly stdinFrom: readonly string[];
  /** stdin content when it is not secret. */
  readonly stdinPlain?: string;
  readonly after: readonly string[];
  readonly info: StepInfo;
  readonly connection?: { host: string; user: string; port: number };
  /** The node whose SSH address the command connects to, when it is not `node` (e.g. the control plane). */
  readonly runsOn?: string;
  /** A cleanup: on delete Pulumi runs `del.script` on the node through scripts/remote/ssh-run.js. */
  readonly runner?: boolean;
}

export interface StepPlan {
  readonly graph: CommandGraph;
  /** Per node in config order, then "" for commands of no node. */
  readonly byNode: ReadonlyMap<string, readonly Step[]>;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function bareOrQuoted(word: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(word) ? word : shellQuote(word);
}

/**
 * A local.Command runs `interpreter... <command>` (default `/bin/sh -c <command>`). With a shell `-c`
 * interpreter the command is the script; otherwise (e.g. `node scripts/vm/vbox.js create`) the rendered
 * script is that full command line, run from the project directory (or the command's `dir`).
 */
export function localCommandLine(command: string, interpreter: unknown, dir: unknown): UnwrappedCommand {
  const interp = Array.isArray(interpreter) ? interpreter.map(String) : undefined;
  if (!interp || interp.length === 0 || interp[interp.length - 1] === "-c") return unwrapCommand(command);
  const line = [...interp, command].map(bareOrQuoted).join(" ");
  const cd = typeof dir === "string" && dir !== "" ? `cd ${bareOrQuoted(dir)}\n` : "";
  return { script: `${cd}${line}\n`, viaInterpreter: true };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

export function safeFileName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** The job of a cleanup command (components/node/cleanup.ts): it runs `script` on a node through scripts/remote/ssh-run.js. */
interface RunnerJob {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly script: string;
  readonly label: string;
  readonly timeoutSeconds: number;
  readonly pinned: boolean;
}

/** The runner job a local.Command's (secret, here unwrapped) stdin carries, when it runs ssh-run.js. */
export function runnerJob(r: Pick<RecordedResource, "inputs">): RunnerJob | undefined {
  const interp = r.inputs.interpreter;
  if (!Array.isArray(interp) || !interp.map(String).includes("remote/ssh-run.js")) return undefined;
  try {
    const j = JSON.parse(String(r.inputs.stdin)) as Record<string, unknown>;
    return { host: String(j.host), port: Number(j.port ?? 22), user: String(j.user), script: String(j.script), label: String(j.label), timeoutSeconds: Number(j.timeoutSeconds), pinned: typeof j.hostKey === "string" };
  } catch {
    return undefined;
  }
}

export function planSteps(model: Pick<RenderModel, "resources" | "nodes">): StepPlan {
  const graph = commandGraph(model.resources);
  const byNameCmd = new Map(model.resources.filter(isCommand).map((r) => [r.name, r]));
  const typeOf = new Map(model.resources.map((r) => [r.name, r.type]));
  // Where a secret stdin's secret comes from: generated random values (the token) kept in the state.
  const isSource = (name: string): boolean => (typeOf.get(name) ?? "").startsWith("random:");
  const groups = new Map<string, Step[]>();
  const clusterPrefixes = model.resources.filter((r) => r.type === CLUSTER_TYPE).map((r) => r.name);
  for (const n of model.nodes) groups.set(n.name, []);
  groups.set("", []);
  for (const name of graph.order) {
    const r = byNameCmd.get(name) as RecordedResource;
    const split = splitCommandName(name, model.nodes as NodeInfo[], clusterPrefixes);
    const key = split?.node ?? "";
    const list = groups.get(key) as Step[];
    const index = list.length + 1;
    const local = r.type === LOCAL_COMMAND;
    const step = split?.step ?? name;
    const file = split
      ? `nodes/${safeFileName(split.node)}/${pad(index)}-${safeFileName(step)}${local && !runnerJob(r) ? ".local" : ""}.sh`
      : `local/${pad(index)}-${safeFileName(step)}.sh`;
    const createSecret = r.secretInputs.includes("create");
    const create = str(r.inputs.create);
    const unwrap = (c: string): UnwrappedCommand => (local ? localCommandLine(c, r.inputs.interpreter, r.inputs.dir) : unwrapCommand(c));
    const script = create === undefined ? undefined : unwrap(create);
    const info = stepInfo(split ? step : name, script?.script);
    const job = local ? runnerJob(r) : undefined;
    const stdin = job ? undefined : str(r.inputs.stdin);
    const conn = (job ? { host: job.host, user: job.user, port: job.port } : r.inputs.connection) as Record<string, unknown> | undefined;
    const target = conn ? model.nodes.find((n) => (n.sshHost ?? n.ip) === String(conn.host)) ?? model.nodes.find((n) => n.ip === String(conn.host)) : undefined;
    list.push({
      resource: r,
      node: split?.node,
      step,
      index,
      local,
      file,
      create: createSecret ? undefined : script,
      del: job
        ? { script: job.script, wrapper: `scripts/remote/ssh-run.js (${job.pinned ? "host key pinned" : "host key not pinned"}): sudo -n timeout --kill-after=30 ${job.timeoutSeconds} bash -s < <script>`, timeoutSeconds: job.timeoutSeconds }
        : str(r.inputs.delete) === undefined || r.secretInputs.includes("delete") ? undefined : unwrap(str(r.inputs.delete) as string),
      runner: job !== undefined,
      update: str(r.inputs.update) === undefined || r.secretInputs.includes("update") ? undefined : unwrap(str(r.inputs.update) as string),
      createSecret,
      stdinSecret: stdin !== undefined && r.secretInputs.includes("stdin") ? info.stdin ?? `stdin of ${name}` : undefined,
      stdinFrom: stdin !== undefined && r.secretInputs.includes("stdin") ? r.dependsOn.filter(isSource) : [],
      stdinPlain: stdin !== undefined && !r.secretInputs.includes("stdin") ? stdin : undefined,
      after: graph.preds.get(name) ?? [],
      info,
      connection: conn
        ? { host: String(conn.host ?? "?"), user: String(conn.user ?? "root"), port: Number(conn.port ?? 22) }
        : undefined,
      runsOn: target && target.name !== split?.node ? target.name : undefined,
    });
  }
  return { graph, byNode: groups };
}

/** Comment lines placed after the shebang of a rendered script. */
export function stepNotes(s: Step, kind: "create" | "delete" | "update"): string[] {
  const where = s.node ? `node ${s.node}` : "the Pulumi host";
  const cmd = kind === "create" ? s.create : kind === "delete" ? s.del : s.update;
  const notes = [
    `Rendered by \`npm run render\`: ${where}, step ${pad(s.index)} "${s.step}" (${kind} of ${s.resource.type} ${s.resource.name}).`,
    `Why: ${s.info.why}`,
  ];
  if (kind === "delete") notes.push("Runs on `pulumi destroy`, or before this step is replaced; steps are undone in reverse order.");
  if (s.after.length && kind === "create") notes.push(`Runs after: ${s.after.join(", ")}.`);
  if (s.runner && kind === "delete" && s.connection) {
    const on = s.runsOn ? `on ${s.runsOn} (for ${s.node}) ` : "";
    notes.push(
      `Pulumi runs it ${on}over SSH as ${s.connection.user}@${s.connection.host} port ${s.connection.port} through scripts/remote/ssh-run.js (key: <secret: SSH private key>),`,
      "which runs nothing and succeeds when the host does not answer after 3 tries or presents another host key (the machine is gone or rebuilt).",
    );
  } else if (s.local) notes.push(`Runs on the Pulumi host (local.Command), not over SSH${cmd?.viaInterpreter ? ", from the project directory (where Pulumi.yaml is)" : ""}.`);
  else if (s.connection) {
    const on = s.runsOn ? `on ${s.runsOn} (for ${s.node}) ` : "";
    notes.push(`Pulumi runs it ${on}over SSH as ${s.connection.user}@${s.connection.host} port ${s.connection.port} (key: <secret: SSH private key>).`);
  }
  if (cmd?.wrapper) notes.push(`Pulumi sends: ${cmd.wrapper}`, `By hand, on the node: sudo timeout ${cmd.timeoutSeconds} bash ${s.file.split("/").pop()}`);
  if (kind === "create" && s.stdinSecret) {
    const from = s.stdinFrom.length ? `; its secret comes from ${s.stdinFrom.join(", ")} (generated once, kept secret in the Pulumi state)` : "";
    notes.push(`stdin: <secret: ${s.stdinSecret}>${from}. Pulumi writes it to this script's stdin; by hand: sudo bash ${s.file.split("/").pop()} < file-with-that-content.`);
  } else if (kind === "create" && s.stdinPlain !== undefined) {
    notes.push(`stdin: the file ${stdinFileName(s)} next to this one (by hand: ... bash ${s.file.split("/").pop()} < ${stdinFileName(s)}).`);
  }
  return notes;
}

export function stdinFileName(s: Step): string {
  return (s.file.split("/").pop() as string).replace(/\.sh$/, ".stdin");
}

export function deleteFile(s: Step): string {
  const parts = s.file.split("/");
  const base = parts.pop() as string;
  return [...parts, "delete", base].join("/");
}
