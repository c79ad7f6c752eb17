"""lm-eval task YAMLs over local data (rendered by `retlab.evaluation.harness.write_task_dir`)."""
