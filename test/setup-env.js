// Make `${output}` in a template literal throw (see PULUMI-NOTES §5).
process.env.PULUMI_ERROR_OUTPUT_STRING = "true";
