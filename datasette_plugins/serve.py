"""Running Datasette on a review database, read-only, with this project's plugin."""

from __future__ import annotations

from pathlib import Path

from datasette.app import Datasette

from datasette_plugins.metadata import metadata

SETTINGS = {"suggest_facets": False, "sql_time_limit_ms": 3000, "allow_download": False}


def make_datasette(review: Path, synthetic: bool = False) -> Datasette:
    """Datasette opens a mutable file with mode=ro; no route can write to it."""
    return Datasette(
        [str(review)],
        metadata=metadata(review.stem, synthetic),
        settings=SETTINGS,
    )


def serve(review: Path, host: str, port: int, synthetic: bool = False) -> None:
    import uvicorn

    ds = make_datasette(review, synthetic)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
