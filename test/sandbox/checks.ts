// Small readers the sandbox tests use to look at what the scripts left behind.

/**
 * The key = value lines of one TOML table, by exact header (e.g. `plugins."io.containerd.grpc.v1.cri"`),
 * from a TOML text as containerd prints it (`config dump`: one `[table]` header per line, no inline
 * tables for these keys). Asserting a key inside its table catches a key written into the wrong table,
 * which containerd would accept silently.
 */
export function tomlTable(text: string, header: string): Map<string, string> | undefined {
  let inTable = false;
  let found = false;
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inTable = line === `[${header}]`;
      found = found || inTable;
      continue;
    }
    if (!inTable) continue;
    const m = /^([A-Za-z0-9_.'"-]+)\s*=\s*(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return found ? out : undefined;
}

/** `dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\n'` output -> package -> "version status". */
export function parseDpkgQuery(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [pkg, ver, status] = line.trim().split(/\s+/);
    if (pkg) m.set(pkg, `${ver} ${status}`);
  }
  return m;
}
