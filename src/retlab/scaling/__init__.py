"""retlab.scaling: `retlab scaling`, scaling laws per architecture from trials at several sizes, extrapolated to
target sizes with bootstrap intervals. Entry point: `retlab.scaling.run.scaling(cfg)`.

plan.py (sizes -> shapes, budgets, sweep points, checks) -> the sweep's trials and backends -> results.py
(results.csv, one row per trial) -> analysis.py with fit.py (laws, bootstrap, predictions, crossovers:
fit.json) -> summary.py (summary.md, the console). The plots and the report section are in
retlab.report.scaling."""
