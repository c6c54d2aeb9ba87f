"""An image inventory line's name is read without parsing the line (prep.images.inventory.row_name),
and it is the name the whole line holds."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from prep.core.versions import inventory_bytes
from prep.images.inventory import row_name


@given(st.text(min_size=1), st.dictionaries(st.text(), st.integers() | st.text(), max_size=4))
def test_the_name_read_from_the_line_is_the_name_it_holds(name, rest):
    row = {"name": name, **{k: v for k, v in rest.items() if k != "name"}}
    line = inventory_bytes([row]).rstrip(b"\n")
    assert row_name(line) == json.loads(line)["name"] == name


def test_a_line_that_does_not_begin_with_its_name_is_parsed_whole():
    assert row_name(b'{"split": "train", "name": "cat/1.jpg"}') == "cat/1.jpg"
    assert row_name(b'{"name": "cat/\\u00e9 \\"2\\".jpg", "split": "test"}') == 'cat/é "2".jpg'
