"""Studies: many viewers of one stimulus become aggregate reaction curves, key moments and A/B comparisons (issue 26).

>>> import cxsense
>>> s = cxsense.analyze_study("manifest.csv", "out/", engine="local", workers=2)  # doctest: +SKIP
>>> s.aggregate        # per variant and stimulus-time step: n, <measure>_mean/_lo/_hi (95 % t interval)
>>> s.moments          # where many viewers react together
>>> s.compare          # per segment and measure: variant differences, paired or Welch t-tests
>>> s.timelines()      # every viewer's session timeline with recording, viewer, variant, stimulus_time

``cxsense study MANIFEST.csv --out DIR [--engine local|ray] [--ray-address ADDRESS] [--workers N] [--step S]``.
Modules: :mod:`~cxsense.study.manifest` (the manifest and its checks), :mod:`~cxsense.study.storage` (reuse keys,
Parquet and encrypted storage), :mod:`~cxsense.study.engines` (local process pool, Ray),
:mod:`~cxsense.study.aggregate`, :mod:`~cxsense.study.moments`, :mod:`~cxsense.study.compare`,
:mod:`~cxsense.study.report`, :mod:`~cxsense.study.run`. See docs/study.md.
"""

from .aggregate import BASE_MEASURES, CUE_MEASURES, INTERVAL
from .compare import COMPARE_COLUMNS
from .manifest import Recording, read_manifest
from .moments import MOMENT_COLUMNS
from .run import RECORDING_COLUMNS, Study, analyze_study
from .storage import STUDY_COLUMNS

__all__ = ["analyze_study", "Study", "read_manifest", "Recording", "RECORDING_COLUMNS", "STUDY_COLUMNS",
           "MOMENT_COLUMNS", "COMPARE_COLUMNS", "BASE_MEASURES", "CUE_MEASURES", "INTERVAL"]
