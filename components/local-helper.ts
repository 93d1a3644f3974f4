// How a local.Command runs one of this package's Node.js helpers (scripts/vm/vbox.js, the SSH runner):
// `node -e <loader> -- <scripts/-relative path> <action>`. The loader finds the helper from the
// working directory Pulumi runs commands in (the project root): through the package name (this
// repository resolves itself through package.json "exports"; a program using the library finds it in
// node_modules), else ./scripts/. The interpreter text holds no absolute path, so the same stack run
// from another checkout or machine shows no diff, and a delete still finds its helper after the
// repository moved.

/** The package name the loader resolves (package.json "name", with "./scripts/*" in its exports). */
export const PACKAGE_NAME = "kubeadm-pulumi";

const LOADER = [
  "const path = require('path'), fs = require('fs');",
  "const rel = process.argv[1];",
  `let file; try { file = require.resolve('${PACKAGE_NAME}/scripts/' + rel, { paths: [process.cwd()] }); } catch (e) { file = path.resolve('scripts', rel); }`,
  "if (!fs.existsSync(file)) { process.stderr.write('cannot find scripts/' + rel + ' from ' + process.cwd() + '\\n'); process.exit(2); }",
  "process.argv = [process.argv[0], file, ...process.argv.slice(2)];",
  // Run it as the main module, as `node <file>` would (the helpers check require.main).
  "require('module').runMain();",
].join(" ");

/** The `interpreter` of a local.Command that runs scripts/<rel> with the command text as its argument. */
export function localHelperInterpreter(rel: string): string[] {
  return ["node", "-e", LOADER, "--", rel];
}
