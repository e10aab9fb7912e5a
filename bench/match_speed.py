"""1:N search latency of the watchlist index on synthetic, face-like 128-d embeddings.

Run: ``.venv/bin/python bench/match_speed.py [--sizes 1000,10000,100000,1000000]``.
Vectors are clustered like real dlib embeddings (several photos per identity inside
a narrow cone, calibrated to the genuine/impostor distances measured on the real
photos); probes are fresh photos of enrolled identities. Each index option in
:data:`INDEX_OPTIONS` is timed per probe (p50/p95) and its recall@1 checked against
the exact baseline (full sort), measured in the same run. A pgvector option can be
added as one more :class:`IndexOption`.
"""

from __future__ import annotations

import os

# A multi-threaded BLAS on a busy 2-core box turns a 0.3 ms single-probe matmul into
# 15+ ms of thread hand-off; one thread per process is what the stream workers run.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from _common import REPO_ROOT, Timer, table  # noqa: F401 (puts the repo on sys.path)

from vision.faces.base import FloatArray, l2_normalise
from vision.faces.index import MatrixIndex

DIMENSIONS = 128
PHOTOS_PER_IDENTITY = 4
CONE_SPREAD = 0.40
"""Identity centres: mean direction + this much noise (inter-identity distance ~0.17)."""
PHOTO_SPREAD = 0.19
"""Photos: identity centre + this much noise (genuine distance ~0.03)."""

Searcher = Callable[[FloatArray, int], list[list[tuple[int, float]]]]


@dataclass(frozen=True)
class IndexOption:
    """One way to build and query an index: ``build(ids, vectors) -> search(probes, k)``."""

    name: str
    build: Callable[[list[int], FloatArray], Searcher]
    batch: int = 1


def build_matrix_index(ids: list[int], vectors: FloatArray) -> Searcher:
    """MatrixIndex (matmul + argpartition)."""
    index = MatrixIndex[int](DIMENSIONS, capacity=len(ids))
    index.add(ids, vectors)
    return index.search


def build_full_sort(ids: list[int], vectors: FloatArray) -> Searcher:
    """Exact baseline: matmul + full argsort of every score."""
    matrix = l2_normalise(vectors)

    def search(probes: FloatArray, k: int) -> list[list[tuple[int, float]]]:
        scores = l2_normalise(probes) @ matrix.T
        order = np.argsort(-scores, axis=1)[:, :k]
        return [[(ids[r], float(1 - s[r])) for r in row] for row, s in zip(order, scores, strict=True)]

    return search


INDEX_OPTIONS: list[IndexOption] = [
    IndexOption("full sort (baseline)", build_full_sort),
    IndexOption("MatrixIndex", build_matrix_index),
    IndexOption("MatrixIndex, 32 probes/call", build_matrix_index, batch=32),
]


class PgVectorBench:
    """A throwaway database on the embedded (or DATABASE_URL) PostgreSQL with pgvector."""

    def __init__(self) -> None:
        import psycopg

        from commandcenter import embedded

        os.environ.setdefault("CC_EMBEDDED_KEEP", "")
        embedded.ensure_services()
        self.admin_url = os.environ["DATABASE_URL"]
        self.name = f"bench_match_{os.getpid()}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        base, _, _ = self.admin_url.rpartition("/")
        self.conn = psycopg.connect(f"{base}/{self.name}", autocommit=True)
        self.conn.execute("CREATE EXTENSION vector")

    def load(self, vectors: FloatArray) -> None:
        """(Re)create the table and COPY the vectors in."""
        self.conn.execute("DROP TABLE IF EXISTS gallery")
        self.conn.execute(f"CREATE TABLE gallery (id int PRIMARY KEY, embedding vector({DIMENSIONS}))")
        with self.conn.cursor().copy("COPY gallery (id, embedding) FROM STDIN") as copy:
            for row_id, vector in enumerate(vectors):
                copy.write_row((row_id, "[" + ",".join(f"{v:.6f}" for v in vector) + "]"))
        self.conn.execute("ANALYZE gallery")

    def searcher(self, *, hnsw: bool, ef_search: int = 40) -> Searcher:
        """Exact (sequential scan) or HNSW search through SQL."""
        self.conn.execute("DROP INDEX IF EXISTS gallery_hnsw")
        if hnsw:
            self.conn.execute("SET maintenance_work_mem = '512MB'")
            self.conn.execute("CREATE INDEX gallery_hnsw ON gallery USING hnsw (embedding vector_cosine_ops)")
        self.conn.execute(f"SET hnsw.ef_search = {ef_search}")
        self.conn.execute(f"SET enable_indexscan = {'on' if hnsw else 'off'}")

        def search(probes: FloatArray, k: int) -> list[list[tuple[int, float]]]:
            results = []
            for probe in probes:
                literal = "[" + ",".join(f"{v:.6f}" for v in probe) + "]"
                rows = self.conn.execute(
                    "SELECT id, embedding <=> %s::vector AS d FROM gallery ORDER BY d LIMIT %s", [literal, k]
                ).fetchall()
                results.append([(int(r[0]), float(r[1])) for r in rows])
            return results

        return search

    def close(self) -> None:
        import psycopg

        self.conn.close()
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name}")


