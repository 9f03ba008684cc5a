"""``${{ }}`` in shell scripts: each value travels in an environment variable, never as text.

A value spliced into a script's text is parsed by the shell, and no quoting survives every
context: ``shlex.quote`` is undone inside double quotes (``"v-'$(id)'"`` runs ``id``). So each
``${{ expr }}`` of a script is replaced by a reference to ``$NESTR_EXPR_<n>``, and the value is
put in the process environment under that name. The shell expands a variable without parsing
its value again, whatever the value holds.

The reference depends on where the expression stands, which a small lexer of POSIX sh (and the
bash forms a script meets) tells: ``"${NESTR_EXPR_1}"`` in a bare word (one word, no globbing),
``${NESTR_EXPR_1}`` inside double quotes and unquoted here-documents. Where the shell would not
expand it (single quotes, ``<<'EOF'``) or would evaluate the value as code (``$(( ))``,
``(( ))``, ``let``, ``eval``, a nested ``sh -c`` script, ``[[ ]]`` with ``-eq``, ``${a[…]}`` and
``${s:…}``) the script is refused with :class:`ShellSubstitutionError`. A misjudged context costs
at most word splitting or a literal ``${NESTR_EXPR_1}``: the value itself is never parsed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache

from nestr.workflow.expressions import EXPRESSION
from nestr.workflow.shellargv import ASSIGNMENT, SHELLS

VARIABLE = "NESTR_EXPR_{}"
_PREFIXES = frozenset(
    {"!", "{", "then", "do", "else", "elif", "if", "while", "until", "time", "command"}
    | {"builtin", "exec", "nohup", "env", "sudo", "nice", "xargs"}
)
_ARITH_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_WORD_END = frozenset(" \t\n;&|<>()")
_PARAMETER_NAME = re.compile(r"[#!]?([A-Za-z0-9_]+|[@*#?!-]|\$(?!\{\{))")

SINGLE = (
    "is inside single quotes, where the shell does not expand the variable that carries it",
    'use double quotes ("…${{ … }}…"), or set it under env: and read "$NAME"',
)
QUOTED_HEREDOC = (
    "is in a quoted here-document (<<'EOF'), which the shell does not expand",
    "use an unquoted delimiter (<<EOF) and write other $ as \\$, or read a variable set under env:",
)
ARITHMETIC = (
    "is in an arithmetic context, where the shell would evaluate the value as code",
    "compute the number in the expression (${{ inputs.n * 2 }}) or check it with case first",
)
EVAL = (
    "is an argument of eval or let, which would run the value as shell code",
    "print the value as data (printf '%s' \"${{ … }}\"); code a step must run goes under env:",
)
NESTED_SHELL = (
    "is in the script of a nested shell (-c), which would parse the value as shell code",
    'pass it as a positional parameter: sh -c \'… "$1" …\' sh "${{ … }}"',
)
TEST = (
    "is compared with -eq/-lt/… in [[ ]], where bash evaluates the value as code",
    "use [ ] (test), which compares numbers without evaluating them",
)
ESCAPED = ("follows a backslash", "remove the backslash")
DELIMITER = ("is a here-document delimiter", "write the delimiter literally")


class ShellSubstitutionError(Exception):
    """A ``${{ }}`` stands where a shell script cannot receive its value as data."""

    def __init__(self, expression: str, reason: tuple[str, str]) -> None:
        self.message = f"`{expression}` {reason[0]}"
        self.hint = reason[1]
        super().__init__(self.message)


@dataclass(frozen=True)
class ShellScript:
    """A script whose ``n``-th expression (from 1) is read from ``$NESTR_EXPR_<n>``."""

    text: str
    expressions: tuple[str, ...]


@lru_cache(maxsize=1024)
def rewrite(script: str) -> ShellScript:
    """``script`` with each ``${{ expr }}`` replaced by a variable reference (see module)."""
    scanner = _Scanner(script, [])
    scanner.unquoted("", None)
    return ShellScript("".join(scanner.out), tuple(scanner.exprs))


class _Command:
    """The words of the simple command being scanned: enough to spot eval, sh -c and [[."""

    def __init__(self, inherited: tuple[str, str] | None) -> None:
        self.inherited = inherited
        self.reset()

    def reset(self) -> None:
        self.word: str | None = ""  # literal text of the current word; None once not literal
        self.in_word = False
        self.name: str | None = None  # the command word, once known
        self.seen_prefix = False
        self.evaluating = False
        self.script_next = False
        self.in_script = False
        self.arith_test = False
        self.exprs = 0

    def part(self, char: str | None) -> None:
        """Add ``char`` to the word (None: a part that is not literal text)."""
        if not self.in_word:
            self.in_word, self.word = True, ""
            self.in_script, self.script_next = self.script_next, False
        self.word = None if char is None or self.word is None else self.word + char

    def refusal(self) -> tuple[str, str] | None:
        if self.inherited:
            return self.inherited
        if self.evaluating:
            return EVAL
        return NESTED_SHELL if self.in_script else None

    def end_word(self, expression: str) -> None:
        if not self.in_word:
            return
        self.in_word, word = False, self.word
        if self.name is None:
            self._command_word(word)
        elif word is not None and self.name in SHELLS:
            self.script_next = word[:1] == "-" and word[1:2] != "-" and "c" in word
        elif word in _ARITH_TESTS and self.name == "[[":
            self.arith_test = True
        if self.arith_test and self.exprs:
            raise ShellSubstitutionError(expression, TEST)

    def _command_word(self, word: str | None) -> None:
        if word is not None and (
            word in _PREFIXES or ASSIGNMENT.match(word) or (self.seen_prefix and word[:1] == "-")
        ):
            self.seen_prefix = True
            return
        self.name = posixpath.basename(word) if word else "?"
        self.evaluating = self.name in ("eval", "let")


class _Scanner:
    """Copies a script to ``out``, replacing each expression by a variable reference."""

    def __init__(self, text: str, exprs: list[str]) -> None:
        self.text = text
        self.pos = 0
        self.out: list[str] = []
        self.exprs = exprs
        self.pending: list[tuple[str, bool, bool]] = []  # here-documents: delimiter, quoted, <<-
        self.last = "${{ }}"  # the last expression met, for messages

    def emit(self, count: int = 1) -> None:
        self.out.append(self.text[self.pos : self.pos + count])
        self.pos += count

    def at(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def expression(self, form: str, refusal: tuple[str, str] | None) -> None:
        """Replace the expression at ``pos`` by ``form`` of its variable (or refuse it)."""
        match = EXPRESSION.match(self.text, self.pos)
        if refusal:
            raise ShellSubstitutionError(match.group(0) if match else "${{", refusal)
        if match is None:  # an unclosed ${{ is no expression: the shell reports it
            self.emit(3)
            return
        self.last = match.group(0)
        self.exprs.append(match.group(1).strip())
        self.out.append(form.format(VARIABLE.format(len(self.exprs))))
        self.pos = match.end()

    def backslash(self) -> None:
        if self.text.startswith("${{", self.pos + 1):
            self.pos += 1
            self.expression("", ESCAPED)
        self.emit(2)

    def unquoted(self, until: str, inherited: tuple[str, str] | None) -> None:
        """Words and operators up to the closing ``until`` (``""``: the end of the text)."""
        cmd = _Command(inherited)
        depth = 0
        opener = {")": "(", "}": "{"}.get(until)
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == until and depth == 0:
                cmd.end_word(self.last)
                self.emit()
                return
            if char == opener:
                depth += 1
            elif char == until:
                depth -= 1
            self._unquoted_char(char, cmd)

    def _unquoted_char(self, char: str, cmd: _Command) -> None:
        if self.at("${{"):
            cmd.part(None)
            cmd.exprs += 1
            self.expression('"${{{}}}"', cmd.refusal())
        elif char in "'\"`$\\":
            cmd.part(None if char != "\\" else self.text[self.pos + 1 : self.pos + 2])
            self._quoted(char, cmd)
        elif char == "#" and not cmd.in_word:
            self._comment()
        elif char == "<" and self.at("<<<"):
            cmd.end_word(self.last)
            self.emit(3)
        elif char == "<" and self.at("<<"):
            cmd.end_word(self.last)
            self._heredoc_operator()
        elif char == "(" and self.at("((") and cmd.name is None and not cmd.in_word:
            self.emit(2)
            self.arithmetic("))")
        elif char in _WORD_END:
            cmd.end_word(self.last)
            if char not in " \t<>":
                cmd.reset()
            self.emit()
            if char == "\n":
                self._heredoc_bodies()
        else:
            cmd.part(char)
            self.emit()

    def _quoted(self, char: str, cmd: _Command) -> None:
        """A quote, a backslash or a ``$`` expansion met in a word of ``cmd``."""
        before = len(self.exprs)
        refusal = cmd.refusal()
        if char == "\\":
            self.backslash()
        elif char == "'":
            self.emit()
            self.single("'")
        elif char == '"':
            self.emit()
            self.double('"', refusal)
        elif char == "`":
            self.emit()
            self.unquoted("`", refusal)
        elif self.at("$'"):
            self.emit(2)
            self.single("'", escapes=True)
        elif self.at('$"'):
            self.emit(2)
            self.double('"', refusal)
        else:
            self.dollar(refusal, quoted=False)
        cmd.exprs += len(self.exprs) - before

    def dollar(self, refusal: tuple[str, str] | None, *, quoted: bool) -> None:
        if self.at("$(("):
            self.emit(3)
            self.arithmetic("))")
        elif self.at("$("):
            self.emit(2)
            self.unquoted(")", refusal)
        elif self.at("${"):
            self.emit(2)
            self.parameter(refusal, quoted=quoted)
        else:
            self.emit()

    def single(self, end: str, *, escapes: bool = False, reason: tuple[str, str] = SINGLE) -> None:
        """Single-quoted text (``$'…'`` with ``escapes``): no expression may stand here."""
        while self.pos < len(self.text):
            if self.at("${{") or self.at("\\${{"):
                self.pos += self.at("\\")
                self.expression("", reason)
            if self.at("\\") and escapes:
                self.emit(2)
                continue
            done = self.at(end)
            self.emit()
            if done:
                return

    def double(self, end: str | None, refusal: tuple[str, str] | None) -> None:
        """Double-quoted text up to ``end`` (None: an unquoted here-document body)."""
        form = "${{{}}}"
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if self.at("${{"):
                self.expression(form, refusal)
            elif end is not None and char == end:
                self.emit()
                return
            elif char == "\\":
                self.backslash()
            elif char == "`":
                self.emit()
                self.unquoted("`", refusal)
            elif char == "$":
                self.dollar(refusal, quoted=True)
            else:
                self.emit()

    def arithmetic(self, end: str) -> None:
        """``$(( … ))``, ``(( … ))`` or a parameter's subscript/offset up to ``end``."""
        depth = 0
        while self.pos < len(self.text):
            if self.at("${{"):
                self.expression("", ARITHMETIC)
            char = self.text[self.pos]
            if depth == 0 and self.at(end):
                self.emit(len(end))
                return
            depth += (char in "({[") - (char in ")}]")
            self.emit()

    def parameter(self, refusal: tuple[str, str] | None, *, quoted: bool) -> None:
        """``${name…}`` after its ``${``: a subscript or offset is arithmetic, a word is not."""
        match = _PARAMETER_NAME.match(self.text, self.pos)
        self.emit(match.end() - self.pos if match else 0)
        if self.at("[") or (self.at(":") and self.text[self.pos + 1 : self.pos + 2] not in "-=?+"):
            self.emit()
            self.arithmetic("}")
        elif quoted:
            self.double("}", refusal)
        else:
            self.unquoted("}", refusal)

    def _comment(self) -> None:
        while self.pos < len(self.text) and not self.at("\n"):
            if self.at("${{"):
                self.expression("${{{}}}", None)
            else:
                self.emit()

    def _heredoc_operator(self) -> None:
        strip = self.at("<<-")
        self.emit(3 if strip else 2)
        while self.at(" ") or self.at("\t"):
            self.emit()
        delimiter, quoted = "", False
        while self.pos < len(self.text) and self.text[self.pos] not in _WORD_END:
            char = self.text[self.pos]
            if self.at("${{") or self.at("\\${{"):
                raise ShellSubstitutionError(self.text[self.pos : self.pos + 3], DELIMITER)
            if char in "'\"":
                close = self.text.find(char, self.pos + 1)
                close = len(self.text) if close < 0 else close
                if "${{" in self.text[self.pos : close]:
                    raise ShellSubstitutionError(self.text[self.pos : close], DELIMITER)
                delimiter += self.text[self.pos + 1 : close]
                quoted = True
                self.emit(close + 1 - self.pos)
                continue
            quoted |= char == "\\"
            delimiter += self.text[self.pos + 1 : self.pos + 2] if char == "\\" else char
            self.emit(2 if char == "\\" else 1)
        self.pending.append((delimiter, quoted, strip))

    def _heredoc_bodies(self) -> None:
        """The bodies of the here-documents opened on the line that just ended."""
        for delimiter, quoted, strip in self.pending:
            start = end = self.pos
            while end < len(self.text):
                line_end = self.text.find("\n", end)
                line_end = len(self.text) if line_end < 0 else line_end
                line = self.text[end:line_end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
                end = line_end + 1
            body = _Scanner(self.text[start:end], self.exprs)
            if quoted:
                body.single("\0", reason=QUOTED_HEREDOC)  # refuses every expression
            else:
                body.double(None, None)
            self.out.extend(body.out)
            self.pos = end
        self.pending.clear()
