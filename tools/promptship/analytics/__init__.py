"""What applications' event logs say: metrics per prompt version, experiment readouts.

``promptship report`` and ``promptship experiment report`` read the render,
outcome and feedback events applications log (JSONL, gzip, Parquet) with
DuckDB, or query a ClickHouse table of them, and compute rates, means,
percentiles, intervals and sequential tests.

Owns: the metric SQL for every engine (:mod:`.sql`, pure), the engines
(:mod:`.engines`: DuckDB on files, ClickHouse over HTTP, chDB), the statistics
(:mod:`.stats`, pure), the report (:mod:`.report`), locating skipped lines
(:mod:`.locate`), experiment readouts and the declared split read from git
(:mod:`.experiment`, :mod:`.splits`), the formats (:mod:`.formats`, pure;
:mod:`.html`), and a generator of example event logs (:mod:`.example`).

May import: :mod:`promptship.core`, :mod:`promptship.fs`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.events`. Its heavy libraries
(duckdb, chdb, plotly) come with the ``analytics`` extra and are imported
only inside the functions that need them, so ``import promptship`` never
pays for them.
"""
