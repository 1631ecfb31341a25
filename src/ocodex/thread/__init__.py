"""One conversation's lifecycle: building it from settings, recording it, escalating it.

- `assembly`: settings -> a ready agent (provider, model, sandbox, tools, prompt; for `oss` the
  readiness sequence);
- `recording`: how a run meets its session file (which session a resume continues, recording,
  restoring history and usage);
- `escalation`: the small -> large model retry.
"""
