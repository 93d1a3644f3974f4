// Internal helper of `npm run render -- --upgrade-from`: runs the program once under mocks with the
// stack's config and kubernetes.version replaced, and prints the recorded resources as JSON. A separate
// process because the program registers its resources when it is first imported (one run per module
// registry); the render itself runs the program at the stack's own version.
import { loadStackConfig, runProgram, withVersion } from "./render";

async function main(): Promise<void> {
  const [stackFile, stack, version] = process.argv.slice(2);
  if (!stackFile || !stack || !version) throw new Error("usage: render-model.ts <stack file> <stack> <kubernetes version>");
  const sc = loadStackConfig(stackFile);
  const model = await runProgram(stack, { ...sc, config: withVersion(sc.config, version) });
  // Exit only once the pipe took everything (a write to a pipe is asynchronous in Node).
  await new Promise<void>((resolve) => process.stdout.write(JSON.stringify(model.resources), () => resolve()));
}

// Exit explicitly: the mock runtime may keep handles open after the program finished.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
