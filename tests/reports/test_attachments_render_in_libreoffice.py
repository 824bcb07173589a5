"""The exported attachments open in LibreOffice (headless) and render to PDF and PNG, saved
under ``test-artifacts/reports/`` so a person can look at them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.reports import export
from gateway.reports.figures import evaluate
from gateway.reports.scoring import load_grading_config, suggest_grade
from gateway.reports.service import county_summary
from gateway.reports.tables import evaluation_rows, loan_detail
from tests.reports.county_seed import AS_OF, Seeded

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "reports"


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    assert found is not None
    return found


@pytest.mark.libreoffice
def test_attachments_render_to_png(seeded: Seeded, tmp_path: Path) -> None:
    session, world = seeded.session, seeded.world
    scoring = load_grading_config(REPO / "config" / "grading.toml").evaluation
    figures = evaluate(session, world.a.id, as_of=AS_OF)
    book = export.new_workbook()
    export.evaluation_sheet(book, evaluation_rows(figures, suggest_grade(figures, scoring)),
                            figures.association_name)  # fmt: skip
    export.loan_detail_sheet(book, loan_detail(session, world.a.id, as_of=AS_OF, figures=figures))
    export.county_summary_sheet(
        book, county_summary(session, world.county.id, scoring, as_of=AS_OF)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workbook = export.save(book, ARTIFACTS / "wenzhou_attachments.xlsx")
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(ARTIFACTS),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    pdf = ARTIFACTS / "wenzhou_attachments.pdf"
    assert pdf.stat().st_size > 5_000
    assert pdf.read_bytes().startswith(b"%PDF")
    for old in ARTIFACTS.glob("wenzhou_attachments-*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(pdf), str(ARTIFACTS / "wenzhou_attachments")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pages = sorted(ARTIFACTS.glob("wenzhou_attachments-*.png"))
    assert len(pages) >= 3  # one page at least per attachment
    for page in pages:
        data = page.read_bytes()
        assert data.startswith(b"\x89PNG")
        assert len(data) > 5_000  # drawn, not blank
