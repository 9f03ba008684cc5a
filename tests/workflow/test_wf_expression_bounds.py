"""Expressions are bounded in time and size: an expensive one fails its step at once."""

from __future__ import annotations

import pytest

from nestr.workflow.expressions import ExpressionError, evaluate

EXPENSIVE = [
    ("7**(10**8) > 1", "bits"),
    ("(2**99999) * (2**99999)", "bits"),
    ("'a' * 10**10", "repeating"),
    ("[0] * 10**8", "repeating"),
    ("'x'.center(10**9)", "size limit"),
    ("'x' | center(10**9)", "size limit"),
    ("'%999999999d' % 1", "format widths"),
    ("'{:>999999999}'.format(1)", "format widths"),
    ("([range(100000)] * 10000) | map('list') | map('sum') | sum", "took more than"),
]


@pytest.mark.timeout(60)  # the hang guard: unbounded, the first of these runs for minutes
@pytest.mark.parametrize(("expr", "words"), EXPENSIVE)
def test_expensive_expression_is_refused(expr: str, words: str) -> None:
    """Each way to make an expression run long or grow huge stops with a message naming it."""
    with pytest.raises(ExpressionError, match=words) as raised:
        evaluate(expr, {})
    assert f"`{expr}`" in str(raised.value)


def test_ordinary_arithmetic_and_formatting_still_work() -> None:
    """The bounds leave everyday expressions alone."""
    assert evaluate("2**64 * 3", {}) == 3 * 2**64
    assert evaluate("'ab' * 3 ~ '%05d' % 42", {}) == "ababab00042"
    assert evaluate("'{:>4}'.format(7) ~ ('x' | center(5))", {}) == "   7  x  "
    assert evaluate("range(10) | map('string') | join(',')", {}) == "0,1,2,3,4,5,6,7,8,9"


@pytest.mark.timeout(60)
def test_expensive_expression_fails_its_step_quickly(project, nestr) -> None:
    """`${{ 7**(10**8) > 1 }}` fails the step (not the executor) with a message naming the
    step and the expression; dependents are skipped and the run ends failed."""
    project.write(
        """
        slow:
          steps:
            - {id: a, run: "echo ${{ 7**(10**8) > 1 }}", timeout: 2s}
            - {id: b, needs: [a], run: "true"}
        """
    )
    result = nestr("run", "slow", "-m", str(project.manifest_path))
    assert result.code == 1, result
    assert "a: cannot evaluate `7**(10**8) > 1`" in result.out
    assert "more than the 100,000 an expression may compute" in result.out
