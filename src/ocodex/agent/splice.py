"""A Python fragment put into its file: the functions and classes a small model rewrote, in place.

Asked for a whole file, Qwen2.5-Coder 0.5B/1.5B often answers with only the function it changed. Written as
the file, that fragment would delete the rest of it; dropped, the fix is lost. `splice` reads it the way a
person would: when the block holds nothing but top-level `def`s and `class`es (and imports), every one of them
names a definition of the file, and it leaves out at least one of them, each definition it holds replaces the
file's own (with its decorators; the file's are kept when the block has none), its new imports go after the
file's, and the file's other statements (constants, a `__main__` block) stay. Anything else (a block holding
every definition, which removes what it leaves out; a module-level statement; a name the file does not
define; a new `from __future__` import; a block or result that does not compile; a file with a name defined
twice) is not a fragment, and the block stays a whole file as written. A block holding the definition the model
was asked for (`asked`, a focused attempt) is a fragment even of a file that defines nothing else, and new
functions beside it (a helper it wrote) go in just before the file's own.
"""

from __future__ import annotations

import ast
import io

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None


def _span(node: Definition) -> tuple[int, int]:
    """The 0-based first line and the end (exclusive) of a definition, its decorators included."""
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    assert node.end_lineno is not None
    return first - 1, node.end_lineno


def _definitions(tree: ast.Module) -> dict[str, Definition] | None:
    """The module's top-level definitions by name; None when a name is defined twice."""
    found: dict[str, Definition] = {}
    for node in tree.body:
        if isinstance(node, Definition):
            if node.name in found:
                return None
            found[node.name] = node
    return found


def _fragment(tree: ast.Module) -> tuple[list[Definition], list[ast.stmt]] | None:
    """A block's definitions and imports, if that is all it holds (a docstring aside)."""
    definitions: list[Definition] = []
    imports: list[ast.stmt] = []
    for index, node in enumerate(tree.body):
        if isinstance(node, Definition):
            definitions.append(node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif not (index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            return None
    return (definitions, imports) if definitions else None


def splice(original: str, block: str, asked: str | None = None) -> str | None:
    """`original` with `block`'s definitions in place of its own (see the module docstring); None when `block`
    is not a fragment of it. `asked`: the definition the model was asked for (`ocodex.agent.focus`); a block
    holding it is a fragment even when the file defines nothing else, and its new definitions are added."""
    block_tree, original_tree = _parse(block), _parse(original)
    if block_tree is None or original_tree is None:
        return None
    fragment = _fragment(block_tree)
    existing = _definitions(original_tree)
    if fragment is None or existing is None:
        return None
    definitions, imports = fragment
    names = [node.name for node in definitions]
    wanted = asked is not None and asked in names and asked in existing
    if len(set(names)) != len(names) or not (set(names) < set(existing) or wanted):
        return None  # a block holding every definition is a whole file: what it leaves out, it removes
    have = {ast.unparse(node) for node in original_tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    new_imports = [ast.unparse(node) + "\n" for node in imports if ast.unparse(node) not in have]
    if any(line.startswith("from __future__") for line in new_imports):
        return None  # it would have to go first: not a change a fragment can make
    block_lines, lines = _lines(block), _lines(original)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    replacements: list[tuple[tuple[int, int], int, str]] = []  # (lines replaced, order in the block, text)
    for index, node in enumerate(definitions):
        start, end = _span(node)
        text = "".join(block_lines[start:end])
        text = text if text.endswith(("\n", "\r")) else text + "\n"
        old = existing.get(node.name)
        if old is None:  # a new helper beside the asked definition: just before the file's own
            before = _span(existing[asked])[0] if asked is not None else 0
            replacements.append(((before, before), index, text + "\n\n"))
            continue
        where = _span(old)
        if not node.decorator_list and old.decorator_list:  # `@cache` is kept when the block leaves it out
            where = (old.lineno - 1, where[1])
        replacements.append((where, index, text))
    for (start, end), _, text in sorted(replacements, reverse=True):
        lines[start:end] = [text]
    if new_imports:
        after = _import_position(original_tree)
        lines[after:after] = new_imports
    result = "".join(lines)
    try:
        compile(result, "<spliced>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError):
        return None
    return result


def _lines(text: str) -> list[str]:
    """`text`'s lines as Python's tokenizer counts them (`\\n`, `\\r\\n`, `\\r`; not `str.splitlines`'s form
    feeds and Unicode separators, which would shift every line number after them)."""
    return io.StringIO(text, newline="").readlines()


def _import_position(tree: ast.Module) -> int:
    """The line (0-based) after the module's last top-level import, else after its docstring, else 0."""
    position = 0
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            assert node.end_lineno is not None
            position = node.end_lineno
        elif isinstance(node, Definition):
            break
    return position
