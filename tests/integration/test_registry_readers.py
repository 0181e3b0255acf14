"""Readers independent of the writer (issue #18): a release's .sav read by R's foreign::read.spss and its .dta by
pandas.read_stata give the release JSON's values with the codebook's labels. `bash scripts/readers.sh` installs R
and its foreign package where missing and runs this with READERS_REQUIRED=1 (CI); elsewhere, without R, the R part
is skipped and says why."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess

import pandas as pd
import pytest

from services.registry import demo, service, tables
from services.registry.writers import STATA_LABEL_BYTES, fit

SECRET = "readers-test-secret-" + "q" * 40
R_SCRIPT = r"""
suppressMessages(library(foreign))
args <- commandArgs(trailingOnly = TRUE)
d <- read.spss(args[1], to.data.frame = TRUE, use.value.labels = TRUE, reencode = "UTF-8")
write.csv(d, args[2], row.names = FALSE, fileEncoding = "UTF-8", na = "")
labels <- attr(d, "variable.labels")
writeLines(enc2utf8(paste(names(labels), labels, sep = "\t")), args[3], useBytes = TRUE)
"""


@pytest.fixture
def release_files(platform_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), f"sqlite:///{tmp_path}/registry.db")
    demo.seed(platform)
    demo.seed_cohort(platform, 40)
    record = service.cut_release(platform, "admin")

    def path(name):
        target = tmp_path / name
        target.write_bytes(service.download(platform, record["id"], name, "rune-forsker"))
        return target
    return path, json.loads(path("codebook.json").read_text(encoding="utf-8"))


def _labelled(variable, code):
    """What a reader that applies value labels shows for a code of the release JSON."""
    if code is None:
        return None
    return next(c["nb"] for c in variable["codes"] if c["code"] == code)


def test_spss_file_in_r_foreign(release_files, tmp_path):
    if shutil.which("Rscript") is None:
        if os.environ.get("READERS_REQUIRED") == "1":
            pytest.fail("Rscript is missing: scripts/readers.sh installs r-base-core and r-cran-foreign")
        pytest.skip("R is not installed here (scripts/readers.sh installs it and runs this)")
    path, book = release_files
    for table in ("cases", "measures", "assessments"):
        reference = json.loads(path(f"{table}.json").read_text(encoding="utf-8"))
        script, data, labels = tmp_path / "read.R", tmp_path / f"{table}-r.csv", tmp_path / f"{table}-labels.tsv"
        script.write_text(R_SCRIPT)
        subprocess.run(["Rscript", str(script), str(path(f"{table}.sav")), str(data), str(labels)], check=True,
                       env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, timeout=120)
        with open(data, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
            handle.seek(0)
            rows = list(csv.DictReader(handle))
        variable_labels = dict(line.split("\t", 1) for line in labels.read_text(encoding="utf-8").splitlines())
        variables = {v["name"]: v for v in book["tables"][table]}
        assert header == reference["columns"]
        assert len(rows) == len(reference["rows"])
        for name, variable in variables.items():
            assert variable_labels[name] == variable["label"]["nb"], (table, name)
        for read, expected in zip(rows, reference["rows"], strict=True):
            for name, variable in variables.items():
                value = read[name].rstrip()
                if variable["kind"] in ("code", "flag"):
                    assert (value or None) == _labelled(variable, expected[name]), (table, name)
                elif variable["kind"] == "integer":
                    assert (None if value == "" else int(float(value))) == expected[name]
                else:
                    assert (value or None) == expected[name], (table, name)


def test_stata_file_in_pandas_read_stata(release_files):
    path, book = release_files
    for table in ("cases", "measures", "assessments"):
        reference = json.loads(path(f"{table}.json").read_text(encoding="utf-8"))
        variables = book["tables"][table]
        frame = pd.read_stata(path(f"{table}.dta"), convert_categoricals=False)
        labelled = pd.read_stata(path(f"{table}.dta"), convert_categoricals=True)
        with pd.io.stata.StataReader(path(f"{table}.dta")) as reader:
            variable_labels = reader.variable_labels()
        assert list(frame.columns) == [v["stata_name"] for v in variables]
        assert len(frame) == len(reference["rows"])
        for variable in variables:
            assert variable_labels[variable["stata_name"]] == fit(variable["label"]["nb"], STATA_LABEL_BYTES)
        for position, expected in enumerate(reference["rows"]):
            for variable in variables:
                value = frame[variable["stata_name"]].iloc[position]
                missing = isinstance(value, float) and math.isnan(value)
                if variable["kind"] in ("code", "flag"):
                    code = None if missing else next(c["code"] for c in variable["codes"]
                                                     if c["value"] == int(value))
                    assert code == expected[variable["name"]]
                    shown = labelled[variable["stata_name"]].iloc[position]
                    assert (None if missing else shown) == _labelled(variable, expected[variable["name"]])
                elif variable["kind"] == "integer":
                    assert (None if missing else int(value)) == expected[variable["name"]]
                else:
                    assert (value or None) == expected[variable["name"]]
