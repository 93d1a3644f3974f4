import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { runMocked, byName, valueOf } from "./harness";

test("harness records inputs, secrets, dependencies and hidden options", async () => {
  const { resources, value } = await runMocked({ config: { greeting: "hi" }, secretKeys: [] }, () => {
    const cfg = new pulumi.Config();
    const conn = { host: "10.0.0.1", user: "u", privateKey: pulumi.secret("KEY") };
    const a = new command.remote.Command("a-ca-hash", { connection: conn, create: `echo ${cfg.require("greeting")}` });
    const b = new command.remote.Command("b", { connection: conn, create: "true", stdin: pulumi.secret(a.stdout) },
      { deleteBeforeReplace: true, additionalSecretOutputs: ["stdout"], dependsOn: [a] });
    return b.stdin;
  });
  const b = byName(resources, "b");
  expect(b.dependsOn).toContain("a-ca-hash");
  expect(b.secretInputs).toEqual(expect.arrayContaining(["connection", "stdin"]));
  expect(b.deleteBeforeReplace).toBe(true);
  expect(b.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "connection"]));
  expect(await valueOf(value)).toMatch(/^[0-9a-f]{64}$/);
  expect(byName(resources, "a-ca-hash").inputs.create).toBe("echo hi");
});
