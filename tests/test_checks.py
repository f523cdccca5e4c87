"""Each suppression of a check says why. ruff (PGH003, PGH004) and mypy (ignore-without-code)
make a `# noqa` or `# type: ignore` name its codes; this test asks for the reason: words after
the codes on the same line, or a comment on the line just above."""
import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A directive and what follows it on the line.
DIRECTIVE = re.compile(r"#\s*(?:noqa:\s*[A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*|type:\s*ignore\[[^\]]*\])"
                       r"(?P<after>.*)$")


def sources() -> Iterator[Path]:
    for folder, subfolders, files in os.walk(ROOT):
        # not the virtualenv, caches, git, nor the Node test clients' packages
        subfolders[:] = sorted(d for d in subfolders
                               if not d.startswith(".") and d not in ("node_modules", "build"))
        yield from (Path(folder, f) for f in sorted(files) if f.endswith((".py", ".pyi")))


def unexplained(path: Path) -> Iterator[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        found = DIRECTIVE.search(line)
        if found is None:
            continue
        reason = found.group("after").strip(" #-:()")
        above = lines[index - 1].strip() if index else ""
        if not reason and not above.startswith("#"):
            yield f"{path.relative_to(ROOT)}:{index + 1}: {line.strip()}"


def test_every_noqa_and_type_ignore_says_why() -> None:
    assert [found for path in sources() for found in unexplained(path)] == []


def test_a_bare_directive_is_found_and_a_reason_is_seen() -> None:
    lines = ["x = f()  # type: ignore[misc]", "# the library's stub is wrong",
             "y = g()  # noqa: S105", "z = h()  # noqa: S105 - a published demo password"]
    found = [bool(DIRECTIVE.search(line)) for line in lines]
    reasons = [m.group("after").strip(" #-:()") for line in lines if (m := DIRECTIVE.search(line))]
    assert found == [True, False, True, True]
    assert reasons == ["", "", "a published demo password"]
