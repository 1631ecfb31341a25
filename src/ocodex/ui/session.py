"""One interactive session: the thread (opened in the background), the prompt, and a turn's life.

The prompt appears before the thread is ready: `open_in_background` connects to the server, makes the
model ready (probe, pull, load) and restores a resumed session on a thread of its own, while the person
types; what it reports is printed above the prompt. A prompt sent before it is ready waits for it, with
an indicator. If it fails, the error is printed and the session ends with its exit code.

A turn (`turn`) runs on the main thread, so Ctrl-C (SIGINT) stops it as it stops exec; `TurnKeys`
reads the keyboard meanwhile: Esc interrupts through `Thread.interrupt`, approval questions take one
key. After the turn the answer is printed (Markdown), then the footer.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex import offmain
from ocodex.errors import OcodexError, TurnInterrupted, report
from ocodex.ui.face import TerminalFace

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

    from ocodex.config import Settings
    from ocodex.sessions import LoadedSession
    from ocodex.thread import Thread, ThreadStatus

PROMPT = "› "


class OpenFailed(Exception):
    """The thread could not be opened (the error was reported); the session ends with `exit_code`."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


class Session:
    def __init__(self, settings: Settings, *, cwd: Path, home: Path, face: TerminalFace, ephemeral: bool,
                 resume: LoadedSession | None) -> None:
        self.settings = settings
        self.cwd = cwd
        self.home = home
        self.face = face
        self.ephemeral = ephemeral
        self._resume = resume
        self._thread: Thread | None = None
        self._error: BaseException | None = None
        self._opened = threading.Event()
        self._opener: threading.Thread | None = None
        self._on_failure: Callable[[], None] | None = None  # ends a prompt that is being shown
        self.listed_models: list[str] = []  # the last /model listing, for /model NUMBER
        self.prompt: PromptSession[str] | None = None
        face.status = self.status

    # ---- the thread --------------------------------------------------------------------------

    def open_in_background(self) -> None:
        """Start opening the thread (the first call only)."""
        if self._opener is None:
            self._opener = threading.Thread(target=self._open, name="ocodex-open", daemon=True)
            offmain.start(self._opener)

    def open_now(self) -> None:
        self._open()
        self.thread  # noqa: B018 - raises what opening raised

    def _open(self) -> None:
        from ocodex.thread import Thread

        try:
            self._thread = Thread.open(self.settings, cwd=self.cwd, home=self.home, face=self.face,
                                       resume=self._resume, ephemeral=self.ephemeral, source="cli")
            self._started()
        except BaseException as exc:  # reported by the main thread, which ends the session
            self._error = exc
            if isinstance(exc, OcodexError):
                report(exc, self.face.err)
        finally:
            self._opened.set()
            if self._error is not None and self._on_failure is not None:
                self._on_failure()

    def _started(self) -> None:
        from ocodex.ui.repl import recap

        thread = self._thread
        assert thread is not None
        face = self.face
        if self._resume is None and self.ephemeral:
            face.note("--ephemeral: this conversation is not saved")
        face.note(f"workdir: {self.cwd}  — /help for commands, Esc or Ctrl-C stops a turn, Ctrl-D leaves")
        if self._resume is not None:  # where the resumed conversation left off, just above the prompt
            text = recap(thread.exchanges())
            if text:
                face.note(text)
        face.after_turn()

    @property
    def ready(self) -> bool:
        return self._opened.is_set()

    @property
    def thread(self) -> Thread:
        """The open thread; waits for it (with an indicator) if it is still opening."""
        if not self._opened.is_set():
            self._wait()
        if self._error is not None:
            error = self._error
            if isinstance(error, OcodexError):
                raise OpenFailed(error.exit_code or 1)
            raise error
        assert self._thread is not None
        return self._thread

    def _wait(self) -> None:
        live = self.face.live
        started = time.monotonic()
        try:
            while not self._opened.wait(0.1):
                if live is not None:
                    live.show([self.face.style(f"⠿ Connecting to the model server · {int(time.monotonic() - started)}s"
                                               " · ctrl-c to leave", "cyan")])
        finally:
            if live is not None:
                live.clear()

    def status(self) -> ThreadStatus | None:
        return self._thread.status if self._thread is not None else None

    def fail_prompt_on_error(self, end_prompt: Callable[[], None] | None) -> None:
        """While a prompt is shown, a failed opening ends it (`end_prompt`)."""
        self._on_failure = end_prompt
        if end_prompt is not None and self._opened.is_set() and self._error is not None:
            end_prompt()

    def close(self) -> None:
        if self._thread is not None and self._opened.is_set():
            self._thread.close()

    # ---- a turn ------------------------------------------------------------------------------

    def turn(self, text: str, *, mentions: bool = True) -> str:
        """Run one turn with `text` (with `mentions`, what it mentions is attached: a typed prompt, never
        a prompt ocodex wrote, such as /review's diff); returns what was typed during it (type-ahead)."""
        from ocodex.ui.attach import Prepared, prepare
        from ocodex.ui.keys import TurnKeys

        thread = self.thread
        capabilities = thread.status.capabilities
        vision = None if capabilities is None else "vision" in capabilities
        prepared = prepare(text, self.cwd, vision=vision) if mentions else Prepared(text)
        for note in prepared.notes:
            self.face.note(note)
        if prepared.attached:
            self.face.note("attached: " + ", ".join(prepared.attached))
        keys = TurnKeys(lambda: thread.interrupt("interrupted by the user (Esc)"))
        self.face.keys = keys
        result = None
        try:
            with keys:
                result = thread.run_turn(prepared.text, prepared.images)
        except TurnInterrupted:
            self.face.note("interrupted: the task was stopped; the conversation continues")
        except OcodexError as exc:  # e.g. images for a model without vision: the session goes on
            report(exc, self.face.err)
        finally:
            self.face.keys = None
        if result is not None and result.final_message is not None:
            self.face.final_message(result.final_message)
        self.face.after_turn()
        return keys.typeahead

    def resume(self, path: Path) -> None:
        """Continue the saved session at `path` instead of the current conversation."""
        from ocodex.sessions import load_session
        from ocodex.thread import Thread
        from ocodex.ui.repl import recap

        loaded = load_session(path)
        fresh = Thread.open(self.settings, cwd=self.cwd, home=self.home, face=self.face, resume=loaded,
                            ephemeral=self.ephemeral, source="cli")
        old, self._thread = self._thread, fresh
        if old is not None:
            old.close()
        text = recap(fresh.exchanges())
        if text:
            self.face.note(text)
        self.face.after_turn()

    def ask_line(self, question: str) -> str:
        """One line typed in answer to `question` (no history); "" when cancelled."""
        if not self.face.tty:
            self.face.line(question)
            return sys.stdin.readline()
        from prompt_toolkit import prompt as ask

        try:
            return ask(question)
        except (KeyboardInterrupt, EOFError):
            return ""

    def message(self) -> Any:
        return [("class:prompt", PROMPT)]
