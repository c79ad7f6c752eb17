import math

from retlab.report.sweep import _min_grid, columns_of, sweep_section
from retlab.sweep.results import point_columns, write_csv


def _rows():
    rows = []
    for lr in (0.001, 0.0001):
        for h in (32, 64):
            for L in (2, 4):
                loss = 3 + 1000 * lr * h / 32 - 0.1 * L
                rows.append(
                    {
                        "point": f"{lr}-{h}-{L}",
                        "train.lr": lr,
                        "model.hidden_size": h,
                        "model.num_hidden_layers": L,
                        "retnet/test_loss_mean": loss,
                        "transformer/test_loss_mean": loss - 0.05,
                    }
                )
    return rows


def test_heatmap_cells_are_the_minimum_over_the_other_fields(tmp_path):
    keys = ["train.lr", "model.hidden_size", "model.num_hidden_layers"]
    write_csv(tmp_path / "sweep/results.csv", _rows(), point_columns(keys, ["retnet", "transformer"]))
    from retlab.sweep.results import read_csv

    rows = read_csv(tmp_path / "sweep/results.csv")
    assert columns_of(rows) == (keys, ["retnet", "transformer"])
    xs, ys = ["0.0001", "0.001"], ["32", "64"]
    grid = _min_grid(rows, "train.lr", "model.hidden_size", xs, ys, "retnet/test_loss_mean")
    # min over num_hidden_layers is at L=4: 3 + 1000 lr h/32 - 0.4
    for yi, h in enumerate((32, 64)):
        for xi, lr in enumerate((0.0001, 0.001)):
            assert math.isclose(grid[yi][xi], 3 + 1000 * lr * h / 32 - 0.4, rel_tol=1e-5)

    md, pngs = sweep_section(tmp_path, tmp_path / "report")
    assert len(pngs) == 3 + 1  # 3 pairs of swept fields + parallel coordinates
    assert all(p.is_file() and p.stat().st_size > 1000 and p.parent == tmp_path / "report" for p in pngs)
    assert "## Grid search" in md and all(f"]({p.name})" in md for p in pngs)


def test_no_sweep_no_section(tmp_path):
    assert sweep_section(tmp_path) == ("", [])
