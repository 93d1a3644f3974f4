// The key tables in README.md and docs/configuration.md are generated from CONFIG_KEYS; a stale file
// (a key added or reworded in components/config/keys.ts without `npm run docs:config`) fails here.
import * as fs from "fs";
import * as path from "path";
import { FILES, withKeyTables } from "../tools/config-docs";

test.each(FILES)("%s has the key tables `npm run docs:config` generates", (f) => {
  const text = fs.readFileSync(path.join(__dirname, "..", f), "utf8");
  expect(withKeyTables(text, f)).toBe(text);
});
