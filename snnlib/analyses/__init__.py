"""The chapters' analyses: claims, verdicts and figures computed from the committed runs.

:mod:`~snnlib.analyses.timebins` (seed 000), :mod:`~snnlib.analyses.transfer` and
:mod:`~snnlib.analyses.direct` (seed 001), :mod:`~snnlib.analyses.findings` (a verdict per source
claim) and :mod:`~snnlib.analyses.sweep_plots` (the sweep chapters' figures).
"""
