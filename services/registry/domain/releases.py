"""Releases, pure: the id, the release notes (errata since the previous release), the manifest entry of a file and the
DDI-Codebook 2.6 description of the release's variables."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

DDI_NAMESPACE = "ddi:codebook:2_6"
ERRATA_CHANGES = ("corrected", "withdrawn_erased", "withdrawn_marked")
CODEBOOK_VERSION = "registry-codebook-3"  # raised whenever the codebook's columns or the release layout change


def release_id(number: int, version: int) -> str:
    return f"r{number}v{version}"


def manifest_entry(name: str, size: int, sha256: str, rows: int | None) -> dict:
    return {"file": name, "rows": rows, "bytes": size, "sha256": sha256}


def errata(changes: list[dict], previous_cases: set) -> list[dict]:
    """Corrections and withdrawals (by pseudonym) since the previous release of cases that release had."""
    return [{"case_pseudonym": c["case_pseudonym"], "change": c["change"], "seq": c["seq"]}
            for c in changes if c["change"] in ERRATA_CHANGES and c["case_pseudonym"] in previous_cases]


def notes(identifier: str, previous: str | None, cut_at, cursor: int, cases: int, found_errata: list[dict],
          recut_of: str | None = None, erased: list[str] = (), k_anonymity: dict | None = None) -> dict:
    """The release notes: what the release is, what changed since the previous one, and what the k-anonymity of
    the row-level files recoded and blanked (domain.anonymity's report)."""
    result = {"release": identifier, "previous_release": previous, "cut_at": cut_at.isoformat(), "cursor": cursor,
              "cases": cases, "codebook_version": CODEBOOK_VERSION, "errata": found_errata,
              "k_anonymity": k_anonymity}
    if recut_of:
        result["recut_of"] = recut_of
        result["errata"] = [{"case_pseudonym": p, "change": "withdrawn_erased", "seq": None} for p in erased] + \
            found_errata
    return result


def _text(tag, value, **attributes):
    attrs = "".join(f" {k}={quoteattr(str(v))}" for k, v in attributes.items())
    return f"<{tag}{attrs}>{escape(str(value))}</{tag}>"


def ddi_codebook(identifier: str, title: str, cut_at, tables: dict, rows: dict, lang: str = "nb") -> str:
    """A DDI-Codebook 2.6 document: the study (title, release id, date), a file description per table and every
    variable with its label and its categories (number and label)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<codeBook xmlns="{DDI_NAMESPACE}" version="2.6" ID={quoteattr(identifier)} xml:lang="{lang}">',
             "<stdyDscr><citation><titlStmt>", _text("titl", title), _text("IDNo", identifier),
             "</titlStmt><verStmt>", _text("version", identifier, date=cut_at.date().isoformat()),
             "</verStmt></citation></stdyDscr>"]
    for table in tables:
        parts.append(f'<fileDscr ID="F-{table}"><fileTxt>{_text("fileName", table)}<dimensns>'
                     f'{_text("caseQnty", rows[table])}{_text("varQnty", len(tables[table]))}'
                     f'</dimensns></fileTxt></fileDscr>')
    parts.append("<dataDscr>")
    for table, variables in tables.items():
        for variable in variables:
            interval = "discrete" if variable.kind in ("code", "flag", "integer") else "contin"
            parts.append(f'<var ID={quoteattr(f"V-{table}-{variable.name}")} name={quoteattr(variable.name)} '
                         f'files="F-{table}" intrvl="{interval}">')
            parts.append(_text("labl", variable.label[lang]))
            for code, labels in variable.codes.items():
                parts.append(f"<catgry>{_text('catValu', variable.number(code))}{_text('labl', labels[lang])}"
                             f"</catgry>")
            kind = "character" if variable.kind == "string" else "numeric"
            parts.append(f'<varFormat type="{kind}" schema="other"/></var>')
    parts.append("</dataDscr></codeBook>")
    return "".join(parts)
