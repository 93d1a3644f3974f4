// Node scripts are real files under scripts/; a component sends `header + file`, where the header is
// one `NAME='value'` line per variable, every value single-quoted for the shell.
import * as fs from "fs";
import * as path from "path";

/**
 * The package's scripts/ folder: found by walking up from this file, so it is the same whether the
 * TypeScript sources run (components/node/) or the built library does (dist/components/node/).
 */
export const SCRIPTS_DIR = findScriptsDir(__dirname);

export function findScriptsDir(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "scripts", "node", "prep.sh"))) return path.join(dir, "scripts");
    if (path.dirname(dir) === dir) throw new Error(`kubeadm-cluster: no scripts/node/prep.sh above ${start} (is the package installed completely?)`);
  }
}

/** Quotes any string for POSIX sh/bash: 'it'"'"'s' style. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** `NAME='value'` lines in the order given; rejects names that are not shell identifiers. */
export function renderHeader(vars: Readonly<Record<string, string | number | boolean>>): string {
  return Object.entries(vars)
    .map(([k, v]) => {
      if (!VAR_NAME.test(k)) throw new Error(`internal: bad script variable name ${k}`);
      const text = String(v);
      // A single-quoted value with `$` or a backtick is meant literally (e.g. an embedded script);
      // tell shellcheck so, on that line only.
      const directive = /[$`]/.test(text) ? "# shellcheck disable=SC2016 # literal value\n" : "";
      return `${directive}${k}=${shellQuote(text)}`;
    })
    .join("\n");
}

const cache = new Map<string, string>();

/** Reads scripts/<rel> (cached). */
export function readScript(rel: string): string {
  let text = cache.get(rel);
  if (text === undefined) {
    text = fs.readFileSync(path.join(SCRIPTS_DIR, rel), "utf8");
    cache.set(rel, text);
  }
  return text;
}

/** The line by which a node script takes the shared prelude (scripts/node/lib/prelude.sh). */
export const PRELUDE_SOURCE_LINE = 'source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"';
const PRELUDE_DIRECTIVE = "# shellcheck source=lib/prelude.sh";

/** A node library's text (scripts/node/lib/<name>.sh) without its shebang and file comment, as it is inlined. */
export function libText(name: string): string {
  const lines = readScript(`node/lib/${name}.sh`).split("\n");
  let i = 0;
  while (i < lines.length && lines[i].startsWith("#")) i++;
  return lines.slice(i).join("\n").replace(/\n+$/, "\n");
}

/** The prelude's text without its shebang and file comment, as it is inlined. */
export function preludeText(): string {
  return libText("prelude");
}

/**
 * Other shared libraries a script takes the same way as the prelude, e.g. scripts/node/lib/apt.sh:
 * `# shellcheck source=lib/apt.sh` then `source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"`.
 */
const LIB_SOURCE = /^# shellcheck source=lib\/([a-z0-9-]+)\.sh\nsource "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/\1\.sh"\n/gm;

/** Who the script is in its messages (`==> [<tag>] <step>`) and where its progress lines go. */
export interface ScriptIdentity {
  readonly tag: string;
  /** 1 = stdout; 2 = stderr, for scripts whose stdout is a value the program reads or a secret. */
  readonly logFd: 1 | 2;
}

/**
 * The exact text a node receives: the script's shebang line, a generated header, then the rest of the
 * script with its `source .../lib/prelude.sh` line replaced by the prelude itself, so the node gets one
 * self-contained script. Keeping the shebang first means the rendered file is runnable by hand.
 */
export function composeScript(rel: string, vars: Readonly<Record<string, string | number | boolean>>, who?: ScriptIdentity): string {
  const body = readScript(rel);
  const nl = body.indexOf("\n");
  const shebang = body.startsWith("#!") ? body.slice(0, nl + 1) : "#!/usr/bin/env bash\n";
  let rest = body.startsWith("#!") ? body.slice(nl + 1) : body;
  let allVars = vars;
  if (rest.includes(PRELUDE_SOURCE_LINE)) {
    if (!who) throw new Error(`internal: scripts/${rel} uses the prelude; composeScript needs its tag and log fd`);
    allVars = { SCRIPT_TAG: who.tag, LOG_FD: who.logFd, ...vars };
    rest = rest.replace(`${PRELUDE_DIRECTIVE}\n${PRELUDE_SOURCE_LINE}\n`, `# --- prelude (scripts/node/lib/prelude.sh) ---\n${preludeText()}# --- end of prelude ---\n`);
    if (rest.includes(PRELUDE_SOURCE_LINE)) throw new Error(`internal: scripts/${rel}: the prelude line must follow its shellcheck directive`);
  }
  rest = rest.replace(LIB_SOURCE, (_m, name: string) => `# --- library (scripts/node/lib/${name}.sh) ---\n${libText(name)}# --- end of library ---\n`);
  if (/^source .*\/lib\//m.test(rest)) throw new Error(`internal: scripts/${rel}: a lib/ source line must follow its shellcheck directive`);
  const header = renderHeader(allVars);
  return `${shebang}# --- generated by kubeadm-cluster from scripts/${rel}; values below are this node's ---\n${header}\n# --- end of generated header ---\n${rest}`;
}

/** Runs a composed script on the node as root, bounded: the command string a remote.Command gets. */
export function remoteBash(script: string, timeoutSeconds: number): string {
  // The script travels inside a quoted heredoc-free string: `sudo timeout N bash -c '<script>'`.
  return `sudo -n timeout --kill-after=30 ${timeoutSeconds} bash -c ${shellQuote(script)}`;
}