def pg_options(bench: PgVectorBench) -> list[IndexOption]:
    """pgvector exact and HNSW (default ef_search 40, and 200) as index options."""

    def build(hnsw: bool, ef: int = 40) -> Callable[[list[int], FloatArray], Searcher]:
        def make(ids: list[int], vectors: FloatArray) -> Searcher:
            if not hnsw:
                bench.load(vectors)
            return bench.searcher(hnsw=hnsw, ef_search=ef)

        return make

    return [
        IndexOption("pgvector exact (seq scan)", build(False)),
        IndexOption("pgvector HNSW ef_search=40", build(True, 40)),
        IndexOption("pgvector HNSW ef_search=200", build(True, 200)),
    ]


def face_like(count: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gallery vectors, their identity centres, and the shared mean direction."""
    mean = l2_normalise(rng.normal(size=DIMENSIONS))
    identities = max(1, count // PHOTOS_PER_IDENTITY)
    centres = l2_normalise(mean + CONE_SPREAD * l2_normalise(rng.normal(size=(identities, DIMENSIONS))))
    gallery = np.empty((count, DIMENSIONS), dtype=np.float32)
    step = 65536
    for start in range(0, count, step):
        rows = np.arange(start, min(count, start + step))
        noise = rng.normal(size=(len(rows), DIMENSIONS)).astype(np.float32) / np.sqrt(DIMENSIONS)
        gallery[rows] = l2_normalise(centres[(rows // PHOTOS_PER_IDENTITY) % identities] + PHOTO_SPREAD * noise)
    return gallery, centres, mean


def probes_for(centres: FloatArray, count: int, rng: np.random.Generator) -> FloatArray:
    """New photos of randomly chosen enrolled identities."""
    chosen = centres[rng.integers(0, len(centres), size=count)]
    noise = rng.normal(size=chosen.shape).astype(np.float32) / np.sqrt(DIMENSIONS)
    return l2_normalise(chosen + PHOTO_SPREAD * noise)


def distance_check(gallery: FloatArray, rng: np.random.Generator) -> str:
    """Genuine/impostor mean distances of the synthetic set (compare with the real ones)."""
    sample = gallery[: min(len(gallery), 4000)]
    same = 1 - np.sum(sample[:-1] * sample[1:], axis=1)
    same_identity = (np.arange(len(sample) - 1) % PHOTOS_PER_IDENTITY) != PHOTOS_PER_IDENTITY - 1
    other = 1 - np.sum(sample * sample[rng.permutation(len(sample))], axis=1)
    return f"genuine mean {same[same_identity].mean():.3f}, impostor mean {other.mean():.3f}"


def time_option(option: IndexOption, search: Searcher, probes: FloatArray) -> tuple[Timer, list[int]]:
    """Per-probe latency and top-1 ids of one option."""
    timer = Timer()
    top: list[int] = []
    for start in range(0, len(probes), option.batch):
        chunk = probes[start : start + option.batch]
        begin = time.perf_counter()
        hits = search(chunk, 5)
        timer.samples.extend([(time.perf_counter() - begin) / len(chunk)] * len(chunk))
        top.extend(hit[0][0] for hit in hits)
    return timer, top


def run_size(
    size: int, probe_count: int, rng: np.random.Generator, extra: list[IndexOption] | None = None
) -> list[list[str]]:
    """Time every option at one gallery size; return table rows."""
    gallery, centres, _ = face_like(size, rng)
    probes = probes_for(centres, probe_count, rng)
    ids = list(range(size))
    print(f"  {size:>9,} vectors: {distance_check(gallery, rng)}")
    rows, reference, base_p50 = [], None, float("nan")
    for option in INDEX_OPTIONS + (extra or []):
        begin = time.perf_counter()
        search = option.build(ids, gallery)
        build_s = time.perf_counter() - begin
        timer, top = time_option(option, search, probes)
        reference = reference or top
        base_p50 = base_p50 if reference is not top else timer.ms(0.5)
        recall = np.mean(np.asarray(top) == np.asarray(reference))
        rows.append(
            [
                f"{size:,}",
                option.name,
                f"{build_s:.2f}",
                f"{timer.ms(0.5):.3f}",
                f"{timer.ms(0.95):.3f}",
                f"{recall:.4f}",
                f"x{base_p50 / timer.ms(0.5):.1f}",
            ]
        )
    return rows


def main() -> None:
    """Parse arguments and print the latency table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--pg-max", type=int, default=100_000, help="largest gallery also run on pgvector (0: none)")
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    rows = []
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, {args.probes} probes")
    print("synthetic gallery check (real dlib photos: genuine ~0.034, impostor ~0.168):")
    pg = PgVectorBench() if args.pg_max else None
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            extra = pg_options(pg) if pg is not None and size <= args.pg_max else None
            rows += run_size(size, args.probes, rng, extra)
    finally:
        if pg is not None:
            pg.close()
    head = ["vectors", "index", "build s", "p50 ms/probe", "p95 ms/probe", "recall@1", "vs base"]
    print(table(rows, head))


if __name__ == "__main__":
    main()
