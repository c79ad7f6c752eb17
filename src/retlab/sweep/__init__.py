"""retlab.sweep: `retlab sweep`, a grid search over any config fields, every point trained and tested for each
architecture and seed, on Ray Tune or sequentially, resumable. Entry point: `retlab.sweep.run.sweep(cfg)`.

grid.py (validate and expand the grid) -> trial.py (one run folder per point x arch x seed) -> runner.py
(sequential / Ray Tune backends) -> results.py, summary.py (results.csv, trials.csv, summary.md), with
stats.py (Student-t intervals, `evaluate_models`). The report's plots are in retlab.report.sweep."""
