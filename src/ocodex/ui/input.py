"""The prompt: prompt_toolkit's line editor, set up as a coding agent's input box.

- Enter sends; Alt-Enter or Ctrl-J starts a new line; a bracketed paste (any terminal since ~2010) is
  inserted whole, newlines included, so a 4-line paste is one prompt; an empty prompt sends nothing.
- History persists in `$OCODEX_HOME/history` (mode 0600: prompts quote code and sometimes secrets), or
  only in memory with `--ephemeral`; Up/Down recall it. An older readline history file is read too.
- Tab completes slash commands and `@path` mentions (files and folders under the workspace); slash
  commands are also offered while typing the first word.
- Ctrl-C clears the line (`KeyboardInterrupt` reaches the caller), Ctrl-D on an empty line leaves (`EOFError`).

prompt_toolkit is imported only when the first prompt is built: `--help`, `--version` and `exec` never
load it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

HISTORY_ENTRIES = 1000  # kept in memory when the file is read
HISTORY_MAX_BYTES = 4 * 1024 * 1024  # of the history file that is read


def _history_class() -> type:
    from prompt_toolkit.history import History

    class PrivateHistory(History):
        """prompt_toolkit's file history format (`+line` per line, `# time` between entries), written
        0600 and without following a link at the path; a readline history (one entry per line) is read too."""

        def __init__(self, path: Path) -> None:
            self.path = path
            super().__init__()

        def load_history_strings(self) -> Iterable[str]:
            try:
                with open(self.path, "rb") as handle:
                    data = handle.read(HISTORY_MAX_BYTES)
            except OSError:
                return []
            return list(reversed(parse_history(data.decode("utf-8", "replace"))[-HISTORY_ENTRIES:]))

        def store_string(self, string: str) -> None:
            import datetime

            text = f"\n# {datetime.datetime.now()}\n" + "".join(f"+{line}\n" for line in string.split("\n"))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                             | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError:
                return  # an unwritable history loses recall, not the session
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, text.encode("utf-8", "replace"))
            except OSError:
                pass
            finally:
                os.close(fd)

    return PrivateHistory


def parse_history(text: str) -> list[str]:
    """The entries of a history file, oldest first: prompt_toolkit's format, or one per line (readline)."""
    lines = text.split("\n")
    if not any(line.startswith("+") for line in lines):
        return [line for line in lines if line.strip()]
    entries: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if line.startswith("+"):
            current = current if current is not None else []
            current.append(line[1:])
        else:
            if current is not None:
                entries.append("\n".join(current))
            current = None
    if current is not None:
        entries.append("\n".join(current))
    return entries


def mention_candidates(cwd: Path, partial: str, limit: int = 50) -> Iterator[tuple[str, str]]:
    """(completion, shown) for `@partial`: entries of the folder `partial` names, under `cwd`."""
    folder, _, stem = partial.rpartition("/")
    base = (cwd / folder) if folder else cwd
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return
    count = 0
    for name in names:
        if not name.startswith(stem) or (name.startswith(".") and not stem.startswith(".")) or name == ".git":
            continue
        path = f"{folder}/{name}" if folder else name
        is_dir = (base / name).is_dir()
        yield (path + "/" if is_dir else path), (name + "/" if is_dir else name)
        count += 1
        if count >= limit:
            return


def build_prompt(*, history: Path | None, commands: dict[str, str], cwd: Path, color: bool,
                 message: Callable[[], Any]) -> PromptSession[str]:
    """The session's prompt. `history`: the file, or None for memory only; `commands`: name -> help."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.completion.base import get_common_complete_suffix
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.styles import Style

    class SessionCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
            before = document.text_before_cursor
            if before.startswith("/") and " " not in before:
                for name, help_text in commands.items():
                    if name.startswith(before):
                        yield Completion(name, start_position=-len(before), display_meta=help_text)
                return
            word = before.split()[-1] if before and not before[-1].isspace() else ""
            if word.startswith("@"):
                for completion, shown in mention_candidates(cwd, word[1:]):
                    yield Completion("@" + completion, start_position=-len(word), display=shown)

    completer = SessionCompleter()
    bindings = KeyBindings()

    @bindings.add("tab")
    def _complete(event: Any) -> None:
        # Completions are computed here, at once (they are local and fast): prompt_toolkit's own Tab
        # asks its background completer, which drops the request while the completion started by the
        # typing is still running, so a quick Tab would do nothing.
        buffer = event.current_buffer
        if buffer.complete_state is not None:
            buffer.complete_next()
            return
        found = list(completer.get_completions(buffer.document, CompleteEvent(completion_requested=True)))
        if len(found) == 1:
            buffer.apply_completion(found[0])
        elif found:
            common = get_common_complete_suffix(buffer.document, found)
            if common:
                buffer.insert_text(common)
            else:
                buffer.start_completion(select_first=False)

    @bindings.add("enter")
    def _send(event: Any) -> None:
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        if buffer.text.strip():
            buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    typing_a_command = Condition(lambda: _first_word_is_command(session.default_buffer.text))
    session: PromptSession[str] = PromptSession(
        message=message, multiline=True, key_bindings=bindings,
        history=_history_class()(history) if history is not None else InMemoryHistory(),
        completer=completer, complete_while_typing=typing_a_command, complete_in_thread=False,
        prompt_continuation=lambda width, line, wrap: " " * width, enable_history_search=False,
        style=Style.from_dict({} if color else {"completion-menu": "noreverse"}), include_default_pygments_style=False,
        color_depth=None if color else _monochrome(), reserve_space_for_menu=0)
    return session


def _first_word_is_command(text: str) -> bool:
    return text.startswith("/") and " " not in text and "\n" not in text


def _monochrome() -> Any:
    from prompt_toolkit.output import ColorDepth

    return ColorDepth.DEPTH_1_BIT
