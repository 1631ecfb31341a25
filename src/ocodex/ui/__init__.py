"""The interactive session: `ocodex` with no subcommand."""
