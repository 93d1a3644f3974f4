// The rule model lives with the render (tools/render-lib/transition.ts), which also uses it for
// `--upgrade-from`; the lifecycle tests import it from here.
export * from "../../tools/render-lib/transition";
