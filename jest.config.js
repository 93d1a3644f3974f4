/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  // google-protobuf touches globals after jest 30's soft delete; keep them.
  testEnvironmentOptions: { globalsCleanup: "off" },
  transform: { "^.+\\.tsx?$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }] },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  // examples/ import the library by its package name, as a user program does.
  moduleNameMapper: { "^kubeadm-pulumi$": "<rootDir>/components/index.ts" },
  testTimeout: 60000,
  // An Output accidentally interpolated into a string throws instead of shipping text to a shell.
  setupFiles: ["<rootDir>/test/setup-env.js"],
};
