"""Tables written into docs pages: the section is replaced whole, the rest of the page is kept, bad pages refused."""
from __future__ import annotations

import pytest

from scoreinv.bench.docs_section import check_section, write_section
from scoreinv.errors import InputError

from cli_checks import one_line_error

PAGE = "# Title\n\nintro\n\n<!-- begin set12 -->\nold table\n<!-- end set12 -->\n\nafter\n<!-- begin ct -->\nx\n<!-- end ct -->\n"


def test_a_section_is_replaced_and_the_rest_kept(tmp_path):
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    write_section(page, "set12", command="scoreinv bench tasks --data set12", table="| a |\n| --- |\n| 1 |")
    text = page.read_text()
    assert "old table" not in text and "| 1 |" in text and "Produced by: `scoreinv bench tasks --data set12`" in text
    assert text.startswith("# Title\n\nintro\n\n<!-- begin set12 -->\n") and text.endswith("after\n<!-- begin ct -->\nx\n<!-- end ct -->\n")
    assert "commit " in text and "torch threads" in text
    write_section(page, "set12", command="again", table="| b |")   # a re-run replaces, never appends
    assert page.read_text().count("Produced by:") == 1 and "| 1 |" not in page.read_text()


@pytest.mark.parametrize("text,section,fragment", [
    (PAGE, "cbsd68", "exactly once"),
    (PAGE + "<!-- begin set12 -->\n", "set12", "exactly once"),
    ("<!-- end s -->\n<!-- begin s -->\n", "s", "ends before"),
    (PAGE, "Set 12", "lowercase"),
])
def test_bad_pages_and_sections_are_refused(tmp_path, text, section, fragment):
    page = tmp_path / "bench.md"
    page.write_text(text)
    with pytest.raises(InputError, match=fragment):
        check_section(page, section)
    assert page.read_text() == text


def test_the_command_refuses_a_missing_section_before_any_work(cli, tmp_path):
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    one_line_error(cli("bench", "tasks", "--data", "set12", "--out", tmp_path / "out", "--markdown", page,
                       "--section", "nope"), "exactly once")
    one_line_error(cli("bench", "tasks", "--data", "set12", "--out", tmp_path / "out", "--markdown", page),
                   "go together")
    assert not (tmp_path / "out").exists() and page.read_text() == PAGE
