"""The release cut's spill (writers.RowSpill): rows in PostgreSQL's COPY text format, read back by Arrow's CSV
reader, give back every value as it was: null apart from the empty text, tabs, newlines and backslashes escaped,
a literal \\N, non-ASCII text; whatever the blocks' boundaries, in chunks of exactly the size asked."""
from __future__ import annotations

from services.registry.writers import RowSpill, copy_text

NAMES = ("case_pseudonym", "office", "note")
ODD = [None, "", "a\tb", "line\nbreak\r", "back\\slash", "\\N", "ærlig ørret på å", "\\", "trailing\\"]


def test_the_spill_gives_back_every_value_in_chunks_of_the_size_asked(tmp_path):
    rows = [(f"p{n:04d}", ODD[n % len(ODD)], ODD[(n * 7 + 3) % len(ODD)]) for n in range(95)]
    text = copy_text({name: [row[i] for row in rows] for i, name in enumerate(NAMES)}, NAMES)
    spill = RowSpill(tmp_path / "rows.txt", NAMES, keep=("office",))
    for start in range(0, len(text), 37):  # blocks cut inside lines and inside UTF-8 characters
        spill.write(text[start:start + 37])
    assert spill.rows == len(rows)
    assert spill.kept()[0].to_pylist() == [row[1] for row in rows]
    chunks = list(spill.chunks(20))
    assert [len(chunk["office"]) for chunk in chunks] == [20, 20, 20, 20, 15]
    assert [tuple(values) for chunk in chunks for values in zip(*(chunk[n] for n in NAMES), strict=True)] == rows
    assert not (tmp_path / "rows.txt").exists()
