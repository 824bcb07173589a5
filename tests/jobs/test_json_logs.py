"""Unattended runs log one JSON object per line, with the step's fields; a terminal gets one
text line per record with the same fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.jobs.runtime import JsonFormatter, TextFormatter


@contextmanager
def _logged(
    name: str, formatter: logging.Formatter
) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing through ``formatter`` into a string, for the test's span."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_each_record_is_one_json_line_with_its_extra_fields() -> None:
    with _logged("huzhu.test.jsonlogs", JsonFormatter()) as (logger, stream):
        logger.info(
            "step done",
            extra={"step": "fetch", "business_date": "2024-07-01", "summary": {"stored": 2}},
        )
        try:
            raise ConnectionRefusedError("银行拒绝连接")
        except ConnectionRefusedError:
            logger.exception("step failed", extra={"step": "batches"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "step done"
    assert first["level"] == "info"
    assert first["step"] == "fetch"
    assert first["summary"] == {"stored": 2}
    assert first["time"].endswith("+00:00")
    assert second["level"] == "error"
    assert "银行拒绝连接" in second["exception"]


def test_a_text_line_names_the_step_date_and_partition_and_keeps_the_traceback_below() -> None:
    with _logged("huzhu.test.textlogs", TextFormatter()) as (logger, stream):
        logger.info("step started", extra={"step": "fetch", "business_date": "2024-07-01"})
        try:
            raise ConnectionRefusedError("银行拒绝连接")
        except ConnectionRefusedError:
            logger.exception(
                "step failed",
                extra={"step": "batches", "partition": "rcb", "error": "KeyLoadError: 密钥 x"},
            )
        logger.info("plain")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "INFO huzhu.test.textlogs: step started step=fetch business_date=2024-07-01"
    assert lines[1] == (
        "ERROR huzhu.test.textlogs: step failed step=batches partition=rcb "
        'error="KeyLoadError: 密钥 x"'
    )
    assert lines[2] == "Traceback (most recent call last):"
    assert "ConnectionRefusedError: 银行拒绝连接" in lines
    assert lines[-1] == "INFO huzhu.test.textlogs: plain"
