"""Energy and CO2 of a training run (CodeCarbon), optional: training never fails for it."""

from pathlib import Path


class Emissions:
    """CodeCarbon's offline tracker writing emissions.csv; any failure (no power reading, no package) is one
    printed line, never a failed run."""

    def __init__(self, enabled: bool, out: Path):
        self.tracker = None
        if not enabled:
            return
        try:
            from codecarbon import OfflineEmissionsTracker

            out.parent.mkdir(parents=True, exist_ok=True)
            self.tracker = OfflineEmissionsTracker(
                country_iso_code="USA",
                output_dir=str(out.parent),
                output_file=out.name,
                log_level="error",
                save_to_file=True,
            )
            self.tracker.start()
        except Exception as err:  # noqa: BLE001 - energy is optional
            print(f"train: emissions tracking off ({type(err).__name__}: {err})")
            self.tracker = None

    def stop(self) -> float | None:
        if self.tracker is None:
            return None
        try:
            return self.tracker.stop()
        except Exception as err:  # noqa: BLE001
            print(f"train: emissions not recorded ({type(err).__name__}: {err})")
            return None
