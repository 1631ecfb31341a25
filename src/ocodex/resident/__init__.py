"""The resident process: a one-shot `ocodex exec` that starts in milliseconds, not in a third of a second.

Most of a one-shot run is Python importing ocodex and httpx. A resident process (`server`) has done
that once; each run the launcher hands over to it is a `fork()` of it that becomes the run: it takes
the caller's descriptors 0-2, working directory, argv, environment and umask, and the caller (`client`)
relays signals to it and exits with its status. `place` says where a resident process listens, and
which one a run may use (its key: everything that would make a fresh start differ); `wire` is the
framing both sides speak.

Who may use it: the same user, confined exactly alike (namespaces, seccomp, no_new_privs, capabilities, LSM
label), so never a sandboxed command: the server checks the peer, and the client checks the server.
When: Linux, `exec` only, stdin not a terminal, no `-X` or unusual interpreter flags, and
`OCODEX_RESIDENT` not `0`. A resident process starts after the second direct run within its idle time
(`place.idle_sec`), from the same key, so a single run never leaves one behind; it exits after that long
without a run. Every failure before the hand-over means the run is done directly, as if there were none.
"""
