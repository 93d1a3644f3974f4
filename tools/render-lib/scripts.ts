// Turns a command resource's `create`/`delete` string back into the script a person can run by hand.
// components/script.ts remoteBash() sends `sudo -n timeout --kill-after=K N bash -c '<script>'` with the
// script quoted by shellQuote(); that quoting is reversible, and we check the round trip so a command
// of any other shape is shown verbatim instead of being mangled.
import { shellQuote } from "../../components/node/script";

export interface UnwrappedCommand {
  /** The script text the node's bash runs (the composed script, shebang and header included). */
  readonly script: string;
  /** How Pulumi wraps it, with the script replaced by a placeholder, e.g. `sudo -n timeout ... bash -c '<script>'`. */
  readonly wrapper?: string;
  /** Seconds of the outer `timeout`, when wrapped. */
  readonly timeoutSeconds?: number;
  /** A local command run through a non-shell interpreter (the script is the full command line). */
  readonly viaInterpreter?: boolean;
}

// An optional trailing ` # ...` comment is part of some commands (the kubeconfig's Kubernetes version,
// a renewal label): it changes the command text, so a change updates the resource, and runs nothing.
const WRAPPED = /^(sudo -n timeout (?:--kill-after=\d+ )?(\d+) bash -c )('(?:[^']|'"'"')*')( # [^\n']*)?$/s;

/** Undoes shellQuote: `'it'"'"'s'` -> `it's`. Returns undefined if `quoted` is not exactly one shellQuote result. */
export function shellUnquote(quoted: string): string | undefined {
  if (!quoted.startsWith("'") || !quoted.endsWith("'") || quoted.length < 2) return undefined;
  const value = quoted.slice(1, -1).split(`'"'"'`).join("'");
  return shellQuote(value) === quoted ? value : undefined;
}

export function unwrapCommand(command: string): UnwrappedCommand {
  const m = WRAPPED.exec(command);
  if (m) {
    const script = shellUnquote(m[3]);
    if (script !== undefined) return { script, wrapper: `${m[1]}'<script>'${m[4] ?? ""}`, timeoutSeconds: Number(m[2]) };
  }
  return { script: command };
}

/**
 * The file written to nodes/<node>/NN-step.sh: the script itself (shebang first, so `bash file` and
 * `./file` both work), with comment lines after the shebang saying what runs it and where stdin
 * comes from. `notes` are plain text lines, each becomes a `# ` comment.
 */
export function scriptFile(script: string, notes: readonly string[]): string {
  const comments = notes.map((n) => `# ${n}`.trimEnd()).join("\n");
  if (script.startsWith("#!")) {
    const nl = script.indexOf("\n");
    const shebang = nl < 0 ? script : script.slice(0, nl);
    const rest = nl < 0 ? "" : script.slice(nl + 1);
    return `${shebang}\n${comments}\n${rest}${rest.endsWith("\n") || rest === "" ? "" : "\n"}`;
  }
  // A bare command line (not a composed script): run it the way SSH would, with bash.
  return `#!/usr/bin/env bash\n${comments}\n${script}${script.endsWith("\n") ? "" : "\n"}`;
}
